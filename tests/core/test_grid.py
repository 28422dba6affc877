"""Size rule, coordinates, resampling indices and tiling (inrgan_export.core.grid)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from inrgan_export.core.errors import ShapeError, UsageError
from inrgan_export.families.paper.model import resample
from inrgan_export.core.grid import (
    CoordConvention,
    GridLayout,
    PaperSizeRule,
    SizeRule,
    Window,
    linear_indices,
    nearest_indices,
    parse_size,
)


# ------------------------------------------------------------------ size rule
def authors_exp_sizes(target: int, native: int, num_blocks: int, upsample_block_idx: int) -> list[int]:
    """The arithmetic of the authors' `generate_exp_img_sizes`, restated for sizes >= native."""
    extra = target // native
    sizes, cur = [], target
    for i in range(num_blocks - 1, -1, -1):
        sizes.append(cur)
        cur = cur // (extra * 2) if i == upsample_block_idx else cur // 2
    return sizes[::-1]


@pytest.mark.parametrize(
    "native,blocks,u,size,expected",
    [
        (32, 2, 1, 64, [16, 64]),  # the 2-block example
        (256, 2, 1, 256, [128, 256]),
        (256, 2, 1, 384, [192, 384]),  # church at 1.5x
        (256, 2, 1, 512, [128, 512]),
        (256, 2, 1, 768, [128, 768]),  # church at 3x: x6 upsampling
        (1024, 4, 4, 2048, [256, 512, 1024, 2048]),  # upsample_block_idx == num_blocks: every block scales
        (16, 3, 2, 16, [4, 8, 16]),
    ],
)
def test_size_rule_matches_the_authors_examples(native, blocks, u, size, expected):
    assert PaperSizeRule(native, blocks, u).block_sizes_1d(size) == expected


@pytest.mark.parametrize("native,blocks,u", [(16, 2, 1), (32, 3, 3), (256, 2, 1), (128, 2, 1), (16, 3, 2)])
def test_size_rule_equals_authors_arithmetic_at_and_above_native(native, blocks, u):
    rule = PaperSizeRule(native, blocks, u)
    for size in range(native, 4 * native + 1):
        assert rule.block_sizes_1d(size) == authors_exp_sizes(size, native, blocks, u), size


def test_size_rule_below_native_shrinks_every_block_and_never_below_one():
    rule = PaperSizeRule(256, 2, 1)
    assert rule.block_sizes_1d(128) == [64, 128]
    assert rule.block_sizes_1d(64) == [32, 64]
    assert rule.block_sizes_1d(3) == [1, 3]
    assert rule.block_sizes_1d(1) == [1, 1]
    three = PaperSizeRule(16, 3, 2)
    for n in range(1, 16):
        sizes = three.block_sizes_1d(n)
        assert sizes[-1] == n and all(s >= 1 for s in sizes) and sizes == sorted(sizes)


def test_size_rule_is_per_axis_and_round_trips_through_the_manifest():
    rule = PaperSizeRule(256, 2, 1)
    assert rule.block_shapes((256, 512)) == [(128, 128), (256, 512)]
    assert rule.block_shapes((96, 160)) == [(48, 80), (96, 160)]
    again = SizeRule.from_manifest(rule.to_manifest())
    assert again == rule


@pytest.mark.parametrize("text,expected", [("64", (64, 64)), ("96x160", (96, 160)), ("1x1", (1, 1))])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["0x5", "5x0", "-3", "abc", "3x4x5", "70000x10"])
def test_parse_size_rejects_impossible_sizes(text):
    with pytest.raises((UsageError, ShapeError)) as e:
        parse_size(text)
    assert text in str(e.value)


# ------------------------------------------------------------------ windows and coordinates
def test_window_validation():
    assert Window.parse("0.25,0.25,0.75,0.75") == Window(0.25, 0.25, 0.75, 0.75)
    with pytest.raises(UsageError, match="1,1,0,0"):
        Window.parse("1,1,0,0")
    with pytest.raises(UsageError, match="X0,Y0,X1,Y1"):
        Window.parse("0,0,1")
    with pytest.raises(UsageError, match="non-finite"):
        Window(0, 0, float("nan"), 1)


