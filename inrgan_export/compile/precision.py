"""Precision-typed ONNX: FP16 or BF16 tensors where it is safe, FP32 islands where it is not.

TensorRT 11 compiles only strongly typed networks, so precision is decided here, in the ONNX
graph, and the very graph TensorRT compiles is the one ONNX Runtime checks on CPU.

Which nodes stay FP32 (each with its rule, recorded in the manifest):

``fourier``
    Sin/Cos/Tan and every float node their argument is computed from: coordinates, the
    Fourier basis sliced from θ, its scaling and the basis × coordinates MatMul. Fourier
    arguments reach hundreds, where FP16's spacing is 0.25 (from 256) to 0.5 (from 512):
    sin/cos of such arguments in FP16 are noise.
``coordinates``
    every float node that reads coordinate values before they are mixed into features
    (through reshapes, slices, concatenations and elementwise affine ops), and the node that
    mixes them: FP16 spacing at 0.5..1 is 2^-11, the pixel pitch of a 2048 render.
``coordinate-indexing``
    nodes that index by coordinate values (GridSample, RoiAlign, AffineGrid) and the float
    nodes their sampling grid is computed from.
``output-activation``
    the activation producing a graph output (the paper's tanh), so its saturation is
    computed from an FP32 argument.
``range-overflow`` / ``range-underflow``
    nodes with a float output whose largest |value|, measured in FP32 over a latent bank
    and the resolution range, times a headroom factor reaches the low type's largest
    finite value, or whose every value is below its smallest normal (all subnormal).
``dtype-attribute``
    nodes whose output type is an attribute (Cast, ConstantOfShape, ...): kept as written.

Every other node that computes on floats runs in the low type. Integer tensors (the int32
resampling indices, INT64 shape arithmetic) are never touched. Graph inputs and outputs stay
FP32; Cast nodes are inserted where a tensor crosses between the two precisions (one per
tensor and direction), and FP32 initializers read by low-precision nodes get a converted
copy (the FP32 original stays for FP32 readers).

Why our own pass rather than a converter: onnxconverter-common 1.16's
``convert_float_to_float16(node_block_list=...)`` fails on these graphs with "The downstream
node of the second cast node should be graph output" (microsoft/onnxconverter-common#307,
open), and its cast clean-up also leaves FP16 round trips between blocked nodes
(#271) and does not patch existing ``Cast(to=FLOAT)`` nodes (#320); ModelOpt's AutoCast
(``nvidia-modelopt[onnx]`` 0.47) does not install beside this project: it pins
``onnxruntime-gpu~=1.24`` (which replaces our onnxruntime) and ``onnx`` 1.21, and pulls cupy.
The pass below is small, handles FP16 and BF16 alike, and is checked structurally by tests.

BF16 on CPU: ONNX Runtime's CPU provider has no BF16 kernels for MatMul, Add, Sigmoid, ...,
so a BF16 graph cannot run there. ``emulate=True`` writes the same plan as an FP32 graph that
rounds every low-precision tensor to the low type at each op boundary
(``Cast(to=BF16)`` → ``Cast(to=FLOAT)``) and stores low-precision initializers as
low-precision values: what the BF16 graph computes when each op works in FP32 internally and
rounds its result, the same op-boundary model as ONNX Runtime's CPU FP16 execution.

Over 400 lines: planning, rewriting and checking a precision plan share the rules above.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..exporter.onnx_graph import GraphIndex, toposort

FLOAT = TensorProto.FLOAT
LOW_TYPES = {"fp16": TensorProto.FLOAT16, "bf16": TensorProto.BFLOAT16}

#: largest finite value and smallest normal of each low type
LIMITS = {"fp16": (65504.0, 2.0**-14), "bf16": (3.3895313892515355e38, 2.0**-126)}
#: a measured range times this must stay below the largest finite value (unseen latents and
#: sizes may exceed the bank's range; 16× is four binary orders of magnitude of margin)
HEADROOM = 16.0

PERIODIC_OPS = {"Sin", "Cos", "Tan"}
#: op → index of its input that holds sampling coordinates
COORD_INDEXING_OPS = {"GridSample": 1, "RoiAlign": 1, "AffineGrid": 0}
OUTPUT_ACTIVATIONS = {"Tanh", "Sigmoid", "HardSigmoid", "Clip", "Softmax", "Softsign", "Relu", "LeakyRelu", "Elu"}
#: ops that only move or reshape data: outputs carry the inputs' values exactly
DATA_MOVEMENT = {
    "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Slice", "Gather", "GatherElements", "GatherND",
    "Concat", "Split", "Expand", "Tile", "Identity", "Pad", "DepthToSpace", "SpaceToDepth",
}
#: elementwise ops through which coordinates are still coordinates (affine maps of them)
COORD_AFFINE = {"Add", "Sub", "Mul", "Div", "Neg"}
#: ops whose output type is given by an attribute; left exactly as exported
DTYPE_ATTRIBUTE_OPS = {"Cast", "CastLike", "ConstantOfShape", "EyeLike", "RandomNormal", "RandomUniform",
                       "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli"}
#: ops that read only the shape of their input: any element type will do
SHAPE_ONLY = {"Shape", "Size"}
#: (op, input index) pairs that are float parameters by the ONNX spec, never data
PARAM_INPUTS = {("Resize", 1), ("Resize", 2), ("Upsample", 1)}


# --------------------------------------------------------------------------- analysis
def tensor_types(model: onnx.ModelProto) -> dict[str, int]:
    """Element type of every tensor (inputs, initializers, node outputs) after shape inference."""
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    g = inferred.graph
    types = {v.name: v.type.tensor_type.elem_type for v in (*g.input, *g.value_info, *g.output)}
    types.update({t.name: t.data_type for t in g.initializer})
    for node in g.node:
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value":
                    types[node.output[0]] = a.t.data_type
    return types


@dataclass(frozen=True)
class PrecisionPlan:
    """Which float nodes stay FP32 (name → rule); every other float node is low precision."""

    low: str
    fp32: dict[str, str]
    low_nodes: tuple[str, ...]
    op_counts: dict[str, dict[str, int]] = field(default_factory=dict)  # op → {"low": n, "fp32": n}

    def rules(self) -> Counter:
        return Counter(self.fp32.values())

    def summary(self) -> dict[str, Any]:
        return {
            "low_precision": self.low,
            "low_precision_nodes": len(self.low_nodes),
            "fp32_nodes": len(self.fp32),
            "fp32_by_rule": dict(sorted(self.rules().items())),
            "by_op": self.op_counts,
        }


def _is_float(t: int | None) -> bool:
    return t == FLOAT


def _float_node(node: onnx.NodeProto, types: Mapping[str, int]) -> bool:
    """A node that computes on floats: a float output, or (sinks) a float data input."""
    return any(_is_float(types.get(o)) for o in node.output if o)


def float_node_names(model: onnx.ModelProto, types: Mapping[str, int] | None = None) -> list[str]:
    """Names of the nodes that compute on floats (those a precision plan decides)."""
    types = types if types is not None else tensor_types(model)
    return [n.name for n in model.graph.node if _float_node(n, types)]


def plan_precision(
    model: onnx.ModelProto,
    low: str,
    coord_inputs: Iterable[str] = (),
    ranges: Mapping[str, float] | None = None,
    types: Mapping[str, int] | None = None,
) -> PrecisionPlan:
    """Decide per node (see the module docstring for the rules). ``ranges``: tensor name →
    largest |value| measured in FP32 (see :func:`measure_ranges`)."""
    if low not in LOW_TYPES:
        raise ValueError(f"low precision must be one of {', '.join(LOW_TYPES)}, not {low!r}")
    types = dict(types) if types is not None else tensor_types(model)
    keeper = _Keeper(GraphIndex(model), types)
    _structural_rules(model, keeper)
    _coordinate_rule(keeper, coord_inputs)
    _output_rule(model, keeper)
    fp32 = keeper.fp32
    if ranges:
        _range_rule(model, fp32, types, ranges, low)
    low_nodes = tuple(n.name for n in model.graph.node if n.name not in fp32 and _float_node(n, types))
    counts: dict[str, dict[str, int]] = {}
    for node in model.graph.node:
        if not _float_node(node, types):
            continue
        side = "fp32" if node.name in fp32 else "low"
        counts.setdefault(node.op_type, {"low": 0, "fp32": 0})[side] += 1
    return PrecisionPlan(low, fp32, low_nodes, dict(sorted(counts.items())))


class _Keeper:
    """The FP32 decisions of a plan so far: node name → the first rule that kept it."""

    def __init__(self, index: GraphIndex, types: Mapping[str, int]) -> None:
        self.index, self.types = index, types
        self.fp32: dict[str, str] = {}

    def keep(self, node: onnx.NodeProto, rule: str) -> None:
        if node.name not in self.fp32 and _float_node(node, self.types):
            self.fp32[node.name] = rule

    def fan_in(self, tensors: Iterable[str], rule: str) -> None:
        """Keep every float node behind ``tensors`` (their whole float ancestry)."""
        stack = [t for t in tensors if t]
        seen: set[str] = set()
        while stack:
            t = stack.pop()
            if t in seen:
                continue
            seen.add(t)
            node = self.index.producer.get(t)
            if node is None or not _is_float(self.types.get(t)):
                continue  # graph input, initializer, or integer/shape arithmetic
            self.keep(node, rule)
            stack.extend(i for i in node.input if i)


def _structural_rules(model: onnx.ModelProto, k: _Keeper) -> None:
    """Ops with a dtype attribute; coordinate → Fourier argument → sin/cos; coordinate-indexing
    ops and the fan-in of their sampling grid."""
    for node in model.graph.node:
        if node.op_type in DTYPE_ATTRIBUTE_OPS:
            k.keep(node, "dtype-attribute")
    for node in model.graph.node:
        if node.op_type in PERIODIC_OPS:
            k.keep(node, "fourier")
            k.fan_in(node.input, "fourier")
    for node in model.graph.node:
        if node.op_type in COORD_INDEXING_OPS:
            k.keep(node, "coordinate-indexing")
            idx = COORD_INDEXING_OPS[node.op_type]
            if idx < len(node.input):
                k.fan_in([node.input[idx]], "coordinate-indexing")


def _coordinate_rule(k: _Keeper, coord_inputs: Iterable[str]) -> None:
    """Coordinate values until they are mixed with features, and the node that mixes them."""
    stack = [c for c in coord_inputs]
    seen: set[str] = set()
    while stack:
        t = stack.pop()
        if t in seen:
            continue
        seen.add(t)
        for node in k.index.consumers.get(t, []):
            if node.op_type in SHAPE_ONLY:
                continue
            k.keep(node, "coordinates")
            if node.op_type in DATA_MOVEMENT or node.op_type in COORD_AFFINE:
                stack.extend(o for o in node.output if _is_float(k.types.get(o)))


def _output_rule(model: onnx.ModelProto, k: _Keeper) -> None:
    """The activation that produces each output (through data movement)."""
    producer = k.index.producer
    for out in model.graph.output:
        node = producer.get(out.name)
        while node is not None and node.op_type in DATA_MOVEMENT and node.input:
            node = producer.get(node.input[0])
        if node is not None and node.op_type in OUTPUT_ACTIVATIONS:
            k.keep(node, "output-activation")


def _range_rule(model: onnx.ModelProto, fp32: dict[str, str], types: Mapping[str, int], ranges: Mapping[str, float],
                low: str) -> None:
    """Measured ranges: a node whose output would overflow or underflow the low type stays FP32."""
    big, tiny = LIMITS[low]
    for node in model.graph.node:
        if node.name in fp32 or not _float_node(node, types):
            continue
        for o in node.output:
            r = ranges.get(o)
            if r is None or not _is_float(types.get(o)):
                continue
            if not np.isfinite(r) or r * HEADROOM >= big:
                fp32[node.name] = "range-overflow"
                break
            if 0.0 < r < tiny:
                fp32[node.name] = "range-underflow"
                break


# --------------------------------------------------------------------------- rewriting
def _low_values(arr: np.ndarray, low: str, emulate: bool) -> tuple[np.ndarray, int]:
    """FP32 values converted to the low type (round to nearest even), as stored in the graph."""
    if low == "fp16":
        vals = arr.astype(np.float16)
    else:
        import ml_dtypes

        vals = arr.astype(ml_dtypes.bfloat16)
    if emulate:
        return vals.astype(np.float32), FLOAT
    return vals, LOW_TYPES[low]


def _constants_to_initializers(model: onnx.ModelProto) -> None:
    """Float ``Constant`` nodes become initializers, so one rule converts both."""
    keep, moved = [], []
    for node in model.graph.node:
        if node.op_type == "Constant" and len(node.attribute) == 1 and node.attribute[0].name == "value" \
                and node.attribute[0].t.data_type == FLOAT:
            t = onnx.TensorProto()
            t.CopyFrom(node.attribute[0].t)
            t.name = node.output[0]
            moved.append(t)
        else:
            keep.append(node)
    if moved:
        del model.graph.node[:]
        model.graph.node.extend(keep)
        model.graph.initializer.extend(moved)


def apply_precision(model: onnx.ModelProto, plan: PrecisionPlan, emulate: bool = False,
                    types: Mapping[str, int] | None = None) -> onnx.ModelProto:
    """A copy of ``model`` with the plan's low-precision nodes computing in the low type.

    ``emulate``: an FP32 graph that rounds every low-precision tensor to the low type at op
    boundaries instead (for CPU runtimes without kernels of that type; see module docstring)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    _constants_to_initializers(out)
    types = dict(types) if types is not None else tensor_types(out)
    rw = _Rewriter(out, plan, emulate, types)
    for node in out.graph.node:
        is_low = node.name in rw.low_nodes
        if node.op_type not in SHAPE_ONLY:
            rw.retype_inputs(node, is_low)
        if is_low:
            rw.retype_outputs(node)
    if not emulate:
        for o, raw in rw.renamed_outputs.items():
            rw.new_nodes.append(helper.make_node("Cast", [raw], [o], to=FLOAT, name=f"{o}/cast_to_fp32"))

    out.graph.node.extend(rw.new_nodes)
    out.graph.initializer.extend(rw.new_inits)
    _drop_unused_initializers(out)
    toposort(out)
    del out.graph.value_info[:]
    out = onnx.shape_inference.infer_shapes(out, strict_mode=True)
    return out


