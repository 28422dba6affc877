"""Finding the INR's layers in an exported graph.

The INR's pixel-wise work is the MatMuls whose first operand is a per-sample weight built
from θ (FMM layers, connectors, ToRGB). Each is named by the θ segment it reads (traced back
to the ``Slice`` of ``theta`` it starts from), so plans and reports use the manifest's layer
names (``b1.layer0``, ``b0.to_rgb``, ...). The Fourier basis products (K = 2) and the FMM
modulation products A·B never qualify: their first operand is not a per-sample weight.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import onnx

from ..exporter.onnx_graph import GraphIndex


@dataclass(frozen=True)
class Layer:
    name: str  # θ segment name, e.g. "b1.layer2"
    node: str  # MatMul node name
    weight: str  # tensor name of the per-sample weight (MatMul input 0)
    activation: str  # tensor name of the activation operand (MatMul input 1)
    kind: str  # "fmm" | "linear" (fully predicted, e.g. ToRGB)


def theta_offset(index: GraphIndex, tensor: str, theta_name: str = "theta") -> int | None:
    """Offset into θ of the first ``Slice(theta, starts, ...)`` found behind ``tensor``."""
    best = None
    for node in index.ancestors(tensor):
        if node.op_type == "Slice" and node.input[0] == theta_name:
            starts = index.const(node.input[1])
            if starts is not None and starts.size:
                off = int(starts.reshape(-1)[0])
                best = off if best is None else min(best, off)
    return best


def reaches(index: GraphIndex, tensor: str, inputs: set[str]) -> bool:
    """Whether any of the graph inputs ``inputs`` lies behind ``tensor`` (whole ancestry)."""
    seen, stack = set(), [tensor]
    while stack:
        t = stack.pop()
        if t in inputs:
            return True
        if t in seen:
            continue
        seen.add(t)
        node = index.producer.get(t)
        if node is not None:
            stack.extend(i for i in node.input if i)
    return False


def find_layers(model: onnx.ModelProto, theta_layout: Sequence[Mapping], theta_name: str = "theta") -> list[Layer]:
    """The INR's per-sample-weight MatMuls, named by θ segment, in graph order: a MatMul whose
    weight comes from θ and whose other operand is on the pixel path (behind a grid input).
    Products of θ alone — the FMM modulation A·B of either family — are not layers."""
    index = GraphIndex(model)
    grid_inputs = {i.name for i in model.graph.input if i.name != theta_name}
    layers = []
    for node in model.graph.node:
        if node.op_type != "MatMul":
            continue
        off = theta_offset(index, node.input[0], theta_name)
        seg = _segment(theta_layout, off)
        if seg is None or seg["kind"] == "fourier":
            continue
        if not reaches(index, node.input[1], grid_inputs):
            continue
        layers.append(Layer(seg["name"], node.name, node.input[0], node.input[1], seg["kind"]))
    return layers


def _segment(layout: Sequence[Mapping], offset: int | None) -> Mapping | None:
    if offset is None:
        return None
    for seg in layout:
        if seg["offset"] <= offset < seg["offset"] + seg["size"]:
            return seg
    return None


@dataclass(frozen=True)
class Bound:
    tensor: str
    bound: float  # |W| <= bound elementwise
    reason: str


def fmm_bounds(model: onnx.ModelProto, layers: Sequence[Layer]) -> dict[str, Bound]:
    """Per-sample weights ``W = W_shared ⊙ 2·sigmoid(A·B)`` are bounded by ``2·max|W_shared|``
    without any data. Recognised structurally: ``Mul(constant, Mul(Sigmoid(·), 2))``."""
    index = GraphIndex(model)
    out = {}
    for layer in layers:
        node = index.producer.get(layer.weight)
        if node is None or node.op_type != "Mul":
            continue
        for const_in, other in ((node.input[0], node.input[1]), (node.input[1], node.input[0])):
            shared = _constant_value(index, const_in)
            factor = _sigmoid_factor(index, other)
            if shared is not None and factor is not None:
                out[layer.weight] = Bound(layer.weight, float(factor * np.abs(shared).max()),
                                          f"{layer.name}: W = W_shared * {factor:g}*sigmoid(A.B), |W| <= {factor:g}*max|W_shared|")
                break
    return out


def _constant_value(index: GraphIndex, name: str) -> np.ndarray | None:
    """A tensor computed from constants only (e.g. weight_std * W_shared, folded or not)."""
    value = index.const(name)
    if value is not None:
        return value
    node = index.producer.get(name)
    if node is not None and node.op_type == "Mul":
        a, b = (_constant_value(index, i) for i in node.input)
        if a is not None and b is not None:
            return a * b
    return None


def _sigmoid_factor(index: GraphIndex, name: str) -> float | None:
    """``c`` if ``name`` is ``Mul(Sigmoid(x), c)`` with a positive constant scalar ``c``."""
    node = index.producer.get(name)
    if node is None or node.op_type != "Mul":
        return None
    for s, c in ((node.input[0], node.input[1]), (node.input[1], node.input[0])):
        sig = index.producer.get(s)
        value = index.const(c)
        if sig is not None and sig.op_type == "Sigmoid" and value is not None and value.size == 1 and float(value) > 0:
            return float(value.reshape(-1)[0])
    return None
