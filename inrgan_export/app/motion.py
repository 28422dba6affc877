"""``render --interpolate`` and ``render --animate``: sequences of frames from one bundle or
checkpoint, written as a contact strip (.png), a stack (.npy [N, 3, H, W]) or an animation
(.webp and .mp4 streamed, .gif, .apng).

Keyframes are seeds (``3``: ``RandomState(3).randn(1, z_dim)``, as ``--seed``), bank rows
(``bank:2``) or rows of a latent file (``walk.npy:5``)."""
from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..core.errors import InputValueError, ShapeError, UsageError
from ..core.grid import Window, check_size
from ..core.log import info, progress, step
from .options import RenderOptions
from .animation import (DEFAULT_PAN, DEFAULT_ZOOM, DEFAULT_ZOOM_CENTER, AnimationSpec, animation_format,
                                check_budget, check_frames, pan_windows, write_animation, zoom_windows)
from .interpolation import (METHODS, SPACES, Blender, Interpolation, check_endpoints, check_steps, check_ts,
                                    steps_ts, walk_ts)

ANIMATIONS = ("interp", "zoom", "pan")
MAX_KEYS = 64


@dataclass(frozen=True)
class MotionOptions:
    """The motion part of ``render`` (the rest is :class:`RenderOptions`)."""

    keys: tuple[str, ...] | None = None  # --interpolate A,B[,C...]
    steps: int | None = None  # frames per keyframe pair, both ends included
    ts: tuple[float, ...] | None = None  # explicit t values (two keyframes)
    space: str = "theta"
    method: str | None = None
    mix_layers: tuple[str, ...] | None = None
    extrapolate_t: bool = False
    animate: str | None = None  # interp | zoom | pan
    frames: int | None = None
    fps: float = 24.0
    loop: int = 0
    zoom: float = DEFAULT_ZOOM
    zoom_center: tuple[float, float] = DEFAULT_ZOOM_CENTER

    def interpolation(self) -> Interpolation:
        return Interpolation(self.space, self.method, self.mix_layers)


def add_motion_arguments(r: argparse.ArgumentParser) -> None:
    m = r.add_argument_group("interpolation and animation")
    m.add_argument("--interpolate", default=None, metavar="A,B[,C...]",
                   help="keyframes to interpolate: seeds, bank:N (latent bank rows) or FILE.npy:N; writes a strip .png, "
                        "a .npy stack [N,3,H,W] or an animation (.webp/.gif/.apng; .mp4 with the video extra)")
    m.add_argument("--steps", type=int, default=None, help="frames per keyframe pair, both ends included (default 8)")
    m.add_argument("--t", default=None, metavar="T[,T...]", help="explicit t values instead of --steps (two keyframes)")
    m.add_argument("--space", choices=list(SPACES), default=None, help="blend θ (default) or the latents")
    m.add_argument("--method", choices=list(METHODS), default=None, help="default: lerp in θ, slerp in latent space")
    m.add_argument("--mix-layers", default=None, metavar="NAMES",
                   help="θ segments (manifest theta_layout names or prefixes, e.g. b0.layer0,b1) taken from B; the rest stay A's")
    m.add_argument("--extrapolate-t", action="store_true", help="allow t outside [0, 1] in --t")
    m.add_argument("--animate", choices=list(ANIMATIONS), default=None,
                   help="interp: a latent walk; zoom: towards a point far past native resolution; pan: past the image border")
    m.add_argument("--frames", type=int, default=None, help="frames of --animate (default 48)")
    m.add_argument("--fps", type=float, default=None, help="animation frame rate (default 24)")
    m.add_argument("--loop", type=int, default=None, help="animation loop count (default 0 = forever)")
    m.add_argument("--zoom", type=float, default=None, metavar="FACTOR", help=f"--animate zoom: total zoom (default {DEFAULT_ZOOM:g})")
    m.add_argument("--zoom-center", default=None, metavar="X,Y",
                   help="--animate zoom: the point zoomed into, native-image units (default %s)" % ",".join(map(str, DEFAULT_ZOOM_CENTER)))


