"""One index over an ONNX graph, shared by the precision planner (compile/precision) and INT8
calibration (calibration/): which node produces a tensor, which nodes read it, the value of a
constant (initializer or ``Constant`` node), and a stable topological sort after a rewrite."""
from __future__ import annotations

from functools import cached_property
from typing import Iterable

import numpy as np
import onnx
from onnx import numpy_helper


class GraphIndex:
    """Producers and consumers of every tensor of ``model``'s main graph; constants on demand
    (decoding every initializer is the costly part, and the planner never needs it)."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.model = model
        self.producer: dict[str, onnx.NodeProto] = {}
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for node in model.graph.node:
            for o in node.output:
                self.producer[o] = node
            for i in node.input:
                if i:
                    self.consumers.setdefault(i, []).append(node)

    @cached_property
    def consts(self) -> dict[str, np.ndarray]:
        """Tensor name → value, for initializers and ``Constant`` nodes."""
        out = {i.name: numpy_helper.to_array(i) for i in self.model.graph.initializer}
        for n in self.model.graph.node:
            if n.op_type == "Constant":
                for a in n.attribute:
                    if a.name == "value":
                        out[n.output[0]] = numpy_helper.to_array(a.t)
        return out

    def const(self, name: str) -> np.ndarray | None:
        return self.consts.get(name)

    def ancestors(self, name: str, limit: int = 64) -> Iterable[onnx.NodeProto]:
        """The nodes behind ``name``, nearest first (depth-first), at most ``limit`` of them."""
        seen, stack = set(), [name]
        while stack and len(seen) < limit:
            t = stack.pop()
            node = self.producer.get(t)
            if node is None or node.name in seen:
                continue
            seen.add(node.name)
            yield node
            stack.extend(node.input)


def toposort(model: onnx.ModelProto) -> None:
    """Order nodes so every input is produced before use (stable for the original order), in place."""
    available = {i.name for i in model.graph.input} | {t.name for t in model.graph.initializer} | {""}
    pending = list(model.graph.node)
    ordered: list[onnx.NodeProto] = []
    while pending:
        rest = []
        for node in pending:
            if all(i in available for i in node.input):
                ordered.append(node)
                available.update(node.output)
            else:
                rest.append(node)
        if len(rest) == len(pending):
            raise ValueError(f"graph has a cycle or a missing input at node {rest[0].name}")
        pending = rest
    del model.graph.node[:]
    model.graph.node.extend(ordered)
