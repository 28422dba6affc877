"""ExecuTorch backend: a bundle's ``hypernet.pte`` / ``inr.pte`` on ExecuTorch's runtime
(XNNPACK delegate) through its Python bindings.

Unlike the other runtime backends this one needs PyTorch on the host: ExecuTorch's Python
runtime takes and returns torch tensors. On a phone the same ``.pte`` files run in
ExecuTorch's C++ ``Module`` API without torch (runtimes/cpp/README.md). The programs' dims are
bounded at export; renders beyond the bound are tiled into pieces within it
(:meth:`Generator.plan` honours ``piece_bounds``).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..core.bundle import Bundle
from ..core.errors import BackendUnavailable, UnsupportedOption, UsageError
from .base import Generator, hypernet_extras


def import_runtime():
    try:
        import torch
        from executorch.runtime import Runtime
    except ImportError as e:
        raise BackendUnavailable(
            f"backend executorch needs the 'mobile' extra ({(e.name or 'executorch').split('.')[0]} is not installed): "
            "pip install 'inrgan-export[mobile]'"
        ) from None
    return torch, Runtime


class ExecuTorchGenerator(Generator):
    backend = "executorch"

    def __init__(self, bundle: Bundle, device: str = "CPU", max_memory: int | None = None,
                 threads: int | None = None) -> None:
        super().__init__(bundle.manifest.interface, max_memory)
        if (device or "CPU").upper() != "CPU":
            raise UsageError(f"device {device!r} is not an ExecuTorch device here; valid: CPU")
        section = bundle.manifest.get("executorch")
        if not section:
            raise UnsupportedOption(f"bundle {bundle.path} has no ExecuTorch programs (export it with --target executorch)")
        self.bundle = bundle
        self.threads = threads
        bound = section["bound"]
        self.batch_bound = int(bound["max_batch"])
        dims = bound["dims"]
        n = self.interface.layout.num_blocks
        self.piece_bounds = tuple((int(dims[f"h{b}"]), int(dims[f"w{b}"])) for b in range(n))
        self.methods: dict[str, Any] = {}
        self._torch = None

    @classmethod
    def for_benchmark(cls, bundle: Bundle, precision: str, threads: int | None, max_memory: int | None) -> "ExecuTorchGenerator":
        if precision != "fp32":
            raise UnsupportedOption("ExecuTorch bundles run fp32")
        return cls(bundle, max_memory=max_memory, threads=threads)

    def activate_impl(self) -> None:
        torch, runtime = import_runtime()
        self._torch = torch
        if self.threads:
            torch.set_num_threads(self.threads)
        rt = runtime.get()
        for name in ("hypernet", "inr"):
            program = rt.load_program(str(self.bundle.graph_file(name, "pte")))
            self.methods[name] = program.load_method("forward")

    def deactivate_impl(self) -> None:
        self.methods.clear()

    def _run(self, name: str, arrays: list[np.ndarray]) -> np.ndarray:
        torch = self._torch
        out = self.methods[name].execute([torch.from_numpy(np.ascontiguousarray(a)) for a in arrays])
        return out[0].numpy().copy()

    def hypernet_impl(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        return self._run("hypernet", [feeds[n] for n in self.interface.hypernet_inputs])

    def inr_impl(self, theta: np.ndarray, grid: dict[str, np.ndarray]) -> np.ndarray:
        names = [s.name for s in self.interface.layout.input_specs()]
        return self._run("inr", [theta, *[grid[n] for n in names]])

    def fused_impl(self, z: np.ndarray, grid: dict[str, np.ndarray]) -> np.ndarray:
        extras = hypernet_extras(self.interface.hypernet_inputs[1:], z.shape[0])
        theta = self.hypernet_impl({self.interface.hypernet_inputs[0]: z, **extras})
        return self.inr_impl(theta, grid)
