"""Coordinate grids, the size rule and the resampling indices: everything an INR graph
takes besides θ, computed from data that the bundle's manifest records.

This module is numpy-only on purpose: every runtime (Python backends here, the C++
runtime later) rebuilds the same per-grid inputs from the manifest, so the arithmetic is
spelled out in float32 exactly as documented in the README's manifest schema.

Definitions (all per axis, float32 arithmetic, no fused multiply-add):

* window ``(x0, y0, x1, y1)`` is in units of the native image, (0, 0) its top-left and
  (1, 1) its bottom-right corner; values outside [0, 1] extrapolate;
* a block grid of ``n`` samples along an axis covering ``[a, b)`` has sample positions
  ``u_i = a + (b - a) * (i / n)`` (pixel origin at the top-left corner of the pixel,
  as in the authors' ``arange(n) / n``);
* the coordinate fed to the network is ``offset + scale * u`` (the family's convention);
* blocks are joined by resampling the coarser grid onto the finer one, described by
  integer indices (and weights for bilinear) so the graph needs no size arithmetic and
  any tile of a render is exactly the same computation as the full render.

Over 400 lines: the grid arithmetic that every runtime (the C++ one included) mirrors stays in
one file, in the order documented here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np

from .errors import ShapeError, UsageError

F32 = np.float32

#: Largest render side accepted anywhere (a guard against typos such as 100000x100000).
MAX_SIDE = 65536


# --------------------------------------------------------------------------- sizes
def parse_size(text: str) -> tuple[int, int]:
    """``"64"`` → (64, 64); ``"96x160"`` → (96, 160) as (height, width)."""
    parts = text.lower().replace("×", "x").split("x")
    try:
        if len(parts) == 1:
            h = w = int(parts[0])
        elif len(parts) == 2:
            h, w = int(parts[0]), int(parts[1])
        else:
            raise ValueError
    except ValueError:
        raise UsageError(f"size {text!r} is not HxW or N (e.g. 256x256, 96x160, 64)") from None
    check_size((h, w), text)
    return h, w


def check_size(size: Sequence[int], label: str | None = None) -> tuple[int, int]:
    if len(size) != 2:
        raise ShapeError(f"size {size!r} must be (height, width)")
    h, w = int(size[0]), int(size[1])
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE):
        shown = label if label is not None else f"{h}x{w}"
        raise ShapeError(f"size {shown} is impossible: height and width must be in 1..{MAX_SIDE}")
    return h, w


@dataclass(frozen=True)
class Window:
    """A render window in native-image units: (x0, y0) top-left, (x1, y1) bottom-right."""

    x0: float = 0.0
    y0: float = 0.0
    x1: float = 1.0
    y1: float = 1.0

    def __post_init__(self) -> None:
        vals = (self.x0, self.y0, self.x1, self.y1)
        if not all(math.isfinite(v) for v in vals):
            raise UsageError(f"window {self.text()} has a non-finite value")
        if not (self.x1 > self.x0 and self.y1 > self.y0):
            raise UsageError(f"window {self.text()} is empty: need x1 > x0 and y1 > y0 (e.g. 0.25,0.25,0.75,0.75)")
        # coordinates are computed in float32 (x0 + (x1 - x0) * t): the values and the spans
        # must be finite float32 numbers, or every pixel is NaN
        f32_max = float(np.finfo(F32).max)
        with np.errstate(over="ignore"):
            spans = (F32(self.x1) - F32(self.x0), F32(self.y1) - F32(self.y0))
        if any(abs(v) > f32_max for v in vals) or not all(np.isfinite(spans)):
            raise UsageError(
                f"window {self.text()} overflows float32: values and the spans x1-x0, y1-y0 must stay below {f32_max:.3g}"
            )

    @classmethod
    def parse(cls, text: str) -> "Window":
        try:
            vals = [float(v) for v in text.split(",")]
        except ValueError:
            vals = []
        if len(vals) != 4:
            raise UsageError(f"window {text!r} is not X0,Y0,X1,Y1 (e.g. 0.25,0.25,0.75,0.75)")
        return cls(*vals)

    @classmethod
    def of(cls, value: "Window | Sequence[float] | None") -> "Window":
        if value is None:
            return cls()
        if isinstance(value, Window):
            return value
        if len(value) != 4:
            raise UsageError(f"window {tuple(value)!r} must have 4 values (x0, y0, x1, y1)")
        return cls(*(float(v) for v in value))

    def text(self) -> str:
        return ",".join(f"{v:g}" for v in (self.x0, self.y0, self.x1, self.y1))

    def is_full(self) -> bool:
        return (self.x0, self.y0, self.x1, self.y1) == (0.0, 0.0, 1.0, 1.0)


# ------------------------------------------------------------------------ size rules
class SizeRule:
    """Maps an output size to the grid size of every INR block."""

    kind: str = ""

    def block_sizes_1d(self, n: int) -> list[int]:
        raise NotImplementedError

    def block_shapes(self, size: Sequence[int]) -> list[tuple[int, int]]:
        h, w = check_size(size)
        return list(zip(self.block_sizes_1d(h), self.block_sizes_1d(w)))

    def to_manifest(self) -> dict[str, Any]:
        raise NotImplementedError

    @staticmethod
    def from_manifest(d: Mapping[str, Any]) -> "SizeRule":
        kind = d.get("kind")
        if kind not in SIZE_RULES:
            raise UsageError(f"unknown size rule {kind!r}; this version knows: {', '.join(sorted(SIZE_RULES))}")
        return SIZE_RULES[kind].from_manifest_fields(d)

    @classmethod
    def from_manifest_fields(cls, d: Mapping[str, Any]) -> "SizeRule":
        raise NotImplementedError


#: size rule kind (as written in manifests) → class; families register theirs here
SIZE_RULES: dict[str, type[SizeRule]] = {}


def register_size_rule(cls: type[SizeRule]) -> type[SizeRule]:
    SIZE_RULES[cls.kind] = cls
    return cls


@register_size_rule
@dataclass(frozen=True)
class PaperSizeRule(SizeRule):
    """The authors' `generate_exp_img_sizes`, extended to every size >= 1, per axis.

    Walking from the last block to the first, each block's size is the next block's size
    integer-divided by 2, except below block ``upsample_block_idx``, where it is divided by
    ``2 * extra`` with ``extra = n // native``.  At and above native size this is exactly the
    authors' arithmetic (they only render square sizes >= native).  Below native their
    ``extra`` is 0 and their code divides by zero; here ``extra`` is taken as at least 1, so
    every block's grid shrinks with the output, and no grid is smaller than 1 sample.
    Height and width follow the rule independently.
    """

    native: int
    num_blocks: int
    upsample_block_idx: int
    kind: str = field(default="paper-exp", init=False)

    @classmethod
    def from_manifest_fields(cls, d: Mapping[str, Any]) -> "PaperSizeRule":
        return cls(native=int(d["native"]), num_blocks=int(d["num_blocks"]), upsample_block_idx=int(d["upsample_block_idx"]))

    def block_sizes_1d(self, n: int) -> list[int]:
        extra = max(1, n // self.native)
        sizes = []
        cur = n
        for i in range(self.num_blocks - 1, -1, -1):
            sizes.append(cur)
            divisor = 2 * extra if i == self.upsample_block_idx else 2
            cur = max(1, cur // divisor)
        return sizes[::-1]

    def to_manifest(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "native": self.native,
            "num_blocks": self.num_blocks,
            "upsample_block_idx": self.upsample_block_idx,
            "per_axis": True,
            "description": (
                "per axis, for output size n: extra = max(1, n // native); s[last] = n; "
                "s[i-1] = max(1, s[i] // (2*extra if i == upsample_block_idx else 2))"
            ),
        }


@register_size_rule
@dataclass(frozen=True)
class HalvingSizeRule(SizeRule):
    """Every block keeps its native density relative to the output (family `sg2`).

    Per axis, for output size ``n``: the last block's grid is ``n`` and each coarser block's is
    the next one's integer half, never below 1 sample; at native size these are exactly the
    block resolutions (``native / 2**k``). Above native every block renders denser, so a render
    at ``k×`` native samples the same function ``k×`` more densely in every block.
    """

    native: int
    num_blocks: int
    kind: str = field(default="halving", init=False)

    @classmethod
    def from_manifest_fields(cls, d: Mapping[str, Any]) -> "HalvingSizeRule":
        return cls(native=int(d["native"]), num_blocks=int(d["num_blocks"]))

    def block_sizes_1d(self, n: int) -> list[int]:
        sizes = [n]
        for _ in range(self.num_blocks - 1):
            sizes.append(max(1, sizes[-1] // 2))
        return sizes[::-1]

    def to_manifest(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "native": self.native,
            "num_blocks": self.num_blocks,
            "per_axis": True,
            "description": "per axis, for output size n: s[last] = n; s[i-1] = max(1, s[i] // 2)",
        }


# -------------------------------------------------------------------- resampling
def nearest_indices(n_src: int, n_dst: int) -> np.ndarray:
    """Source index of every destination sample, as PyTorch's nearest upsampling computes it
    (``F.interpolate(mode='nearest')`` with an output size): equal sizes map 1:1, an exact
    doubling maps ``i >> 1``, anything else ``min(floor(f32(i) * f32(n_src / n_dst)), n_src - 1)``
    in float32."""
    i = np.arange(n_dst, dtype=np.int64)
    if n_dst == n_src:
        return i.astype(np.int32)
    if n_dst == 2 * n_src:
        return (i >> 1).astype(np.int32)
    scale = F32(n_src) / F32(n_dst)
    src = np.floor(i.astype(F32) * scale).astype(np.int64)
    return np.minimum(src, n_src - 1).astype(np.int32)


def linear_indices(n_src: int, n_dst: int, align_corners: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i0, i1, w1) per destination sample for PyTorch's bilinear upsampling along one axis:
    ``out = x[i0] * (1 - w1) + x[i1] * w1`` with PyTorch's float32 source-index formula."""
    d = np.arange(n_dst, dtype=F32)
    if align_corners:
        scale = F32((n_src - 1) / (n_dst - 1)) if n_dst > 1 else F32(0)
        src = scale * d
    else:
        scale = F32(n_src) / F32(n_dst)
        src = scale * (d + F32(0.5)) - F32(0.5)
        src = np.maximum(src, F32(0))
    i0 = src.astype(np.int64)  # trunc == floor for src >= 0
    i1 = np.where(i0 < n_src - 1, i0 + 1, i0)
    w1 = (src - i0.astype(F32)).astype(F32)
    return i0.astype(np.int32), i1.astype(np.int32), w1


