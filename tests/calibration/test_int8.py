"""INT8 (inrgan_export.calibration): Q/DQ structure and numbers, the FMM bound, the
calibration cache and determinism, gates through the real CLI."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from inrgan_export.calibration.data import CalibrationSpec, InrFeeds, calibration_grids
from inrgan_export.calibration.graph import find_layers, fmm_bounds
from inrgan_export.calibration.qdq import inspect_qdq
from inrgan_export.calibration.ranges import cache_key, calibrate
from inrgan_export.load.sources import demo_checkpoint
from inrgan_export.families.paper.model import FMMLinear
from inrgan_export.core.imageio import psnr
from inrgan_export.families import DisplayMapping
from inrgan_export import open_bundle, open_checkpoint

from ..conftest import assert_one_line_error, run_cli
from ..core.test_manifest import assert_valid_manifest


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def tiny_int8(tmp_path_factory, cache):
    out = tmp_path_factory.mktemp("int8") / "tiny_q"
    proc = run_cli("demo:tiny", "--target", "onnx", "--precision", "int8", "--calib-latents", "16", "-o", out,
                   cwd=out.parent, env={"INRGAN_EXPORT_CACHE": str(cache)})
    assert proc.returncode == 0, proc.stderr
    (out.parent / "export.stdout").write_text(proc.stdout)  # what the user saw (test_int8_figures_are_said)
    (out.parent / "export.stderr").write_text(proc.stderr)
    return out


def test_qdq_graph_structure(tiny_int8, tiny_bundle):
    m = json.loads((tiny_int8 / "manifest.json").read_text())
    q = onnx.load(str(tiny_int8 / "inr.onnx"))
    fp32 = onnx.load(str(tiny_bundle / "inr.onnx"))
    layers = {l.node: l for l in find_layers(fp32, m["theta_layout"])}
    plan = set(m["int8"]["int8_layers"])
    bounds = {b.tensor: b.bound for b in fmm_bounds(fp32, list(layers.values())).values()}
    info = inspect_qdq(q)
    quantized = {name for name, mm in info.items() if all(mm.inputs_quantized)}
    assert quantized == {n for n, l in layers.items() if l.name in plan}
    for name in quantized:
        mm = info[name]
        assert mm.dtypes == ("int8", "int8") and mm.zero_points == (0, 0)  # symmetric INT8
        layer = layers[name]
        if layer.weight in bounds:  # per-sample weight scale from the FMM bound, not data
            assert mm.scales[0] == pytest.approx(bounds[layer.weight] / 127, rel=1e-6)
        assert mm.scales[1] > 0
    # the Fourier basis products and the FMM modulation products stay in floating point
    float_mm = [n for n, mm in info.items() if not any(mm.inputs_quantized)]
    fmm = sum(l.kind == "fmm" for l in layers.values())
    assert len(float_mm) == 3 + fmm  # one basis product per block, one modulation product per FMM layer
    counts = {op: sum(n.op_type == op for n in q.graph.node) for op in ("QuantizeLinear", "DequantizeLinear")}
    # one Q/DQ pair per distinct quantized operand (block outputs feed ToRGB and the next
    # connector through one pair); MatMul outputs are not re-quantized
    operands = {t for n in quantized for t in (layers[n].weight, layers[n].activation)}
    assert counts == {"QuantizeLinear": len(operands), "DequantizeLinear": len(operands)}


def test_int8_numbers_meet_the_gates_and_are_recorded(tiny_int8):
    m = json.loads((tiny_int8 / "manifest.json").read_text())
    int8 = m["int8"]
    g = int8["gates"]
    assert g["passed"] and g["latents"] == 64 and g["median_psnr_db"] >= 35 and g["worst_psnr_db"] >= 30
    assert set(int8["sweep_psnr_db"]) >= set(int8["int8_layers"])
    assert int8["calibration"]["activation_bits"] == 7 and int8["calibration"]["latents"] == 16
    assert int8["calibration"]["latent_seeds"].startswith("1000000")  # disjoint from the gate bank 0..63
    # the layers were chosen on their own latents; the gate's are held out
    sel = int8["selection"]
    assert g["latent_seeds"] == "0..63" and sel["latent_seeds"] == "2000000..2000063" and sel["latents"] == 64
    assert sel["passed"] and g["attempts"] == 1 and g["held_out"]
    # recomputed here, independently of the export: INT8 vs the FP32 PyTorch reference
    ref = open_checkpoint("demo:tiny")
    z = np.random.RandomState(77).randn(8, 16).astype(np.float32)
    with open_bundle(tiny_int8) as g8:
        out = g8.generate(z, (16, 16))
    expected = ref.generate(z, (16, 16))
    values = [psnr(expected[i : i + 1], out[i : i + 1], DisplayMapping()) for i in range(8)]
    assert np.median(values) >= 35 and min(values) >= 30 and np.isfinite(out).all()
    assert np.abs(out - expected).max() > 1e-4  # it really is quantized
    report = json.loads((tiny_int8 / "parity.json").read_text())
    assert report["passed"] and report["gates"]["onnxruntime split"]["min_psnr_db"] == 30


def test_openvino_int8_runs_the_plan_in_int8_and_meets_the_gates(tiny_int8, cache, tmp_path):
    out = tmp_path / "tiny_ov8"
    proc = run_cli("demo:tiny", "--target", "openvino", "--precision", "int8", "--calib-latents", "16", "-o", out,
                   cwd=tmp_path, env={"INRGAN_EXPORT_CACHE": str(cache)})
    assert proc.returncode == 0, proc.stderr
    m = json.loads((out / "manifest.json").read_text())
    assert m["int8"]["calibration"]["cache_used"]  # same weights, grids, method and seed as tiny_int8
    assert m["int8"]["int8_layers"] == json.loads((tiny_int8 / "manifest.json").read_text())["int8"]["int8_layers"]
    ov = m["openvino"]
    assert ov["precision"] == "int8" and ov["inference_precision"]["inr"] == "f32"
    # every MatMul of the Q/DQ plan runs as an INT8 kernel in OpenVINO, the others in f32
    quantized = sum(all(mm.inputs_quantized) for mm in inspect_qdq(onnx.load(str(out / "inr.onnx"))).values())
    assert sum(n for k, n in ov["inr_matmul_kernels"].items() if k.startswith("i8 ")) == quantized > 0
    ref = open_checkpoint("demo:tiny")
    z = np.random.RandomState(78).randn(8, 16).astype(np.float32)
    with open_bundle(out) as g8:
        assert g8.compiled_precision("inr") == "f32"
        got = g8.generate(z, (16, 16))
    expected = ref.generate(z, (16, 16))
    values = [psnr(expected[i : i + 1], got[i : i + 1], DisplayMapping()) for i in range(8)]
    assert np.median(values) >= 35 and min(values) >= 30 and np.isfinite(got).all()
    assert np.abs(got - expected).max() > 1e-4
    assert json.loads((out / "parity.json").read_text())["passed"]


def test_sg2_int8_keeps_fourier_and_modulation_float_and_regates_until_it_passes(tmp_path):
    """The released family: demod FMM gives no usable bound (scales from data), the predicted
    Fourier basis and the modulation products L·R are never layers, and when a plan that
    passed the small sweep set fails the 64 selection latents, layers go back to float until it holds; the
    held-out gate then runs once."""
    pkl = Path(__file__).resolve().parents[1] / "data" / "sg2" / "misc.pkl"
    fp32 = tmp_path / "misc_onnx"
    assert run_cli(pkl, "--target", "onnx", "-o", fp32, cwd=tmp_path).returncode == 0
    out = tmp_path / "misc_q"
    proc = run_cli(pkl, "--target", "onnx", "--precision", "int8", "--calib-latents", "8", "-o", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    m = json.loads((out / "manifest.json").read_text())
    layout = {seg["name"]: seg["kind"] for seg in m["theta_layout"]}
    layers = find_layers(onnx.load(str(fp32 / "inr.onnx")), m["theta_layout"])
    # one MatMul per FMM / ToRGB segment of θ; none for the predicted Fourier basis
    assert sorted(l.name for l in layers) == sorted(n for n, k in layout.items() if k in ("fmm", "styles"))
    assert any(k == "fourier" for k in layout.values())
    int8 = m["int8"]
    assert int8["gates"]["passed"] and int8["gates"]["worst_psnr_db"] >= 30 and int8["gates"]["median_psnr_db"] >= 35
    assert int8["calibration"]["weight_scales_from_fmm_bound"] == []
    info = inspect_qdq(onnx.load(str(out / "inr.onnx")))
    quantized = {name for name, mm in info.items() if all(mm.inputs_quantized)}
    by_node = {l.node: l.name for l in layers}
    assert {by_node[n] for n in quantized} == set(int8["int8_layers"]) and len(quantized) == len(int8["int8_layers"])
    regated = [d for d in int8["float_layers"] if "selection_worst_psnr_db_after" in d]
    assert int8["selection"]["attempts"] == 1 + len(regated) and int8["gates"]["attempts"] == 1
    assert set(int8["int8_layers"]).isdisjoint(d["layer"] for d in int8["float_layers"])
    # recomputed here: the INT8 bundle against the FP32 PyTorch model of the pickle
    z = np.random.RandomState(5).randn(8, m["interface"]["z_dim"]).astype(np.float32)
    with open_bundle(out) as g8:
        got = g8.generate(z, (32, 32))
    expected = open_checkpoint(str(pkl)).generate(z, (32, 32))
    d = m["interface"]["display"]
    display = DisplayMapping(tuple(d["clamp"]), d["scale"], d["offset"])
    values = [psnr(expected[i : i + 1], got[i : i + 1], display) for i in range(8)]
    assert np.median(values) >= 35 and np.isfinite(got).all() and np.abs(got - expected).max() > 1e-4


def test_int8_gate_rule_fails_on_each_clause_alone():
    """Median ≥ 35 dB AND worst ≥ 30 dB AND finite: each clause fails a plan on its own."""
    from inrgan_export.calibration.plan import gate_verdict

    assert gate_verdict([40.0] * 64, True)["passed"]
    median_only = gate_verdict([34.0] * 40 + [45.0] * 24, True)  # worst 34 ≥ 30: only the median fails
    assert not median_only["passed"] and median_only["failed_by"] == ["median PSNR 34.0 dB < 35"]
    worst_only = gate_verdict([50.0] * 63 + [29.0], True)  # median 50: only the worst image fails
    assert not worst_only["passed"] and worst_only["failed_by"] == ["worst PSNR 29.0 dB < 30"]
    nan = gate_verdict([50.0] * 64, False)
    assert not nan["passed"] and nan["failed_by"] == ["NaN/Inf in the output"]
    assert not gate_verdict([], True)["passed"]


def test_selection_calibration_and_gate_latents_are_disjoint():
    from inrgan_export.calibration.data import GATE_LATENTS, SELECTION_LATENTS, SELECTION_SEED_BASE, seeds_disjoint

    gate = range(GATE_LATENTS)
    selection = range(SELECTION_SEED_BASE, SELECTION_SEED_BASE + SELECTION_LATENTS)
    calib = CalibrationSpec(latents=4096).seeds()
    assert seeds_disjoint(gate, selection) and seeds_disjoint(selection, calib) and seeds_disjoint(gate, calib)
    assert not seeds_disjoint(gate, [63])  # the check can fail


def test_fmm_bound_holds_on_checkpoint_and_random_weights():
    model = demo_checkpoint("tiny").build()
    gen = torch.Generator().manual_seed(3)
    for module in (m for m in model.modules() if isinstance(m, FMMLinear)):
        for scale in (1.0, 10.0):  # checkpoint weights, then far larger shared weights
            with torch.no_grad():
                shared = module.shared_weight() * scale
                seg = torch.randn(16, module.theta_size, generator=gen) * 5
                w, _ = module.modulated_weight(seg)
                w = w * scale
            assert (w.abs() <= 2 * shared.abs().unsqueeze(0) + 1e-6).all()
            assert w.abs().max() <= 2 * shared.abs().max() + 1e-6


def test_bounds_found_in_the_graph_equal_twice_the_shared_weight(tiny_bundle):
    m = json.loads((tiny_bundle / "manifest.json").read_text())
    layers = find_layers(onnx.load(str(tiny_bundle / "inr.onnx")), m["theta_layout"])
    bounds = fmm_bounds(onnx.load(str(tiny_bundle / "inr.onnx")), layers)
    model = demo_checkpoint("tiny").build()
    by_name = {l.name: bounds[l.weight].bound for l in layers if l.weight in bounds}
    assert by_name["b1.layer0"] == pytest.approx(2 * float(model.inr.blocks[1].layers[0].weight.abs().max()), rel=1e-6)
    assert by_name["b2.connector.hr"] == pytest.approx(2 * float(model.inr.blocks[2].connector.hr.weight.abs().max()), rel=1e-6)
    assert "b0.to_rgb" not in by_name  # ToRGB is fully predicted: no bound, calibrated from data


def test_calibration_is_deterministic_and_cache_keys_track_weights(tiny_bundle, tmp_path):
    ref = open_checkpoint("demo:tiny")
    iface = ref.interface
    spec = CalibrationSpec(latents=8, method="max")
    a = calibrate(tiny_bundle / "inr.onnx", InrFeeds(ref.hypernet, iface.layout, "theta", 16, spec, (16, 16)), spec)
    b = calibrate(tiny_bundle / "inr.onnx", InrFeeds(ref.hypernet, iface.layout, "theta", 16, spec, (16, 16)), spec)
    assert a == b and len(a) > 10
    k = cache_key("graph-a", spec, (16, 16))
    assert k == cache_key("graph-a", spec, (16, 16))
    assert k != cache_key("graph-b", spec, (16, 16))
    assert k != cache_key("graph-a", CalibrationSpec(latents=8, method="entropy"), (16, 16))
    assert k != cache_key("graph-a", CalibrationSpec(latents=8, method="max", seed=5), (16, 16))
    sizes = calibration_grids(CalibrationSpec(), (256, 256))
    assert any(s[0] != s[1] for s, _ in sizes) and any(not w.is_full() for _, w in sizes)
    assert all(h * w <= 128 * 128 for (h, w), _ in sizes)


def test_cache_is_reused_only_for_the_same_weights(tiny_int8, cache, tmp_path):
    first = json.loads((tiny_int8 / "manifest.json").read_text())["int8"]["calibration"]
    assert first["cache_used"] is False
    again = tmp_path / "again"
    env = {"INRGAN_EXPORT_CACHE": str(cache)}
    proc = run_cli("demo:tiny", "--target", "onnx", "--precision", "int8", "--calib-latents", "16", "-o", again, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    second = json.loads((again / "manifest.json").read_text())["int8"]["calibration"]
    assert second["cache_used"] is True and second["cache_key"] == first["cache_key"]
    # one weight changed: another graph, another key, the cache is not used
    ckpt = demo_checkpoint("tiny")
    ckpt.state_dict["inr.blocks.1.layers.0.weight"] = ckpt.state_dict["inr.blocks.1.layers.0.weight"].clone() * 1.01
    ckpt._model = None
    ckpt.save(tmp_path / "changed.pt")
    changed = tmp_path / "changed"
    proc = run_cli("export", tmp_path / "changed.pt", "--target", "onnx", "--precision", "int8", "--calib-latents", "16",
                   "--min-psnr", "99", "-o", changed, cwd=tmp_path, env=env)
    third = json.loads((changed / "manifest.json").read_text())["int8"]
    assert third["calibration"]["cache_used"] is False and third["calibration"]["cache_key"] != first["cache_key"]
    # and --min-psnr 99 cannot be met: the complete bundle is published, exit 4 names the gate
    assert_one_line_error(proc, 4, "INT8 gate failed", "worst")
    assert third["gates"]["passed"] is False


def test_int8_options_are_validated(tmp_path):
    assert_one_line_error(run_cli("demo:tiny", "--target", "onnx", "--precision", "int8", "--min-psnr", "-3", "-o", tmp_path / "x",
                                  cwd=tmp_path), 2, "-3")
    assert_one_line_error(run_cli("demo:tiny", "--target", "onnx", "--precision", "int8", "--calib-method", "mse", "-o",
                                  tmp_path / "x", cwd=tmp_path), 2, "mse", "percentile")


def test_int8_manifest_matches_the_schema(tiny_int8):
    assert assert_valid_manifest(tiny_int8)["onnx_precision"] == "int8"


def _row_quantized_matmul(tmp_path: Path, w: np.ndarray, x: np.ndarray, per_row: bool) -> np.ndarray:
    """``W·x`` of a one-MatMul graph after our Q/DQ pass (8-bit activations): per-row (no
    bound for W: rows scaled by each sample's row max) or per-tensor (a bound of max|W|)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    from inrgan_export.calibration.graph import Bound, Layer
    from inrgan_export.calibration.qdq import quantize

    n, o, i = w.shape
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["w", "x"], ["y"], name="mm")], "g",
        [helper.make_tensor_value_info("w", TensorProto.FLOAT, ["n", o, i]),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", i, "l"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", o, "l"])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    fp32, out = tmp_path / "mm.onnx", tmp_path / f"mm_q_{per_row}.onnx"
    onnx.save(model, str(fp32))
    layer = Layer("l0", "mm", "w", "x", "fmm")
    bounds = {} if per_row else {"w": Bound("w", float(np.abs(w).max()), "test")}
    ranges = {"x": (float(x.min()), float(x.max())), "w": (float(w.min()), float(w.max()))}
    quantize(fp32, out, [layer], ["l0"], ranges, bounds, {"w": w, "x": x})
    q = onnx.load(str(out))
    assert {n.op_type for n in q.graph.node} >= {"QuantizeLinear", "DequantizeLinear"}
    return ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"w": w, "x": x})[0]


