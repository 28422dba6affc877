"""Turning raw outputs into pictures and files: the family's display mapping, PNG and
``.npy`` writing (atomic: temporary file, then rename), PSNR and side-by-side panels."""
from __future__ import annotations

import os
import struct
import tempfile
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np

from . import signals
from .errors import InputValueError, OutputError
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


def output_kind(out: Path) -> str:
    suffix = Path(out).suffix.lower()
    if suffix not in (".png", ".npy"):
        raise OutputError(f"output {out} must end in .png or .npy")
    return suffix[1:]


def check_outputs(paths: Sequence[Path], force: bool) -> None:
    """Before any work: every output can be created, and none exists unless ``force``."""
    for path in paths:
        parent = path.parent if str(path.parent) else Path(".")
        if path.is_dir():
            raise OutputError(f"output {path} is a directory; choose a file name")
        if path.exists() and not force:
            raise OutputError(f"output {path} exists; pass --force to replace it")
        if not parent.is_dir():
            raise OutputError(f"cannot write {path}: directory {parent} does not exist")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise OutputError(f"cannot write {path}: directory {parent} is not writable")


def temp_path(path: Path) -> Path:
    """A new private temporary file next to ``path`` (same file system: renames are atomic)."""
    parent = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=parent)
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror}") from None
    os.close(fd)
    return Path(tmp)


def publish_all(pairs: Sequence[tuple[Path, Path]], force: bool) -> None:
    """Rename every finished temporary file to its output, all or nothing: on a failure the
    outputs already published by this call are removed again. Without ``force`` a file that
    appeared meanwhile is never replaced (``os.link`` fails on an existing name)."""
    umask = os.umask(0)
    os.umask(umask)
    done: list[Path] = []
    try:
        signals.check()
    except BaseException:
        discard(pairs)
        raise
    try:
        for tmp, path in pairs:
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private
            if force:
                os.replace(tmp, path)
            else:
                os.link(tmp, path)
                tmp.unlink()
            done.append(path)
    except OSError as e:
        for path in done:
            path.unlink(missing_ok=True)
        for tmp, _ in pairs:
            tmp.unlink(missing_ok=True)
        bad = pairs[len(done)][1]
        why = "it exists (created meanwhile)" if isinstance(e, FileExistsError) else e.strerror
        raise OutputError(f"cannot write {bad}: {why}; none of the {len(pairs)} output(s) was written") from None


def write_error(path: Path, e: OSError) -> OutputError:
    """An output that could not be written (disk full, quota, I/O error): one line, exit 2.
    numpy reports a short write without an errno ("N requested and M written")."""
    why = e.strerror or str(e) or type(e).__name__
    if e.errno is None and "requested and" in str(e):
        why = f"short write ({e}): the disk is probably full"
    return OutputError(f"cannot write {path}: {why}; nothing was written")


def discard(pairs: Sequence[tuple[Path, Path]]) -> None:
    for tmp, _ in pairs:
        tmp.unlink(missing_ok=True)


def first_nonfinite(images: np.ndarray) -> tuple[int, int, int, int, float] | None:
    """(image, channel, y, x, value) of the first NaN/Inf of [N, 3, H, W] images, or None.
    Scans in bands so a memory-mapped output is never read into memory at once."""
    n, c, h, w = images.shape
    rows = max(1, (8 << 20) // max(1, c * w * 4))
    for i in range(n):
        for y0 in range(0, h, rows):
            band = np.asarray(images[i, :, y0 : y0 + rows])
            bad = ~np.isfinite(band)
            if bad.any():
                ch, y, x = (int(v) for v in np.argwhere(bad)[0])
                return i, ch, y0 + y, x, float(band[ch, y, x])
    return None


def check_finite(images: np.ndarray, labels: Sequence[str], first_index: int = 0) -> None:
    """Refuse images holding NaN or Inf, naming the first bad pixel."""
    hit = first_nonfinite(images)
    if hit is not None:
        i, ch, y, x, v = hit
        raise InputValueError(
            f"image {labels[first_index + i]} has a non-finite value ({v}) at pixel y={y}, x={x}, channel {ch}: "
            "the generator's output is not finite (check its weights, the latents and --window); "
            "--allow-nonfinite writes it anyway"
        )


def write_images(out: Path, images: np.ndarray, labels: Sequence[str], display: DisplayMapping,
                 force: bool = True, allow_nonfinite: bool = False, text: dict[str, str] | None = None) -> list[Path]:
    """Write ``.npy`` (raw float32 [N, 3, H, W], one file) or PNG (one file per image, with
    ``text`` as tEXt chunks); all files are written to temporaries first and published
    together (all or nothing)."""
    out = Path(out)
    kind = output_kind(out)
    paths = [out] if kind == "npy" else output_paths(out, labels)
    check_outputs(paths, force)
    if not allow_nonfinite:
        check_finite(images, labels)
    pairs: list[tuple[Path, Path]] = []
    try:
        if kind == "npy":
            # the temporary name ends in .npy, so np.save writes exactly that file
            tmp = temp_path(out)
            pairs.append((tmp, out))
            np.save(tmp, np.asarray(images, dtype=np.float32), allow_pickle=False)
        else:
            from PIL import Image, PngImagePlugin

            info = None
            if text:
                info = PngImagePlugin.PngInfo()
                for key, value in text.items():
                    info.add_text(key, value)
            with np.errstate(invalid="ignore"):
                pixels = to_uint8(images, display)
            for img, path in zip(pixels, paths):
                tmp = temp_path(path)
                pairs.append((tmp, path))
                Image.fromarray(img, "RGB").save(tmp, format="PNG", pnginfo=info)
    except OSError as e:
        discard(pairs)
        raise write_error(pairs[-1][1] if pairs else out, e) from None
    except BaseException:
        discard(pairs)
        raise
    publish_all(pairs, force)
    return paths


# ------------------------------------------------------------------ streamed PNG
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(f, kind: bytes, data: bytes) -> None:
    f.write(struct.pack(">I", len(data)))
    f.write(kind)
    f.write(data)
    f.write(struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)) & 0xFFFFFFFF))


