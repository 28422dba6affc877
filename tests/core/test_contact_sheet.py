"""``render --contact-sheet``: one labelled PNG of one latent at ½ native, native, 4x, a zoom
and an extrapolation, each panel rendered from its own grid."""
from __future__ import annotations

import numpy as np
from PIL import Image

from inrgan_export import open_checkpoint

from ..conftest import assert_one_line_error, run_cli

# demo:tiny is native 16: cells of 4x16 = 64 px, 5 cells and 6 margins of 8 px across;
# one row: 8 + 18 (labels) + 64 + 8 down.
SHEET_W, SHEET_H, CELL, TOP = 5 * 64 + 6 * 8, 8 + 18 + 64 + 8, 64, 8 + 18


def _cell(sheet: np.ndarray, i: int) -> np.ndarray:
    x = 8 + i * (CELL + 8)
    return sheet[TOP : TOP + CELL, x : x + CELL]


def _u8(raw: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(raw[0].astype(np.float64), -1, 1) * 127.5 + 127.5).astype(np.uint8).transpose(1, 2, 0)


def test_contact_sheet_panels_are_the_renders_they_name(tmp_path):
    out = tmp_path / "sheet.png"
    proc = run_cli("render", "demo:tiny", "--seed", "3", "--contact-sheet", "-o", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with Image.open(out) as im:
        assert im.size == (SHEET_W, SHEET_H) and im.mode == "RGB"
        sheet = np.asarray(im)
    z = np.random.RandomState(3).randn(1, 16).astype(np.float32)
    with open_checkpoint("demo:tiny") as g:
        theta = g.hypernet(z)
        half = _u8(g.render(theta, (8, 8)))
        native = _u8(g.render(theta, (16, 16)))
        big = _u8(g.render(theta, (64, 64)))
        zoom = _u8(g.render(theta, (64, 64), window=(0.25, 0.25, 0.75, 0.75)))
        extra = _u8(g.render(theta, (64, 64), window=(-0.5, -0.5, 1.5, 1.5)))
    assert np.array_equal(_cell(sheet, 0), half.repeat(8, 0).repeat(8, 1))  # nearest-neighbour enlargement
    assert np.array_equal(_cell(sheet, 1), native.repeat(4, 0).repeat(4, 1))
    assert np.array_equal(_cell(sheet, 2), big)
    assert np.array_equal(_cell(sheet, 3), zoom)
    assert np.array_equal(_cell(sheet, 4), extra)
    assert (sheet[:TOP] < 128).any()  # the labels are drawn


def test_contact_sheet_refuses_size_window_and_non_png(tmp_path):
    proc = run_cli("render", "demo:tiny", "--contact-sheet", "--size", "32", "-o", tmp_path / "s.png", cwd=tmp_path)
    assert_one_line_error(proc, 2, "--contact-sheet", "--size")
    proc = run_cli("render", "demo:tiny", "--contact-sheet", "-o", tmp_path / "s.npy", cwd=tmp_path)
    assert_one_line_error(proc, 2, "--contact-sheet", "s.npy")
    assert not list(tmp_path.iterdir())
