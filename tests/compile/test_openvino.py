"""OpenVINO target and runtime (inrgan_export.compile.openvino, runtime.openvino_backend),
on the real OpenVINO CPU plugin."""
from __future__ import annotations

import json

import numpy as np
import onnx
import openvino as ov
import pytest

from inrgan_export import open_bundle, open_checkpoint
from inrgan_export.core.errors import InputValueError, ShapeError
from inrgan_export.backends.openvino_backend import device_precisions

from ..conftest import assert_one_line_error, run_cli
from ..core.test_manifest import assert_valid_manifest

CPU_PRECISIONS = device_precisions(ov.Core(), "CPU")


@pytest.fixture(scope="module")
def tiny_ov(tmp_path_factory):
    out = tmp_path_factory.mktemp("ov") / "tiny_ov"
    proc = run_cli("demo:tiny", "--target", "openvino", "--precision", "fp32", "-o", out, cwd=out.parent)
    assert proc.returncode == 0, proc.stderr
    return out


def test_bundle_has_ir_for_every_graph_with_dynamic_dims(tiny_ov):
    m = json.loads((tiny_ov / "manifest.json").read_text())
    assert m["target"] == "openvino" and m["default_backend"] == "openvino"
    core = ov.Core()
    for name in ("hypernet", "inr", "generator"):
        entry = m["graphs"][name]
        assert (tiny_ov / entry["openvino"]).exists() and (tiny_ov / entry["openvino_weights"]).exists()
        model = core.read_model(str(tiny_ov / entry["openvino"]))
        assert all(p.get_partial_shape().is_dynamic for p in model.inputs)
    section = m["openvino"]
    assert section["precision"] == "fp32" and section["weights"] == "fp32"
    assert section["inference_precision_hint"] == "f32"
    assert set(section["inference_precision"].values()) == {"f32"}


def test_fp32_parity_rows_cover_required_grids_on_both_paths(tiny_ov):
    report = json.loads((tiny_ov / "parity.json").read_text())
    assert report["passed"]
    ov_rows = [r for r in report["rows"] if r["backend"] == "openvino"]
    assert {r["path"] for r in ov_rows} == {"openvino split", "openvino fused"}
    assert {r["grid"] for r in ov_rows} >= {"native", "half", "double", "non-square", "zoom", "extrapolate"}
    assert all(r["max_abs"] <= 1e-4 for r in ov_rows)
    assert report["gates"]["openvino split"]["atol"] == 1e-4 and report["gates"]["openvino split"]["rule"] == "max_abs_scaled"


def test_precision_read_back_from_the_compiled_model_equals_the_manifest(tiny_ov):
    m = json.loads((tiny_ov / "manifest.json").read_text())
    with open_bundle(tiny_ov, backend="openvino") as g:
        assert g.compiled_precision("inr") == m["openvino"]["inference_precision"]["inr"] == "f32"


def test_api_renders_many_views_of_one_latent(tiny_ov, tiny_bundle):
    z = np.random.RandomState(4).randn(2, 16).astype(np.float32)
    with open_bundle(tiny_ov, backend="openvino", device="CPU") as g, open_bundle(tiny_bundle) as ref:
        theta = g.hypernet(z)
        for size in [(8, 8), (16, 16), (40, 60)]:
            assert np.abs(g.render(theta, size) - ref.render(theta, size)).max() <= 1e-5
        crop = g.render(theta, (16, 16), window=(0.4, 0.4, 0.6, 0.6))
        assert np.abs(crop - ref.render(theta, (16, 16), window=(0.4, 0.4, 0.6, 0.6))).max() <= 1e-5
        with pytest.raises(ShapeError, match="z_dim=16"):
            g.hypernet(np.zeros((1, 3), np.float32))
        with pytest.raises(InputValueError, match="NaN"):
            g.hypernet(np.full((1, 16), np.nan, np.float32))
        with pytest.raises(ShapeError, match="0x3"):
            g.render(theta, (0, 3))