# ---------------------------------------------------------------- coordinates
@dataclass(frozen=True)
class CoordConvention:
    """Network coordinate = offset + scale * u, per axis (x, then y), u in native-image units."""

    offset: tuple[float, float] = (0.0, 0.0)
    scale: tuple[float, float] = (1.0, 1.0)

    def axis(self, n: int, lo: float, hi: float, axis: int) -> np.ndarray:
        t = np.arange(n, dtype=F32) / F32(n)
        u = F32(lo) + (F32(hi) - F32(lo)) * t
        off, sc = F32(self.offset[axis]), F32(self.scale[axis])
        if off == 0 and sc == 1:
            return u.astype(F32)
        return (off + sc * u).astype(F32)

    def to_manifest(self) -> dict[str, Any]:
        return {
            "channels": ["x", "y"],
            "x_along": "width (columns)",
            "y_along": "height (rows)",
            "pixel_origin": "top-left corner of each pixel",
            "window_units": "native image: (0,0) top-left, (1,1) bottom-right",
            "sample": "u_i = w_lo + (w_hi - w_lo) * (i / n), float32",
            "offset": list(self.offset),
            "scale": list(self.scale),
            "value": "coord = offset + scale * u (skipped when offset=0, scale=1)",
            "range_full_window": [
                [self.offset[0], self.offset[0] + self.scale[0]],
                [self.offset[1], self.offset[1] + self.scale[1]],
            ],
        }

    @classmethod
    def from_manifest(cls, d: Mapping[str, Any]) -> "CoordConvention":
        kind = d.get("kind")  # absent: this base convention (paper bundles)
        if kind is not None and cls is CoordConvention:
            if kind not in COORD_CONVENTIONS:
                raise UsageError(f"unknown coordinate convention {kind!r}; this version knows: {', '.join(sorted(COORD_CONVENTIONS))}")
            return COORD_CONVENTIONS[kind].from_manifest(d)
        return cls(offset=tuple(d["offset"]), scale=tuple(d["scale"]))  # type: ignore[arg-type]


