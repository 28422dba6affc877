"""Q/DQ graphs for a precision plan, with ONNX Runtime's quantizer.

Symmetric INT8 (zero point 0), per-tensor scales on both MatMul operands of every layer in
the plan — including the per-sample weights, which are activations of the graph (TensorRT and
ONNX Runtime take Q/DQ on both inputs of a MatMul); MatMul outputs are not re-quantized. The
INR's quantized MatMuls have no constant weight operand, so there is nothing per-channel.
Scales come from our ranges through ``TensorQuantOverrides``: the FMM bound for bounded
per-sample weights, calibration data for everything else. The Fourier path and the FMM
modulation products are never in a plan.
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

from .graph import Bound, GraphIndex, Layer


def overrides(layers: Sequence[Layer], plan: Iterable[str], ranges: Mapping[str, tuple[float, float]],
              bounds: Mapping[str, Bound], reduce_range_activations: bool = False) -> dict[str, list[dict]]:
    """Per-tensor ranges for ONNX Runtime's quantizer. ``reduce_range_activations`` quantizes
    the activation operand to 7 bits (-64..63): x86 CPUs without VNNI multiply u8 x s8 pairs
    into saturating 16-bit sums (vpmaddubsw), which full-range activations overflow when both
    MatMul operands are dynamic (OpenVINO/oneDNN on AVX2)."""
    out: dict[str, list[dict]] = {}
    chosen = set(plan)
    for layer in layers:
        if layer.name not in chosen:
            continue
        for tensor in (layer.weight, layer.activation):
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
    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))  # the quantizer's pre-processing hint
    with contextlib.redirect_stdout(io.StringIO()):
        quantize_static(
            str(fp32_path), str(out_path), _OneFeed(feed), quant_format=QuantFormat.QDQ,
            op_types_to_quantize=["MatMul"], nodes_to_quantize=nodes or ["<none>"],
            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=False,
            extra_options={
                "ActivationSymmetric": True, "WeightSymmetric": True,
                "OpTypesToExcludeOutputQuantization": ["MatMul"],
                "TensorQuantOverrides": overrides(layers, chosen, ranges, bounds, reduce_range_activations),
            },
        )
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
