"""Precision-typed ONNX: which nodes stay FP32 (structure) and what that costs (numbers).

Structure first, numbers second (a numeric check alone can pass with an island missing)."""
from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import ml_dtypes
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper

from inrgan_export.compile import precision as P

ORT_OPTS = ort.SessionOptions()
ORT_OPTS.log_severity_level = 3


def run(model: onnx.ModelProto, feeds: dict) -> np.ndarray:
    sess = ort.InferenceSession(model.SerializeToString(), ORT_OPTS, providers=["CPUExecutionProvider"])
    names = {i.name for i in sess.get_inputs()}
    return sess.run(None, {k: v for k, v in feeds.items() if k in names})[0]


@pytest.fixture(scope="module")
def compiled(tiny_bundle, tmp_path_factory):
    """The tensorrt target's compile step on a copy of the demo:tiny FP32 bundle, for fp16 and
    bf16 (TensorRT is absent here, so it writes the typed graphs and defers exit 3)."""
    from inrgan_export.core.bundle import Bundle
    from inrgan_export.load.sources import load_source
    from inrgan_export.compile import CompileContext
    from inrgan_export.compile.tensorrt import TensorRTTarget
    from inrgan_export.families import get_family
    from inrgan_export.app.options import ExportOptions

    model = load_source("demo:tiny").build()
    out = {}
    for precision in ("fp16", "bf16"):
        d = tmp_path_factory.mktemp(f"compile_{precision}") / "b"
        shutil.copytree(tiny_bundle, d)
        manifest = Bundle.open(d).manifest
        opts = ExportOptions(source="demo:tiny", target="tensorrt", precision=precision, out=d)
        result = TensorRTTarget().compile(CompileContext(d, model, get_family("paper"), manifest, opts))
        out[precision] = (d, manifest, result)
    return out


def golden(tiny_bundle: Path):
    from inrgan_export.core.bundle import Bundle
    from inrgan_export.verify import load_golden

    b = Bundle.open(tiny_bundle)
    return b, load_golden(b.path, b.manifest, b.layout, "z")


# ------------------------------------------------------------------ structure
def fourier_ancestry(model: onnx.ModelProto) -> list[onnx.NodeProto]:
    producer = {o: n for n in model.graph.node for o in n.output}
    out, stack, seen = [], [i for n in model.graph.node if n.op_type in ("Sin", "Cos") for i in n.input], set()
    while stack:
        t = stack.pop()
        node = producer.get(t)
        if node is None or node.name in seen:
            continue
        seen.add(node.name)
        out.append(node)
        stack.extend(node.input)
    return out


def test_fp16_graph_keeps_the_fourier_path_and_output_activation_in_fp32(compiled):
    d, manifest, result = compiled["fp16"]
    inr = onnx.load(str(d / result.manifest["graphs"]["inr"]["tensorrt_onnx"]))
    assert result.manifest["graphs"]["inr"]["tensorrt_onnx"] == "inr.fp16.onnx"
    prec = P.node_precisions(inr)
    types = P.tensor_types(inr)
    ops = {n.name: n.op_type for n in inr.graph.node}
    # sin/cos and their whole argument computation in FP32, with no FP16 rounding anywhere on it:
    # no Cast node between the coordinate/theta inputs and the Fourier argument
    for node in inr.graph.node:
        if node.op_type in ("Sin", "Cos", "Tanh"):
            assert prec[node.name] == T.FLOAT, node.name
    ancestry = fourier_ancestry(inr)
    assert ancestry and not [n.name for n in ancestry if n.op_type == "Cast"]
    float_outputs = [o for n in ancestry for o in n.output if types.get(o) in (T.FLOAT, T.FLOAT16)]
    assert all(types[o] == T.FLOAT for o in float_outputs)
    fourier_matmuls = {n.name for n in ancestry if n.op_type == "MatMul"}
    assert len(fourier_matmuls) == 3  # one basis x coordinates product per block of demo:tiny
    # everything else that computes on floats is FP16: the FMM layers, sigmoid modulation, gathers
    by_op = Counter((ops[n], t) for n, t in prec.items())
    assert by_op[("MatMul", T.FLOAT16)] == 18 and by_op[("MatMul", T.FLOAT)] == 3
    assert by_op[("Sigmoid", T.FLOAT16)] == 8 and by_op[("Sigmoid", T.FLOAT)] == 0
    assert by_op[("Gather", T.FLOAT16)] == 3
    gathers = [n for n in inr.graph.node if n.op_type == "Gather"]
    assert all(types[g.input[1]] == T.INT32 for g in gathers)  # indices untouched, int32 up to Gather
    # inputs and outputs stay FP32
    assert {i.name: i.type.tensor_type.elem_type for i in inr.graph.input}["theta"] == T.FLOAT
    assert all(o.type.tensor_type.elem_type == T.FLOAT for o in inr.graph.output)
    # the manifest's plan is what the graph does
    plan = manifest_plan(result)
    assert plan["fp32_by_rule"] == {"fourier": 23, "output-activation": 1}
    assert set(plan["fp32_nodes_by_rule"]["output-activation"]) == {n.name for n in inr.graph.node if n.op_type == "Tanh"}
    fp32_planned = {n for names in plan["fp32_nodes_by_rule"].values() for n in names}
    assert fp32_planned == {n for n, t in prec.items() if t == T.FLOAT and not n.endswith(("cast_to_fp32", "cast_to_fp16"))}


