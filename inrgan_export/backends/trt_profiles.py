"""Optimization profiles from resolutions.

A TensorRT profile bounds every dynamic input with min/opt/max shapes. Users think in output
resolutions (``--min-res 32x32 --opt-res 256x256 --max-res 1024x1024 --max-batch 8``); the
graphs take per-block coordinate grids ``coords_b [batch, 2, h_b, w_b]`` and 1-D resampling
inputs ``up{s}to{d}_{y,x} [h_d]`` / ``[w_d]``. This module turns the first into the second
through the model's size rule, per axis:

* ``h_b`` ranges over the block sizes of every output height in ``[min_h, max_h]``. The
  paper rule is not monotone (church: 511 → block 0 of 255, 512 → 128, because ``extra``
  jumps), so the bounds are the min and max over every height in the range, not the
  rule at the two ends;
* opt is the rule at ``opt_res``; the batch is ``1 .. max_batch`` with opt ``opt_batch``.

A profile box admits combinations the size rule never produces (h0 of one height with h1
of another); that is harmless, it only has to contain every combination it does produce.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable, Mapping, Sequence

from ..core.errors import UsageError
from ..core.grid import GridLayout, SizeRule, check_size

Size = tuple[int, int]


@dataclass(frozen=True)
class ResolutionRange:
    """Output sizes (H, W) and batches one optimization profile covers (inclusive)."""

    min_res: Size
    opt_res: Size
    max_res: Size
    max_batch: int
    opt_batch: int = 1
    name: str = "render"

    def __post_init__(self) -> None:
        for axis, label in ((0, "height"), (1, "width")):
            lo, opt, hi = self.min_res[axis], self.opt_res[axis], self.max_res[axis]
            if not lo <= opt <= hi:
                raise UsageError(
                    f"resolution range {self.text()} is not ordered in {label}: need min <= opt <= max "
                    f"(got {lo}, {opt}, {hi}); e.g. --min-res 32x32 --opt-res 256x256 --max-res 1024x1024"
                )
        if not 1 <= self.opt_batch <= self.max_batch:
            raise UsageError(f"profile batch: need 1 <= opt batch <= max batch (got {self.opt_batch}, {self.max_batch})")

    def contains(self, size: Sequence[int], batch: int = 1) -> bool:
        return all(self.min_res[a] <= size[a] <= self.max_res[a] for a in (0, 1)) and 1 <= batch <= self.max_batch

    def covers(self, other: "ResolutionRange") -> bool:
        return self.contains(other.min_res) and self.contains(other.max_res) and other.max_batch <= self.max_batch

    def text(self) -> str:
        return f"{_s(self.min_res)} .. {_s(self.max_res)}"

    def to_manifest(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "min_res": list(self.min_res),
            "opt_res": list(self.opt_res),
            "max_res": list(self.max_res),
            "max_batch": self.max_batch,
            "opt_batch": self.opt_batch,
        }

    @classmethod
    def from_manifest(cls, d: Mapping[str, Any]) -> "ResolutionRange":
        return cls(tuple(d["min_res"]), tuple(d["opt_res"]), tuple(d["max_res"]),  # type: ignore[arg-type]
                   int(d["max_batch"]), int(d.get("opt_batch", 1)), d.get("name", "render"))


def _s(size: Sequence[int]) -> str:
    return f"{size[0]}x{size[1]}"


def default_range(native: Size, max_batch: int) -> ResolutionRange:
    """¼ to 2× the native size, tuned for native: the sizes of the parity report."""
    return ResolutionRange(
        (max(1, native[0] // 4), max(1, native[1] // 4)), tuple(native), (2 * native[0], 2 * native[1]), max_batch  # type: ignore[arg-type]
    )


def resolve_range(native: Size, max_batch: int, min_res: Size | None = None, opt_res: Size | None = None,
                  max_res: Size | None = None) -> ResolutionRange:
    """The user's range; unset ends default to ¼× / 1× / 2× native, kept consistent with the
    ends that were given (an explicit value is never changed; a wrong order is an error)."""
    for label, v in (("--min-res", min_res), ("--opt-res", opt_res), ("--max-res", max_res)):
        if v is not None:
            check_size(v, f"{label} {_s(v)}")
    d = default_range(native, max_batch)
    given = [v for v in (min_res, opt_res, max_res) if v is not None]

    def axis(a: int) -> tuple[int, int, int]:
        lo = min_res[a] if min_res else min([d.min_res[a]] + [v[a] for v in given])
        hi = max_res[a] if max_res else max([d.max_res[a]] + [v[a] for v in given])
        opt = opt_res[a] if opt_res else min(max(native[a], lo), hi)
        return lo, opt, hi

    (h0, ho, h1), (w0, wo, w1) = axis(0), axis(1)
    return ResolutionRange((h0, w0), (ho, wo), (h1, w1), max_batch)


def parity_range(sizes: Iterable[Size], batch: int) -> ResolutionRange:
    """The smallest box holding every parity grid (a second profile when the user's range
    does not cover them, so the parity report can run on the engines)."""
    sizes = list(sizes)
    lo = (min(s[0] for s in sizes), min(s[1] for s in sizes))
    hi = (max(s[0] for s in sizes), max(s[1] for s in sizes))
    opt = max(sizes, key=lambda s: (s[0] * s[1], s))
    opt = (min(max(opt[0], lo[0]), hi[0]), min(max(opt[1], lo[1]), hi[1]))
    return ResolutionRange(lo, opt, hi, batch, 1, "parity")


# --------------------------------------------------------------------------- per-block dims
@lru_cache(maxsize=64)
def _axis_bounds(rule: SizeRule, lo: int, hi: int) -> tuple[tuple[int, int], ...]:
    """(min, max) of every block's size over all output sizes ``lo .. hi`` along one axis."""
    mins: list[int] | None = None
    maxs: list[int] = []
    for n in range(lo, hi + 1):
        sizes = rule.block_sizes_1d(n)
        if mins is None:
            mins, maxs = list(sizes), list(sizes)
        else:
            mins = [min(a, b) for a, b in zip(mins, sizes)]
            maxs = [max(a, b) for a, b in zip(maxs, sizes)]
    assert mins is not None
    return tuple(zip(mins, maxs))


