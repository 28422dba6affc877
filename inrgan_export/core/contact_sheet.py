"""One latent at several sizes and windows on one labelled PNG (``render --contact-sheet``).

What an INR generator is for, on one page: the same latent at half the native size, native,
4x super-resolution, a zoom into the centre and an extrapolation beyond the training window,
each rendered from the coordinate grid (never resampled from another panel). Panels smaller
than a cell are enlarged with nearest-neighbour so their pixels stay visible.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .grid import Window

MARGIN = 8
LABEL_H = 18
MAX_CELL = 512


@dataclass(frozen=True)
class SheetPanel:
    label: str
    size: tuple[int, int]
    window: Window


def sheet_panels(native: tuple[int, int]) -> list[SheetPanel]:
    h, w = native
    return [
        SheetPanel(f"{max(1, h // 2)}x{max(1, w // 2)} (1/2 native)", (max(1, h // 2), max(1, w // 2)), Window()),
        SheetPanel(f"{h}x{w} (native)", (h, w), Window()),
        SheetPanel(f"{4 * h}x{4 * w} (4x)", (4 * h, 4 * w), Window()),
        SheetPanel("zoom 0.25..0.75 at 4x", (4 * h, 4 * w), Window(0.25, 0.25, 0.75, 0.75)),
        SheetPanel("extrapolated -0.5..1.5", (4 * h, 4 * w), Window(-0.5, -0.5, 1.5, 1.5)),
    ]


def cell_size(native: tuple[int, int]) -> tuple[int, int]:
    h, w = native
    scale = min(4.0, MAX_CELL / max(h, w))
    return max(1, round(h * scale)), max(1, round(w * scale))


def sheet_size(native: tuple[int, int]) -> tuple[int, int]:
    """(width, height) in pixels of the sheet for a generator of this native size."""
    ch, cw = cell_size(native)
    n = len(sheet_panels(native))
    return n * cw + (n + 1) * MARGIN, ch + LABEL_H + 2 * MARGIN


def compose(images: list[np.ndarray], panels: list[SheetPanel], native: tuple[int, int]):
    """uint8 [H, W, 3] panels → the labelled sheet (a PIL image)."""
    from PIL import Image, ImageDraw

    ch, cw = cell_size(native)
    width, height = sheet_size(native)
    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, (img, p) in enumerate(zip(images, panels)):
        tile = Image.fromarray(img, "RGB")
        resample = Image.NEAREST if tile.width <= cw and tile.height <= ch else Image.BOX
        tile = tile.resize((cw, ch), resample)
        x = MARGIN + i * (cw + MARGIN)
        sheet.paste(tile, (x, MARGIN + LABEL_H))
        draw.text((x, MARGIN // 2), p.label, fill=(0, 0, 0))
    return sheet


def write_contact_sheet(gen, theta: np.ndarray, out: Path, display) -> Path:
    """Render the panels of ``theta`` (one latent, [1, P]) with ``gen`` and write ``out`` (PNG)."""
    from .imageio import _atomic_write, to_uint8

    native = tuple(gen.interface.native_size)
    panels = sheet_panels(native)
    images = []
    for p in panels:
        raw = gen.render(theta, p.size, p.window)
        images.append(to_uint8(raw, display)[0])
    sheet = compose(images, panels, native)
    _atomic_write(Path(out), lambda tmp: sheet.save(tmp, format="PNG"))
    return Path(out)