#: coordinate convention kind (field ``kind`` of ``interface.grid.coordinates``) → class
COORD_CONVENTIONS: dict[str, type[CoordConvention]] = {}


def register_coord_convention(cls: type[CoordConvention]) -> type[CoordConvention]:
    COORD_CONVENTIONS[cls.kind] = cls  # type: ignore[attr-defined]
    return cls


@register_coord_convention
@dataclass(frozen=True)
class YUpCoordConvention(CoordConvention):
    """x as in :class:`CoordConvention`; y points up and is sampled at each pixel's bottom edge
    (family `sg2`: the authors' ``generate_coords``, ``x_j = 2j/n - 1``, ``y_i = 2(n-1-i)/n - 1``).

    Over a window, the y axis is measured from the window's bottom edge, ``b = 1 - y`` in native
    units: ``y_i = offset + scale * (b_lo + (b_hi - b_lo) * f32((n-1-i)/n))`` with
    ``b_lo = 1 - y1``, ``b_hi = 1 - y0`` — the x formula applied to the flipped axis, then
    reversed, so the full window gives the authors' values bit for bit."""

    kind: ClassVar[str] = "y-up"

    def axis(self, n: int, lo: float, hi: float, axis: int) -> np.ndarray:
        if axis == 0:
            return super().axis(n, lo, hi, 0)
        one = F32(1)
        flipped = super().axis(n, float(one - F32(hi)), float(one - F32(lo)), 1)
        return np.ascontiguousarray(flipped[::-1])

    def to_manifest(self) -> dict[str, Any]:
        d = super().to_manifest()
        d.update(
            kind=self.kind,
            y_along="height (rows), pointing up",
            pixel_origin="x: left edge of each pixel; y: bottom edge of each pixel",
            sample=(
                "x: u_j = x0 + (x1 - x0) * (j / n); y: b_i = (1 - y1) + ((1 - y0) - (1 - y1)) * ((n-1-i) / n); float32"
            ),
            value="x = offset_x + scale_x * u; y = offset_y + scale_y * b",
            range_full_window=[
                [self.offset[0], self.offset[0] + self.scale[0]],
                [self.offset[1] + self.scale[1], self.offset[1]],
            ],
        )
        return d

    @classmethod
    def from_manifest(cls, d: Mapping[str, Any]) -> "CoordConvention":
        return cls(offset=tuple(d["offset"]), scale=tuple(d["scale"]))  # type: ignore[arg-type]