def motion_options(args: argparse.Namespace) -> MotionOptions | None:
    """The motion options of a parsed ``render`` command, or None when it asks for no motion
    (then every motion-only option is refused)."""
    if args.interpolate is None and args.animate is None:
        given = [f"--{n.replace('_', '-')}" for n in ("steps", "t", "space", "method", "mix_layers", "frames", "fps", "loop",
                                                       "zoom", "zoom_center") if getattr(args, n) is not None]
        given += ["--extrapolate-t"] if args.extrapolate_t else []
        if given:
            raise UsageError(f"{given[0]} needs --interpolate A,B or --animate interp|zoom|pan")
        return None
    if args.interpolate is not None and (args.seed is not None or args.latent is not None or args.latent_bank is not None):
        raise UsageError("--interpolate names its own keyframes; drop --seed/--latent/--latent-bank (use 3, bank:3 or FILE.npy:3 in the list)")
    if args.contact_sheet:
        raise UsageError("--contact-sheet renders one latent; it does not combine with --interpolate or --animate")
    interp = args.interpolate is not None or args.animate == "interp"
    if not interp:
        for flag, value in (("--steps", args.steps), ("--t", args.t), ("--space", args.space), ("--method", args.method),
                            ("--mix-layers", args.mix_layers)):
            if value is not None:
                raise UsageError(f"{flag} applies to interpolation; --animate {args.animate} moves the view of one latent")
    if args.animate is None and args.frames is not None:
        raise UsageError("--frames needs --animate (an --interpolate strip has --steps frames per keyframe pair)")
    if args.animate is not None and args.steps is not None:
        raise UsageError("--steps is for --interpolate; an animation has --frames N frames in all")
    if args.animate != "zoom" and (args.zoom is not None or args.zoom_center is not None):
        raise UsageError("--zoom and --zoom-center need --animate zoom")
    if args.t is not None and args.steps is not None:
        raise UsageError("--t and --steps both choose the t values; give one")
    if args.extrapolate_t and args.t is None:
        raise UsageError("--extrapolate-t applies to the values of --t")
    ts = None
    if args.t is not None:
        if args.animate is not None:
            raise UsageError("--t is for --interpolate strips and stacks; an animation spreads --frames over the walk")
        try:
            ts = tuple(float(v) for v in args.t.split(","))
        except ValueError:
            raise UsageError(f"--t {args.t!r} is not a list of numbers (e.g. 0,0.25,0.5)") from None
        ts = tuple(check_ts(ts, args.extrapolate_t))
    steps = check_steps(args.steps, "--steps") if args.steps is not None else None
    frames = check_frames(args.frames) if args.frames is not None else None
    fps = 24.0 if args.fps is None else args.fps
    if not (math.isfinite(fps) and 0.1 <= fps <= 100):
        raise UsageError(f"--fps {args.fps!r} must be a number in 0.1..100")
    loop = 0 if args.loop is None else args.loop
    if not 0 <= loop <= 65535:
        raise UsageError(f"--loop {loop} must be in 0..65535 (0 = forever)")
    zoom = DEFAULT_ZOOM if args.zoom is None else args.zoom
    center = DEFAULT_ZOOM_CENTER
    if args.zoom_center is not None:
        try:
            center = tuple(float(v) for v in args.zoom_center.split(","))
        except ValueError:
            center = ()
        if len(center) != 2 or not all(math.isfinite(v) for v in center):
            raise UsageError(f"--zoom-center {args.zoom_center!r} is not X,Y (e.g. 0.5,0.5)")
    keys = None
    if args.interpolate is not None:
        keys = tuple(k.strip() for k in args.interpolate.split(","))
        if len(keys) < 2 or len(keys) > MAX_KEYS or not all(keys):
            raise UsageError(f"--interpolate {args.interpolate!r} needs 2..{MAX_KEYS} keyframes A,B[,C...] "
                             "(seeds, bank:N or FILE.npy:N)")
        if ts is not None and len(keys) != 2:
            raise UsageError("--t gives t between two keyframes; a walk through more uses --steps")
    mix = None
    if args.mix_layers is not None:
        mix = tuple(n.strip() for n in args.mix_layers.split(",") if n.strip())
    return MotionOptions(keys=keys, steps=steps, ts=ts, space=args.space or "theta", method=args.method, mix_layers=mix,
                         extrapolate_t=args.extrapolate_t, animate=args.animate, frames=frames, fps=fps, loop=loop,
                         zoom=zoom, zoom_center=center)


