"""Importing the authors' paper-time files (inrgan_export.families.paper.authors, `convert`)."""
from __future__ import annotations

import os

import pytest
import torch
import yaml

from inrgan_export.load.sources import load_checkpoint
from inrgan_export.core.errors import CheckpointError, ConfigError
from inrgan_export.families.paper.authors import canonical_key, convert_state_dict, read_yaml
from inrgan_export.families.paper.config import PaperConfig, resolve_authors_config

from ..conftest import AUTHORS, assert_one_line_error, run_cli


@pytest.fixture()
def tiny2():
    cfg = PaperConfig.from_authors_yaml(read_yaml(AUTHORS / "tiny2.yml"))
    state = torch.load(AUTHORS / "tiny2_gen_ema.pt", weights_only=True)
    return cfg, state


def test_their_state_dict_stores_each_inr_tensor_under_four_keys(tiny2):
    _, state = tiny2
    layer = [k for k in state if k.endswith("transform._inr_modules.0.weight") and "b_0" in k]
    assert len(layer) == 4 and len({canonical_key(k) for k in layer}) == 1
    assert canonical_key(layer[0]) == "inr.model.b_0.transform._inr_modules.0.weight"


def test_convert_cli_writes_a_checkpoint_with_provenance(authors_checkpoints):
    ckpt = load_checkpoint(authors_checkpoints["tiny3"])
    assert ckpt.family == "paper" and ckpt.config["upsampling_mode"] == "bilinear"
    assert len(ckpt.provenance["source_sha256"]) == 64 and "tiny3_gen_ema.pt" in ckpt.provenance["origin"]
    assert not any("_inr_modules" in k for k in ckpt.state_dict)


def test_mismatches_are_named(tiny2):
    cfg, state = tiny2
    key = "mapping_network.1.transform.0.weight"
    with pytest.raises(CheckpointError, match=key):
        convert_state_dict({k: v for k, v in state.items() if k != key}, cfg)
    with pytest.raises(CheckpointError, match="mapping_network.9.transform.0.weight"):
        convert_state_dict({**state, "mapping_network.9.transform.0.weight": torch.zeros(1)}, cfg)
    with pytest.raises(CheckpointError, match=rf"{key}.*\(3, 3\).*\(24, 24\)"):
        convert_state_dict({**state, key: torch.zeros(3, 3)}, cfg)
    alias = next(k for k in state if k.startswith("inr.model._inr_modules.b_1._inr_modules.transform"))
    changed = dict(state)
    changed[alias] = state[alias] + 1
    with pytest.raises(CheckpointError, match="different tensors"):
        convert_state_dict(changed, cfg)


def test_the_fixed_basis_must_match_the_config():
    cfg = PaperConfig.from_authors_yaml(read_yaml(AUTHORS / "tiny3.yml"))
    state = dict(torch.load(AUTHORS / "tiny3_gen_ema.pt", weights_only=True))
    basis_keys = [k for k in state if k.endswith("coord_embedder._inr_modules.0.basis") and "b_0" in k]
    for k in basis_keys:
        state[k] = state[k] * 2
    with pytest.raises(CheckpointError, match="fixed basis"):
        convert_state_dict(state, cfg)


def test_config_errors_name_the_setting(tmp_path):
    raw = read_yaml(AUTHORS / "tiny2.yml")
    for path, value, needle in [
        (("hp", "inr", "use_pixel_norm"), True, "use_pixel_norm"),
        (("hp", "inr", "activation"), "swish", "'swish'.*valid: relu"),
        (("hp", "inr", "type"), "siren", "hier_fourier_inr"),
        (("data", "is_conditional"), True, "is_conditional"),
        (("hp", "inr", "upsampling_mode"), "bicubic", "nearest, bilinear"),
    ]:
        cfg = yaml.safe_load(yaml.safe_dump(raw))
        node = cfg
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
        with pytest.raises(ConfigError, match=needle):
            PaperConfig.from_authors_yaml(cfg)
    cfg = yaml.safe_load(yaml.safe_dump(raw))
    del cfg["hp"]["inr"]["resolutions_params"][8]
    with pytest.raises(ConfigError, match="no entry for block 0's resolution 8"):
        PaperConfig.from_authors_yaml(cfg)


def test_dataset_sections_merge_like_their_trainer():
    base = {"dataset": "b", "data": {"target_img_size": 32, "x": 1}, "datasets": {"a": {"data": {"target_img_size": 64}}, "b": {"data": {"x": 2}}}}
    assert resolve_authors_config(base, "a")["data"] == {"target_img_size": 64, "x": 1}
    assert resolve_authors_config(base, None)["data"] == {"target_img_size": 32, "x": 2}  # the config's own `dataset`
    with pytest.raises(ConfigError, match="'c'.*valid: a, b"):
        resolve_authors_config(base, "c")


class RunsCode:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_convert_refuses_pickles_that_run_code(tmp_path):
    marker = tmp_path / "ran"
    torch.save({"connector.weight": RunsCode(marker)}, tmp_path / "gen_ema.pt")
    proc = run_cli("convert", tmp_path / "gen_ema.pt", "--config", AUTHORS / "tiny2.yml", "-o", tmp_path / "out.pt", cwd=tmp_path)
    assert_one_line_error(proc, 2, "gen_ema.pt", "loaded safely")
    assert not marker.exists() and not (tmp_path / "out.pt").exists()
    proc = run_cli("convert", AUTHORS / "tiny2_gen_ema.pt", "--config", AUTHORS / "tiny3.yml", "-o", tmp_path / "x.pt", cwd=tmp_path)
    assert_one_line_error(proc, 2, "tensor")  # weights and config do not belong together
    assert not (tmp_path / "x.pt").exists()