# ---------------------------------------------------------------- the layout
@dataclass(frozen=True)
class GridInputSpec:
    name: str
    kind: str  # "coords" | "index" | "weight"
    block: int  # destination block
    axis: str | None = None  # "y" | "x" for index/weight inputs
    source_block: int | None = None
    dtype: str = "float32"

    def dims(self) -> list[str]:
        if self.kind == "coords":
            return ["batch", "2", f"h{self.block}", f"w{self.block}"]
        return [f"{'h' if self.axis == 'y' else 'w'}{self.block}"]


@dataclass(frozen=True)
class GridLayout:
    """Which per-grid inputs an INR graph takes and how to compute them."""

    size_rule: SizeRule
    coords: CoordConvention
    resample_mode: str  # "nearest" | "bilinear"
    align_corners: bool
    edges: tuple[tuple[int, int], ...]  # (source block, destination block)

    @property
    def num_blocks(self) -> int:
        return self.size_rule.num_blocks  # type: ignore[attr-defined]

    def input_specs(self) -> list[GridInputSpec]:
        specs = [GridInputSpec(f"coords_{b}", "coords", b) for b in range(self.num_blocks)]
        for s, d in self.edges:
            for axis in ("y", "x"):
                stem = f"up{s}to{d}_{axis}"
                if self.resample_mode == "nearest":
                    specs.append(GridInputSpec(stem, "index", d, axis, s, "int32"))
                else:
                    specs.append(GridInputSpec(stem + "0", "index", d, axis, s, "int32"))
                    specs.append(GridInputSpec(stem + "1", "index", d, axis, s, "int32"))
                    specs.append(GridInputSpec(stem + "w", "weight", d, axis, s, "float32"))
        return specs

    def input_names(self) -> list[str]:
        return [s.name for s in self.input_specs()]

    def edge_arrays(self, n_src: int, n_dst: int) -> list[np.ndarray]:
        if self.resample_mode == "nearest":
            return [nearest_indices(n_src, n_dst)]
        return list(linear_indices(n_src, n_dst, self.align_corners))

    def input_bytes(self, size: Sequence[int], batch: int = 1) -> int:
        """Bytes of the arrays :meth:`build` makes for ``size``: the dense coordinate grid of
        every block (2 float32 per sample) and the per-axis resampling vectors."""
        shapes = self.size_rule.block_shapes(size)
        total = sum(batch * 2 * 4 * h * w for h, w in shapes)
        per_axis = 4 if self.resample_mode == "nearest" else 12
        for _, d in self.edges:
            total += per_axis * (shapes[d][0] + shapes[d][1])
        return int(total)

    def build(self, size: Sequence[int], window: Window | None = None, batch: int = 1) -> "GridInputs":
        """All per-grid inputs for an output of ``size`` = (H, W) over ``window``."""
        window = Window.of(window)
        shapes = self.size_rule.block_shapes(size)
        if any(h * w >= 2**31 for h, w in shapes[:-1]):
            raise ShapeError(f"size {size[0]}x{size[1]} needs a block grid of 2^31 samples or more; render it in windows")
        arrays: dict[str, np.ndarray] = {}
        for b, (h, w) in enumerate(shapes):
            xs = self.coords.axis(w, window.x0, window.x1, 0)
            ys = self.coords.axis(h, window.y0, window.y1, 1)
            grid = np.empty((batch, 2, h, w), dtype=F32)
            grid[:, 0] = xs[None, None, :]
            grid[:, 1] = ys[None, :, None]
            arrays[f"coords_{b}"] = grid
        for s, d in self.edges:
            (hs, ws), (hd, wd) = shapes[s], shapes[d]
            for axis, n_src, n_dst in (("y", hs, hd), ("x", ws, wd)):
                parts = self.edge_arrays(n_src, n_dst)
                stem = f"up{s}to{d}_{axis}"
                if self.resample_mode == "nearest":
                    arrays[stem] = parts[0]
                else:
                    arrays[stem + "0"], arrays[stem + "1"], arrays[stem + "w"] = parts
        return GridInputs(tuple(shapes), arrays, self)

    def to_manifest(self) -> dict[str, Any]:
        return {
            "size_rule": self.size_rule.to_manifest(),
            "coordinates": self.coords.to_manifest(),
            "resample": {
                "mode": self.resample_mode,
                "align_corners": self.align_corners,
                "edges": [list(e) for e in self.edges],
                "nearest_index": "src = i if n_dst == n_src; i >> 1 if n_dst == 2*n_src; "
                "else min(floor(f32(i) * (f32(n_src) / f32(n_dst))), n_src - 1)",
                "bilinear_index": "align_corners=false: s = max(0, f32(n_src)/f32(n_dst) * (i + 0.5) - 0.5); "
                "align_corners=true: s = f32((n_src-1)/(n_dst-1)) * i; i0 = floor(s); i1 = min(i0+1, n_src-1); w = s - i0",
            },
            "inputs": [
                {"name": s.name, "kind": s.kind, "block": s.block, "axis": s.axis, "source_block": s.source_block,
                 "dtype": s.dtype, "shape": s.dims()}
                for s in self.input_specs()
            ],
        }

    @classmethod
    def from_manifest(cls, d: Mapping[str, Any]) -> "GridLayout":
        r = d["resample"]
        return cls(
            size_rule=SizeRule.from_manifest(d["size_rule"]),
            coords=CoordConvention.from_manifest(d["coordinates"]),
            resample_mode=r["mode"],
            align_corners=bool(r["align_corners"]),
            edges=tuple(tuple(e) for e in r["edges"]),  # type: ignore[misc]
        )