def manifest_plan(result) -> dict:
    return result.manifest["tensorrt"]["precision_plan"]


def test_fp16_generator_is_fp32_hypernet_joined_with_the_typed_inr(compiled):
    d, _, result = compiled["fp16"]
    gen = onnx.load(str(d / "generator.fp16.onnx"))
    prec = P.node_precisions(gen)
    hyper = {n: t for n, t in prec.items() if n.startswith("hypernet/")}
    assert hyper and set(hyper.values()) == {T.FLOAT}
    inr = P.node_precisions(onnx.load(str(d / "inr.fp16.onnx")))
    assert {n: t for n, t in prec.items() if n.startswith("inr/")} == {f"inr/{n}": t for n, t in inr.items()}
    assert result.manifest["graphs"]["hypernet"]["tensorrt_onnx"] == "hypernet.onnx"


def test_bf16_graph_and_its_cpu_emulation(compiled):
    d, _, result = compiled["bf16"]
    graphs = result.manifest["graphs"]
    assert graphs["inr"]["tensorrt_onnx"] == "inr.bf16.onnx"
    assert graphs["inr"]["onnxruntime_onnx"] == "inr.bf16-emulated.onnx"
    typed = onnx.load(str(d / "inr.bf16.onnx"))
    prec = P.node_precisions(typed)
    assert Counter(prec.values())[T.BFLOAT16] > 100
    assert all(prec[n.name] == T.FLOAT for n in typed.graph.node if n.op_type in ("Sin", "Cos", "Tanh"))
    # the emulation: FP32 everywhere except the rounding casts, and every bf16 op that computes
    # (not just moves data) has its result rounded to bf16 at its boundary
    emulated = onnx.load(str(d / "inr.bf16-emulated.onnx"))
    assert all(t == T.FLOAT for n, t in P.node_precisions(emulated).items() if not n.endswith("/to_bf16"))
    producer = {o: n for n in emulated.graph.node for o in n.output}
    computing = [n for n in typed.graph.node
                 if prec.get(n.name) == T.BFLOAT16 and n.op_type not in P.DATA_MOVEMENT and n.op_type != "Cast"]
    assert len(computing) > 40
    for node in computing:
        rounded = producer[node.output[0]]
        assert rounded.op_type == "Cast" and rounded.name == f"{node.output[0]}/round/to_fp32", node.name
        assert producer[rounded.input[0]].name.endswith("/round/to_bf16")


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_typed_graphs_pass_the_psnr_gate_on_every_golden_grid(compiled, tiny_bundle, precision):
    """ONNX Runtime on CPU (what the bundle's onnxruntime backend runs) against the FP32
    PyTorch references stored in the FP32 bundle: PSNR >= 40 dB, no NaN/Inf."""
    from inrgan_export.core.bundle import Bundle
    from inrgan_export.families import DisplayMapping
    from inrgan_export.core.grid import GridInputs
    from inrgan_export.core.imageio import psnr
    from inrgan_export.backends.onnxruntime_backend import OnnxRuntimeGenerator

    d, manifest, result = compiled[precision]
    merged = dict(manifest)
    merged["graphs"] = {g: {**e, **result.manifest["graphs"][g]} for g, e in manifest["graphs"].items()}
    merged["onnxruntime_graph"] = result.manifest["onnxruntime_graph"]
    _, (z, _, feeds, outputs) = golden(tiny_bundle)
    from inrgan_export.verify import feed_fingerprint

    gen = OnnxRuntimeGenerator(Bundle(d, merged))
    assert gen.graph_kind == "onnxruntime_onnx"
    with gen:
        for f in feeds:
            grid = GridInputs.from_arrays(gen.interface.layout, {k: v for k, v in f.arrays.items() if k != "z"})
            for path, out in (("split", gen.render_on(gen.hypernet(f.arrays["z"]), grid)),
                              ("fused", gen.generate_fused_on(f.arrays["z"], grid))):
                ref = outputs[feed_fingerprint(f.arrays)]
                assert np.isfinite(out).all()
                db = psnr(ref, out, DisplayMapping())
                assert db >= 40.0, (precision, f.key, path, db)


