"""MACs two ways: analytic from the family's config (``family.macs``) and counted from an
exported ONNX graph at concrete input shapes.

Counting: ONNX Runtime's symbolic shape inference resolves every tensor's shape for the
given inputs; MatMul, Gemm and Conv contribute multiply-accumulates from their operand
shapes, elementwise arithmetic contributes FLOPs (one per output element), counted apart
from MACs; data movement (Gather, Concat, Reshape, ...) counts nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import onnx

ELEMENTWISE = {
    "Add", "Sub", "Mul", "Div", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Sin", "Cos", "Clip", "Max", "Min",
    "Neg", "Abs", "Exp", "Log", "Sqrt", "Pow", "Erf", "HardSigmoid", "Softplus", "Where",
}


@dataclass
class GraphCount:
    macs: int = 0
    elementwise_flops: int = 0
    macs_by_op: dict[str, int] = field(default_factory=dict)

    def add_macs(self, op: str, n: int) -> None:
        self.macs += n
        self.macs_by_op[op] = self.macs_by_op.get(op, 0) + n


def _concrete(model: onnx.ModelProto, input_shapes: Mapping[str, Sequence[int]]) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    del m.graph.value_info[:]  # the exporter's symbolic shapes; recomputed below
    for value in m.graph.input:
        if value.name not in input_shapes:
            raise ValueError(f"no shape given for graph input {value.name!r}")
        dims = value.type.tensor_type.shape.dim
        if len(dims) != len(input_shapes[value.name]):
            raise ValueError(f"input {value.name!r} has rank {len(dims)}, got shape {list(input_shapes[value.name])}")
        for d, v in zip(dims, input_shapes[value.name]):
            d.ClearField("dim_param")
            d.dim_value = int(v)
    for value in m.graph.output:
        for d in value.type.tensor_type.shape.dim:
            d.ClearField("dim_param")
    return m


def count_graph(model: onnx.ModelProto, input_shapes: Mapping[str, Sequence[int]]) -> GraphCount:
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    inferred = SymbolicShapeInference.infer_shapes(_concrete(model, input_shapes), auto_merge=True)
    if inferred is None:
        raise ValueError("shape inference failed on this graph")
    shapes: dict[str, list[int]] = {}
    for v in (*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output):
        shapes[v.name] = [d.dim_value if d.HasField("dim_value") else -1 for d in v.type.tensor_type.shape.dim]
    for init in inferred.graph.initializer:
        shapes[init.name] = list(init.dims)

    def shape(name: str) -> list[int]:
        s = shapes.get(name)
        if s is None or any(d < 0 for d in s):
            raise ValueError(f"shape of tensor {name!r} is not resolved at these input shapes")
        return s

    count = GraphCount()
    for node in inferred.graph.node:
        op = node.op_type
        if op == "MatMul":
            a, b, out = shape(node.input[0]), shape(node.input[1]), shape(node.output[0])
            k = a[-1] if len(a) >= 1 else 1
            count.add_macs(op, int(np.prod(out, dtype=np.int64)) * k)
        elif op == "Gemm":
            a = shape(node.input[0])
            trans_a = next((at.i for at in node.attribute if at.name == "transA"), 0)
            k = a[0] if trans_a else a[1]
            count.add_macs(op, int(np.prod(shape(node.output[0]), dtype=np.int64)) * k)
        elif op == "Conv":
            w, out = shape(node.input[1]), shape(node.output[0])
            group = next((at.i for at in node.attribute if at.name == "group"), 1)
            per_out = int(np.prod(w[1:], dtype=np.int64))  # (Cin / group) * kernel
            del group
            count.add_macs(op, int(np.prod(out, dtype=np.int64)) * per_out)
        elif op in ELEMENTWISE:
            count.elementwise_flops += int(np.prod(shape(node.output[0]), dtype=np.int64))
    return count
