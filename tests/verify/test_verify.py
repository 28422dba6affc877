"""Parity report and gate (inrgan_export.verify, `inrgan-export verify`)."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from inrgan_export.core.bundle import MANIFEST, write_manifest
from inrgan_export.families import DisplayMapping
from inrgan_export.core.grid import CoordConvention, GridLayout, PaperSizeRule
from inrgan_export.verify import Candidate, ParityGrid, feed_metadata, gate_for, parity_feeds, parity_grids, run_parity

from ..conftest import assert_one_line_error, run_cli


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
    assert report["passed"] is True
    rows = report["rows"]
    assert {r["grid"] for r in rows} == {g.label for g in parity_grids(16)}
    assert {r["batch"] for r in rows} == {1, 4}
    assert {r["path"] for r in rows} == {"onnxruntime split", "onnxruntime fused (polygraphy)"}
    grids = parity_grids(16)
    assert {r["grid"] for r in rows if r["path"] == "onnxruntime split"} == {g.label for g in grids}
    fused = {(r["grid"], r["batch"]) for r in rows if r["path"] == "onnxruntime fused (polygraphy)"}
    assert fused == {(g.label, b) for g in grids if g.fused and g.size[0] * g.size[1] <= 16 * 16 for b in g.batches}
    assert ("native", 1) in fused and ("quarter", 4) in fused and ("double", 1) not in fused
    assert all(r["max_abs"] <= 1e-4 and not r["nan_inf"] and r["precision"] == "fp32" for r in rows)
    gate = report["gates"]["onnxruntime split"]
    assert gate["rule"] == "max_abs_scaled" and gate["atol"] == 1e-4 and gate["description"] == "max abs ≤ 0.0001·max(1, max|ref|)"
    assert [t["passed"] for t in report["theta"]] == [True]
    png = (tiny_bundle / "parity.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    with Image.open(tiny_bundle / "parity.png") as im:
        assert im.width > 3 * 16 and im.height > 16


def _array_runner(name, fn, metadata):
    """A Polygraphy runner computing ``fn(feed)``: stands in for a backend with known errors."""
    from collections import OrderedDict

    from polygraphy.backend.base import BaseRunner

    class ArrayRunner(BaseRunner):
        def activate_impl(self):
            pass

        def deactivate_impl(self):
            pass

        def get_input_metadata_impl(self):
            return metadata

        def infer_impl(self, feed_dict):
            self.inference_time = 0.0
            return OrderedDict({"rgb": fn(feed_dict)})

    return ArrayRunner(name=name)


def test_gate_collects_every_failure_with_its_threshold():
    layout = GridLayout(PaperSizeRule(4, 1, 1), CoordConvention(), "nearest", False, ())
    grids = [ParityGrid("native", (4, 4)), ParityGrid("half", (2, 2))]
    feeds = parity_feeds(layout, "z", np.zeros((4, 8), np.float32), grids)
    meta = feed_metadata(layout, "z", 8)

    def zeros(feed):
        return np.zeros((feed["z"].shape[0], 3, *feed["coords_0"].shape[2:]), np.float32)

    def off_on_native(feed):
        out = zeros(feed)
        if out.shape[-1] == 4:
            out[0, 0, 0, 0] = 3e-3
        return out

    def nan_everywhere(feed):
        return zeros(feed) + np.nan

    candidates = [
        Candidate(_array_runner("a", off_on_native, meta), "x", "fp32", "a", gate_for("fp32", 1e-4)),
        Candidate(_array_runner("b", nan_everywhere, meta), "x", "fp32", "b", gate_for("fp32", 1e-4)),
        Candidate(_array_runner("c", off_on_native, meta), "x", "bf16", "c", gate_for("bf16", 1e-4)),
    ]
    report, _ = run_parity(_array_runner("ref", zeros, meta), "zeros", candidates, feeds, "rgb", DisplayMapping())
    assert not report.passed
    fails = report.failures()
    assert any("native" in f and "(a, batch 4)" in f and "0.003 > 0.0001" in f for f in fails)
    assert sum("NaN/Inf" in f for f in fails) == 4  # b fails on both grids, both batches
    assert not any("half" in f and "(a," in f for f in fails)
    # reduced precision is gated on PSNR: a 3e-3 error on one pixel is ~80 dB, a pass
    assert not any("(c," in f for f in fails)
    assert all(r.passed for r in report.rows if r.path == "c")


def test_verify_uses_golden_data_and_the_checkpoint(tiny_bundle, tmp_path):
    proc = run_cli("verify", tiny_bundle, "-o", tmp_path / "report", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "native" in proc.stderr and "onnxruntime fused (polygraphy)" in proc.stderr
    assert json.loads((tmp_path / "report" / "parity.json").read_text())["passed"]
    # written atomically through a temporary directory that is gone afterwards
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == ["parity.json", "parity.md", "parity.png"]
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


def round_to_bf16(x: np.ndarray) -> np.ndarray:
    """float32 → the nearest bfloat16 (ties to even), back in float32: what a BF16 kernel stores."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return bits.astype(np.uint32).view(np.float32)


