"""Motion a continuous image allows (torch-free): window sequences for an infinite zoom and a
pan past the border, and animated files written frame by frame.

WebP is streamed: Pillow is handed one lazy multi-frame image whose ``seek(i)`` renders frame
i, so only the frame being encoded is in memory whatever the frame count. Pillow's GIF and
APNG writers keep every frame (to merge repeats and compute deltas), so their cost is
checked against the memory budget before any work. MP4 (H.264) goes through PyAV, whose
wheels bundle FFmpeg and x264 (GPL): the optional ``video`` extra, streamed like WebP.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..core.errors import InputValueError, UsageError
from ..core.grid import Window

#: animated outputs Pillow writes: suffix → (Pillow format, streamed)
FORMATS = {".webp": ("WEBP", True), ".gif": ("GIF", False), ".apng": ("PNG", False), ".mp4": ("MP4", True)}
#: bytes per pixel and frame the in-memory writers hold (RGB copies, palette images and deltas; measured
#: below 4 for Pillow 13's GIF and APNG writers)
HELD_BYTES_PER_PIXEL = 4
MAX_FRAMES = 100_000
#: default zoom: the window shrinks by this factor over the animation, far past native resolution
#: (a 32x32 frame ends at the detail of a 4096x4096 render)
DEFAULT_ZOOM = 128.0
#: default zoom target, in native-image units: off-centre, so the view crosses structure
DEFAULT_ZOOM_CENTER = (0.37, 0.41)
#: default pan: the unit window slides by this many image widths, from left of the image to its right
DEFAULT_PAN = (-1.0, 1.0)


def zoom_windows(frames: int, factor: float = DEFAULT_ZOOM, center: Sequence[float] = DEFAULT_ZOOM_CENTER,
                 start: Window = Window()) -> list[Window]:
    """``frames`` windows shrinking geometrically towards ``center`` (a fixed point of every
    window): frame k is ``start`` scaled about ``center`` by ``factor ** (-k / (frames - 1))``."""
    check_frames(frames)
    if not (math.isfinite(factor) and factor > 0 and factor != 1):
        raise UsageError(f"zoom factor {factor!r} must be a positive number other than 1 (e.g. 128; < 1 zooms out)")
    cx, cy = (float(v) for v in center)
    out = []
    for k in range(frames):
        s = factor ** (-(k / (frames - 1) if frames > 1 else 0.0))
        out.append(Window(cx + (start.x0 - cx) * s, cy + (start.y0 - cy) * s, cx + (start.x1 - cx) * s, cy + (start.y1 - cy) * s))
    return out


def pan_windows(frames: int, span: Sequence[float] = DEFAULT_PAN, start: Window = Window()) -> list[Window]:
    """``frames`` copies of ``start`` moved along x from ``span[0]`` to ``span[1]`` image widths
    (the default goes from left of the image, across it, to its right: extrapolation)."""
    check_frames(frames)
    a, b = (float(v) for v in span)
    out = []
    for k in range(frames):
        dx = a + (b - a) * (k / (frames - 1) if frames > 1 else 0.0)
        out.append(Window(start.x0 + dx, start.y0, start.x1 + dx, start.y1))
    return out


def check_frames(frames: object) -> int:
    if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)) or not 1 <= frames <= MAX_FRAMES:
        raise UsageError(f"--frames {frames!r} must be an integer in 1..{MAX_FRAMES}")
    return int(frames)


@dataclass(frozen=True)
class AnimationSpec:
    """One animated output: where, how many frames of which size, and its timing."""

    out: Path
    frames: int
    size: tuple[int, int]  # (H, W)
    fps: float = 24.0
    loop: int = 0  # 0: forever

    @property
    def pillow_format(self) -> str:
        return FORMATS[self.out.suffix.lower()][0]

    @property
    def streamed(self) -> bool:
        return FORMATS[self.out.suffix.lower()][1]

    def held_bytes(self) -> int:
        """Memory the writer holds: one frame streamed, every frame otherwise."""
        h, w = self.size
        return (1 if self.streamed else self.frames) * h * w * HELD_BYTES_PER_PIXEL


def animation_format(out: Path) -> str | None:
    """The animated format of an output path, or None for a still output (.png, .npy)."""
    s = Path(out).suffix.lower()
    if s == ".mp4":
        import av  # noqa: F401  (the video extra; missing: exit 3 naming it, before any work)
    return s if s in FORMATS else None


def check_budget(spec: AnimationSpec, budget: int) -> None:
    """GIF and APNG hold every frame: refuse one that would not fit ``budget`` (one line, before
    any work); an MP4 needs even sides and has no loop count."""
    if spec.pillow_format == "MP4":
        h, w = spec.size
        if h % 2 or w % 2:
            raise UsageError(f"MP4 (H.264, yuv420p) needs an even height and width; got {h}x{w} (e.g. --size {h + h % 2}x{w + w % 2})")
        if spec.loop:
            raise UsageError("--loop applies to .webp, .gif and .apng; an MP4 has no loop count")
    if spec.streamed:
        return
    need = spec.held_bytes()
    if need > budget:
        from ..core.log import human_bytes

        h, w = spec.size
        per = h * w * HELD_BYTES_PER_PIXEL
        fit = max(0, budget // per)
        raise InputValueError(
            f"{spec.out.suffix.lower()[1:].upper()} of {spec.frames} frames at {h}x{w} holds {human_bytes(need)} in memory "
            f"(Pillow keeps every frame), over the budget of {human_bytes(budget)} (--max-memory); "
            f"at most {fit} frames fit, or write .webp, which streams"
        )


def lazy_frames(n: int, size: tuple[int, int], render: Callable[[int], np.ndarray]):
    """A Pillow image with ``n`` frames whose frame i is ``render(i)`` (uint8 [H, W, 3]),
    produced when Pillow seeks to it: only the current frame (and the first, which Pillow
    returns to at the end) is held."""
    from PIL import Image

    class LazyFrames(Image.Image):
        def __init__(self) -> None:
            super().__init__()
            self._mode = "RGB"
            self._size = (size[1], size[0])
            self.n_frames = n
            self.is_animated = n > 1
            self._index = -1
            self._first: np.ndarray | None = None
            self.seek(0)

        def seek(self, frame: int) -> None:
            if not 0 <= frame < n:
                raise EOFError(f"frame {frame} is beyond the last frame {n - 1}")
            if frame == self._index:
                return
            pixels = self._first if frame == 0 and self._first is not None else render(frame)
            if frame == 0:
                self._first = pixels
            h, w = size
            if pixels.shape != (h, w, 3) or pixels.dtype != np.uint8:
                raise ValueError(f"frame {frame} has shape {pixels.shape} {pixels.dtype}; expected ({h}, {w}, 3) uint8")
            self.im = Image.fromarray(np.ascontiguousarray(pixels), "RGB").im
            self._index = frame

        def tell(self) -> int:
            return self._index

    return LazyFrames()


def write_animation(spec: AnimationSpec, render: Callable[[int], np.ndarray], budget: int) -> Path:
    """Write ``spec.frames`` frames from ``render(i)`` (uint8 [H, W, 3]) to ``spec.out``
    atomically (a temporary file renamed at the end: nothing is left on failure)."""
    from ..core.imageio import _atomic_write

    check_budget(spec, budget)
    if spec.pillow_format == "MP4":
        return write_mp4(spec, render)
    if spec.streamed:
        source, rest = lazy_frames(spec.frames, spec.size, render), []
    else:
        # held anyway (checked against the budget above); rendered once here because Pillow's
        # APNG writer walks a multi-frame source twice (once for its modes, once to encode)
        from PIL import Image

        held = [Image.fromarray(render(i), "RGB") for i in range(spec.frames)]
        source, rest = held[0], held[1:]
    duration = 1000.0 / spec.fps
    params: dict = {"format": spec.pillow_format, "save_all": spec.frames > 1, "loop": spec.loop, "append_images": rest}
    if spec.pillow_format == "WEBP":
        params.update(lossless=True, duration=round(duration), method=0)
    elif spec.pillow_format == "GIF":
        params.update(duration=round(duration))
    else:  # APNG
        params.update(duration=duration, default_image=False)
    _atomic_write(spec.out, lambda tmp: source.save(tmp, **params))
    return spec.out


def write_mp4(spec: AnimationSpec, render: Callable[[int], np.ndarray]) -> Path:
    """H.264 (yuv420p, CRF 18) through PyAV, one frame encoded at a time; atomic like the others."""
    from fractions import Fraction

    import av

    from ..core.imageio import _atomic_write

    h, w = spec.size
    check_budget(spec, 0)

    def write(tmp: str) -> None:
        with av.open(tmp, mode="w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=Fraction(spec.fps).limit_denominator(1000))
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            stream.options = {"crf": "18"}
            for i in range(spec.frames):
                for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(render(i)), format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)

    _atomic_write(spec.out, write)
    return spec.out


__all__ = ["AnimationSpec", "DEFAULT_PAN", "DEFAULT_ZOOM", "DEFAULT_ZOOM_CENTER", "FORMATS", "MAX_FRAMES", "animation_format",
           "check_budget", "check_frames", "lazy_frames", "write_mp4", "pan_windows", "write_animation", "zoom_windows"]