def test_compiled_models_are_cached_outside_the_bundle(tiny_ov, tmp_path, monkeypatch):
    monkeypatch.setenv("INRGAN_EXPORT_CACHE", str(tmp_path / "cache"))
    with open_bundle(tiny_ov, backend="openvino") as g:
        first = g.cache_dir
        g.generate(np.zeros((1, 16), np.float32), (8, 8))
    assert first is not None and first.is_relative_to(tmp_path / "cache")
    blobs = sorted(p.name for p in first.iterdir())
    assert blobs, "OpenVINO wrote no cached blobs"
    assert "CPU" in first.name and "ov" in first.name
    with open_bundle(tiny_ov, backend="openvino") as g:
        assert g.cache_dir == first
        g.generate(np.zeros((1, 16), np.float32), (8, 8))
    assert sorted(p.name for p in first.iterdir()) == blobs  # reused, nothing recompiled
    assert not any(p.suffix == ".blob" for p in tiny_ov.iterdir())


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_reduced_precision_is_gated_or_refused_naming_what_the_cpu_runs(precision, tmp_path):
    out = tmp_path / f"tiny_{precision}"
    proc = run_cli("demo:tiny", "--target", "openvino", "--precision", precision, "-o", out, cwd=tmp_path)
    if precision not in CPU_PRECISIONS:
        assert_one_line_error(proc, 2, precision, "supported: " + ", ".join(CPU_PRECISIONS))
        assert not out.exists()
        return
    assert proc.returncode == 0, proc.stderr
    m = json.loads((out / "manifest.json").read_text())
    assert m["openvino"]["inference_precision"]["inr"] == {"bf16": "bf16", "fp16": "f16"}[precision]
    report = json.loads((out / "parity.json").read_text())
    rows = [r for r in report["rows"] if r["backend"] == "openvino"]
    assert rows and all(r["psnr_db"] == "inf" or r["psnr_db"] >= 40 for r in rows)
    assert report["gates"]["openvino split"]["min_psnr_db"] == 40


