"""The runtime API every backend implements (Polygraphy's runner pattern): public methods
validate inputs against the interface and handle grids and tiling; a backend writes only
``activate_impl``, ``hypernet_impl``, ``inr_impl`` (and optionally ``deactivate_impl`` and
``fused_impl``).

    with open_bundle("church_onnx/") as g:
        theta = g.hypernet(z)                    # once per latent
        img = g.render(theta, (256, 384))        # many views of one latent
        crop = g.render(theta, (256, 256), window=(0.4, 0.4, 0.6, 0.6))
"""
from __future__ import annotations

import math
import os
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Sequence

import numpy as np

from ..core.errors import BundleError, InputValueError, InrganError, ShapeError, UnsupportedOption, UsageError
from ..core.manifest import Interface  # noqa: F401  (part of the runtime API)
from ..core.grid import GridInputs, Tile, Window, check_size

GRID_CACHE_SIZE = 16


def default_max_memory() -> int:
    """40 % of physical memory, at most 4 GiB: the activation budget of one INR run."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 << 30
    return int(min(4 << 30, 0.4 * total))


def parse_bytes(text: str) -> int:
    """``"512M"``, ``"2G"``, ``"1.5GiB"``, ``"1000000"`` → bytes."""
    t = text.strip().lower().removesuffix("ib").removesuffix("b")
    mult = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}.get(t[-1:], 1)
    num = t[:-1] if t[-1:] in "kmgt" else t
    try:
        value = float(num) * mult
    except ValueError:
        raise UsageError(f"memory budget {text!r} is not a size (e.g. 512M, 2G)") from None
    if not math.isfinite(value) or value < (1 << 20):
        raise UsageError(f"memory budget {text!r} is too small: at least 1M")
    return int(value)


@dataclass(frozen=True)
class RenderPlan:
    """How one render is split to stay within the memory budget."""

    batch_chunk: int
    tiles: tuple[Tile | None, ...]
    estimate_bytes: int  # of the largest piece

    @property
    def pieces(self) -> int:
        return len(self.tiles)


class RenderCancelled(InrganError):
    """A render stopped between pieces because :attr:`Generator.cancelled` said so."""


class Generator(ABC):
    """A generator behind one backend. Use as a context manager (or call activate())."""

    backend: ClassVar[str] = ""
    #: backends whose graphs have bounded dims (ExecuTorch plans memory at the bound): the
    #: largest batch and the largest (h, w) of each block one run may have; renders beyond it
    #: are split into batch chunks and tiles within it
    batch_bound: int | None = None
    piece_bounds: tuple[tuple[int, int], ...] | None = None
    #: asked between the pieces (tiles, batch chunks) of a render: True stops it with
    #: :class:`RenderCancelled` (a service whose client gave up frees the work at once)
    cancelled: Callable[[], bool] | None = None

    def __init__(self, interface: Interface, max_memory: int | None = None) -> None:
        self.interface = interface
        self.max_memory = max_memory or default_max_memory()
        self.active = False
        self._grids: OrderedDict[tuple, GridInputs] = OrderedDict()
        self.last_plan: RenderPlan | None = None
        self.inference_time = 0.0  # seconds spent in backend calls, cumulative

    # ------------------------------------------------------------ lifecycle
    def activate(self) -> "Generator":
        if not self.active:
            self.activate_impl()
            self.active = True
        return self

    def deactivate(self) -> None:
        if self.active:
            self.deactivate_impl()
            self.active = False

    def __enter__(self) -> "Generator":
        return self.activate()

    def __exit__(self, *exc: object) -> None:
        self.deactivate()

    # ------------------------------------------------------------ public API
    def hypernet(self, z: np.ndarray, *extra: np.ndarray) -> np.ndarray:
        """Latents [N, z_dim] → θ [N, theta_dim]; once per latent."""
        z = self._check_matrix(z, self.interface.z_dim, "latent", "z_dim")
        feeds = {self.interface.hypernet_inputs[0]: z}
        feeds.update(hypernet_extras(self.interface.hypernet_inputs[1:], z.shape[0]))  # sg2: ψ = 1 unless given
        for name, value in zip(self.interface.hypernet_inputs[1:], extra):
            feeds[name] = np.array(np.broadcast_to(np.asarray(value, dtype=np.float32).reshape(-1), (z.shape[0],)))
        # rows per hypernetwork run within the memory budget (θ and a few activations of its
        # width per row): many latents never run at once (before: 100k rows at once, 2 GB)
        per_row = 16 * (self.interface.z_dim + self.interface.theta_dim)
        step = max(1, min(self.batch_bound or z.shape[0], self.max_memory // per_row))
        if z.shape[0] <= step:
            return self._timed(self.hypernet_impl, feeds)
        return np.concatenate([self._timed(self.hypernet_impl, {k: v[i : i + step] for k, v in feeds.items()})
                               for i in range(0, z.shape[0], step)])

    def render(self, theta: np.ndarray, size: Sequence[int], window: Window | Sequence[float] | None = None) -> np.ndarray:
        """θ [N, theta_dim] → images [N, 3, H, W] for output ``size`` = (H, W) over ``window``."""
        return self.render_on(theta, self.grid(size, window))

    def render_on(self, theta: np.ndarray, grid: GridInputs, out: np.ndarray | None = None) -> np.ndarray:
        """θ → images on prepared per-grid inputs (coordinate grids shared or one per sample).
        ``out``: a float32 [N, 3, H, W] array to fill tile by tile (e.g. a memory map of the
        output file, so an image larger than memory never exists in memory)."""
        theta = self._check_matrix(theta, self.interface.theta_dim, "theta", "theta_dim")
        self.check_size_range(grid.output_shape)
        return self._run_views(theta, grid, self.inr_impl, out)

    def generate(self, z: np.ndarray, size: Sequence[int], window: Window | Sequence[float] | None = None) -> np.ndarray:
        """Latents → images: ``render(hypernet(z), size, window)``."""
        return self.render(self.hypernet(z), size, window)

    def generate_fused(self, z: np.ndarray, size: Sequence[int], window: Window | Sequence[float] | None = None) -> np.ndarray:
        """Latents → images through the fused generator graph (where the backend has one)."""
        return self.generate_fused_on(z, self.grid(size, window))

    def generate_fused_on(self, z: np.ndarray, grid: GridInputs) -> np.ndarray:
        z = self._check_matrix(z, self.interface.z_dim, "latent", "z_dim")
        self.check_size_range(grid.output_shape)
        return self._run_views(z, grid, self.fused_impl)

    def grid(self, size: Sequence[int], window: Window | Sequence[float] | None = None) -> GridInputs:
        """Per-grid inputs for a size and window, computed once and cached."""
        h, w = check_size(size)
        self.check_size_range((h, w))
        win = Window.of(window)
        key = (h, w, win)
        if key in self._grids:
            self._grids.move_to_end(key)
            return self._grids[key]
        grid = self.interface.layout.build((h, w), win, batch=1)
        self._grids[key] = grid
        if len(self._grids) > GRID_CACHE_SIZE:
            self._grids.popitem(last=False)
        return grid

    def check_latents(self, z: Any) -> np.ndarray:
        """Latents as :meth:`hypernet` takes them ([N, z_dim], finite, float32) or the one-line error."""
        return self._check_matrix(z, self.interface.z_dim, "latent", "z_dim")

    def check_size_range(self, size: tuple[int, int]) -> None:
        rng = self.interface.size_range
        if rng is None:
            return
        (h0, w0), (h1, w1) = rng
        if not (h0 <= size[0] <= h1 and w0 <= size[1] <= w1):
            raise ShapeError(
                f"size {size[0]}x{size[1]} is outside this {self.backend} bundle's compiled range "
                f"{h0}x{w0} .. {h1}x{w1}"
            )

    # ------------------------------------------------------------ planning
    def plan(self, grid: GridInputs, batch: int) -> RenderPlan:
        """Split a render of ``batch`` samples into batch chunks and, if one sample alone is
        over the budget, into tiles along the first block's grid."""
        bpp = self.interface.bytes_per_pixel
        per_sample = _bytes(bpp, [h * w for h, w in grid.block_shapes])
        budget = self.max_memory
        cap = min(batch, self.batch_bound or batch)
        if self._within_bounds(grid.block_shapes):
            if per_sample * cap <= budget:
                return RenderPlan(cap, (None,), per_sample * cap)
            if per_sample <= budget:
                chunk = min(cap, max(1, budget // per_sample))
                return RenderPlan(chunk, (None,), per_sample * chunk)
        by, bx = 1, 1
        h0, w0 = grid.block_shapes[0]
        while True:
            tiles = grid.tiles(by, bx)
            worst = max(_bytes(bpp, t.pixels()) for t in tiles)
            fits = all(self._within_bounds(t.block_shapes()) for t in tiles)
            if (worst <= budget and fits) or (by >= h0 and bx >= w0):
                if not fits:
                    raise ShapeError(f"size {grid.output_shape[0]}x{grid.output_shape[1]} cannot be split into pieces within "
                                     f"this {self.backend} bundle's bound (blocks up to {self.piece_bounds})")
                return RenderPlan(1, tuple(tiles), worst)
            # split the axis whose tiles are larger
            if (by < h0 and h0 / by >= w0 / bx) or bx >= w0:
                by = min(h0, by * 2)
            else:
                bx = min(w0, bx * 2)

    def _within_bounds(self, shapes) -> bool:
        if self.piece_bounds is None:
            return True
        return all(h <= hb and w <= wb for (h, w), (hb, wb) in zip(shapes, self.piece_bounds))

    # ------------------------------------------------------------ backend hooks
    @classmethod
    def for_benchmark(cls, bundle: Any, precision: str, threads: int | None, max_memory: int | None) -> "Generator":
        """This backend on a bundle's graphs at ``precision``, for ``bench``; raises
        UnsupportedOption or BackendUnavailable with the reason it cannot run here."""
        raise UnsupportedOption(f"backend {cls.backend} has no benchmark set-up")

    @abstractmethod
    def activate_impl(self) -> None: ...

    def deactivate_impl(self) -> None:
        pass

    @abstractmethod
    def hypernet_impl(self, feeds: dict[str, np.ndarray]) -> np.ndarray: ...

    @abstractmethod
    def inr_impl(self, theta: np.ndarray, grid: dict[str, np.ndarray]) -> np.ndarray: ...

    def batch_feeds(self, grid: GridInputs, batch: int, start: int) -> dict[str, np.ndarray]:
        """The per-grid inputs of samples ``start .. start+batch``; a backend that broadcasts
        shared coordinate grids itself (on its device) may return them unexpanded."""
        return grid.for_batch(batch, start)

    def fused_impl(self, z: np.ndarray, grid: dict[str, np.ndarray]) -> np.ndarray:
        raise UsageError(f"backend {self.backend} has no fused generator graph")

    # ------------------------------------------------------------ internals
    def _run_views(self, first: np.ndarray, grid: GridInputs, impl, out: np.ndarray | None = None) -> np.ndarray:
        if not self.active:
            self.activate()
        n = first.shape[0]
        h, w = grid.output_shape
        plan = self.plan(grid, n)
        self.last_plan = plan
        if out is None:
            out = np.empty((n, 3, h, w), dtype=np.float32)
        elif out.shape != (n, 3, h, w) or out.dtype != np.float32:
            raise ShapeError(f"output array has shape {list(out.shape)} {out.dtype}; expected [{n}, 3, {h}, {w}] float32")
        for start in range(0, n, plan.batch_chunk):
            part = first[start : start + plan.batch_chunk]
            k = part.shape[0]
            for tile in plan.tiles:
                if self.cancelled is not None and self.cancelled():
                    raise RenderCancelled(f"render of {h}x{w} cancelled after {start} of {n} images (its requester gave up)")
                if tile is None:
                    out[start : start + k] = self._timed(impl, part, self.batch_feeds(grid, k, start))
                else:
                    feeds = grid.slice(tile, k, start)
                    (y0, y1), (x0, x1) = tile.y.out, tile.x.out
                    out[start : start + k, :, y0:y1, x0:x1] = self._timed(impl, part, feeds)
        return out

    def _timed(self, fn, *args):
        t = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.inference_time += time.perf_counter() - t

    def _check_matrix(self, x: Any, width: int, what: str, field_name: str) -> np.ndarray:
        arr = np.asarray(x)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != width:
            raise ShapeError(f"{what} has shape {list(np.shape(x))}; this generator takes [N, {width}] ({field_name}={width})")
        if arr.shape[0] < 1:
            raise ShapeError(f"{what} has no rows; need at least one")
        if not np.issubdtype(arr.dtype, np.floating):
            raise InputValueError(f"{what} has dtype {arr.dtype}; expected float32")
        bad = ~np.isfinite(arr)
        if bad.any():
            row = int(np.nonzero(bad.any(axis=1))[0][0])
            raise InputValueError(f"{what} row {row} contains NaN or Inf; every value must be finite")
        return np.ascontiguousarray(arr, dtype=np.float32)


def check_graph_signature(interface: Interface, graph: str, inputs: Sequence[tuple[str, Sequence[Any]]],
                          outputs: Sequence[tuple[str, Sequence[Any]]], file: str) -> None:
    """The manifest's numbers against what graph file ``file`` declares (names, and the dims
    that are fixed), before any work is sized from them: a lie is a :class:`BundleError`
    naming the field. ``inputs``/``outputs``: (name, shape) with ints for fixed dims."""
    got = {name: list(shape) for name, shape in inputs}
    def mismatch(field_name: str, value: Any, what: str) -> BundleError:
        return BundleError(f"field 'interface.{field_name}' ({value}) does not match {file}, which {what}; "
                           "the manifest is damaged (re-export the bundle)")

    def last_dim(shape: Sequence[Any]) -> int | None:
        return shape[-1] if shape and isinstance(shape[-1], int) and shape[-1] > 0 else None

    if graph == "hypernet":
        if set(got) != set(interface.hypernet_inputs):
            raise mismatch("hypernet_inputs", list(interface.hypernet_inputs), f"takes {sorted(got)}")
        z = last_dim(got[interface.hypernet_inputs[0]])
        if z is not None and z != interface.z_dim:
            raise mismatch("z_dim", interface.z_dim, f"takes latents of width {z}")
        t = last_dim(outputs[0][1]) if len(outputs) == 1 else None
        if len(outputs) != 1:
            raise BundleError(f"{file} returns {len(outputs)} outputs; a hypernetwork returns θ only (re-export the bundle)")
        if t is not None and t != interface.theta_dim:
            raise mismatch("theta_dim", interface.theta_dim, f"returns θ of width {t}")
    elif graph == "inr":
        grid = set(interface.layout.input_names())
        coords = sorted(n for n in got if n.startswith("coords_"))
        if len(coords) != interface.layout.num_blocks:
            raise mismatch("grid.size_rule.num_blocks", interface.layout.num_blocks, f"takes {len(coords)} coordinate grids")
        if interface.theta_name not in got:
            raise mismatch("theta_name", repr(interface.theta_name), f"takes {sorted(got)}")
        if set(got) != grid | {interface.theta_name}:
            raise mismatch("grid", "its inputs", f"takes {sorted(got)}, not {sorted(grid | {interface.theta_name})}")
        t = last_dim(got[interface.theta_name])
        if t is not None and t != interface.theta_dim:
            raise mismatch("theta_dim", interface.theta_dim, f"takes θ of width {t}")
        if len(outputs) != 1:
            raise BundleError(f"{file} returns {len(outputs)} outputs; an INR returns the image only (re-export the bundle)")
        if outputs[0][0] != interface.output_name:
            raise mismatch("output_name", repr(interface.output_name), f"returns {outputs[0][0]!r}")
    elif graph == "generator":  # hypernetwork and INR joined at θ
        coords = [n for n in got if n.startswith("coords_")]
        if len(coords) != interface.layout.num_blocks:
            raise mismatch("grid.size_rule.num_blocks", interface.layout.num_blocks, f"takes {len(coords)} coordinate grids")
        want = set(interface.hypernet_inputs) | set(interface.layout.input_names())
        if set(got) != want:
            raise mismatch("hypernet_inputs", list(interface.hypernet_inputs), f"takes {sorted(got)}, not {sorted(want)}")
        if len(outputs) != 1 or outputs[0][0] != interface.output_name:
            raise mismatch("output_name", repr(interface.output_name), f"returns {[name for name, _ in outputs]}")


def hypernet_extras(names: Sequence[str], batch: int) -> dict[str, np.ndarray]:
    """Neutral values of the extra hypernetwork inputs (per-sample scalars after the latent)
    for callers that do not give them: 1.0 (family sg2's ``truncation_psi``: no truncation)."""
    return {name: np.ones(batch, dtype=np.float32) for name in names}


def _bytes(bpp: Sequence[int], pixels: Sequence[int]) -> int:
    return int(sum(b * p for b, p in zip(bpp, pixels)))




def failed_gate(manifest: Any, backend: str) -> str | None:
    """Why a bundle's recorded gates say ``backend`` must not be trusted, or None.

    A bundle is published even when its parity or INT8 gate fails (so that it can be
    inspected and verified); its manifest records each verdict. A failed INT8 gate condemns
    every backend (they all run the one Q/DQ graph); a failed parity path condemns its
    backend. Bundles written before per-path verdicts fall back to the overall verdict."""
    int8 = (manifest.get("int8") or {}).get("gates") or {}
    if int8.get("passed") is False:
        why = "; ".join(int8.get("failed_by") or []) or int8.get("reason") or "see manifest field int8.gates"
        return f"its INT8 gate failed ({why})"
    parity = manifest.get("parity") or {}
    paths = parity.get("paths")
    if paths:
        failed = [name for name, v in paths.items() if v.get("backend") == backend and v.get("passed") is False]
        if failed:
            first = next((f for f in parity.get("failures", []) if any(f"({n}," in f for n in failed)), None)
            return f"its parity gate failed for {', '.join(failed)}" + (f" ({first})" if first else "")
        return None
    if parity.get("passed") is False:
        failures = parity.get("failures") or []
        return "its parity gate failed" + (f" ({failures[0]})" if failures else "")
    return None
