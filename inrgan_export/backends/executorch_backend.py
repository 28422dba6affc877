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
from ..core.errors import BackendUnavailable, BundleError, UnsupportedOption, UsageError
from .base import Generator, hypernet_extras
from .program_probe import check_program


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


#: the largest bound a program may declare (batch, and a block's side): far above what plans
#: in memory (side 2048 with batch 64 already failed to load), so a larger one is a lie
MAX_BOUND_BATCH = 4096
MAX_BOUND_SIDE = 1 << 15


def read_bound(section: Any, num_blocks: int) -> tuple[int, tuple[tuple[int, int], ...]]:
    """``executorch.bound``: the batch bound and each block's (h, w) bound, checked and named."""
    def number(value: Any, field_name: str, limit: int) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= limit:
            raise BundleError(f"field 'executorch.bound.{field_name}' is {str(value)[:40]!r}; expected an integer 1 to {limit}")
        return value

    bound = section.get("bound") if isinstance(section, dict) else None
    if not isinstance(bound, dict) or not isinstance(bound.get("dims"), dict):
        raise BundleError("field 'executorch.bound' is missing or not an object with 'max_batch' and 'dims'; re-export the bundle")
    dims = bound["dims"]
    pieces = tuple((number(dims.get(f"h{b}"), f"dims.h{b}", MAX_BOUND_SIDE), number(dims.get(f"w{b}"), f"dims.w{b}", MAX_BOUND_SIDE))
                   for b in range(num_blocks))
    return number(bound.get("max_batch"), "max_batch", MAX_BOUND_BATCH), pieces


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
        self.batch_bound, self.piece_bounds = read_bound(section, self.interface.layout.num_blocks)
        self.methods: dict[str, Any] = {}
        self._torch = None
        for name in ("hypernet", "inr"):  # a program that would abort this process is refused first, at open
            check_program(bundle.graph_file(name, "pte"), self._checked_sha(name))

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
            path = self.bundle.graph_file(name, "pte")
            try:
                program = rt.load_program(str(path))
                self.methods[name] = program.load_method("forward")
            except (RuntimeError, ValueError) as e:
                msg = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
                raise BundleError(f"ExecuTorch cannot load {path.name}: {msg} (not a valid program; re-export the bundle)") from None

    def _checked_sha(self, name: str) -> str | None:
        """The program's SHA-256 where the bundle already verified it on open."""
        if not self.bundle.checked:
            return None
        entry = self.bundle.manifest.files.get(self.bundle.manifest.graph_file(name, "pte"))
        return entry.sha256 if entry is not None else None

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