def dim_ranges(rule: SizeRule, rng: ResolutionRange) -> dict[str, tuple[int, int, int]]:
    """Every named dynamic dim → (min, opt, max): ``batch``, ``h<b>``, ``w<b>``."""
    dims: dict[str, tuple[int, int, int]] = {"batch": (1, rng.opt_batch, rng.max_batch)}
    for axis, prefix in ((0, "h"), (1, "w")):
        bounds = _axis_bounds(rule, rng.min_res[axis], rng.max_res[axis])
        opt = rule.block_sizes_1d(rng.opt_res[axis])
        for b, ((lo, hi), o) in enumerate(zip(bounds, opt)):
            dims[f"{prefix}{b}"] = (lo, o, hi)
    return dims


@dataclass(frozen=True)
class InputShapes:
    """min/opt/max shape of one graph input (``trtexec --minShapes name:1x2x4x4`` etc.)."""

    name: str
    min: tuple[int, ...]
    opt: tuple[int, ...]
    max: tuple[int, ...]

    def get(self, which: str) -> tuple[int, ...]:
        return {"min": self.min, "opt": self.opt, "max": self.max}[which]

    def contains(self, shape: Sequence[int]) -> bool:
        return len(shape) == len(self.min) and all(lo <= s <= hi for lo, s, hi in zip(self.min, shape, self.max))

    def to_manifest(self) -> dict[str, list[int]]:
        return {"min": list(self.min), "opt": list(self.opt), "max": list(self.max)}


def input_shapes(inputs: Sequence[Mapping[str, Any]], dims: Mapping[str, tuple[int, int, int]]) -> list[InputShapes]:
    """Shapes of a graph's inputs (manifest ``graphs.<g>.inputs``: name and shape with dim names)."""
    out = []
    for inp in inputs:
        per = {"min": [], "opt": [], "max": []}  # type: dict[str, list[int]]
        for d in inp["shape"]:
            if isinstance(d, int) or (isinstance(d, str) and d.isdigit()):
                v = (int(d),) * 3
            elif d in dims:
                v = dims[d]
            else:
                raise ValueError(f"input {inp['name']} has dim {d!r} that no profile defines")
            for k, x in zip(("min", "opt", "max"), v):
                per[k].append(int(x))
        out.append(InputShapes(inp["name"], tuple(per["min"]), tuple(per["opt"]), tuple(per["max"])))
    return out


@dataclass(frozen=True)
class Profile:
    """One optimization profile of every graph: the range and the shapes it implies."""

    range: ResolutionRange
    graphs: dict[str, list[InputShapes]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.range.name

    def to_manifest(self) -> dict[str, Any]:
        return {
            **self.range.to_manifest(),
            "shapes": {g: {s.name: s.to_manifest() for s in shapes} for g, shapes in self.graphs.items()},
        }

    @classmethod
    def from_manifest(cls, d: Mapping[str, Any]) -> "Profile":
        graphs = {
            g: [InputShapes(n, tuple(s["min"]), tuple(s["opt"]), tuple(s["max"])) for n, s in shapes.items()]
            for g, shapes in d.get("shapes", {}).items()
        }
        return cls(ResolutionRange.from_manifest(d), graphs)

    def accepts(self, graph: str, feeds: Mapping[str, Sequence[int]]) -> bool:
        """Whether input shapes ``{name: shape}`` of ``graph`` fall inside this profile."""
        shapes = {s.name: s for s in self.graphs.get(graph, [])}
        return all(name in shapes and shapes[name].contains(shape) for name, shape in feeds.items())


def build_profile(layout: GridLayout, graph_inputs: Mapping[str, Sequence[Mapping[str, Any]]], rng: ResolutionRange) -> Profile:
    """The profile of every graph (``{graph name: manifest inputs}``) for one range."""
    dims = dim_ranges(layout.size_rule, rng)
    return Profile(rng, {g: input_shapes(inputs, dims) for g, inputs in graph_inputs.items()})


def trtexec_shapes(shapes: Sequence[InputShapes], which: str) -> str:
    """``name:1x2x4x4,name2:8`` for ``trtexec --minShapes/--optShapes/--maxShapes``."""
    return ",".join(f"{s.name}:{'x'.join(str(d) for d in s.get(which))}" for s in shapes)