def test_per_row_weight_scales_keep_the_small_rows_that_one_tensor_scale_loses(tmp_path):
    """A per-sample weight with one row 300x larger than the others (and another sample
    with a different spread): one scale per tensor rounds the small rows to a few levels
    (relative error of their outputs above 20 %), per-row scales keep them within 3 % (the
    8-bit activations included)."""
    rng = np.random.RandomState(0)
    w = rng.randn(2, 4, 64).astype(np.float32) * 0.05
    w[0, 0] *= 300.0  # one large row in sample 0
    w[1] *= 0.1  # sample 1 is small everywhere
    x = rng.randn(2, 64, 32).astype(np.float32)
    exact = w @ x

    def rel_error(got: np.ndarray, n: int, rows) -> float:
        return float(np.linalg.norm(got[n, rows] - exact[n, rows]) / np.linalg.norm(exact[n, rows]))

    tensor = _row_quantized_matmul(tmp_path, w, x, per_row=False)
    row = _row_quantized_matmul(tmp_path, w, x, per_row=True)
    small = slice(1, 4)
    assert rel_error(tensor, 0, small) > 0.2 and rel_error(tensor, 1, slice(0, 4)) > 0.2  # lost
    assert rel_error(row, 0, small) < 0.03 and rel_error(row, 1, slice(0, 4)) < 0.03  # kept (8-bit x included)
    assert rel_error(row, 0, [0]) < 0.03  # and the large row stays as good


def test_int8_figures_are_said_by_export_and_inspect(tiny_int8, tmp_path):
    """export ends with the INT8 gate's figures, the layer plan and a verdict line; inspect shows
    the same figures as text (not a dict repr)."""
    gates = json.loads((tiny_int8 / "manifest.json").read_text())["int8"]["gates"]
    layers = json.loads((tiny_int8 / "manifest.json").read_text())["int8"]["int8_layers"]
    gate_line = (f"INT8 gate   PASS: median {gates['median_psnr_db']:.1f} dB (needs ≥ 35.0), "
                 f"worst {gates['worst_psnr_db']:.1f} dB (needs ≥ 30.0) over {gates['latents']} held-out latents")
    stderr = (tiny_int8.parent / "export.stderr").read_text()
    assert gate_line in stderr and f"INT8 plan   {len(layers)} layers INT8; " in stderr
    assert (tiny_int8.parent / "export.stdout").read_text().splitlines()[-1].startswith("export: PASS (7 grids, ")
    proc = run_cli("inspect", tiny_int8, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert gate_line in proc.stdout and "{'" not in proc.stdout and "gate_passed" not in proc.stdout
