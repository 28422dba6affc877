"""Interpolation in INR form (torch-free): blend two images' θ, or their latents.

The paper's point: a generated image is a function whose parameters θ the hypernetwork
predicts, so two images can be blended in θ (sharp where a pixel blend ghosts). θ is split
into the segments the manifest's ``theta_layout`` names (``b0.layer0``, ``b2_64.conv1``, ...),
never by family: ``layers=`` picks which segments travel from ``a`` to ``b`` (the rest stay
``a``'s), which for the sg2 family, whose θ holds per-layer styles, is style mixing.

    with open_bundle("tiny_onnx/") as g:
        for theta in interpolate(g, z_a, z_b, steps=8):                   # θ-space lerp
            ...
        frames = list(interpolate(g, z_a, z_b, 8, space="latent", size=(64, 64)))  # slerp in z
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from ..core.errors import InputValueError, ShapeError, UsageError
from ..core.grid import Window

SPACES = ("theta", "latent")
METHODS = ("lerp", "slerp")
#: the default blend per space: Gaussian latents keep their norm under slerp (a lerp midpoint
#: of two N(0, I) draws has ~0.7 of their norm, off the prior's shell); θ is not Gaussian
DEFAULT_METHOD = {"theta": "lerp", "latent": "slerp"}
#: frames of one interpolation or animation request (a contact strip or stack of 4096 frames
#: is already far larger than anyone views)
MAX_STEPS = 4096


@dataclass(frozen=True)
class ThetaSegment:
    """A contiguous slice of θ consumed by one INR module (the manifest's ``theta_layout`` entry)."""

    name: str
    offset: int
    size: int
    kind: str = ""

    @property
    def end(self) -> int:
        return self.offset + self.size


def theta_layout(g: Any) -> tuple[ThetaSegment, ...]:
    """The θ segments of a generator: its bundle manifest's ``theta_layout`` or, for the
    PyTorch reference, its model's segments (the list the exporter writes to the manifest)."""
    raw = None
    bundle = getattr(g, "bundle", None)
    if bundle is not None:
        raw = bundle.manifest.get("theta_layout")
    elif getattr(g, "model", None) is not None and hasattr(g.model, "theta_segments"):
        raw = g.model.theta_segments
    if not raw:
        raise UsageError(f"this {getattr(g, 'backend', '')} generator records no theta_layout; θ segments cannot be named")
    segs = tuple(
        ThetaSegment(str(_field(s, "name")), int(_field(s, "offset")), int(_field(s, "size")), str(_field(s, "kind", "")))
        for s in raw
    )
    dim = g.interface.theta_dim
    covered = np.zeros(dim, dtype=bool)
    for s in segs:
        if s.size < 1 or s.offset < 0 or s.end > dim or covered[s.offset:s.end].any():
            raise ShapeError(f"theta_layout segment {s.name} [{s.offset}, {s.end}) does not fit θ of {dim} values "
                             "(segments must be disjoint and within theta_dim)")
        covered[s.offset:s.end] = True
    return segs


def _field(s: Any, name: str, default: Any = None) -> Any:
    return s.get(name, default) if isinstance(s, dict) else getattr(s, name, default)


def layer_mask(segments: Sequence[ThetaSegment], theta_dim: int, layers: Sequence[str] | None) -> np.ndarray:
    """Boolean [theta_dim]: the values that come from ``b``. ``None``: all of θ; each name is a
    segment name or a prefix up to a dot (``b1`` selects ``b1.fourier``, ``b1.layer0``, ...)."""
    mask = np.zeros(theta_dim, dtype=bool)
    if layers is None:
        mask[:] = True
        return mask
    names = [s.name for s in segments]
    for name in layers:
        hits = [s for s in segments if s.name == name or s.name.startswith(name + ".")]
        if not hits:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            shown = ", ".join(names[:12]) + (f", ... ({len(names)} in all)" if len(names) > 12 else "")
            raise UsageError(f"θ layer {name!r} is not in this generator's theta_layout{hint} (valid: {shown}, "
                             "or a prefix such as b0)")
        for s in hits:
            mask[s.offset:s.end] = True
    return mask


def lerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """(1 - t)·a + t·b, computed as a + t·(b - a) in float64 (exact a at t = 0)."""
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if t == 1.0:
        return b64.copy()
    return a64 + t * (b64 - a64)


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation along each row (Shoemake): the angle moves linearly and the
    norm moves linearly from |a| to |b|; falls back to lerp for (nearly) parallel rows."""
    if t in (0.0, 1.0):
        return np.array(np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))[int(t)])
    a64, b64 = np.atleast_2d(np.asarray(a, np.float64)), np.atleast_2d(np.asarray(b, np.float64))
    out = np.empty(np.broadcast_shapes(a64.shape, b64.shape))
    for i, (x, y) in enumerate(zip(np.broadcast_to(a64, out.shape), np.broadcast_to(b64, out.shape))):
        nx, ny = np.linalg.norm(x), np.linalg.norm(y)
        if nx == 0 or ny == 0:
            out[i] = lerp(x, y, t)
            continue
        cos = float(np.clip(np.dot(x / nx, y / ny), -1.0, 1.0))
        omega = math.acos(cos)
        if omega < 1e-6 or math.pi - omega < 1e-6:  # parallel or opposite: no unique great circle
            out[i] = lerp(x, y, t)
            continue
        s = math.sin(omega)
        direction = (math.sin((1 - t) * omega) / s) * (x / nx) + (math.sin(t * omega) / s) * (y / ny)
        out[i] = direction * ((1 - t) * nx + t * ny)
    return out.reshape(np.broadcast_shapes(np.shape(a), np.shape(b)))


BLENDS = {"lerp": lerp, "slerp": slerp}


def steps_ts(steps: int) -> np.ndarray:
    """``steps`` values of t from 0 to 1, both ends included (t_k = k / (steps - 1))."""
    check_steps(steps)
    if steps == 1:
        return np.zeros(1)
    return np.arange(steps) / (steps - 1)


def check_steps(steps: Any, what: str = "steps") -> int:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= MAX_STEPS:
        raise UsageError(f"{what} {steps!r} must be an integer in 1..{MAX_STEPS}")
    return int(steps)


def check_ts(ts: Sequence[float], extrapolate: bool = False) -> np.ndarray:
    arr = np.asarray(ts, dtype=np.float64).reshape(-1)
    if arr.size == 0 or arr.size > MAX_STEPS:
        raise UsageError(f"{arr.size} values of t given; need 1..{MAX_STEPS}")
    bad = arr[~np.isfinite(arr)]
    if bad.size:
        raise UsageError(f"t = {bad[0]} is not a finite number")
    if not extrapolate:
        out = arr[(arr < 0) | (arr > 1)]
        if out.size:
            raise UsageError(f"t = {out[0]:g} is outside [0, 1]; pass --extrapolate-t (extrapolate=True) to go beyond the endpoints")
    return arr


def check_endpoints(a: np.ndarray, b: np.ndarray, what: tuple[str, str] = ("a", "b")) -> None:
    if a.shape != b.shape:
        raise ShapeError(f"{what[0]} has shape {list(a.shape)} but {what[1]} has {list(b.shape)}; both ends need the same latent size")
    if np.array_equal(a, b):
        raise InputValueError(f"{what[0]} and {what[1]} are the same latent: nothing to interpolate (choose two different ones)")


@dataclass(frozen=True)
class Interpolation:
    """How two endpoints are blended; validated against a generator by :func:`plan`."""

    space: str = "theta"
    method: str | None = None  # None: DEFAULT_METHOD[space]
    layers: tuple[str, ...] | None = None  # θ segments taken from b (None: all)

    def __post_init__(self) -> None:
        if self.space not in SPACES:
            raise UsageError(f"interpolation space {self.space!r} is not one of {', '.join(SPACES)}")
        if self.method is not None and self.method not in METHODS:
            raise UsageError(f"interpolation method {self.method!r} is not one of {', '.join(METHODS)}")
        if self.layers is not None and self.space != "theta":
            raise UsageError("layer mixing selects θ segments: it needs space theta (--space theta), not latent")

    @property
    def blend(self):
        return BLENDS[self.method or DEFAULT_METHOD[self.space]]


class Blender:
    """Two endpoints prepared once (their θ, the layer mask); :meth:`theta` gives θ at any t."""

    def __init__(self, g: Any, a: np.ndarray, b: np.ndarray, how: Interpolation = Interpolation(),
                 extra: Sequence[np.ndarray] = ()) -> None:
        self.g, self.how, self.extra = g, how, tuple(extra)
        self.za = g.check_latents(a)[:1]
        self.zb = g.check_latents(b)[:1]
        check_endpoints(self.za, self.zb)
        dim = g.interface.theta_dim
        self.mask = None if how.layers is None else layer_mask(theta_layout(g), dim, how.layers)
        if how.space == "theta":
            # one hypernetwork run per endpoint, as a single render does: t = 0 and 1 are then
            # bit-identical to rendering a and b (a batch of two may take other kernels)
            self.theta_a = g.hypernet(self.za, *self.extra)
            self.theta_b = g.hypernet(self.zb, *self.extra)

    def theta(self, t: float) -> np.ndarray:
        """θ [1, theta_dim] at t. θ space: t = 0 and 1 give a's and b's θ exactly."""
        if self.how.space == "latent":
            z = self.how.blend(self.za, self.zb, t).astype(np.float32)
            return self.g.hypernet(z, *self.extra)
        if t == 0.0:
            return self.theta_a.copy()
        if t == 1.0 and self.mask is None:
            return self.theta_b.copy()
        out = self.theta_a.copy()
        sel = slice(None) if self.mask is None else self.mask
        if self.mask is None or self.mask.any():
            out[:, sel] = self.how.blend(self.theta_a[:, sel], self.theta_b[:, sel], t).astype(np.float32)
        return out


def interpolate(g: Any, a: np.ndarray, b: np.ndarray, steps: int | None = None, space: str = "theta",
                method: str | None = None, layers: Sequence[str] | None = None, *, ts: Sequence[float] | None = None,
                extrapolate: bool = False, size: Sequence[int] | None = None,
                window: Window | Sequence[float] | None = None, extra: Sequence[np.ndarray] = ()) -> Iterator[np.ndarray]:
    """Yield θ [1, theta_dim] per step from latent ``a`` to ``b`` (both [1, z_dim] or [z_dim]),
    or images [1, 3, H, W] when ``size`` is given. ``steps`` frames include both ends
    (t = k / (steps - 1)); ``ts`` gives the t values instead (outside [0, 1] only with
    ``extrapolate``). ``space``: "theta" blends the hypernetwork's outputs, "latent" blends
    the latents (slerp by default) and runs the hypernetwork per step."""
    how = Interpolation(space, method, None if layers is None else tuple(layers))
    if ts is None:
        if steps is None:
            raise UsageError("interpolate needs steps or ts")
        values = steps_ts(check_steps(steps))
    else:
        values = check_ts(ts, extrapolate)
    blender = Blender(g, np.asarray(a), np.asarray(b), how, extra)
    grid = g.grid(size, window) if size is not None else None
    for t in values:
        theta = blender.theta(float(t))
        yield theta if grid is None else g.render_on(theta, grid)


def walk_ts(keys: int, frames: int) -> list[tuple[int, float]]:
    """``frames`` points spread evenly over a walk through ``keys`` keyframes: (segment, local t)
    pairs, the first at key 0 and the last at the final key."""
    check_steps(frames, "frames")
    if keys < 2:
        raise UsageError("a walk needs at least two keyframes")
    out = []
    for k in range(frames):
        u = 0.0 if frames == 1 else k * (keys - 1) / (frames - 1)
        seg = min(int(math.floor(u)), keys - 2)
        out.append((seg, u - seg))
    return out


__all__ = ["Blender", "DEFAULT_METHOD", "Interpolation", "MAX_STEPS", "METHODS", "SPACES", "ThetaSegment", "check_endpoints",
           "check_steps", "check_ts", "interpolate", "layer_mask", "lerp", "slerp", "steps_ts", "theta_layout", "walk_ts"]