# ------------------------------------------------------------------ keyframes
def keyframe_latent(key: str, z_dim: int, bank_of: Callable[[], dict | None], source: str) -> np.ndarray:
    """One keyframe → latent [1, z_dim]: ``7`` (seed), ``bank:N`` or ``FILE.npy:N``."""
    from ..core.latents import latent_from_seed, load_latents, parse_seeds

    if key.lower().startswith("bank:"):
        from ..core.latent_bank import select

        row = key[5:]
        if not row.isdigit():
            raise UsageError(f"keyframe {key!r}: bank:N takes one row index (e.g. bank:3)")
        z, _ = select(bank_of(), row, source)
        if z.shape[1] != z_dim:
            raise ShapeError(f"keyframe {key}: {source}'s latent bank has width {z.shape[1]}, the generator takes {z_dim}")
        return z
    if ":" in key and key.rsplit(":", 1)[0].lower().endswith(".npy"):
        path, row = key.rsplit(":", 1)
        if not row.isdigit():
            raise UsageError(f"keyframe {key!r}: FILE.npy:N takes one row index (e.g. walk.npy:0)")
        z = load_latents(path, z_dim)
        if int(row) >= z.shape[0]:
            raise InputValueError(f"keyframe {key}: row {row} is out of range; {path} has {z.shape[0]} latents (0-{z.shape[0] - 1})")
        return z[int(row) : int(row) + 1]
    if key.isdigit():
        return latent_from_seed(parse_seeds(key)[0], z_dim)
    raise UsageError(f"keyframe {key!r} is not a seed, bank:N or FILE.npy:N (e.g. --interpolate 3,bank:0,walk.npy:2)")


# ------------------------------------------------------------------ frames
@dataclass
class Frames:
    """A sequence of frames rendered on demand: ``render(i)`` → float32 [1, 3, H, W]."""

    count: int
    size: tuple[int, int]
    render: Callable[[int], np.ndarray]
    label: str


def interpolation_frames(gen, latents: list[np.ndarray], mo: MotionOptions, size, window, extra) -> Frames:
    how = mo.interpolation()
    for i in range(len(latents) - 1):
        check_endpoints(latents[i], latents[i + 1], (f"keyframe {i + 1} ({mo_keys(mo)[i]})", f"keyframe {i + 2} ({mo_keys(mo)[i + 1]})"))
    blenders = [Blender(gen, latents[i], latents[i + 1], how, extra) for i in range(len(latents) - 1)]
    if mo.animate is not None:
        points = walk_ts(len(latents), mo.frames or 48)
    elif mo.ts is not None:
        points = [(0, t) for t in mo.ts]
    else:
        ts = steps_ts(mo.steps or 8)
        points = [(0, 0.0)] + [(seg, float(t)) for seg in range(len(blenders)) for t in ts[1:]]
    grid = gen.grid(size, window)
    label = f"{len(points)} frames through {len(latents)} keyframes in {how.space} space ({how.blend.__name__})"
    return Frames(len(points), size, lambda i: gen.render_on(blenders[points[i][0]].theta(points[i][1]), grid), label)


def mo_keys(mo: MotionOptions) -> tuple[str, ...]:
    return mo.keys or ()


def view_frames(gen, z: np.ndarray, mo: MotionOptions, size, window: Window, extra) -> Frames:
    theta = gen.hypernet(z[:1], *extra)
    n = mo.frames or 48
    if mo.animate == "zoom":
        windows = zoom_windows(n, mo.zoom, mo.zoom_center, window)
        label = f"{n} frames zooming x{mo.zoom:g} towards {mo.zoom_center[0]:g},{mo.zoom_center[1]:g}"
    else:
        windows = pan_windows(n, DEFAULT_PAN, window)
        label = f"{n} frames panning from x{DEFAULT_PAN[0]:+g} to x{DEFAULT_PAN[1]:+g} image widths"
    return Frames(n, size, lambda i: gen.render(theta, size, windows[i]), label)


