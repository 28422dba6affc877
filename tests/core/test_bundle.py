"""Bundle manifest, checksums and atomic writing (inrgan_export.core.bundle)."""
from __future__ import annotations

import json
import shutil

import pytest

from inrgan_export.core.bundle import MANIFEST, Bundle, BundleWriter
from inrgan_export.load.sources import sha256_file
from inrgan_export.core.errors import BundleError, OutputError
from inrgan_export.core.grid import GridLayout
from inrgan_export.core.manifest import MANIFEST_VERSION

from ..conftest import assert_one_line_error, run_cli


def test_manifest_is_the_documented_contract(tiny_bundle):
    m = json.loads((tiny_bundle / MANIFEST).read_text())
    assert m["schema"] == "inrgan-export/bundle" and m["manifest_version"] == MANIFEST_VERSION == "1.1"
    assert m["family"] == "paper" and m["target"] == "onnx" and m["precision"] == "fp32"
    assert m["config"]["native_size"] == 16 and len(m["config"]["blocks"]) == 3
    iface = m["interface"]
    assert iface["z_dim"] == 16 and iface["native_size"] == [16, 16]
    grid = iface["grid"]
    assert grid["size_rule"]["kind"] == "paper-exp" and grid["size_rule"]["upsample_block_idx"] == 2
    assert grid["coordinates"]["channels"] == ["x", "y"]
    assert grid["resample"]["mode"] == "nearest" and grid["resample"]["edges"] == [[0, 1], [0, 2], [1, 2]]
    layout = GridLayout.from_manifest(grid)
    assert layout.size_rule.block_shapes((24, 40)) == [(6, 5), (12, 10), (24, 40)]  # W: extra = 2
    assert iface["display"]["scale"] == 127.5 and iface["display"]["clamp"] == [-1.0, 1.0]
    assert sum(seg["size"] for seg in m["theta_layout"]) == iface["theta_dim"]
    assert m["opset"] >= 17
    for lib in ("torch", "onnx", "onnxruntime"):
        assert m["versions"][lib]
    prov = m["provenance"]
    assert prov["origin"] == "demo:tiny" and "NVidia license" in prov["licence_note"]
    assert m["parity"]["passed"] is True
    for rel in ("hypernet.onnx", "inr.onnx", "generator.onnx", "golden.npz", "parity.json", "parity.md", "parity.png"):
        assert m["files"][rel]["sha256"] == sha256_file(tiny_bundle / rel)


def test_bundle_open_rejects_tampered_missing_and_unknown(tiny_bundle, tmp_path):
    bad = tmp_path / "b"
    shutil.copytree(tiny_bundle, bad)
    with open(bad / "inr.onnx", "r+b") as f:
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(BundleError, match="inr.onnx.*SHA-256"):
        Bundle.open(bad)
    assert_one_line_error(run_cli("verify", bad, cwd=tmp_path), 2, "inr.onnx")
    (bad / "inr.onnx").unlink()
    with pytest.raises(BundleError, match="lacks inr.onnx"):
        Bundle.open(bad)
    m = json.loads((bad / MANIFEST).read_text())
    m["manifest_version"] = 7
    (bad / MANIFEST).write_text(json.dumps(m))
    with pytest.raises(BundleError, match="manifest version 7 is not readable"):
        Bundle.open(bad)
    with pytest.raises(BundleError, match="no manifest.json"):
        Bundle.open(tmp_path)


def test_bundle_writer_publishes_only_complete_output(tmp_path):
    out = tmp_path / "bundle"
    with pytest.raises(RuntimeError):
        with BundleWriter(out) as tmp:
            (tmp / "half.onnx").write_text("x")
            raise RuntimeError("export failed half way")
    assert not out.exists() and list(tmp_path.iterdir()) == []
    with BundleWriter(out) as tmp:
        (tmp / "a").write_text("1")
        (tmp / MANIFEST).write_text(json.dumps({"schema": "inrgan-export/bundle"}))  # ours: --force may replace it
    assert (out / "a").read_text() == "1"
    with pytest.raises(OutputError, match="exists.*--force"):
        BundleWriter(out).check()
    with BundleWriter(out, force=True) as tmp:
        (tmp / "b").write_text("2")
    assert sorted(p.name for p in out.iterdir()) == ["b"]
    with pytest.raises(OutputError, match="not an inrgan-export bundle"):  # b/ holds no manifest now
        BundleWriter(out, force=True).check()
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="does not exist"):
        BundleWriter(tmp_path / "file" / "sub").check()
