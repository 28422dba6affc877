"""Reading StyleGAN2-ADA network pickles (family sg2): the restricted unpickler, the snapshot
layout, and pickles that try to run code (nothing runs; one line naming the global; exit 2)."""
from __future__ import annotations

import io
import os
import pickle
import sys
from pathlib import Path

import pytest
import torch

from inrgan_export.load.sources import demo_checkpoint, load_source
from inrgan_export.core.errors import CheckpointError, ConfigError
from inrgan_export.families.sg2.config import SG2Config, resolve_interpolations
from inrgan_export.families.sg2.pickle_import import EasyDict, Inert, PersistentObject, load_network_pickle, read_pickle
from .sg2_pickle_writer import Global, Reduce, dumps, network_pickle, write_network_pickle

from ..conftest import DATA, assert_one_line_error, run_cli

SG2 = DATA / "sg2"


@pytest.fixture(scope="module")
def tiny_model():
    return demo_checkpoint("sg2-tiny").build()


def test_reads_g_ema_with_its_recorded_architecture():
    ckpt = load_network_pickle(SG2 / "tiny.pkl")
    cfg = SG2Config.from_dict(ckpt.config)
    assert ckpt.family == "sg2" and cfg.extra_convs == ((16, 1), (32, 1)) and cfg.input_resolution == 8
    assert ckpt.provenance["pickle_objects"] == ["D", "G", "G_ema", "augment_pipe", "training_set_kwargs"]
    data = read_pickle(SG2 / "tiny.pkl")
    g = data["G"].state["_modules"]["mapping"].state["_modules"]["fc0"].state["_parameters"]["weight"]
    g_ema = data["G_ema"].state["_modules"]["mapping"].state["_modules"]["fc0"].state["_parameters"]["weight"]
    assert not torch.equal(g, g_ema)  # the fixture's G differs: G_ema is what gets exported
    assert torch.equal(ckpt.state_dict["mapping.fc0.weight"], g_ema)
    assert not any(k.endswith("resample_filter") for k in ckpt.state_dict)


def test_everything_in_the_file_is_inert_data():
    before = set(sys.modules)  # other tests' libraries (ExecuTorch, Ray) may import omegaconf themselves
    data = read_pickle(SG2 / "tiny.pkl")
    g = data["G_ema"]
    assert isinstance(g, PersistentObject) and g.class_name == "Generator" and len(g.module_sha256) == 64
    assert isinstance(data["D"], PersistentObject) and isinstance(data["augment_pipe"], PersistentObject)
    assert isinstance(g.state["_init_kwargs"]["mapping_kwargs"], EasyDict)
    block = g.state["_modules"]["synthesis"].state["_modules"]["b8"]
    cfg = block.state["cfg"]
    assert isinstance(cfg, Inert) and cfg.qualname == "omegaconf.dictconfig.DictConfig"
    fuser = g.state["_modules"]["synthesis"].state["_modules"]["b16"].state["_modules"]["coord_fuser"]
    cache = fuser.state["_fourier_embs_cache"]
    assert isinstance(cache, torch.Tensor) and cache.storage_offset() > 0  # a view, as their eval cache is
    assert fuser.state["_full_cache"] is None and isinstance(fuser.state["fourier_scale"], float)
    imported = {m.split(".")[0] for m in set(sys.modules) - before}
    for name in ("torch_utils", "dnnlib", "omegaconf", "training"):
        assert name not in imported


def test_the_architecture_comes_from_the_pickle_and_mismatches_are_named(tmp_path, tiny_model):
    data = network_pickle(tiny_model, extras=False)
    kwargs = data["G_ema"].args[0]["state"]["_init_kwargs"]
    kwargs["cfg"]["num_extra_convs"] = {"16": 2, "32": 1}
    path = tmp_path / "lying.pkl"
    path.write_bytes(dumps(data))
    with pytest.raises(CheckpointError, match=r"synthesis\.b16\.extra_convs\.1\.\w+"):
        load_network_pickle(path)


def test_unsupported_settings_are_refused_by_name(tmp_path, tiny_model):
    for key, value, needle in (("use_noise", True, "cfg.use_noise"), ("upsampling_mode", None, "cfg.upsampling_mode")):
        data = network_pickle(tiny_model, extras=False)
        data["G_ema"].args[0]["state"]["_init_kwargs"]["cfg"][key] = value
        path = tmp_path / f"{key}.pkl"
        path.write_bytes(dumps(data))
        with pytest.raises(ConfigError, match=needle):
            load_network_pickle(path)


def test_interpolations_resolve_like_omegaconf():
    cfg = {"a": {"x": 1}, "b": "${a}", "c": {"d": "${a.x}", "e": "${b}"}}
    assert resolve_interpolations(cfg) == {"a": {"x": 1}, "b": {"x": 1}, "c": {"d": 1, "e": {"x": 1}}}
    for bad, needle in (({"a": "${a}"}, "refers to itself"), ({"a": "${nope}"}, "does not exist"),
                        ({"a": "${env:HOME}"}, "does not resolve"), ({"a": "x${b}", "b": 1}, "does not resolve")):
        with pytest.raises(ConfigError, match=needle):
            resolve_interpolations(bad)


# ------------------------------------------------------------------ hostile pickles
class _Evil:
    def __init__(self, func, arg):
        self.func, self.arg = func, arg

    def __reduce__(self):
        return (self.func, (self.arg,))