def write_png_streamed(path: Path, image: np.ndarray, display: DisplayMapping, rows_per_band: int,
                       level: int = 6, text: dict[str, str] | None = None) -> None:
    """An 8-bit RGB PNG of a [3, H, W] raw image read ``rows_per_band`` rows at a time (a memory
    map works): each row with the PNG filter (None, Sub, Up, Average, Paeth) whose output has
    the smallest sum of absolute values (libpng's heuristic; without filters the file was 2.2x
    Pillow's on a 1024² demo render), one zlib stream split over IDAT chunks. Memory use is
    one band, whatever the image size."""
    _, h, w = image.shape
    comp = zlib.compressobj(level)
    prev = np.zeros((1, 3 * w), dtype=np.uint8)  # the row above the first: zeros, as PNG defines
    with open(path, "wb") as f:
        f.write(PNG_SIGNATURE)
        _chunk(f, b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
        for key, value in (text or {}).items():
            _chunk(f, b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1"))
        for y0 in range(0, h, rows_per_band):
            band = np.asarray(image[:, y0 : y0 + rows_per_band])
            with np.errstate(invalid="ignore"):
                rgb = to_uint8(band[None], display)[0]  # [rows, W, 3]
            rows = rgb.reshape(rgb.shape[0], 3 * w)
            data = comp.compress(filter_rows(rows, prev).tobytes())
            prev = rows[-1:]
            if data:
                _chunk(f, b"IDAT", data)
        _chunk(f, b"IDAT", comp.flush())
        _chunk(f, b"IEND", b"")


def filter_rows(rows: np.ndarray, above: np.ndarray, bpp: int = 3) -> np.ndarray:
    """PNG-filtered rows ([n, 1 + row bytes], the filter type first) of uint8 ``rows`` whose
    row above the first is ``above`` [1, row bytes]: per row the filter of least sum |signed byte|."""
    x = rows.astype(np.int16)
    b = np.concatenate([above, rows[:-1]]).astype(np.int16)  # the row above each row
    a = np.zeros_like(x)
    a[:, bpp:] = x[:, :-bpp]  # the byte to the left (same channel)
    c = np.zeros_like(x)
    c[:, bpp:] = b[:, :-bpp]  # above-left
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    paeth = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
    candidates = np.stack([x, x - a, x - b, x - (a + b) // 2, x - paeth]) & 0xFF  # [5, n, bytes]
    signed = np.where(candidates > 127, 256 - candidates, candidates)
    best = signed.sum(axis=2).argmin(axis=0)  # [n]
    out = np.empty((rows.shape[0], 1 + rows.shape[1]), dtype=np.uint8)
    out[:, 0] = best
    out[:, 1:] = candidates[best, np.arange(rows.shape[0])]
    return out


def png_bound(h: int, w: int) -> int:
    """An upper bound of the PNG size of an H x W RGB image (zlib's stored-block worst case)."""
    raw = h * (1 + 3 * w)
    return raw + raw // 1000 + 5 * (raw // 16383 + 1) + 4096 + 12 * (raw // 8192 + 2)


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
