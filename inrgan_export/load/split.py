"""Split a generator into the graphs a bundle holds: ``hypernet`` (latent → θ), ``inr``
(θ, per-grid inputs → rgb) and ``generator`` (the two fused), each with named inputs and
named dynamic dimensions (``batch``, ``h<b>``/``w<b>`` per block)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ..families import ExportSpec



class HypernetGraph(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, z: Tensor, *extra: Tensor) -> Tensor:
        return self.model.hypernet(z, *extra)


class INRGraph(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, theta: Tensor, *grid: Tensor) -> Tensor:
        return self.model.inr(theta, *grid)


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int | str, ...]  # ints are fixed, strings are named dynamic dims
    dtype: str = "float32"

    def to_manifest(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


@dataclass(frozen=True)
class GraphDef:
    """One graph of a bundle: traced from ``module``, or (``module`` None) composed from the
    already exported graphs named in ``fused_from``, joined at θ."""

    name: str
    module: nn.Module | None
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    fused_from: tuple[str, ...] = ()

    @property
    def input_names(self) -> list[str]:
        return [t.name for t in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [t.name for t in self.outputs]


def hypernet_specs(model: nn.Module, spec: ExportSpec) -> list[TensorSpec]:
    out = []
    for inp in spec.hypernet_inputs:
        shape: tuple[int | str, ...] = ("batch", model.z_dim) if inp.kind == "latent" else ("batch",)
        out.append(TensorSpec(inp.name, shape, inp.dtype))
    return out


def grid_specs(model: nn.Module) -> list[TensorSpec]:
    return [TensorSpec(s.name, tuple(int(d) if d.isdigit() else d for d in s.dims()), s.dtype) for s in model.layout.input_specs()]


def split(model: nn.Module, spec: ExportSpec) -> list[GraphDef]:
    """The three graphs of a bundle, in the order they are exported."""
    hyper_in = hypernet_specs(model, spec)
    grid_in = grid_specs(model)
    n_last = model.layout.num_blocks - 1
    theta = TensorSpec(spec.theta_name, ("batch", model.theta_dim))
    rgb = TensorSpec(spec.output_name, ("batch", 3, f"h{n_last}", f"w{n_last}"))
    return [
        GraphDef("hypernet", HypernetGraph(model), tuple(hyper_in), (theta,)),
        GraphDef("inr", INRGraph(model), (theta, *grid_in), (rgb,)),
        GraphDef("generator", None, (*hyper_in, *grid_in), (rgb,), fused_from=("hypernet", "inr")),
    ]


def example_inputs(graph: GraphDef, model: nn.Module, spec: ExportSpec, batch: int = 2) -> tuple[Tensor, ...]:
    """Inputs to trace ``graph`` with: a non-square size whose block dims are all distinct and > 1,
    so that no dynamic dimension is specialised by coincidence."""
    grid = model.layout.build(spec.example_size, None, batch=batch).for_batch(batch)
    gen = torch.Generator().manual_seed(0)
    values: list[Tensor] = []
    for t in graph.inputs:
        if t.name in grid:
            values.append(torch.from_numpy(grid[t.name]))
        elif t.name == spec.theta_name:
            with torch.no_grad():
                z = torch.randn(batch, model.z_dim, generator=gen)
                values.append(model.hypernet(*([z] + [torch.ones(batch)] * (len(spec.hypernet_inputs) - 1))))
        elif len(t.shape) == 2:
            values.append(torch.randn(batch, int(t.shape[1]), generator=gen))
        else:
            values.append(torch.ones(batch))
    return tuple(values)


def check_example_dims(graph: GraphDef, inputs: Sequence[Tensor]) -> None:
    seen: dict[str, int] = {}
    for t, x in zip(graph.inputs, inputs):
        for d, v in zip(t.shape, x.shape):
            if isinstance(d, str):
                if seen.setdefault(d, int(v)) != int(v):
                    raise ValueError(f"example inputs disagree on dim {d}: {seen[d]} vs {v}")
    values = [v for k, v in seen.items()]
    if min(values, default=2) < 2:
        raise ValueError(f"example inputs have a dynamic dim of size < 2: {seen}")


def to_numpy(x: Tensor) -> np.ndarray:
    return x.detach().cpu().numpy()
