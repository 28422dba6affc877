"""Zoom and pan windows and the animated writers (inrgan_export.app.animation), without a generator."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence

from inrgan_export.core.errors import InputValueError, UsageError
from inrgan_export.core.grid import Window
from inrgan_export.app.animation import (DEFAULT_ZOOM, AnimationSpec, animation_format, check_budget, pan_windows,
                                             write_animation, zoom_windows)


def test_zoom_windows_shrink_geometrically_towards_their_fixed_point():
    ws = zoom_windows(9, factor=256.0, center=(0.3, 0.6))
    widths = [w.x1 - w.x0 for w in ws]
    assert widths[0] == 1.0 and widths[-1] == pytest.approx(1 / 256)
    ratios = [b / a for a, b in zip(widths, widths[1:])]
    assert all(r == pytest.approx(256 ** (-1 / 8)) for r in ratios)  # geometric: a constant factor per frame
    for a, b in zip(ws, ws[1:]):  # nested, each inside the previous
        assert a.x0 < b.x0 < b.x1 < a.x1 and a.y0 < b.y0 < b.y1 < a.y1
    for w in ws:  # the centre keeps its relative place in every frame
        assert (0.3 - w.x0) / (w.x1 - w.x0) == pytest.approx(0.3)
        assert (0.6 - w.y0) / (w.y1 - w.y0) == pytest.approx(0.6)
    assert DEFAULT_ZOOM >= 64  # "far past native": a 32x32 frame ends at the detail of a >= 2048x2048 render
    with pytest.raises(UsageError, match="zoom factor 1"):
        zoom_windows(4, factor=1.0)


def test_pan_windows_move_past_the_unit_square():
    ws = pan_windows(5)
    assert [w.x0 for w in ws] == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert all(w.x1 - w.x0 == 1.0 and (w.y0, w.y1) == (0.0, 1.0) for w in ws)
    assert ws[0].x1 <= 0.0 and ws[-1].x0 >= 1.0  # starts and ends wholly outside the image
    assert pan_windows(3, start=Window(0, 0, 0.5, 0.5))[1] == Window(0, 0, 0.5, 0.5)


@pytest.mark.parametrize("suffix", [".webp", ".gif", ".apng"])
def test_every_frame_is_rendered_once_and_read_back(tmp_path, suffix):
    calls = []

    def render(i):
        calls.append(i)
        img = np.zeros((16, 24, 3), np.uint8)
        img[:, :, 0] = 10 * i
        img[i % 16, :, 1] = 255
        return img

    out = write_animation(AnimationSpec(tmp_path / f"a{suffix}", 7, (16, 24), fps=10), render, 1 << 30)
    assert calls == list(range(7))  # in order, once each (the WebP source re-shows its first frame from a copy)
    im = Image.open(out)
    assert im.n_frames == 7 and im.size == (24, 16)
    frames = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)]
    if suffix != ".gif":  # lossless WebP and APNG give the frames back exactly (GIF quantises to a palette)
        for i, f in enumerate(frames):
            np.testing.assert_array_equal(f, render(i))
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"a{suffix}"]  # no temporary left


def test_held_formats_are_refused_over_the_budget_and_webp_is_not():
    check_budget(AnimationSpec(Path("a.webp"), 100_000, (256, 256)), 16 << 20)
    with pytest.raises(InputValueError, match=r"GIF of 100 frames at 256x256 holds 25.0 MB .* at most 64 frames fit"):
        check_budget(AnimationSpec(Path("a.gif"), 100, (256, 256)), 16 << 20)
    check_budget(AnimationSpec(Path("a.apng"), 64, (256, 256)), 16 << 20)


def test_animation_formats():
    assert animation_format("x.WEBP") == ".webp" and animation_format("x.png") is None
    with pytest.raises(UsageError, match="needs an even height and width; got 15x16"):
        check_budget(AnimationSpec(Path("a.mp4"), 4, (15, 16)), 1 << 30)
    with pytest.raises(UsageError, match="an MP4 has no loop count"):
        check_budget(AnimationSpec(Path("a.mp4"), 4, (16, 16), loop=2), 1 << 30)


def test_mp4_through_pyav_has_every_frame(tmp_path):
    av = pytest.importorskip("av", reason="PyAV is not installed (the optional 'video' extra: pip install 'inrgan-export[video]')")
    calls = []

    def render(i):
        calls.append(i)
        img = np.full((16, 24, 3), 20 * i, np.uint8)
        return img

    out = write_animation(AnimationSpec(tmp_path / "a.mp4", 9, (16, 24), fps=12), render, 1 << 20)
    assert calls == list(range(9))
    with av.open(str(out)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 9 and frames[0].shape == (16, 24, 3)
    means = [float(f.mean()) for f in frames]  # lossy, but each frame keeps its grey level
    assert all(abs(m - 20 * i) < 4 for i, m in enumerate(means)), means