@dataclass(frozen=True)
class GridInputs:
    """The per-grid inputs of one render size and window (shared by every latent)."""

    block_shapes: tuple[tuple[int, int], ...]
    arrays: Mapping[str, np.ndarray]
    layout: GridLayout

    @classmethod
    def from_arrays(cls, layout: GridLayout, arrays: Mapping[str, np.ndarray]) -> "GridInputs":
        """Wrap per-grid inputs made elsewhere (e.g. a parity feed); block shapes come from the
        coordinate grids, whose batch may be 1 (shared) or one grid per sample."""
        missing = [n for n in layout.input_names() if n not in arrays]
        if missing:
            raise ShapeError(f"grid inputs lack {missing[0]!r}")
        shapes = tuple((int(arrays[f"coords_{b}"].shape[-2]), int(arrays[f"coords_{b}"].shape[-1])) for b in range(layout.num_blocks))
        return cls(shapes, {n: arrays[n] for n in layout.input_names()}, layout)

    @property
    def output_shape(self) -> tuple[int, int]:
        return self.block_shapes[-1]

    def for_batch(self, batch: int, start: int = 0) -> dict[str, np.ndarray]:
        """The arrays for samples ``start .. start+batch``: shared coordinate grids (batch 1)
        are expanded, per-sample ones are sliced."""
        return {name: _coords_rows(arr, batch, start) if name.startswith("coords_") else arr for name, arr in self.arrays.items()}

    # ------------------------------------------------------------------ tiling
    def tiles(self, bands_y: int, bands_x: int) -> list["Tile"]:
        """Split the render into tiles along the first block's grid.

        Bands of the first (coarsest) block's rows/columns are followed down the chain of
        connector edges to the output; every block then gets the contiguous span of its
        rows/columns that the tile's outputs need through any edge (connector or skip).
        Because every pixel's value depends only on the samples its indices name, the tile
        computes exactly what the full render computes for those pixels.
        """
        ny = _axis_tiles(self, "y", bands_y)
        nx = _axis_tiles(self, "x", bands_x)
        return [Tile(ty, tx) for ty in ny for tx in nx]

    def slice(self, tile: "Tile", batch: int = 1, start: int = 0) -> dict[str, np.ndarray]:
        """The inputs of one tile for samples ``start .. start+batch``."""
        out: dict[str, np.ndarray] = {}
        for spec in self.layout.input_specs():
            arr = self.arrays[spec.name]
            if spec.kind == "coords":
                (r0, r1), (c0, c1) = tile.y.spans[spec.block], tile.x.spans[spec.block]
                out[spec.name] = np.ascontiguousarray(_coords_rows(arr, batch, start)[:, :, r0:r1, c0:c1])
            else:
                ax = tile.y if spec.axis == "y" else tile.x
                lo, hi = ax.spans[spec.block]
                part = arr[lo:hi]
                if spec.kind == "index":
                    part = part - np.int32(ax.spans[spec.source_block][0])  # type: ignore[index]
                out[spec.name] = np.ascontiguousarray(part)
        return out