class _Rewriter:
    """The state of one :func:`apply_precision` rewrite: which float tensors are low precision
    after it, and the casts and converted initializers it adds (each made once)."""

    def __init__(self, out: onnx.ModelProto, plan: PrecisionPlan, emulate: bool, types: Mapping[str, int]) -> None:
        self.plan, self.emulate, self.types = plan, emulate, types
        self.low_t = LOW_TYPES[plan.low]
        self.low_nodes = set(plan.low_nodes)
        self.inits = {t.name: t for t in out.graph.initializer}
        graph_outputs = {o.name for o in out.graph.output}
        # dtype of each float tensor after the rewrite: "low" or "fp32"
        self.prec: dict[str, str] = {}
        for node in out.graph.node:
            for o in node.output:
                if _is_float(types.get(o)):
                    self.prec[o] = "low" if node.name in self.low_nodes else "fp32"
        self.new_nodes: list[onnx.NodeProto] = []
        self.new_inits: list[onnx.TensorProto] = []
        self.converted: dict[str, str] = {}  # (tensor, direction) -> name
        # graph outputs that low-precision nodes produce: the node writes a low-precision tensor
        # under a new name and a Cast gives the FP32 output its name
        self.renamed_outputs: dict[str, str] = {}
        if not emulate:
            for node in out.graph.node:
                if node.name in self.low_nodes:
                    for o in node.output:
                        if o in graph_outputs and _is_float(types.get(o)):
                            self.renamed_outputs[o] = f"{o}__{plan.low}"

    def round_trip(self, src: str, dst: str, name: str) -> list[onnx.NodeProto]:
        low = self.plan.low
        mid = f"{dst}__{low}"
        return [helper.make_node("Cast", [src], [mid], to=self.low_t, name=f"{name}/to_{low}"),
                helper.make_node("Cast", [mid], [dst], to=FLOAT, name=f"{name}/to_fp32")]

    def as_low(self, t: str) -> str:
        """Name of ``t`` in the low type (converted initializer or cast), made once."""
        low = self.plan.low
        key = f"{t}->low"
        if key in self.converted:
            return self.converted[key]
        if t in self.inits:
            arr = numpy_helper.to_array(self.inits[t])
            vals, dtype = _low_values(arr, low, self.emulate)
            name = f"{t}__{low}"
            if dtype == FLOAT:
                init = numpy_helper.from_array(vals, name)
            else:
                init = helper.make_tensor(name, dtype, arr.shape, vals.tobytes(), raw=True)
            self.new_inits.append(init)
        else:
            name = f"{t}__to_{low}"
            if self.emulate:
                self.new_nodes.extend(self.round_trip(t, name, f"{t}/round"))
            else:
                self.new_nodes.append(helper.make_node("Cast", [t], [name], to=self.low_t, name=f"{t}/cast_to_{low}"))
        self.converted[key] = name
        return name

    def as_fp32(self, t: str) -> str:
        if self.emulate:
            return t  # already an FP32 tensor holding low-precision values
        key = f"{t}->fp32"
        if key not in self.converted:
            name = f"{t}__to_fp32"
            self.new_nodes.append(helper.make_node("Cast", [t], [name], to=FLOAT, name=f"{t}/cast_to_fp32"))
            self.converted[key] = name
        return self.converted[key]

    def retype_inputs(self, node: onnx.NodeProto, is_low: bool) -> None:
        """Each float data input read in the node's precision (a converted copy where needed)."""
        for k, t in enumerate(node.input):
            if not t or not _is_float(self.types.get(t)) or (node.op_type, k) in PARAM_INPUTS:
                continue
            if t in self.renamed_outputs:
                if is_low:
                    node.input[k] = self.renamed_outputs[t]
                continue  # FP32 readers read the cast output under the original name
            have = self.prec.get(t, "fp32")  # graph inputs and initializers are FP32
            if is_low and (have == "fp32"):
                node.input[k] = self.as_low(t)
            elif not is_low and have == "low":
                node.input[k] = self.as_fp32(t)

    def retype_outputs(self, node: onnx.NodeProto) -> None:
        """A low-precision node's float outputs: rounded (emulate) or renamed (graph outputs)."""
        for k, o in enumerate(node.output):
            if not o or not _is_float(self.types.get(o)):
                continue
            if self.emulate and node.op_type not in DATA_MOVEMENT:
                raw = f"{o}__unrounded"
                node.output[k] = raw
                self.new_nodes.extend(self.round_trip(raw, o, f"{o}/round"))
            elif o in self.renamed_outputs:
                node.output[k] = self.renamed_outputs[o]