# ------------------------------------------------------------------ rules on small graphs
def small_graph(scale: float) -> onnx.ModelProto:
    """x -> MatMul(W) -> Mul(scale) -> Relu -> Tanh: a range rule decides the Mul."""
    w = numpy_helper.from_array(np.eye(4, dtype=np.float32), "W")
    s = numpy_helper.from_array(np.array(scale, dtype=np.float32), "s")
    nodes = [h.make_node("MatMul", ["x", "W"], ["m"], name="mm"), h.make_node("Mul", ["m", "s"], ["big"], name="scale"),
             h.make_node("Relu", ["big"], ["r"], name="relu"), h.make_node("Mul", ["r", "inv"], ["back"], name="unscale"),
             h.make_node("Tanh", ["back"], ["y"], name="act")]
    inv = numpy_helper.from_array(np.array(1.0 / scale, dtype=np.float32), "inv")
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, ["n", 4])],
                     [h.make_tensor_value_info("y", T.FLOAT, ["n", 4])], initializer=[w, s, inv])
    return h.make_model(g, opset_imports=[h.make_opsetid("", 18)])


def test_measured_overflow_and_underflow_stay_fp32():
    x = np.random.RandomState(0).randn(8, 4).astype(np.float32)
    big = small_graph(3000.0)  # |x| up to ~3 -> ~9000; x16 headroom passes 65504
    ranges = P.measure_ranges(big, [{"x": x}])
    plan = P.plan_precision(big, "fp16", (), ranges)
    assert plan.fp32 == {"scale": "range-overflow", "relu": "range-overflow", "act": "output-activation"}
    typed = P.apply_precision(big, plan)
    assert P.check_plan_applied(typed, plan) == []
    assert np.isfinite(run(typed, {"x": x * 1.5})).all()
    tiny = small_graph(1e-6)
    plan = P.plan_precision(tiny, "fp16", (), P.measure_ranges(tiny, [{"x": x}]))
    assert plan.fp32["scale"] == "range-underflow" and plan.fp32["relu"] == "range-underflow"
    # bf16 has FP32's exponent range: neither rule fires
    assert set(P.plan_precision(big, "bf16", (), ranges).fp32.values()) == {"output-activation"}


def test_coordinate_rule_keeps_coordinate_features_fp32():
    """Coordinates concatenated into features (a coordinate skip) are kept until mixed."""
    nodes = [h.make_node("Mul", ["coords", "two"], ["c2"], name="coord_scale"),
             h.make_node("Concat", ["c2", "feat"], ["cat"], axis=1, name="skip"),
             h.make_node("MatMul", ["cat", "W"], ["mixed"], name="mix"),
             h.make_node("Relu", ["mixed"], ["y"], name="relu")]
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("coords", T.FLOAT, ["n", 2]),
                                  h.make_tensor_value_info("feat", T.FLOAT, ["n", 2])],
                     [h.make_tensor_value_info("y", T.FLOAT, ["n", 3])],
                     initializer=[numpy_helper.from_array(np.array(2, np.float32), "two"),
                                  numpy_helper.from_array(np.ones((4, 3), np.float32), "W")])
    model = h.make_model(g, opset_imports=[h.make_opsetid("", 18)])
    plan = P.plan_precision(model, "fp16", ["coords"])
    assert plan.fp32 == {"coord_scale": "coordinates", "skip": "coordinates", "mix": "coordinates", "relu": "output-activation"}


