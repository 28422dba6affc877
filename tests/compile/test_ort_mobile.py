"""Target ort-mobile (inrgan_export.compile.ort_mobile) and the ONNX Runtime backend on its
``.ort`` graphs, on real exports of both families through the CLI and the real ONNX Runtime."""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from inrgan_export import open_bundle
from inrgan_export.core.bundle import Bundle, write_manifest
from inrgan_export.core.manifest import Manifest
from inrgan_export.backends.onnxruntime_backend import OnnxRuntimeGenerator, ort_session

from ..conftest import run_cli
from ..core.test_manifest import assert_valid_manifest


@pytest.fixture(scope="module")
def sg2_ort_mobile(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ort") / "sg2_ort"
    proc = run_cli("demo:sg2-tiny", "--target", "ort-mobile", "-o", out, cwd=out.parent)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(params=["paper", "sg2"])
def ort_bundle(request, tiny_ort_mobile, sg2_ort_mobile) -> Path:
    return {"paper": tiny_ort_mobile, "sg2": sg2_ort_mobile}[request.param]


def _config_ops(path: Path) -> set[str]:
    """``domain;opset;Op`` of every operator a required_operators.config lists."""
    ops = set()
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            domain, opset, names = line.split(";")
            ops |= {f"{domain};{opset};{n}" for n in names.split(",")}
    return ops


def test_bundle_has_ort_graphs_and_a_valid_manifest(ort_bundle):
    m = assert_valid_manifest(ort_bundle)
    assert m["target"] == "ort-mobile" and m["default_backend"] == "onnxruntime" and m["onnxruntime_graph"] == "ort"
    for name in ("hypernet", "inr", "generator"):
        entry = m["graphs"][name]
        assert entry["ort"] == f"{name}.ort" and (ort_bundle / entry["ort"]).is_file()
        assert entry["ort"] in m["files"] and entry["onnx"] in m["files"]
    section = m["ort_mobile"]
    assert section["precision"] == "fp32" and section["required_operators"] == "required_operators.config"
    assert set(section["execution_providers"]) == {"android", "ios"}


def test_required_operators_are_those_of_the_shipped_ort_graphs(ort_bundle, tmp_path):
    """The config lists exactly what ONNX Runtime's own config builder finds in the bundle's .ort files."""
    from onnxruntime.tools.ort_format_model import create_config_from_models

    config = ort_bundle / "required_operators.config"
    text = config.read_text()
    assert "/tmp" not in text and "# - inr.ort" in text  # names the bundle's files, not the converter's
    again = tmp_path / "again.config"
    create_config_from_models([ort_bundle / f"{g}.ort" for g in ("generator", "hypernet", "inr")], again, False)
    assert _config_ops(config) == _config_ops(again) and _config_ops(config)
    assert any(op.endswith(";MatMul") or "Gemm" in op for op in _config_ops(config))


def test_usability_verdicts_agree_with_onnxruntimes_checker(ort_bundle):
    """Per graph, our record says "some EP is worth trying" exactly when ONNX Runtime's own
    analyze_model does (it upgrades a verdict when fixing the dynamic dims would help)."""
    from onnxruntime.tools.mobile_helpers.usability_checker import analyze_model

    m = json.loads((ort_bundle / "manifest.json").read_text())
    order = ("NO", "MAYBE", "YES")
    quiet = logging.getLogger("test-usability")
    quiet.setLevel(logging.ERROR)
    for graph, record in m["ort_mobile"]["usability"]["graphs"].items():
        eps = {k: v for k, v in record.items() if isinstance(v, dict)}
        assert set(eps) == {"NNAPI", "CoreML NeuralNetwork", "CoreML MLProgram"}
        for v in eps.values():
            assert 0 <= v["supported_nodes"] <= v["nodes"] and v["nodes"] > 0
        ours = any(max(order.index(v["verdict"]), order.index(v["verdict_if_fixed_shapes"])) > 0 for v in eps.values())
        assert analyze_model(ort_bundle / m["graphs"][graph]["onnx"], logger=quiet) == ours, graph


def test_verify_passes_and_the_ort_graphs_match_the_onnx_graphs(ort_bundle):
    proc = run_cli("verify", ort_bundle, cwd=ort_bundle.parent)
    assert proc.returncode == 0, proc.stderr
    bundle = Bundle.open(ort_bundle)
    z = np.random.RandomState(3).randn(2, bundle.manifest.interface.z_dim).astype(np.float32)
    size = tuple(bundle.manifest.interface.native_size)
    with OnnxRuntimeGenerator(bundle) as ort_gen, OnnxRuntimeGenerator(bundle, graph_kind="onnx") as onnx_gen:
        assert ort_gen.graph_kind == "ort"
        a = ort_gen.generate(z, (size[0] // 2, size[1] + 4), (-0.25, 0.0, 1.25, 1.0))
        b = onnx_gen.generate(z, (size[0] // 2, size[1] + 4), (-0.25, 0.0, 1.25, 1.0))
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_the_backend_really_loads_the_ort_files(tiny_ort_mobile, tmp_path):
    """A bundle whose .ort file holds ONNX bytes (checksums rewritten) fails to open: the
    session was asked for ORT format, so the .ort graph, not the ONNX one, is what runs."""
    with pytest.raises(Exception, match="(?i)ort|flatbuffer|format"):
        ort_session(tiny_ort_mobile / "inr.onnx", ort_format=True)
    fake = tmp_path / "fake"
    shutil.copytree(tiny_ort_mobile, fake)
    shutil.copyfile(fake / "inr.onnx", fake / "inr.ort")
    write_manifest(fake, Manifest.from_json(json.loads((fake / "manifest.json").read_text())))
    z = np.zeros((1, 16), np.float32)
    with pytest.raises(Exception):
        with open_bundle(fake) as g:
            g.generate(z, (8, 8))


def test_inspect_names_the_target_and_its_execution_providers(tiny_ort_mobile):
    proc = run_cli("inspect", tiny_ort_mobile, "--json", cwd=tiny_ort_mobile.parent)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["target"] == "ort-mobile"
    assert info["graphs"]["inr"]["files"]["ort"] == "inr.ort"
    assert info["ort_mobile"]["execution_providers"]["android"]["use"]
    text = run_cli("inspect", tiny_ort_mobile, cwd=tiny_ort_mobile.parent).stdout
    assert "ort-mobile" in text and "android" in text


def test_int8_passes_its_gates_or_exits_4(tmp_path):
    out = tmp_path / "tiny_ort8"
    proc = run_cli("demo:tiny", "--target", "ort-mobile", "--precision", "int8", "-o", out, cwd=tmp_path)
    assert proc.returncode in (0, 4), proc.stderr
    m = assert_valid_manifest(out)
    gates = m["int8"]["gates"]
    assert gates["passed"] == (proc.returncode == 0)
    assert m["ort_mobile"]["precision"] == "int8" and m["onnx_precision"] == "int8"
    assert m["graphs"]["inr"]["quantization"].startswith("Q/DQ")
    ops = _config_ops(out / "required_operators.config")
    # the quantized INR needs integer kernels or (de)quantization in the reduced build
    assert any("Quant" in op or "Integer" in op or "QLinear" in op for op in ops), ops