@dataclass(frozen=True)
class AxisTile:
    spans: tuple[tuple[int, int], ...]  # per block [lo, hi)

    @property
    def out(self) -> tuple[int, int]:
        return self.spans[-1]


@dataclass(frozen=True)
class Tile:
    y: AxisTile
    x: AxisTile

    def pixels(self) -> list[int]:
        return [(y1 - y0) * (x1 - x0) for (y0, y1), (x0, x1) in zip(self.y.spans, self.x.spans)]

    def block_shapes(self) -> list[tuple[int, int]]:
        return [(y1 - y0, x1 - x0) for (y0, y1), (x0, x1) in zip(self.y.spans, self.x.spans)]


def _coords_rows(arr: np.ndarray, batch: int, start: int) -> np.ndarray:
    if arr.shape[0] == 1:
        return arr if batch == 1 else np.ascontiguousarray(np.broadcast_to(arr, (batch,) + arr.shape[1:]))
    return arr[start : start + batch]


def _axis_tiles(grid: GridInputs, axis: str, bands: int) -> list[AxisTile]:
    layout = grid.layout
    dim = 0 if axis == "y" else 1
    sizes = [shape[dim] for shape in grid.block_shapes]
    nb = len(sizes)
    if bands <= 1 or nb == 0:
        return [AxisTile(tuple((0, n) for n in sizes))]
    # index arrays per edge along this axis (for bilinear both i0 and i1 matter)
    edge_idx: dict[tuple[int, int], list[np.ndarray]] = {}
    for s, d in layout.edges:
        stem = f"up{s}to{d}_{axis}"
        if layout.resample_mode == "nearest":
            edge_idx[(s, d)] = [grid.arrays[stem]]
        else:
            edge_idx[(s, d)] = [grid.arrays[stem + "0"], grid.arrays[stem + "1"]]
    # which first-block sample each output sample descends from (through connector edges)
    owner = np.arange(sizes[0])
    for b in range(1, nb):
        if (b - 1, b) not in edge_idx:
            raise ValueError(f"grid layout has no edge {b - 1}->{b}; tiling needs the blocks chained")
        owner = owner[edge_idx[(b - 1, b)][0]]
    bands = min(bands, sizes[0])
    bounds = np.linspace(0, sizes[0], bands + 1).round().astype(int)
    tiles = []
    for a, z in zip(bounds[:-1], bounds[1:]):
        rows = np.nonzero((owner >= a) & (owner < z))[0]
        if rows.size == 0:
            continue
        spans: list[tuple[int, int] | None] = [None] * nb
        spans[-1] = (int(rows[0]), int(rows[-1]) + 1)
        for d in range(nb - 1, 0, -1):
            if spans[d] is None:
                continue
            lo, hi = spans[d]
            for (s, dd), idx_list in edge_idx.items():
                if dd != d:
                    continue
                need_lo = min(int(idx[lo:hi].min()) for idx in idx_list)
                need_hi = max(int(idx[lo:hi].max()) for idx in idx_list) + 1
                cur = spans[s]
                spans[s] = (need_lo, need_hi) if cur is None else (min(cur[0], need_lo), max(cur[1], need_hi))
        tiles.append(AxisTile(tuple(sp for sp in spans if sp is not None)))
    return tiles


