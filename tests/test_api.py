"""The public interfaces an export tool's users expect: the Python export API
(``inrgan_export.export``), ``inspect`` (CLI and ``inrgan_export.inspect``), ``--json`` on
export, verify and inspect (bench: tests/bench), ``--calib-latents FILE.npy``."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import inrgan_export
from inrgan_export.core.errors import BundleError, ParityError

from .conftest import DATA, assert_one_line_error, run_cli


def test_export_api_returns_the_opened_bundle(tmp_path):
    bundle = inrgan_export.export("demo:tiny", target="onnx", out=tmp_path / "api_onnx")
    assert bundle.path == tmp_path / "api_onnx" and bundle.manifest.family == "paper"
    assert bundle.manifest["parity"]["passed"] is True
    with inrgan_export.open_bundle(bundle.path) as g:
        assert g.generate(np.zeros((1, 16), np.float32), (8, 8)).shape == (1, 3, 8, 8)
    with pytest.raises(Exception) as err:  # exists, no force: the CLI's one-line error, as an exception
        inrgan_export.export("demo:tiny", target="onnx", out=tmp_path / "api_onnx")
    assert err.value.exit_code == 2 and "--force" in str(err.value)


def test_export_json_is_one_object_on_stdout(tiny_export):
    out, proc = tiny_export
    printed = json.loads(proc.stdout)
    assert printed["command"] == "export" and printed["bundle"] == str(out) and printed["passed"] is True
    assert printed["error"] is None and printed["parity"]["checks"] > 0
    assert set(printed["parity"]["paths"]) == {"onnxruntime split", "onnxruntime fused (polygraphy)"}
    assert "•" in proc.stderr and "•" not in proc.stdout  # progress stays on stderr


def test_inspect_text_and_json(tiny_bundle, tmp_path):
    proc = run_cli("inspect", tiny_bundle, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "family      paper" in proc.stdout and "parity      PASS" in proc.stdout and "inr.onnx" in proc.stdout
    proc = run_cli("inspect", tiny_bundle, "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info == {"command": "inspect", **inrgan_export.inspect(tiny_bundle)}
    assert info["family"] == "paper" and info["native_size"] == [16, 16] and info["size_range"] is None
    assert info["graphs"]["inr"]["dynamic_dims"] == ["batch", "h0", "h1", "h2", "w0", "w1", "w2"]
    assert info["graphs"]["hypernet"]["files"] == {"onnx": "hypernet.onnx", "external_data": "hypernet.weights"}
    assert info["graphs"]["generator"]["files"] == {"onnx": "generator.onnx", "external_data": "hypernet.weights"}
    assert info["precisions"]["onnx_graphs"] == "fp32"
    assert info["parity"]["passed"] and all(v["passed"] for v in info["parity"]["paths"].values())
    assert info["files"]["inr.onnx"] == (tiny_bundle / "inr.onnx").stat().st_size


def test_inspect_shows_a_failed_path_and_refuses_a_tampered_bundle(tiny_bundle, tmp_path):
    bad = tmp_path / "b"
    shutil.copytree(tiny_bundle, bad)
    m = json.loads((bad / "manifest.json").read_text())
    m["parity"]["paths"]["onnxruntime split"]["passed"] = False
    m["parity"]["passed"] = False
    (bad / "manifest.json").write_text(json.dumps(m))
    info = inrgan_export.inspect(bad)
    assert info["parity"]["passed"] is False and info["parity"]["paths"]["onnxruntime split"]["passed"] is False
    (bad / "inr.onnx").write_bytes(b"x")
    with pytest.raises(BundleError, match="SHA-256"):
        inrgan_export.inspect(bad)
    assert_one_line_error(run_cli("inspect", bad, "--json", cwd=tmp_path), 2, "inr.onnx")


def test_verify_json_reports_the_verdict_and_keeps_the_exit_code(tiny_bundle, tmp_path):
    proc = run_cli("verify", tiny_bundle, "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    assert printed["command"] == "verify" and printed["passed"] is True and printed["failures"] == []
    # golden outputs that disagree: the object says why, and the exit code is still 4
    bad = tmp_path / "bad"
    shutil.copytree(tiny_bundle, bad)
    with np.load(bad / "golden.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["ref_half"] = arrays["ref_half"] + np.float32(0.5)
    np.savez_compressed(bad / "golden.npz", **arrays)
    from inrgan_export.core.bundle import write_manifest

    write_manifest(bad, json.loads((bad / "manifest.json").read_text()))
    proc = run_cli("verify", bad, "--json", cwd=tmp_path)
    printed = json.loads(proc.stdout)
    assert proc.returncode == ParityError.exit_code == 4 and printed["passed"] is False and printed["failures"]


def test_calib_latents_from_a_file(tmp_path):
    from inrgan_export.calibration.data import CalibrationSpec, InrFeeds
    from inrgan_export.cli import build_parser
    from inrgan_export.core.manifest import Manifest

    z = np.random.RandomState(7).randn(5, 16).astype(np.float32)
    np.save(tmp_path / "mine.npy", z)
    args = build_parser().parse_args(["export", "demo:tiny", "--target", "onnx", "--precision", "int8",
                                      "--calib-latents", str(tmp_path / "mine.npy")])
    spec = CalibrationSpec.from_file(args.calib_latents)
    assert spec.latents == 5 and spec.latent_sha256 and "mine.npy" in spec.source()
    assert spec.key_fields() != CalibrationSpec(latents=5).key_fields()
    seen = []
    layout = Manifest.from_json(json.loads((DATA / "bundle_v1" / "manifest.json").read_text())).interface.layout
    feeds = InrFeeds(lambda zz: seen.append(zz) or np.zeros((len(zz), 3110), np.float32), layout, "theta", 16, spec, (16, 16))
    np.testing.assert_array_equal(seen[0], z)  # the user's latents, not seeds from the prior
    assert sum(f["theta"].shape[0] for f in feeds.items) == 5
    with pytest.raises(Exception, match="mine.npy|shape"):
        spec.latent_array(8)  # a file for another z_dim
    proc = run_cli("demo:tiny", "--target", "onnx", "--precision", "int8", "--calib-latents", tmp_path / "none.npy",
                   "-o", tmp_path / "q", cwd=tmp_path)
    assert_one_line_error(proc, 2, "none.npy", "no such file")