def _drop_unused_initializers(model: onnx.ModelProto) -> None:
    used = {i for n in model.graph.node for i in n.input} | {o.name for o in model.graph.output}
    keep = [t for t in model.graph.initializer if t.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)


def absmax_probe(model: onnx.ModelProto, types: Mapping[str, int]) -> tuple[onnx.ModelProto, list[str]]:
    """A copy that also outputs ``max(|t|)`` (a scalar) for every float tensor a node
    produces: ONNX Runtime reduces each tensor where it is computed and can free it, so the
    measurement needs no more memory than inference."""
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    names = [o for n in model.graph.node for o in n.output if o and _is_float(types.get(o))]
    extra = []
    for k, name in enumerate(names):
        a, m = f"__absmax_abs_{k}", f"{name}__absmax"
        extra.append(helper.make_node("Abs", [name], [a], name=f"__absmax/abs_{k}"))
        extra.append(helper.make_node("ReduceMax", [a], [m], keepdims=0, name=f"__absmax/max_{k}"))
        probe.graph.output.append(helper.make_tensor_value_info(m, FLOAT, []))
    probe.graph.node.extend(extra)
    return probe, names


class RangeMeter:
    """Largest |value| of every float tensor over many runs of an FP32 graph (ONNX Runtime)."""

    def __init__(self, model: onnx.ModelProto, threads: int | None = None,
                 types: Mapping[str, int] | None = None) -> None:
        from ..backends.onnxruntime_backend import ort_session

        types = types if types is not None else tensor_types(model)
        probe, self.names = absmax_probe(model, types)
        self.session = ort_session(probe.SerializeToString(), threads)
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.outputs = [f"{n}__absmax" for n in self.names]
        self.ranges: dict[str, float] = {}
        self.runs = 0

    def update(self, feeds: Mapping[str, np.ndarray]) -> None:
        values = self.session.run(self.outputs, {k: feeds[k] for k in self.inputs})
        for name, v in zip(self.names, values):
            m = float(v)
            if not np.isfinite(m):
                m = float("inf")
            self.ranges[name] = max(self.ranges.get(name, 0.0), m)
        self.runs += 1


