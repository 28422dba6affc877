"""The fitted demo presets load, carry their latent banks and render what they were fitted to."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from inrgan_export import open_checkpoint
from inrgan_export.load.sources import load_source

from ..conftest import run_cli

FIT_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "fit_photos.py"


def _crops():
    spec = importlib.util.spec_from_file_location("fit_photos", FIT_SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.crops()[0], mod.psnr


@pytest.mark.parametrize("name, family, min_train_db, min_heldout_db", [
    ("demo:photos", "paper", 24.0, 15.0),
    ("demo:photos-sg2", "sg2", 16.0, 12.0),
])
def test_fitted_preset_reconstructs_its_crops(name, family, min_train_db, min_heldout_db):
    ckpt = load_source(name)
    assert ckpt.family == family and ckpt.provenance["origin"] == name
    bank = ckpt.latent_bank
    assert bank["latents"].shape == (56, 64) and bank["split"].count("heldout") == 8
    low, psnr = _crops()
    with open_checkpoint(name) as g:
        images = g.render(g.hypernet(bank["latents"]), (64, 64))
    p = psnr(images, low)
    split = np.array(bank["split"])
    # seeded weights stay near 10 dB on these crops; the fitted ones must not
    assert np.median(p[split == "train"]) >= min_train_db
    assert np.median(p[split == "heldout"]) >= min_heldout_db


def test_demo_list_names_the_fitted_presets(tmp_path):
    proc = run_cli("demo", "--list", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = {line.split()[0]: line for line in proc.stdout.splitlines()[1:]}
    assert "929,199" in lines["demo:photos"] and "412,939" in lines["demo:photos-sg2"]
