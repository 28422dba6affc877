"""Turning raw outputs into pictures and files: the family's display mapping, PNG and
``.npy`` writing (atomic: temporary file, then rename), PSNR and side-by-side panels."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import OutputError
from .display import DisplayMapping


def to_display_float(images: np.ndarray, display: DisplayMapping) -> np.ndarray:
    lo, hi = display.clamp
    return np.clip(images.astype(np.float64), lo, hi) * display.scale + display.offset


def to_uint8(images: np.ndarray, display: DisplayMapping) -> np.ndarray:
    """[N, 3, H, W] raw → [N, H, W, 3] uint8: clip, scale, offset, round half to even."""
    vals = np.rint(to_display_float(images, display))
    return np.clip(vals, 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)


def psnr(reference: np.ndarray, test: np.ndarray, display: DisplayMapping) -> float:
    """PSNR in dB of the display-mapped images (0..255 scale, before rounding)."""
    a = to_display_float(reference, display)
    b = to_display_float(test, display)
    mse = float(np.mean((a - b) ** 2))
    if mse == 0.0:
        return float("inf")
    return 10.0 * np.log10(255.0**2 / mse)


def _atomic_write(path: Path, write) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"cannot write {path}: directory {parent} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=parent)
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror}") from None
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def output_paths(out: Path, labels: Sequence[str]) -> list[Path]:
    """One path per image: ``out`` itself for one image, ``stem-<label>.ext`` for several."""
    if len(labels) == 1:
        return [out]
    return [out.with_name(f"{out.stem}-{label}{out.suffix}") for label in labels]


def write_images(out: Path, images: np.ndarray, labels: Sequence[str], display: DisplayMapping) -> list[Path]:
    """Write ``.npy`` (raw float32 [N, 3, H, W], one file) or PNG (one file per image)."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix == ".npy":
        # the temporary name ends in .npy, so np.save writes exactly that file
        _atomic_write(out, lambda tmp: np.save(tmp, images.astype(np.float32), allow_pickle=False))
        return [out]
    if suffix != ".png":
        raise OutputError(f"output {out} must end in .png or .npy")
    from PIL import Image

    pixels = to_uint8(images, display)
    paths = output_paths(out, labels)
    for img, path in zip(pixels, paths):
        _atomic_write(path, lambda tmp, img=img: Image.fromarray(img, "RGB").save(tmp, format="PNG"))
    return paths


def panel(images: Sequence[np.ndarray], titles: Sequence[str], path: Path, display: DisplayMapping) -> Path:
    """Side-by-side PNG of [3, H, W] images (raw outputs or already-mapped difference maps)."""
    from PIL import Image, ImageDraw

    tiles = []
    for img in images:
        tiles.append(to_uint8(img[None], display)[0])
    h = max(t.shape[0] for t in tiles)
    scale = max(1, 128 // h)
    tiles = [np.kron(t, np.ones((scale, scale, 1), dtype=np.uint8)) for t in tiles]
    h = max(t.shape[0] for t in tiles)
    w = sum(t.shape[1] for t in tiles) + 4 * (len(tiles) + 1)
    canvas = Image.new("RGB", (w, h + 18), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    x = 4
    for tile, title in zip(tiles, titles):
        canvas.paste(Image.fromarray(tile, "RGB"), (x, 16))
        draw.text((x, 2), title, fill=(0, 0, 0))
        x += tile.shape[1] + 4
    _atomic_write(Path(path), lambda tmp: canvas.save(tmp, format="PNG"))
    return Path(path)