def test_low_precision_output_consumed_inside_the_graph():
    """A graph output produced in FP16 and also read by another FP16 node: the reader keeps
    the FP16 tensor, the output gets an FP32 cast under its own name."""
    nodes = [h.make_node("Add", ["x", "x"], ["mid"], name="add"), h.make_node("Mul", ["mid", "x"], ["y"], name="mul")]
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, [3])],
                     [h.make_tensor_value_info("mid", T.FLOAT, [3]), h.make_tensor_value_info("y", T.FLOAT, [3])])
    model = h.make_model(g, opset_imports=[h.make_opsetid("", 18)])
    plan = P.plan_precision(model, "fp16")
    typed = P.apply_precision(model, plan)
    onnx.checker.check_model(typed, full_check=True)
    assert P.check_plan_applied(typed, plan) == []
    x = np.array([1.0, 2.5, -3.25], np.float32)
    sess = ort.InferenceSession(typed.SerializeToString(), ORT_OPTS, providers=["CPUExecutionProvider"])
    mid, y = sess.run(None, {"x": x})
    assert mid.dtype == np.float32 and np.allclose(mid, 2 * x) and np.allclose(y, 2 * x * x)


def test_bf16_emulation_rounds_at_op_boundaries_like_numpy():
    """The emulated graph computes each op in FP32 and rounds its result to BF16: check it
    against the same arithmetic in numpy with ml_dtypes' bfloat16."""
    x = np.random.RandomState(1).randn(8, 4).astype(np.float32) * 3
    model = small_graph(7.0)
    plan = P.plan_precision(model, "bf16")
    emu = P.apply_precision(model, plan, emulate=True)
    onnx.checker.check_model(emu, full_check=True)

    def bf(a):
        return np.asarray(a, np.float32).astype(ml_dtypes.bfloat16).astype(np.float32)

    w, s, inv = bf(np.eye(4)), bf(7.0), bf(1 / 7.0)
    m = bf(bf(x) @ w)
    r = bf(np.maximum(bf(m * s), 0))
    expect = np.tanh(bf(r * inv))  # tanh: the output activation, FP32 from a bf16 argument
    got = run(emu, {"x": x})
    # equal up to the last bit of tanh (numpy's and ONNX Runtime's tanh differ by an ulp) ...
    np.testing.assert_allclose(got, expect, rtol=0, atol=2e-7)
    # ... while skipping the rounding would be visible
    assert np.abs(run(model, {"x": x}) - expect).max() > 1e-4


def test_fourier_islands_matter_once_arguments_reach_hundreds(tiny_bundle):
    """demo:tiny's seeded Fourier bases give arguments of about 10; trained bases reach
    hundreds. Scaling θ's Fourier segments (an input, so the FP32 graph still gives the exact
    reference) shows what the FP32 islands buy: they hold ~84 dB while an all-FP16 graph
    loses ~25-40 dB, even on a CPU that evaluates sin/cos of the rounded argument in FP32."""
    from inrgan_export.core.bundle import Bundle
    from inrgan_export.verify import latent_bank

    b = Bundle.open(tiny_bundle)
    inr = onnx.load(str(tiny_bundle / "inr.onnx"))
    types = P.tensor_types(inr)
    theta = run(onnx.load(str(tiny_bundle / "hypernet.onnx")), {"z": latent_bank(16)[:4]})
    coords = [s.name for s in b.layout.input_specs() if s.kind == "coords"]
    everything = P.PrecisionPlan("fp16", {}, tuple(P.float_node_names(inr, types)))
    grid = b.layout.build((32, 32)).for_batch(4)
    results = {}
    for scale in (1.0, 30.0):
        th = theta.copy()
        for seg in b.manifest["theta_layout"]:
            if seg["kind"] == "fourier":
                th[:, seg["offset"] : seg["offset"] + seg["size"]] *= scale
        feeds = {"theta": th, **grid}
        ranges = P.measure_ranges(inr, [feeds], types=types)
        plan = P.plan_precision(inr, "fp16", coords, ranges, types)
        ref = run(inr, feeds)
        args = max(ranges[n.input[0]] for n in inr.graph.node if n.op_type == "Sin")
        results[scale] = (args, P.psnr_against(ref, run(P.apply_precision(inr, plan), feeds)),
                          P.psnr_against(ref, run(P.apply_precision(inr, everything), feeds)))
    (args1, islands1, all1), (args30, islands30, all30) = results[1.0], results[30.0]
    assert args1 < 20 and args30 > 200
    assert islands1 > 75 and islands30 > 75 and abs(islands30 - islands1) < 3
    assert all30 < islands30 - 20 and all30 < all1 - 15