# ------------------------------------------------------------------ the grids every check covers
#: the larger batch of every parity check (batch 1 is checked too)
PARITY_BATCH = 4
#: the activation budget of each run an export makes to check itself (parity, INT8 calibration,
#: selection and gates) unless --max-memory says otherwise: large runs are split into batch
#: chunks and tiles, so an export fits a laptop's memory whatever the machine has
CHECK_MAX_MEMORY = 1 << 30


@dataclass(frozen=True)
class ParityGrid:
    """One grid of a parity check: native, below, above, non-square, zoom or extrapolation."""

    label: str
    size: tuple[int, int]
    window: Window = Window()
    golden: bool = True  # small enough to keep reference outputs in the bundle
    #: the batch sizes it is checked at (the largest first; batch 1 is its first image)
    batches: tuple[int, ...] = (PARITY_BATCH, 1)
    #: also checked on the fused generator graph (Polygraphy's untiled runner); the fused graph
    #: is the hypernet and INR graphs joined unchanged, which every grid checks split
    fused: bool = True

    @property
    def key(self) -> str:
        return self.label.replace(" ", "_")


def parity_grids(native: int) -> list[ParityGrid]:
    """Native, below (½, ¼), above (2×), non-square, zoom and extrapolation, each at batch 1 on
    the split path; batch > 1 at ¼ native (batch 4: the batch dimension does not depend on the
    grid), the 2× grid through the split path's tiler. The fused graph (the same two graphs
    joined) is checked at native, batch 4 and non-square. This keeps a full-size export's
    parity report within a laptop's time and memory (the batch-4 report at 2× native cost
    4.5× the pixels)."""
    n = native
    single = (1,)
    return [
        ParityGrid("native", (n, n), batches=single),
        ParityGrid("half", (max(1, n // 2),) * 2, batches=single, fused=False),
        ParityGrid("quarter", (max(1, n // 4),) * 2),
        ParityGrid("double", (2 * n, 2 * n), golden=False, batches=single, fused=False),
        ParityGrid("non-square", (max(1, round(0.75 * n)), max(1, round(1.25 * n))), batches=single),
        ParityGrid("zoom", (n, n), Window(0.25, 0.25, 0.75, 0.75), batches=single, fused=False),
        ParityGrid("extrapolate", (n, n), Window(-0.25, -0.25, 1.25, 1.25), batches=single, fused=False),
    ]
