"""Q/DQ graphs for a precision plan, with ONNX Runtime's quantizer.

Symmetric INT8 (zero point 0), per-tensor Q/DQ on both MatMul operands of every layer in
the plan — including the per-sample weights, which are activations of the graph (TensorRT and
ONNX Runtime take Q/DQ on both inputs of a MatMul); MatMul outputs are not re-quantized.
Scales come from our ranges through ``TensorQuantOverrides``: the FMM bound for bounded
per-sample weights, calibration data for activations. The Fourier path and the FMM
modulation products are never in a plan.

Per-sample weights without a bound (the sg2 family's demodulated and ToRGB weights) are
quantized per output row and per sample: ``W·x = diag(m)·((W / m)·x)`` with ``m`` the
largest |value| of each row of this sample's ``W`` (``ReduceMax``, computed once per latent,
not per pixel). ``W / m`` lies in [-1, 1] by construction and takes a per-tensor Q/DQ of
scale 1/127 (no calibration, nothing clipped on unseen latents), and the MatMul output is
multiplied by ``m`` (one [N, out, 1] factor). This is per-row INT8 written with per-tensor
Q/DQ only, so every runtime keeps its integer MatMul: a per-axis Q/DQ on the first MatMul
operand runs as FP32 MatMul in ONNX Runtime 1.32 (no MatMulIntegerToFloat fusion), and
TensorRT takes per-channel scales only on constant weights. Row scales that are static
(calibrated over prior latents) instead leave the per-sample spread of row maxima (each
sample's row max is about 0.7x the largest over the calibration latents on the released
church configuration) and clip rows on unseen latents.
"""
from __future__ import annotations

import contextlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import onnx

from ..exporter.onnx_graph import GraphIndex, toposort
from .graph import Bound, Layer


#: suffixes of the tensors :func:`normalize_rows` adds for a layer's weight ``W``
ROW_MAX, ROW_NORMALIZED, UNSCALED = "__row_absmax", "__row_normalized", "__unscaled"


def row_scaled(layers: Sequence[Layer], plan: Iterable[str], bounds: Mapping[str, Bound]) -> list[Layer]:
    """The plan's layers whose per-sample weight is quantized per row (no data-free bound)."""
    chosen = set(plan)
    return [l for l in layers if l.name in chosen and l.weight not in bounds]


def normalize_rows(model: onnx.ModelProto, layers: Sequence[Layer]) -> dict[str, str]:
    """Rewrite ``MatMul(W, x)`` of each layer as ``Mul(MatMul(W / m, x), m)``, ``m =
    ReduceMax(|W|, last axis, keepdims)`` (in place). Returns weight tensor → the normalized
    weight tensor that the MatMul now reads (the one to quantize, range [-1, 1])."""
    from onnx import helper, numpy_helper

    nodes = {n.name: n for n in model.graph.node}
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    out: dict[str, str] = {}
    added: list[onnx.NodeProto] = []
    tiny = f"{ROW_MAX}__floor"
    if layers:
        model.graph.initializer.append(numpy_helper.from_array(np.array(1e-30, np.float32), tiny))
    for layer in layers:
        w = layer.weight
        if w not in out:
            m, a, n = f"{w}{ROW_MAX}", f"{w}{ROW_MAX}__abs", f"{w}{ROW_NORMALIZED}"
            m_raw = f"{m}__raw"
            added += [helper.make_node("Abs", [w], [a], name=f"{w}/row_abs"),
                      helper.make_node("ReduceMax", [a], [m_raw], name=f"{w}/row_absmax", axes=[-1], keepdims=1)
                      if opset < 18 else
                      helper.make_node("ReduceMax", [a, f"{ROW_MAX}__axes"], [m_raw], name=f"{w}/row_absmax", keepdims=1),
                      helper.make_node("Max", [m_raw, tiny], [m], name=f"{w}/row_absmax_floor"),  # an all-zero row: 0/tiny = 0
                      helper.make_node("Div", [w, m], [n], name=f"{w}/row_normalize")]
            out[w] = n
        node = nodes[layer.node]
        node.input[0] = out[w]
        y = node.output[0]
        node.output[0] = f"{y}{UNSCALED}"
        added.append(helper.make_node("Mul", [node.output[0], f"{w}{ROW_MAX}"], [y], name=f"{layer.node}/row_rescale"))
    if out and opset >= 18:
        model.graph.initializer.append(numpy_helper.from_array(np.array([-1], np.int64), f"{ROW_MAX}__axes"))
    model.graph.node.extend(added)
    toposort(model)
    return out


