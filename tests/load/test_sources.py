"""Our checkpoint format, demo checkpoints and safe loading (inrgan_export.load.sources)."""
from __future__ import annotations

import os
import pickle

import pytest
import torch

from inrgan_export.load.sources import FORMAT, Checkpoint, demo_checkpoint, load_checkpoint, load_source
from inrgan_export.core.errors import CheckpointError, ConfigError, OutputError

from ..conftest import assert_one_line_error, run_cli


class RunsCode:
    """Unpickling this calls a function: the attack a checkpoint loader must refuse."""

    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return (self.fn, (self.arg,))


def test_demo_checkpoint_is_deterministic():
    a, b = demo_checkpoint("tiny"), demo_checkpoint("tiny")
    assert a.state_dict.keys() == b.state_dict.keys()
    assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict)
    assert a.provenance["origin"] == "demo:tiny"
    assert any(v.std() > 0 for v in a.state_dict.values() if v.numel() > 1)


def test_save_load_round_trip_uses_plain_containers(tmp_path):
    ckpt = demo_checkpoint("tiny")
    path = ckpt.save(tmp_path / "t.pt")
    raw = torch.load(path, weights_only=True)  # loads with the restricted unpickler
    assert raw["format"] == FORMAT and raw["family"] == "paper"
    again = load_checkpoint(path)
    assert again.config == ckpt.config
    assert all(torch.equal(again.state_dict[k], v) for k, v in ckpt.state_dict.items())
    assert len(again.provenance["checkpoint_sha256"]) == 64
    with pytest.raises(OutputError, match="exists"):
        ckpt.save(path)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_build_names_missing_extra_and_mismatched_tensors():
    ckpt = demo_checkpoint("tiny")
    sd = dict(ckpt.state_dict)
    key = "inr.blocks.0.layers.0.weight"
    missing = Checkpoint("paper", ckpt.config, {k: v for k, v in sd.items() if k != key})
    with pytest.raises(CheckpointError, match=key):
        missing.build()
    extra = Checkpoint("paper", ckpt.config, {**sd, "bogus.weight": torch.zeros(1)})
    with pytest.raises(CheckpointError, match="bogus.weight"):
        extra.build()
    bad = Checkpoint("paper", ckpt.config, {**sd, key: torch.zeros(3, 3)})
    with pytest.raises(CheckpointError, match=r"inr\.blocks\.0\.layers\.0\.weight.*\(3, 3\)"):
        bad.build()


def test_unknown_family_and_preset(tmp_path):
    ckpt = demo_checkpoint("tiny")
    payload = ckpt.to_payload()
    payload["family"] = "stylegan9"
    torch.save(payload, tmp_path / "f.pt")
    with pytest.raises(ConfigError, match="stylegan9.*known: paper"):
        load_checkpoint(tmp_path / "f.pt")
    with pytest.raises(CheckpointError, match="nope.*available: .*church"):
        load_source("demo:nope")


def test_corrupt_foreign_and_bare_state_dict_files(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"weight": torch.zeros(2)}, tmp_path / "bare.pt")
    with pytest.raises(CheckpointError, match="bare state dict.*convert"):
        load_checkpoint(tmp_path / "bare.pt")
    torch.save({"format": FORMAT, "format_version": 99}, tmp_path / "v99.pt")
    with pytest.raises(CheckpointError, match="version 99"):
        load_checkpoint(tmp_path / "v99.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "absent.pt")


@pytest.mark.parametrize("how", ["torch.save", "pickle.dump"])
@pytest.mark.parametrize("attack", ["os.system", "builtins.eval"])
def test_pickles_that_run_code_are_refused_and_nothing_runs(tmp_path, how, attack):
    marker = tmp_path / "pwned"
    if attack == "os.system":
        payload = RunsCode(os.system, f"touch {marker}")
    else:
        payload = RunsCode(eval, f"open({str(marker)!r}, 'w').close()")
    evil = tmp_path / "evil.pt"
    obj = {"format": FORMAT, "state_dict": payload}
    if how == "torch.save":
        torch.save(obj, evil)
    else:
        with open(evil, "wb") as f:
            pickle.dump(obj, f)
    for args in (["render", evil, "-o", tmp_path / "x.png"], ["export", evil, "--target", "onnx", "-o", tmp_path / "b"]):
        proc = run_cli(*args, cwd=tmp_path)
        assert_one_line_error(proc, 2, str(evil), "nothing in it was executed")
    assert not marker.exists()
    assert not (tmp_path / "b").exists() and not (tmp_path / "x.png").exists()