def _hostile_files(tmp: Path, model) -> dict[str, tuple[Path, str]]:
    """name → (pickle, the global its one-line error must name); each would create
    tmp/marker if anything in it ran."""
    marker = tmp / "marker"
    cmd = f"touch {marker}"
    files = {}
    # a whole pickle that is one __reduce__ call to os.system (how such files are made)
    p = tmp / "system.pkl"
    p.write_bytes(pickle.dumps(_Evil(os.system, cmd), protocol=4))
    files["system"] = (p, f"{os.system.__module__}.system")
    # eval hidden deep inside G_ema's state, in a valid-looking network pickle
    p = tmp / "eval.pkl"
    write_network_pickle(p, model, inject={"trap": Reduce(Global("builtins", "eval"), (f"__import__('os').system('{cmd}')",))})
    files["eval"] = (p, "builtins.eval")
    # subprocess inside the training options
    data = network_pickle(model)
    data["training_set_kwargs"]["hook"] = Reduce(Global("subprocess", "call"), ((["touch", str(marker)]),))
    p = tmp / "subprocess.pkl"
    p.write_bytes(dumps(data))
    files["subprocess"] = (p, "subprocess.call")
    # a tensor storage blob (torch.save's legacy format) that smuggles os.system
    blob = io.BytesIO()
    pickle.dump(_Evil(os.system, cmd), blob, protocol=2)
    data = network_pickle(model, extras=False)
    data["G_ema"].args[0]["state"]["trap"] = Reduce(Global("torch.storage", "_load_from_bytes"), (blob.getvalue(),))
    p = tmp / "storage.pkl"
    p.write_bytes(dumps(data))
    files["storage"] = (p, "torch's safe loader")
    return files


def test_hostile_pickles_run_nothing_in_process(tmp_path, tiny_model):
    for name, (path, needle) in _hostile_files(tmp_path, tiny_model).items():
        with pytest.raises(CheckpointError, match=needle.replace(".", r"\.")):
            load_source(str(path))
        assert not (tmp_path / "marker").exists(), name


def test_module_source_in_the_pickle_is_never_executed(tmp_path, tiny_model):
    marker = tmp_path / "marker"
    src = f"import pathlib\npathlib.Path({str(marker)!r}).touch()\nraise SystemExit(7)\n"
    path = write_network_pickle(tmp_path / "src.pkl", tiny_model, module_src=src)
    ckpt = load_network_pickle(path)  # loads: its code is data
    assert not marker.exists()
    assert torch.equal(ckpt.state_dict["mapping.w_avg"], tiny_model.mapping.w_avg)


@pytest.mark.parametrize("command", ["export", "convert", "render"])
def test_hostile_pickles_exit_2_through_the_cli(tmp_path, tiny_model, command):
    files = _hostile_files(tmp_path, tiny_model)
    for name in ("system", "eval") if command != "export" else ("system", "eval", "subprocess", "storage"):
        path, needle = files[name]
        if command == "export":
            args = ["export", path, "--target", "onnx", "-o", tmp_path / f"b_{name}"]
        elif command == "convert":
            args = ["convert", path, "-o", tmp_path / f"c_{name}.pt"]
        else:
            args = ["render", path, "--seed", "1", "-o", tmp_path / f"r_{name}.png"]
        proc = run_cli(*args, cwd=tmp_path)
        assert_one_line_error(proc, 2, needle)
        assert not (tmp_path / "marker").exists(), name
        assert not any(p.name.startswith(("b_", "c_", "r_")) for p in tmp_path.iterdir())


def test_damaged_and_foreign_files_are_one_line_errors(tmp_path, tiny_model):
    good = write_network_pickle(tmp_path / "good.pkl", tiny_model, extras=False).read_bytes()
    cut = tmp_path / "cut.pkl"
    cut.write_bytes(good[: len(good) // 2])
    zipped = tmp_path / "zipped.pkl"
    torch.save({"a": torch.zeros(1)}, zipped)
    no_ema = tmp_path / "no_ema.pkl"
    no_ema.write_bytes(dumps({"G": network_pickle(tiny_model, extras=False)["G_ema"]}))
    for path, needle in ((cut, "corrupt"), (zipped, "not a pickle"), (no_ema, "no 'G_ema'"), (tmp_path / "missing.pkl", "does not exist")):
        proc = run_cli("convert", path, "-o", tmp_path / "out.pt", cwd=tmp_path)
        assert_one_line_error(proc, 2, needle)


def test_convert_writes_our_checkpoint(tmp_path):
    out = tmp_path / "tiny.pt"
    proc = run_cli("convert", SG2 / "tiny.pkl", "-o", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    from inrgan_export.load.sources import load_checkpoint

    ckpt = load_checkpoint(out)  # weights_only: only tensors and containers
    ref = load_network_pickle(SG2 / "tiny.pkl")
    assert ckpt.family == "sg2" and ckpt.config == ref.config
    assert all(torch.equal(ckpt.state_dict[k], v) for k, v in ref.state_dict.items())
    assert "restricted unpickler" in ckpt.provenance["loaded_with"]
    proc = run_cli("convert", SG2 / "tiny.pkl", "--config", SG2 / "x.yml", "-o", tmp_path / "b.pt", cwd=tmp_path)
    assert_one_line_error(proc, 2, "--config")