def overrides(layers: Sequence[Layer], plan: Iterable[str], ranges: Mapping[str, tuple[float, float]],
              bounds: Mapping[str, Bound], reduce_range_activations: bool = False,
              normalized: Mapping[str, str] | None = None) -> dict[str, list[dict]]:
    """Per-tensor ranges for ONNX Runtime's quantizer. ``reduce_range_activations`` quantizes
    the activation operand to 7 bits (-64..63): x86 CPUs without VNNI multiply u8 x s8 pairs
    into saturating 16-bit sums (vpmaddubsw), which full-range activations overflow when both
    MatMul operands are dynamic (OpenVINO/oneDNN on AVX2). ``normalized``: weight →
    its row-normalized tensor (:func:`normalize_rows`), quantized over [-1, 1]."""
    out: dict[str, list[dict]] = {}
    chosen = set(plan)
    normalized = normalized or {}
    for layer in layers:
        if layer.name not in chosen:
            continue
        for tensor in (layer.weight, layer.activation):
            if tensor == layer.weight and tensor in normalized:
                out[normalized[tensor]] = [{"rmin": np.float32(-1.0), "rmax": np.float32(1.0), "symmetric": True}]
                continue
            if tensor in bounds:
                r = bounds[tensor].bound
            elif tensor in ranges:
                lo, hi = ranges[tensor]
                r = max(abs(lo), abs(hi))
            else:
                raise ValueError(f"no range for tensor {tensor!r} of layer {layer.name}")
            r = max(r, 1e-8)
            entry = {"rmin": np.float32(-r), "rmax": np.float32(r), "symmetric": True}
            if reduce_range_activations and tensor == layer.activation:
                entry["reduce_range"] = True
            out[tensor] = [entry]
    return out


class _OneFeed:
    """quantize_static needs a data reader; our overrides fix every range, so one feed will do."""

    def __init__(self, feed: Mapping[str, np.ndarray]) -> None:
        self.feed: dict | None = dict(feed)

    def get_next(self):
        feed, self.feed = self.feed, None
        return feed


def quantize(fp32_path: Path, out_path: Path, layers: Sequence[Layer], plan: Iterable[str],
             ranges: Mapping[str, tuple[float, float]], bounds: Mapping[str, Bound], feed: Mapping[str, np.ndarray],
             reduce_range_activations: bool = False) -> Path:
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    chosen = set(plan)
    nodes = [layer.node for layer in layers if layer.name in chosen]
    rows = row_scaled(layers, chosen, bounds)
    source = Path(fp32_path)
    normalized: dict[str, str] = {}
    if rows:
        model = onnx.load(str(fp32_path))
        normalized = normalize_rows(model, rows)
        source = Path(out_path).with_name(Path(out_path).stem + ".rows.onnx")
        onnx.save(model, str(source))
    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))  # the quantizer's pre-processing hint
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            quantize_static(
                str(source), str(out_path), _OneFeed(feed), quant_format=QuantFormat.QDQ,
                op_types_to_quantize=["MatMul"], nodes_to_quantize=nodes or ["<none>"],
                activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=False,
                extra_options={
                    "ActivationSymmetric": True, "WeightSymmetric": True,
                    "OpTypesToExcludeOutputQuantization": ["MatMul"],
                    "TensorQuantOverrides": overrides(layers, chosen, ranges, bounds, reduce_range_activations, normalized),
                },
            )
    finally:
        if source != Path(fp32_path):
            source.unlink(missing_ok=True)
    return out_path


@dataclass(frozen=True)
class MatMulQuant:
    node: str
    inputs_quantized: tuple[bool, bool]
    dtypes: tuple[str | None, str | None]
    zero_points: tuple[int | None, int | None]
    scales: tuple[float | None, float | None]


def inspect_qdq(model: onnx.ModelProto) -> dict[str, MatMulQuant]:
    """For every MatMul: is each operand dequantized from INT8, with which scale and zero point."""
    index = GraphIndex(model)
    out = {}
    for node in model.graph.node:
        if node.op_type != "MatMul":
            continue
        q, dt, zp, sc = [], [], [], []
        for tensor in node.input[:2]:
            dq = index.producer.get(tensor)
            if dq is None or dq.op_type != "DequantizeLinear":
                q.append(False), dt.append(None), zp.append(None), sc.append(None)
                continue
            zero = index.const(dq.input[2]) if len(dq.input) > 2 else None
            scale = index.const(dq.input[1])
            qnode = index.producer.get(dq.input[0])
            q.append(qnode is not None and qnode.op_type == "QuantizeLinear")
            dt.append(str(zero.dtype) if zero is not None else None)
            zp.append(int(zero.reshape(-1)[0]) if zero is not None else None)
            sc.append(float(scale.reshape(-1)[0]) if scale is not None else None)
        out[node.name] = MatMulQuant(node.name, tuple(q), tuple(dt), tuple(zp), tuple(sc))  # type: ignore[arg-type]
    return out