# ------------------------------------------------------------------ the command
def render_motion(opts: RenderOptions, mo: MotionOptions) -> list[Path]:
    from ..core.imageio import check_outputs
    from .render import open_source, source_bank, truncation_inputs

    out = opts.out
    anim = animation_format(out)
    if anim is None and out.suffix.lower() not in (".png", ".npy"):
        raise UsageError(f"output {out} must end in .png (strip), .npy (stack) or .webp, .gif, .apng, .mp4 (animation)")
    if anim is None and (mo.fps != 24.0 or mo.loop != 0):
        raise UsageError("--fps and --loop apply to animated outputs (.webp, .gif, .apng, .mp4)")
    check_outputs([out], opts.force)
    bank_cache: list = []

    def bank_of():
        if not bank_cache:
            bank_cache.append(source_bank(opts.source))
        return bank_cache[0]

    gen = open_source(opts.source, opts.backend, opts.device, opts.max_memory, opts.threads, opts.allow_failed_parity)
    iface = gen.interface
    size = check_size(opts.size or iface.native_size)
    gen.check_size_range(size)
    extra = truncation_inputs(iface, opts.truncation, 1)
    if mo.animate in ("zoom", "pan"):
        z = single_latent(opts, iface.z_dim, bank_of)
        frames = view_frames(gen, z, mo, size, opts.window, extra)
    else:
        if mo.keys is not None:
            keys = mo.keys
            latents = [keyframe_latent(k, iface.z_dim, bank_of, opts.source) for k in keys]
        elif opts.latent is not None or opts.latent_bank is not None:  # --animate interp through these rows
            z = source_latents(opts, iface.z_dim, bank_of)
            if z.shape[0] < 2:
                raise UsageError("--animate interp walks through two or more latents; this --latent/--latent-bank gives one "
                                 "(or use --interpolate A,B)")
            latents = [z[i : i + 1] for i in range(z.shape[0])]
            mo = MotionOptions(**{**mo.__dict__, "keys": tuple(f"row {i}" for i in range(z.shape[0]))})
        else:  # --animate interp from --seed S (to S + 1) or through a seed list
            seeds = list(opts.seeds or (0,))
            if len(seeds) == 1:
                seeds.append(seeds[0] + 1)
            keys = tuple(str(s) for s in seeds)
            latents = [keyframe_latent(k, iface.z_dim, bank_of, opts.source) for k in keys]
            mo = MotionOptions(**{**mo.__dict__, "keys": keys})
        frames = interpolation_frames(gen, latents, mo, size, opts.window, extra)
    h, w = size
    budget = gen.max_memory
    spec = AnimationSpec(out, frames.count, size, mo.fps, mo.loop) if anim else None
    if spec is not None:
        check_budget(spec, budget)
    elif out.suffix.lower() == ".png" and 2 * frames.count * h * w * 3 > budget:
        raise InputValueError(f"a strip of {frames.count} frames at {h}x{w} needs {2 * frames.count * h * w * 3:,} bytes, over "
                              f"the budget of {budget:,} (--max-memory); write .npy or .webp, which stream")
    with gen, step(f"rendering {frames.label} at {h}x{w} with {gen.backend} → {out}", out):
        with progress(frames.count, "frames") as bar:
            def pixels(i: int) -> np.ndarray:
                from ..core.imageio import check_finite, to_uint8

                img = frames.render(i)
                if not opts.allow_nonfinite:
                    check_finite(img, [f"frame{i:04d}"])
                bar.update(1)
                return to_uint8(img, iface.display)[0]

            if spec is not None:
                write_animation(spec, pixels, budget)
            elif out.suffix.lower() == ".npy":
                write_stack(out, frames, opts, bar)
            else:
                write_strip(out, frames.count, size, pixels)
    info(f"wrote {out}")
    return [out]


def single_latent(opts: RenderOptions, z_dim: int, bank_of) -> np.ndarray:
    z = source_latents(opts, z_dim, bank_of)
    if z.shape[0] != 1:
        raise UsageError(f"--animate zoom/pan moves the view of one latent; {z.shape[0]} were given")
    return z


def source_latents(opts: RenderOptions, z_dim: int, bank_of) -> np.ndarray:
    """The latents of --seed, --latent or --latent-bank, as ``render`` reads them."""
    from ..core.latents import load_latents

    if opts.latent_bank is not None:
        from ..core.latent_bank import select

        z, _ = select(bank_of(), opts.latent_bank, opts.source)
    elif opts.latent is not None:
        z = load_latents(opts.latent, z_dim)
    else:
        from ..core.latents import latents_from_seeds

        z = latents_from_seeds(list(opts.seeds or (0,)), z_dim)
    if z.shape[1] != z_dim:
        raise ShapeError(f"the latent has width {z.shape[1]}, the generator takes {z_dim}")
    return z


def write_stack(out: Path, frames: Frames, opts: RenderOptions, bar) -> None:
    """[N, 3, H, W] float32 written frame by frame into a memory map, published at the end."""
    from ..core.imageio import check_finite, discard, publish_all, temp_path, write_error

    h, w = frames.size
    tmp = temp_path(out)
    pairs = [(tmp, out)]
    try:
        arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(frames.count, 3, h, w))
        for i in range(frames.count):
            arr[i : i + 1] = frames.render(i)
            if not opts.allow_nonfinite:
                check_finite(arr[i : i + 1], [f"frame{i:04d}"])
            bar.update(1)
        arr.flush()
        del arr
    except OSError as e:
        discard(pairs)
        raise write_error(out, e) from None
    except BaseException:
        discard(pairs)
        raise
    publish_all(pairs, opts.force)


def write_strip(out: Path, count: int, size: tuple[int, int], pixels: Callable[[int], np.ndarray]) -> None:
    """The frames side by side, left to right, in one PNG."""
    from PIL import Image

    from ..core.imageio import _atomic_write

    h, w = size
    strip = np.empty((h, count * w, 3), dtype=np.uint8)
    for i in range(count):
        strip[:, i * w : (i + 1) * w] = pixels(i)
    _atomic_write(out, lambda tmp: Image.fromarray(strip, "RGB").save(tmp, format="PNG"))
