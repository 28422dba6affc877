"""Family sg2 end to end through the real CLI: a network pickle exported to an ONNX bundle
(manifest, parity report, golden data), rendered with truncation, verified; and the full
released configuration (slow)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from inrgan_export import open_bundle, open_checkpoint

from ..conftest import DATA, assert_one_line_error, run_cli
from ..core.test_manifest import assert_valid_manifest

SG2 = DATA / "sg2"


@pytest.fixture(scope="module")
def bil_bundle(tmp_path_factory):
    """tests/data/sg2/tiny_bil.pkl (bilinear, instance norm) exported straight from the pickle."""
    out = tmp_path_factory.mktemp("sg2") / "bil_onnx"
    proc = run_cli(SG2 / "tiny_bil.pkl", "--target", "onnx", "-o", out, cwd=out.parent)
    assert proc.returncode == 0, proc.stderr
    return out


def test_manifest_describes_the_sg2_interface(bil_bundle):
    m = json.loads((bil_bundle / "manifest.json").read_text())
    iface = m["interface"]
    assert m["family"] == "sg2" and m["parity"]["passed"]
    assert iface["hypernet_inputs"] == ["z", "truncation_psi"] and iface["output_range"] is None
    assert iface["grid"]["size_rule"]["kind"] == "halving"
    coords = iface["grid"]["coordinates"]
    assert coords["kind"] == "y-up" and coords["offset"] == [-1.0, -1.0] and coords["scale"] == [2.0, 2.0]
    assert iface["grid"]["resample"] == {**iface["grid"]["resample"], "mode": "bilinear", "align_corners": True}
    kinds = {s["kind"] for s in m["theta_layout"]}
    assert kinds == {"fmm", "styles", "norm"}
    assert m["graphs"]["hypernet"]["inputs"][1] == {"name": "truncation_psi", "shape": ["batch"], "dtype": "float32"}
    assert "restricted unpickler" in m["provenance"]["loaded_with"] and len(m["provenance"]["source_sha256"]) == 64
    assert iface["display"]["clamp"] == [-1.0, 1.0]


def test_onnx_runtime_renders_with_truncation_like_pytorch(bil_bundle, tmp_path):
    z = np.random.RandomState(9).randn(2, 16).astype(np.float32)
    psi = np.array([0.5, 0.9], np.float32)
    torch_gen = open_checkpoint(str(SG2 / "tiny_bil.pkl"))
    with open_bundle(bil_bundle) as ort_gen, torch_gen:
        for size, window in (((32, 32), None), ((20, 52), (0.1, -0.2, 0.7, 1.1))):
            a = ort_gen.render(ort_gen.hypernet(z, psi), size, window)
            b = torch_gen.render(torch_gen.hypernet(z, psi), size, window)
            assert np.abs(a - b).max() <= 1e-4
        assert not np.allclose(ort_gen.hypernet(z, psi), ort_gen.hypernet(z))  # ψ reaches θ
    out = tmp_path / "r.npy"
    proc = run_cli("render", bil_bundle, "--seed", "3", "--size", "24x40", "--truncation", "0.7", "-o", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    ref = run_cli("render", SG2 / "tiny_bil.pkl", "--seed", "3", "--size", "24x40", "--truncation", "0.7", "-o", tmp_path / "t.npy", cwd=tmp_path)
    assert ref.returncode == 0, ref.stderr
    assert np.abs(np.load(out) - np.load(tmp_path / "t.npy")).max() <= 1e-4
    proc = run_cli("render", bil_bundle, "--truncation", "nan", "-o", tmp_path / "x.png", cwd=tmp_path)
    assert_one_line_error(proc, 2, "--truncation")


def test_verify_passes_on_the_golden_data(bil_bundle, tmp_path):
    proc = run_cli("verify", bil_bundle, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.slow
def test_the_released_configuration_loads_exports_and_renders(tmp_path):
    """The released churches architecture (68.4 M parameters, 256²) as a full-size network
    pickle with seeded weights, through convert, export (with its parity report) and render."""
    from inrgan_export.load.sources import demo_checkpoint
    from .sg2_pickle_writer import write_network_pickle

    model = demo_checkpoint("released-church").build()
    pkl = write_network_pickle(tmp_path / "churches.pkl", model)
    proc = run_cli("convert", pkl, "-o", tmp_path / "churches.pt", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "churches_onnx"
    proc = run_cli(pkl, "--target", "onnx", "-o", out, cwd=tmp_path, timeout=3000)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "manifest.json").read_text())["parity"]["passed"]
    for src, name in ((out, "ort.npy"), (tmp_path / "churches.pt", "torch.npy")):
        proc = run_cli("render", src, "--seed", "5", "--size", "128x128", "--truncation", "0.9", "-o", tmp_path / name, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    a, b = np.load(tmp_path / "ort.npy"), np.load(tmp_path / "torch.npy")
    assert a.shape == (1, 3, 128, 128) and np.abs(a - b).max() <= 1e-4


def test_sg2_manifest_matches_the_schema(bil_bundle):
    assert assert_valid_manifest(bil_bundle)["interface"]["hypernet_inputs"] == ["z", "truncation_psi"]
