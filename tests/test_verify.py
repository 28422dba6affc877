"""Parity report and gate (inrgan_export.verify, `inrgan-export verify`)."""
from __future__ import annotations

import json
import shutil

import numpy as np

from inrgan_export.bundle import MANIFEST, write_manifest
from inrgan_export.families import DisplayMapping
from inrgan_export.verify import ParityGrid, parity_grids, run_parity

from .conftest import assert_one_line_error, run_cli


def test_parity_grids_cover_the_required_cases():
    grids = {g.label: g for g in parity_grids(256)}
    assert grids["native"].size == (256, 256) and grids["half"].size == (128, 128)
    assert grids["quarter"].size == (64, 64) and grids["double"].size == (512, 512)
    assert grids["non-square"].size == (192, 320)
    zoom, extra = grids["zoom"].window, grids["extrapolate"].window
    assert 0 < zoom.x0 < zoom.x1 < 1 and 0 < zoom.y0 < zoom.y1 < 1
    assert (extra.x0, extra.y0, extra.x1, extra.y1) == (-0.25, -0.25, 1.25, 1.25)


def test_export_writes_a_passing_report_for_batch_1_and_4_on_both_paths(tiny_bundle):
    report = json.loads((tiny_bundle / "parity.json").read_text())
    assert report["passed"] is True and report["gate"]["max_abs"] == 1e-4
    rows = report["rows"]
    assert {r["grid"] for r in rows} == {g.label for g in parity_grids(16)}
    assert {r["batch"] for r in rows} == {1, 4}
    assert {r["path"] for r in rows} == {"onnxruntime split", "onnxruntime fused"}
    assert all(r["max_abs"] <= 1e-4 and not r["nan_inf"] for r in rows)
    assert report["theta"]["passed"]
    png = (tiny_bundle / "parity.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    with Image.open(tiny_bundle / "parity.png") as im:
        assert im.width > 3 * 16 and im.height > 16


def test_gate_collects_every_failure_with_its_tolerance():
    grids = [ParityGrid("native", (4, 4)), ParityGrid("half", (2, 2))]
    refs = {g.key: np.zeros((4, 3, *g.size), np.float32) for g in grids}

    def off_on_native(z, g):
        out = np.zeros((z.shape[0], 3, *g.size), np.float32)
        if g.label == "native":
            out[0, 0, 0, 0] = 3e-3
        return out

    def nan_everywhere(z, g):
        return np.full((z.shape[0], 3, *g.size), np.nan, np.float32)

    report, _ = run_parity(lambda g: refs[g.key], "zeros", {"a": off_on_native, "b": nan_everywhere}, grids,
                           np.zeros((4, 8), np.float32), DisplayMapping(), 1e-4)
    assert not report.passed
    fails = report.failures()
    assert any("native" in f and "(a, batch 4)" in f and "0.003 > 0.0001" in f for f in fails)
    assert sum("NaN/Inf" in f for f in fails) == 4  # b fails on both grids, both batches
    assert not any("half" in f and "(a," in f for f in fails)


def test_verify_uses_golden_data_and_the_checkpoint(tiny_bundle, tmp_path):
    proc = run_cli("verify", tiny_bundle, "-o", tmp_path / "report", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "native" in proc.stderr and "onnxruntime fused" in proc.stderr
    assert json.loads((tmp_path / "report" / "parity.json").read_text())["passed"]
    proc = run_cli("verify", tiny_bundle, "--reference", "demo:tiny", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "double" in proc.stderr  # the 2x grid is recomputed from the checkpoint
    assert_one_line_error(run_cli("verify", tiny_bundle, "--reference", "demo:church", cwd=tmp_path), 2, "different model")


def test_verify_fails_with_exit_4_naming_the_grid(tiny_bundle, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(tiny_bundle, bad)
    with np.load(bad / "golden.npz") as d:
        arrays = {k: d[k] for k in d.files}
    arrays["ref_half"] = arrays["ref_half"] + np.float32(2e-3)
    np.savez_compressed(bad / "golden.npz", **arrays)
    manifest = json.loads((bad / MANIFEST).read_text())
    manifest.pop("files")
    write_manifest(bad, manifest)  # a consistent bundle whose golden data disagrees
    proc = run_cli("verify", bad, cwd=tmp_path)
    line = assert_one_line_error(proc, 4, "parity gate failed", "half")
    assert "0.002 > 0.0001" in line