def test_full_window_coordinates_are_the_authors_arange_over_n():
    conv = CoordConvention()
    for n in (1, 3, 16, 17, 256, 768):
        expected = (torch.arange(0, n).float() / n).numpy()  # the authors' generate_coords row
        assert np.array_equal(conv.axis(n, 0.0, 1.0, 0), expected)


def test_grid_layout_channels_x_along_columns_y_along_rows():
    layout = GridLayout(PaperSizeRule(16, 2, 1), CoordConvention(), "nearest", False, ((0, 1),))
    g = layout.build((4, 8), Window(0.0, 0.5, 1.0, 1.0), batch=1)
    c = g.arrays["coords_1"]
    assert c.shape == (1, 2, 4, 8)
    assert np.allclose(c[0, 0, 0], np.arange(8) / 8)  # x varies along width
    assert np.allclose(c[0, 1, :, 0], 0.5 + 0.5 * np.arange(4) / 4)  # y along height, windowed
    assert g.for_batch(2)["coords_1"].shape == (2, 2, 4, 8)


# ------------------------------------------------------------------ resampling indices
def test_nearest_indices_equal_pytorch_interpolate():
    for n_src in range(1, 40):
        for n_dst in range(n_src, 130, 7):
            x = torch.arange(n_src, dtype=torch.float32).reshape(1, 1, n_src, 1)
            ref = F.interpolate(x, size=(n_dst, 1), mode="nearest")[0, 0, :, 0].long().numpy()
            assert np.array_equal(nearest_indices(n_src, n_dst), ref), (n_src, n_dst)
    for n_src, n_dst in ((128, 257), (150, 301), (128, 768), (192, 384), (333, 1000)):
        x = torch.arange(n_src, dtype=torch.float32).reshape(1, 1, n_src, 1)
        ref = F.interpolate(x, size=(n_dst, 1), mode="nearest")[0, 0, :, 0].long().numpy()
        assert np.array_equal(nearest_indices(n_src, n_dst), ref), (n_src, n_dst)


@pytest.mark.parametrize("align_corners", [False, True])
def test_bilinear_resample_equals_pytorch_interpolate(align_corners):
    gen = torch.Generator().manual_seed(0)
    for (hs, ws), (hd, wd) in [((4, 4), (8, 8)), ((5, 7), (16, 11)), ((8, 8), (33, 33)), ((3, 2), (3, 9))]:
        x = torch.randn(2, 3, hs, ws, generator=gen)
        ref = F.interpolate(x, size=(hd, wd), mode="bilinear", align_corners=align_corners)
        y0, y1, wy = linear_indices(hs, hd, align_corners)
        x0, x1, wx = linear_indices(ws, wd, align_corners)
        idx = [torch.from_numpy(a) for a in (y0, y1, wy, x0, x1, wx)]
        out = resample(x.flatten(2), (hs, ws), idx, "bilinear").reshape(ref.shape)
        assert torch.allclose(out, ref, atol=1e-6), (hs, ws, hd, wd)


def test_nearest_resample_gathers_the_pytorch_source_pixels():
    x = torch.randn(2, 3, 5, 7)
    for hd, wd in [(5, 7), (10, 14), (11, 30), (6, 7)]:
        ref = F.interpolate(x, size=(hd, wd), mode="nearest")
        idx = [torch.from_numpy(nearest_indices(5, hd)), torch.from_numpy(nearest_indices(7, wd))]
        assert torch.equal(resample(x.flatten(2), (5, 7), idx, "nearest").reshape(ref.shape), ref)


# ------------------------------------------------------------------ tiling
def test_tiles_cover_the_output_exactly_once_and_spans_contain_needed_samples():
    layout = GridLayout(PaperSizeRule(16, 3, 2), CoordConvention(), "nearest", False, ((0, 1), (0, 2), (1, 2)))
    grid = layout.build((37, 29), None)
    tiles = grid.tiles(4, 3)
    cover = np.zeros(grid.output_shape, dtype=int)
    for t in tiles:
        (y0, y1), (x0, x1) = t.y.out, t.x.out
        cover[y0:y1, x0:x1] += 1
        sliced = grid.slice(t)
        for name, arr in sliced.items():
            if name.startswith("up"):
                src = int(name[2])
                n_src = (t.y if name.endswith("_y") else t.x).spans[src]
                assert arr.min() >= 0 and arr.max() < n_src[1] - n_src[0], name
    assert (cover == 1).all()