def test_cli_render_and_verify_through_openvino(tiny_ov, tiny_bundle, tmp_path):
    proc = run_cli("render", tiny_ov, "--seed", "1", "--size", "24x40", "--backend", "openvino", "-o", tmp_path / "a.npy", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("render", tiny_bundle, "--seed", "1", "--size", "24x40", "-o", tmp_path / "b.npy", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert np.abs(np.load(tmp_path / "a.npy") - np.load(tmp_path / "b.npy")).max() <= 1e-5
    proc = run_cli("verify", tiny_ov, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "openvino split" in proc.stderr and "fp32" in proc.stderr
    assert_one_line_error(run_cli("render", tiny_ov, "--device", "NPU", "-o", tmp_path / "c.png", cwd=tmp_path), 3, "NPU")
    assert_one_line_error(
        run_cli("demo:tiny", "--target", "openvino", "--device", "GPU", "-o", tmp_path / "g", cwd=tmp_path), 3, "GPU", "available"
    )


def test_openvino_manifest_matches_the_schema(tiny_ov):
    assert assert_valid_manifest(tiny_ov)["openvino"]["precision"] == "fp32"


def test_openvino_runs_stay_under_the_plugins_2gib_fault():
    """OpenVINO's CPU plugin returns wrong values once a tensor reaches 2 GiB: every run the
    planner makes for this backend is estimated under 1 GiB, whatever budget the caller gives."""
    from inrgan_export.core.bundle import Bundle
    from inrgan_export.backends.openvino_backend import OPENVINO_RUN_BYTES, OpenVINOGenerator

    from ..conftest import DATA

    gen = OpenVINOGenerator(Bundle.open(DATA / "bundle_v1"), max_memory=8 << 30)
    assert gen.max_memory == OPENVINO_RUN_BYTES == 1 << 30
    plan = gen.plan(gen.grid((1024, 1024)), 2)  # ~0.7 GB a sample: one sample per run
    assert plan.batch_chunk == 1 and plan.estimate_bytes <= OPENVINO_RUN_BYTES
    plan = gen.plan(gen.grid((2048, 2048)), 1)  # ~2.7 GB for one sample: tiles
    assert plan.pieces > 1 and plan.estimate_bytes <= OPENVINO_RUN_BYTES


@pytest.fixture(scope="module")
def sg2_ov8(tmp_path_factory):
    out = tmp_path_factory.mktemp("ov8") / "sg2_ov8"
    proc = run_cli("demo:sg2-tiny", "--target", "openvino", "--precision", "int8", "--calib-latents", "32", "-o", out,
                   cwd=out.parent)
    return out, proc


def test_sg2_int8_export_passes_and_its_hypernet_is_finite_on_a_zero_latent(sg2_ov8):
    """The export used to stop with "theta row 0 contains NaN or Inf" (exit 2): the exporter's
    graph optimizer dropped the scalar ``+ 1e-8`` of the mapping network's 2nd-moment
    normalisation, and the INT8 compile step renders a zero latent, for which the graph
    computed 0 * 1/sqrt(0). Both runtimes now give PyTorch's θ for z = 0."""
    out, proc = sg2_ov8
    assert proc.returncode == 0, proc.stderr
    z = np.zeros((1, 16), np.float32)
    expected = open_checkpoint("demo:sg2-tiny").hypernet(z)
    assert np.isfinite(expected).all()
    import onnxruntime as ort

    feeds = {"z": z, "truncation_psi": np.ones((1,), np.float32)}
    got_ort = ort.InferenceSession(str(out / "hypernet.onnx"), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    got_ov = ov.Core().compile_model(str(out / "hypernet.xml"), "CPU")(feeds)[0]
    for got in (got_ort, got_ov):
        assert np.isfinite(got).all() and np.abs(got - expected).max() <= 1e-4
    with open_bundle(out, backend="openvino") as g:
        assert np.isfinite(g.generate(z, (32, 32))).all()


def test_sg2_int8_plan_keeps_per_row_layers_in_int8_kernels(sg2_ov8):
    """sg2's per-sample weights are quantized per row and sample (W x = m (W/m) x): the plan
    keeps at least 2 of the 13 layers of demo:sg2-tiny (1 with one scale per tensor), and
    OpenVINO runs each of them with an INT8 kernel."""
    from inrgan_export.calibration.qdq import inspect_qdq

    out, proc = sg2_ov8
    assert proc.returncode == 0, proc.stderr
    m = json.loads((out / "manifest.json").read_text())
    int8 = m["int8"]
    assert int8["gates"]["passed"] and len(int8["sweep_psnr_db"]) == 13
    assert len(int8["int8_layers"]) >= 2
    assert int8["calibration"]["weight_scales_per_row_per_sample"] == int8["int8_layers"]
    assert "per row and per sample" in m["graphs"]["inr"]["quantization"]
    q = onnx.load(str(out / "inr.onnx"))
    quantized = [mm for mm in inspect_qdq(q).values() if all(mm.inputs_quantized)]
    assert len(quantized) == len(int8["int8_layers"])
    assert all(mm.scales[0] == pytest.approx(1 / 127) for mm in quantized)  # W / m lies in [-1, 1]
    kernels = m["openvino"]["inr_matmul_kernels"]
    assert sum(n for k, n in kernels.items() if k.startswith("i8 ")) == len(quantized)
    assert json.loads((out / "parity.json").read_text())["passed"]


def test_a_damaged_ir_is_one_line_exit_2(tiny_ov, tmp_path):
    """IR files with their checksums fixed up (a bundle made hostile on purpose): OpenVINO's own
    reader refuses broken XML (before: its exception was an internal error, exit 1), and an IR
    whose declared inputs disagree with the manifest is refused naming the field."""
    import hashlib
    import shutil

    m = json.loads((tiny_ov / "manifest.json").read_text())
    rel = m["graphs"]["inr"]["openvino"]
    for name, edit, needles in [
        ("broken-xml", lambda x: x[: len(x) // 2], [f"OpenVINO cannot load {rel}"]),
        ("renamed-output", lambda x: x.replace(b'names="rgb"', b'names="image"'), ["field 'interface.output_name' ('rgb')", "'image'"]),
    ]:
        bad = tmp_path / name
        shutil.copytree(tiny_ov, bad)
        data = edit((bad / rel).read_bytes())
        assert data != (bad / rel).read_bytes(), name
        (bad / rel).write_bytes(data)
        man = json.loads((bad / "manifest.json").read_text())
        man["files"][rel].update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
        (bad / "manifest.json").write_text(json.dumps(man))
        proc = run_cli("render", bad, "--backend", "openvino", "--seed", "1", "-o", tmp_path / f"{name}.png", cwd=tmp_path, timeout=120)
        assert_one_line_error(proc, 2, *needles)
        assert not (tmp_path / f"{name}.png").exists()
