"""The PyTorch reference backend: the family's model in eager mode, on a torch device.

CPU float32 eager is the reference every other backend is checked against; that path is
kept exactly as it was (no autocast, no copies). On CUDA the same model runs with optional
fp16/bf16 autocast and optional ``torch.compile`` with CUDA graphs (``--compile``)."""
from __future__ import annotations

import contextlib
import re
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..core.errors import BackendUnavailable, UnsupportedOption, UsageError
from ..families import Family
from ..backends.base import Generator, Interface

#: precisions of the torch backend: fp32 eager, or autocast to a 16-bit type
AUTOCAST_DTYPES = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}
#: device grids kept on the GPU (keyed by the host array they came from, which the cache holds)
DEVICE_GRID_CACHE = 32


@dataclass(frozen=True)
class CudaFacts:
    """What this torch build and machine offer; gathered by :func:`cuda_facts`, passed to
    :func:`resolve_device` so that the decision is a pure function of them."""

    torch_version: str
    built: bool  # torch was built with CUDA
    cuda_version: str | None
    devices: tuple[str, ...]  # names of the visible CUDA devices


def cuda_facts() -> CudaFacts:
    built = bool(torch.backends.cuda.is_built())
    names: tuple[str, ...] = ()
    if built and torch.cuda.is_available():
        names = tuple(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
    return CudaFacts(torch.__version__, built, torch.version.cuda, names)


def devices_here(facts: CudaFacts) -> str:
    return ", ".join(["cpu", *(f"cuda:{i} ({name})" for i, name in enumerate(facts.devices))])


def resolve_device(requested: str | None, facts: CudaFacts) -> str:
    """``cpu``, ``cuda`` or ``cuda:N`` → the canonical device (``cpu``, ``cuda:N``), or the
    one-line error naming what exists: exit 3 when this torch has no CUDA at all (another
    build of torch would help), exit 2 when it has but the device is not there."""
    text = (requested or "cpu").strip().lower()
    if text == "cpu":
        return "cpu"
    m = re.fullmatch(r"cuda(?::(\d+))?", text)
    if m is None:
        raise UsageError(f"--device {requested!r} is not a device of the torch backend; valid: cpu, cuda, cuda:N "
                         f"(devices here: {devices_here(facts)})")
    index = int(m.group(1) or 0)
    if not facts.built:
        raise BackendUnavailable(f"--device {requested}: torch {facts.torch_version} is a CPU-only build (no CUDA); "
                                 f"devices here: {devices_here(facts)}")
    if not facts.devices:
        raise UsageError(f"--device {requested}: no CUDA device is visible to torch {facts.torch_version} "
                         f"(built with CUDA {facts.cuda_version}); devices here: cpu")
    if index >= len(facts.devices):
        raise UsageError(f"--device {requested}: there are {len(facts.devices)} CUDA device(s); "
                         f"devices here: {devices_here(facts)}")
    return f"cuda:{index}"


def check_run_options(device: str, precision: str, compile: bool) -> None:
    """Refuse combinations the torch backend does not run (device already resolved)."""
    if precision not in AUTOCAST_DTYPES:
        raise UnsupportedOption(f"--precision {precision!r} is not a precision of the torch backend; "
                                f"valid: {', '.join(AUTOCAST_DTYPES)}")
    if compile and device == "cpu":
        # CUDA graphs exist only on CUDA, and Inductor's CPU code generation needs a C++
        # toolchain and minutes per size on a small machine: the CPU reference stays eager
        raise UnsupportedOption("--compile needs a CUDA device (torch.compile with CUDA graphs); "
                                "the CPU reference runs eager: drop --compile or pass --device cuda")


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

    def __init__(self, model: nn.Module, family: Family, max_memory: int | None = None, threads: int | None = None,
                 device: str | None = "cpu", precision: str = "fp32", compile: bool = False) -> None:
        self.device = resolve_device(device, cuda_facts())
        check_run_options(self.device, precision, compile)
        if max_memory is None and self.device != "cpu":
            # the activation budget of one INR run lives on the GPU: 40 % of its memory
            max_memory = int(0.4 * torch.cuda.get_device_properties(self.device).total_memory)
        super().__init__(interface_of(model, family), max_memory)
        self.model = model.to(self.device) if self.device != "cpu" else model
        self.threads = threads
        self.precision = precision
        self.compile = compile
        #: seconds of the first call at each input shape (compilation and CUDA-graph capture
        #: when compiled): reported apart, never part of a timing
        self.first_call_s: dict[str, float] = {}
        self._inr = self.model.inr
        self._grids_on_device: OrderedDict[int, tuple[np.ndarray, torch.Tensor]] = OrderedDict()
        self._own: dict[str, np.ndarray] = {}
        #: inputs staged on the device (shared grids copied once, expanded there); off on the
        #: CPU, whose path stays the reference's (tests turn it on to run this logic on CPU)
        self.staged = self.device != "cpu"

    @property
    def run_info(self) -> dict:
        """How this generator runs, for metadata and reports."""
        name = torch.cuda.get_device_name(self.device) if self.device != "cpu" else "cpu"
        return {"backend": "torch", "device": self.device, "device_name": name, "precision": self.precision,
                "autocast": self.precision != "fp32", "compile": "torch.compile mode=reduce-overhead (CUDA graphs), "
                "dynamic=False" if self.compile else False, "torch": torch.__version__}

    def activate_impl(self) -> None:
        if self.threads:
            torch.set_num_threads(self.threads)
        if self.compile and self._inr is self.model.inr:
            # one graph per input shape (fixed sizes), replayed as a CUDA graph
            self._inr = torch.compile(self.model.inr, mode="reduce-overhead", dynamic=False)

    def _autocast(self):
        dtype = AUTOCAST_DTYPES[self.precision]
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.split(":")[0], dtype=dtype)

    def batch_feeds(self, grid, batch: int, start: int) -> dict[str, np.ndarray]:
        # on a GPU, shared grids are copied there once and expanded to the batch there
        # (a host-side copy per sample at 1024² x 64 would be 512 MB per block per call)
        shared = all(a.shape[0] == 1 for n, a in grid.arrays.items() if n.startswith("coords_"))
        if not self.staged or not shared:
            return super().batch_feeds(grid, batch, start)
        self._own = grid.arrays
        return grid.arrays

    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(a)
        return t if self.device == "cpu" else t.to(self.device)

    def _grid_tensor(self, name: str, a: np.ndarray, batch: int) -> torch.Tensor:
        if not self.staged:
            return torch.from_numpy(a)
        if self._own.get(name) is not a:  # a tile's slice: used once
            return self._tensor(a)
        hit = self._grids_on_device.get(id(a))
        if hit is not None and hit[0] is a:
            self._grids_on_device.move_to_end(id(a))
            t = hit[1]
        else:
            t = self._tensor(a)
            self._grids_on_device[id(a)] = (a, t)  # holding `a` keeps its id unique
            if len(self._grids_on_device) > DEVICE_GRID_CACHE:
                self._grids_on_device.popitem(last=False)
        if name.startswith("coords_") and t.shape[0] == 1 and batch > 1:
            t = t.expand(batch, *t.shape[1:])
        return t

    def _host(self, t: torch.Tensor) -> np.ndarray:
        if self.device == "cpu" and t.dtype == torch.float32:
            return t.numpy()
        return t.float().cpu().numpy()

    def hypernet_impl(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        args = [self._tensor(feeds[name]) for name in self.interface.hypernet_inputs if name in feeds]
        with torch.no_grad(), self._autocast():
            return self._host(self.model.hypernet(*args))

    def inr_impl(self, theta: np.ndarray, grid: dict[str, np.ndarray]) -> np.ndarray:
        batch = theta.shape[0]
        args = [self._grid_tensor(name, grid[name], batch) for name in self.interface.layout.input_names()]
        key = "x".join(str(list(a.shape)) for a in [theta, *args])
        first = key not in self.first_call_s
        t0 = time.perf_counter()
        if self.compile:
            torch.compiler.cudagraph_mark_step_begin()
        with torch.no_grad(), self._autocast():
            out = self._host(self._inr(self._tensor(theta), *args))
        if first:
            self.first_call_s[key] = time.perf_counter() - t0
        return out