def test_reduced_precision_theta_is_judged_by_the_image_not_the_fp32_tolerance():
    from inrgan_export.verify import ParityReport, theta_check

    rng = np.random.RandomState(0)
    theta = (rng.randn(4, 3000) * 1.3).astype(np.float32)
    bf16 = round_to_bf16(theta)
    assert 1e-3 < np.abs(bf16 - theta).max() < 2e-2  # the rounding really is there
    fp32 = theta_check(theta, bf16, "x hypernet", "fp32")
    worst = int(np.argmax(np.abs(bf16.astype(np.float64) - theta).max(axis=1) / np.abs(theta).max(axis=1)))
    assert not fp32["passed"] and fp32["tolerance"] == pytest.approx(1e-4 * np.abs(theta[worst]).max())  # per latent
    reduced = theta_check(theta, bf16, "x hypernet", "bf16")
    assert reduced["passed"] and reduced["tolerance"] is None and "image gate" in reduced["judged_by"]
    assert reduced["max_abs"] == pytest.approx(float(np.abs(bf16.astype(np.float64) - theta).max()))
    broken = bf16.copy()
    broken[2, 7] = np.nan
    nan = theta_check(theta, broken, "x hypernet", "bf16")
    assert not nan["passed"]
    report = ParityReport("ref", theta=[reduced, nan])
    assert not report.passed and report.failures() == ["theta (x hypernet): NaN/Inf"]
    assert ParityReport("ref", theta=[reduced]).passed


def test_one_bad_image_in_a_batch_fails_the_psnr_gate_that_a_batch_average_would_pass():
    """PSNR is per image: three clean BF16 images and one 37 dB image average to ~43 dB over
    the batch (a pass), but the worst image is gated (a fail); the batch-1 feed (image 0,
    clean) passes. The median is reported beside the worst."""
    from inrgan_export.core.imageio import psnr

    layout = GridLayout(PaperSizeRule(8, 1, 1), CoordConvention(), "nearest", False, ())
    feeds = parity_feeds(layout, "z", np.zeros((4, 8), np.float32), [ParityGrid("native", (8, 8))])
    meta = feed_metadata(layout, "z", 8)

    def reference(feed):
        b = feed["z"].shape[0]
        return (np.random.RandomState(3).uniform(-0.9, 0.9, (4, 3, 8, 8)).astype(np.float32))[:b]

    def bf16_one_bad(feed):
        out = round_to_bf16(reference(feed))
        if out.shape[0] == 4:
            out[2] += np.float32(0.028)  # ~37 dB on the 0..255 display scale
        return out

    ref4 = reference({"z": np.zeros((4, 8))})
    bad4 = bf16_one_bad({"z": np.zeros((4, 8))})
    assert psnr(ref4, bad4, DisplayMapping()) > 40 > psnr(ref4[2:3], bad4[2:3], DisplayMapping())  # averaged: a pass
    cand = Candidate(_array_runner("bf16", bf16_one_bad, meta), "x", "bf16", "bf16", gate_for("bf16", 1e-4))
    report, _ = run_parity(_array_runner("ref", reference, meta), "ref", [cand], feeds, "rgb", DisplayMapping())
    rows = {r.batch: r for r in report.rows}
    assert not rows[4].passed and rows[1].passed and not report.passed
    assert 36.5 < rows[4].psnr_db < 37.5 and rows[4].psnr_median_db > 50
    assert report.failures() == [f"native 8x8 (bf16, batch 4): PSNR {rows[4].psnr_db:.1f} dB (worst image; median "
                                 f"{rows[4].psnr_median_db:.1f}) < 40 dB"]
    row = rows[4].to_json()
    assert row["psnr_db"] == pytest.approx(rows[4].psnr_db) and row["psnr_median_db"] == pytest.approx(rows[4].psnr_median_db)


def test_a_damaged_graph_fails_verify_and_its_recorded_verdict_makes_render_refuse_it(tiny_bundle, tmp_path):
    """A deliberately damaged hypernet graph (one weight scaled by 1.01) fails `verify` (exit 4);
    once its failed verdict is recorded in the manifest, `render` and ``open_bundle`` refuse the
    backend (exit 4) unless told to allow it, while `verify` and `inspect` still open it."""
    import onnx
    from onnx import numpy_helper

    from inrgan_export.app.options import VerifyOptions
    from inrgan_export.app.pipeline import verify_bundle
    from inrgan_export.backends import open_bundle
    from inrgan_export.core.errors import ParityError

    bad = tmp_path / "damaged"
    shutil.copytree(tiny_bundle, bad)
    model = onnx.load(str(bad / "hypernet.onnx"))
    init = max(model.graph.initializer, key=lambda t: int(np.prod(t.dims)))
    arr = numpy_helper.to_array(init) * np.float32(1.01)
    init.CopyFrom(numpy_helper.from_array(arr.astype(np.float32), init.name))
    onnx.save(model, str(bad / "hypernet.onnx"))
    manifest = json.loads((bad / MANIFEST).read_text())
    manifest.pop("files")
    write_manifest(bad, manifest)
    assert_one_line_error(run_cli("verify", bad, cwd=tmp_path), 4, "parity gate failed")
    report = verify_bundle(VerifyOptions(bad), raise_on_failure=False)
    assert not report.passed and not report.verdicts()["onnxruntime split"]["passed"]
    manifest["parity"] = json.loads(json.dumps(report.summary()))
    write_manifest(bad, manifest)  # what an export that failed its gate publishes
    line = assert_one_line_error(run_cli("render", bad, "--seed", "0", "-o", tmp_path / "x.png", cwd=tmp_path), 4,
                                 "refuses backend onnxruntime", "parity gate failed", "--allow-failed-parity")
    assert "onnxruntime split" in line and not (tmp_path / "x.png").exists()
    proc = run_cli("render", bad, "--seed", "0", "--allow-failed-parity", "-o", tmp_path / "x.png", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with pytest.raises(ParityError):
        open_bundle(bad)
    with open_bundle(bad, allow_failed_parity=True) as g:
        assert g.generate(np.zeros((1, g.interface.z_dim), np.float32), (8, 8)).shape == (1, 3, 8, 8)
    with open_bundle(tiny_bundle) as g:  # a bundle that passed opens as before
        assert g.backend == "onnxruntime"
    proc = run_cli("inspect", bad, "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["parity"]["paths"]["onnxruntime split"]["passed"] is False
