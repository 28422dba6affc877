"""Latent banks: fitted latents travel from a checkpoint into its bundle, and
``render --latent-bank`` picks the same latent from either."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from inrgan_export.load.sources import Checkpoint, demo_checkpoint, load_checkpoint
from inrgan_export.core.errors import CheckpointError, InputValueError, UsageError
from inrgan_export.core.latent_bank import manifest_entry, select, validate_bank

from ..conftest import assert_one_line_error, run_cli


def _bank(n: int = 5, z_dim: int = 16) -> dict:
    latents = torch.from_numpy(np.random.RandomState(7).randn(n, z_dim).astype(np.float32))
    return {"latents": latents, "names": [f"crop{i}" for i in range(n)], "split": ["train"] * (n - 2) + ["heldout"] * 2}


@pytest.fixture(scope="module")
def banked(tmp_path_factory):
    """demo:tiny's weights with a 5-latent bank, saved as a checkpoint and exported for real."""
    root = tmp_path_factory.mktemp("banked")
    ckpt = demo_checkpoint("tiny")
    ckpt = Checkpoint(ckpt.family, ckpt.config, ckpt.state_dict, ckpt.provenance, latent_bank=_bank())
    path = ckpt.save(root / "tiny_bank.pt")
    proc = run_cli("export", path, "--target", "onnx", "-o", root / "bundle", cwd=root)
    assert proc.returncode == 0, proc.stderr
    return path, root / "bundle"


def test_the_bank_survives_save_and_load(banked):
    path, _ = banked
    bank = load_checkpoint(path).latent_bank
    assert bank["latents"].dtype == np.float32 and bank["latents"].shape == (5, 16)
    assert np.array_equal(bank["latents"], _bank()["latents"].numpy())
    assert bank["split"] == ["train", "train", "train", "heldout", "heldout"]


def test_the_bank_travels_into_the_bundle(banked):
    path, bundle = banked
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["latent_bank"]["file"] == "latents.npy" and "latents.npy" in manifest["files"]
    assert manifest["latent_bank"]["count"] == 5 and manifest["latent_bank"]["counts"] == {"train": 3, "heldout": 2}
    assert manifest["latent_bank"]["names"][4] == "crop4"
    assert np.array_equal(np.load(bundle / "latents.npy"), load_checkpoint(path).latent_bank["latents"])


def test_render_latent_bank_on_the_bundle_equals_the_checkpoint(banked, tmp_path):
    path, bundle = banked
    for src, out in ((bundle, "b.npy"), (path, "c.npy")):
        proc = run_cli("render", src, "--latent-bank", "3", "-o", tmp_path / out, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    b, c = np.load(tmp_path / "b.npy"), np.load(tmp_path / "c.npy")
    assert b.shape == (1, 3, 16, 16)
    assert np.abs(b - c).max() <= 1e-4  # the family's FP32 parity tolerance
    # and it is bank row 3, not seed 3
    proc = run_cli("render", path, "--seed", "3", "-o", tmp_path / "s.npy", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert np.abs(np.load(tmp_path / "s.npy") - c).max() > 1e-3


def test_bad_bank_index_exits_2_with_one_line(banked, tmp_path):
    _, bundle = banked
    proc = run_cli("render", bundle, "--latent-bank", "5", "-o", tmp_path / "x.png", cwd=tmp_path)
    assert_one_line_error(proc, 2, "--latent-bank index 5", "5 latents (0-4)")
    proc = run_cli("render", "demo:tiny", "--latent-bank", "0", "-o", tmp_path / "x.png", cwd=tmp_path)
    assert_one_line_error(proc, 2, "demo:tiny has no latent bank")
    assert not list(tmp_path.glob("x*.png"))


def test_select_rows_and_splits():
    bank = validate_bank(_bank())
    z, rows = select(bank, "heldout", "src")
    assert rows == [3, 4] and np.array_equal(z, bank["latents"][3:5])
    assert select(bank, "0-1,4", "src")[1] == [0, 1, 4]
    with pytest.raises(UsageError, match="not an index list"):
        select(bank, "three", "src")
    with pytest.raises(InputValueError, match="out of range"):
        select(bank, "0,7", "src")


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(latents=np.zeros((2, 16), np.float32)), "names must be a list of 2"),
        (dict(split=["train"] * 4 + ["test"]), "split must be"),
        (dict(latents=np.full((5, 16), np.nan, np.float32)), "finite"),
        (dict(latents=np.zeros(16, np.float32)), r"\[N, z_dim\]"),
    ],
)
def test_invalid_banks_are_refused_by_name(change, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        validate_bank({**_bank(), **change})
    ckpt = demo_checkpoint("tiny")
    path = tmp_path / "bad.pt"
    stored = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in change.items()}
    Checkpoint(ckpt.family, ckpt.config, ckpt.state_dict, latent_bank={**_bank(), **stored}).save(path)
    with pytest.raises(CheckpointError, match="invalid latent bank"):
        load_checkpoint(path)


def test_manifest_entry_counts_the_splits():
    entry = manifest_entry(validate_bank(_bank()))
    assert entry["count"] == 5 and entry["z_dim"] == 16 and entry["counts"] == {"train": 3, "heldout": 2}