def measure_ranges(model: onnx.ModelProto, feeds: Iterable[Mapping[str, np.ndarray]], threads: int | None = None,
                   types: Mapping[str, int] | None = None) -> dict[str, float]:
    meter = RangeMeter(model, threads, types)
    for f in feeds:
        meter.update(f)
    return meter.ranges


# --------------------------------------------------------------------------- checks
def float_io_types(model: onnx.ModelProto) -> dict[str, int]:
    return {v.name: v.type.tensor_type.elem_type for v in (*model.graph.input, *model.graph.output)}


def node_precisions(model: onnx.ModelProto) -> dict[str, int]:
    """Element type each node computes in (its first float output), after inference: the
    structural view tests check (which nodes are FP32 in the written graph)."""
    types = tensor_types(model)
    out = {}
    for node in model.graph.node:
        for o in node.output:
            t = types.get(o)
            if t in (FLOAT, *LOW_TYPES.values()):
                out[node.name] = t
                break
    return out


def psnr_against(reference: np.ndarray, candidate: np.ndarray, peak: float = 2.0) -> float:
    """PSNR (dB) of raw outputs with the given peak-to-peak range (2 for [-1, 1])."""
    mse = float(np.mean((candidate.astype(np.float64) - reference.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(peak * peak / mse)


def describe(plan: PrecisionPlan, limit: int = 12) -> list[str]:
    """Readable lines: rule → nodes (for logs and the manifest)."""
    by_rule: dict[str, list[str]] = {}
    for name, rule in plan.fp32.items():
        by_rule.setdefault(rule, []).append(name)
    lines = []
    for rule, names in sorted(by_rule.items()):
        shown = ", ".join(names[:limit]) + (f", … (+{len(names) - limit})" if len(names) > limit else "")
        lines.append(f"{rule}: {len(names)} node(s): {shown}")
    return lines


def check_plan_applied(model: onnx.ModelProto, plan: PrecisionPlan, prefix: str = "") -> list[str]:
    """Problems, if any, between a written graph and its plan: a node planned FP32 that
    computes in the low type, or the reverse; graph I/O that is not FP32."""
    prec = node_precisions(model)
    low_t = LOW_TYPES[plan.low]
    problems = []
    for name, rule in plan.fp32.items():
        got = prec.get(prefix + name)
        if got is not None and got != FLOAT:
            problems.append(f"node {name} ({rule}) computes in {TensorProto.DataType.Name(got)}, planned FP32")
    for name in plan.low_nodes:
        got = prec.get(prefix + name)
        if got is not None and got != low_t:
            problems.append(f"node {name} computes in {TensorProto.DataType.Name(got)}, planned {plan.low}")
    for name, t in float_io_types(model).items():
        if t in LOW_TYPES.values():
            problems.append(f"graph input/output {name} is {TensorProto.DataType.Name(t)}; inputs and outputs stay FP32")
    return problems


def plan_to_manifest(plan: PrecisionPlan) -> dict[str, Any]:
    return {**plan.summary(), "fp32_nodes_by_rule": _group(plan.fp32)}


def _group(fp32: Mapping[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, rule in fp32.items():
        out.setdefault(rule, []).append(name)
    return dict(sorted(out.items()))


__all__: Sequence[str] = [
    "LOW_TYPES", "PrecisionPlan", "plan_precision", "float_node_names", "apply_precision", "measure_ranges", "RangeMeter",
    "node_precisions", "check_plan_applied", "tensor_types", "describe", "plan_to_manifest",
]
