"""The PyTorch reference backend: the family's model in eager mode, float32, CPU."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..families import Family
from ..backends.base import Generator, Interface


def interface_of(model: nn.Module, family: Family) -> Interface:
    spec = family.export_spec
    return Interface(
        family=family.name,
        z_dim=model.z_dim,
        theta_dim=model.theta_dim,
        hypernet_inputs=tuple(i.name for i in spec.hypernet_inputs),
        theta_name=spec.theta_name,
        output_name=spec.output_name,
        layout=model.layout,
        bytes_per_pixel=tuple(family.bytes_per_pixel(model.cfg)),
        native_size=model.native_size,
        display=family.display,
        output_range=family.output_range(model.cfg),
    )


class TorchGenerator(Generator):
    backend = "torch"

    def __init__(self, model: nn.Module, family: Family, max_memory: int | None = None, threads: int | None = None) -> None:
        super().__init__(interface_of(model, family), max_memory)
        self.model = model
        self.threads = threads

    def activate_impl(self) -> None:
        if self.threads:
            torch.set_num_threads(self.threads)

    def hypernet_impl(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        args = [torch.from_numpy(feeds[name]) for name in self.interface.hypernet_inputs if name in feeds]
        with torch.no_grad():
            return self.model.hypernet(*args).numpy()

    def inr_impl(self, theta: np.ndarray, grid: dict[str, np.ndarray]) -> np.ndarray:
        args = [torch.from_numpy(grid[name]) for name in self.interface.layout.input_names()]
        with torch.no_grad():
            return self.model.inr(torch.from_numpy(theta), *args).numpy()
