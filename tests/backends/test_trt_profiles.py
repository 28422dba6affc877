"""Resolutions → optimization-profile shapes through the size rule (no TensorRT needed)."""
from __future__ import annotations

import pytest

from inrgan_export.backends.trt_profiles import (
    InputShapes,
    ResolutionRange,
    build_profile,
    dim_ranges,
    input_shapes,
    parity_range,
    resolve_range,
    trtexec_shapes,
)
from inrgan_export.core.errors import UsageError
from inrgan_export.core.grid import CoordConvention, GridLayout, PaperSizeRule

# church: native 256, blocks 128/256 (upsample at block 1); tiny-like: 3 blocks, upsample at 2
CHURCH = PaperSizeRule(native=256, num_blocks=2, upsample_block_idx=1)
THREE = PaperSizeRule(native=16, num_blocks=3, upsample_block_idx=2)


def brute_force(rule, rng: ResolutionRange) -> dict[str, tuple[int, int, int]]:
    """min/opt/max of every block dim, from every output size in the range."""
    out = {"batch": (1, rng.opt_batch, rng.max_batch)}
    for axis, prefix in ((0, "h"), (1, "w")):
        per_block = list(zip(*[rule.block_sizes_1d(n) for n in range(rng.min_res[axis], rng.max_res[axis] + 1)]))
        opt = rule.block_sizes_1d(rng.opt_res[axis])
        for b, values in enumerate(per_block):
            out[f"{prefix}{b}"] = (min(values), opt[b], max(values))
    return out


@pytest.mark.parametrize("rule, rng", [
    (CHURCH, ResolutionRange((32, 32), (256, 256), (1024, 1024), 8)),
    (CHURCH, ResolutionRange((64, 96), (256, 384), (512, 1536), 4, 2)),  # non-square
    (CHURCH, ResolutionRange((300, 300), (300, 300), (900, 900), 1)),
    (THREE, ResolutionRange((4, 4), (16, 16), (32, 32), 4)),
    (THREE, ResolutionRange((3, 17), (12, 20), (47, 33), 2)),  # non-square, odd sizes
])
def test_dims_match_every_size_in_the_range(rule, rng):
    assert dim_ranges(rule, rng) == brute_force(rule, rng)


def test_size_rule_is_not_monotone_so_bounds_are_not_the_ends():
    # church: 511 -> block 0 of 255, 512 -> 128 (extra jumps to 2); the max of block 0 over
    # 256..512 is at 511, not at either end
    assert CHURCH.block_sizes_1d(511) == [255, 511]
    assert CHURCH.block_sizes_1d(512) == [128, 512]
    dims = dim_ranges(CHURCH, ResolutionRange((256, 256), (256, 256), (512, 512), 1))
    assert dims["h0"] == (128, 128, 255)
    assert dims["h1"] == (256, 256, 512)


def test_church_profile_shapes_for_the_issue_example():
    layout = GridLayout(CHURCH, CoordConvention(), "nearest", False, ((0, 1),))
    inputs = {
        "inr": [
            {"name": "theta", "shape": ["batch", 106502]},
            {"name": "coords_0", "shape": ["batch", 2, "h0", "w0"]},
            {"name": "coords_1", "shape": ["batch", 2, "h1", "w1"]},
            {"name": "up0to1_y", "shape": ["h1"]},
            {"name": "up0to1_x", "shape": ["w1"]},
        ],
        "hypernet": [{"name": "z", "shape": ["batch", 512]}],
    }
    prof = build_profile(layout, inputs, ResolutionRange((32, 32), (256, 256), (1024, 1024), 8))
    shapes = {s.name: s for s in prof.graphs["inr"]}
    assert shapes["theta"] == InputShapes("theta", (1, 106502), (1, 106502), (8, 106502))
    # 32 -> block 0 of 16; 256 -> 128/256; block 0 peaks at 511 -> 255; 1024 -> 128/1024
    assert shapes["coords_0"] == InputShapes("coords_0", (1, 2, 16, 16), (1, 2, 128, 128), (8, 2, 255, 255))
    assert shapes["coords_1"] == InputShapes("coords_1", (1, 2, 32, 32), (1, 2, 256, 256), (8, 2, 1024, 1024))
    assert shapes["up0to1_y"] == InputShapes("up0to1_y", (32,), (256,), (1024,))
    assert {s.name: s for s in prof.graphs["hypernet"]}["z"].max == (8, 512)
    assert prof.accepts("inr", {"theta": (2, 106502), "coords_0": (2, 2, 128, 192), "coords_1": (2, 2, 256, 384),
                                "up0to1_y": (256,), "up0to1_x": (384,)})
    assert not prof.accepts("inr", {"theta": (9, 106502)})


def test_non_square_range_gives_separate_height_and_width_dims():
    rng = ResolutionRange((8, 12), (16, 24), (48, 64), 2)
    dims = dim_ranges(THREE, rng)
    assert dims["h2"] == (8, 16, 48) and dims["w2"] == (12, 24, 64)
    assert dims["h0"] != dims["w0"]
    shapes = input_shapes([{"name": "up1to2_x", "shape": ["w2"]}, {"name": "up1to2_y", "shape": ["h2"]}], dims)
    assert shapes[0].min == (12,) and shapes[1].max == (48,)


def test_resolve_range_defaults_and_explicit_values():
    r = resolve_range((256, 256), 4)
    assert (r.min_res, r.opt_res, r.max_res, r.max_batch) == ((64, 64), (256, 256), (512, 512), 4)
    r = resolve_range((256, 256), 8, (32, 32), (256, 256), (1024, 1024))
    assert (r.min_res, r.opt_res, r.max_res) == ((32, 32), (256, 256), (1024, 1024))
    # only --max-res below native: opt follows it down, min stays the default
    r = resolve_range((256, 256), 1, max_res=(128, 192))
    assert (r.min_res, r.opt_res, r.max_res) == ((64, 64), (128, 192), (128, 192))
    # only --min-res above the default max: max follows it up
    r = resolve_range((256, 256), 1, min_res=(600, 800))
    assert (r.min_res, r.max_res) == ((600, 800), (600, 800))


def test_unordered_range_is_a_usage_error_naming_the_axis():
    with pytest.raises(UsageError, match="not ordered in width"):
        resolve_range((256, 256), 4, (32, 512), (256, 256), (1024, 1024))
    with pytest.raises(UsageError, match="opt batch"):
        ResolutionRange((1, 1), (1, 1), (2, 2), 2, 3)


def test_parity_range_covers_the_parity_grids():
    from inrgan_export.verify import PARITY_BATCH, parity_grids

    sizes = [g.size for g in parity_grids(256)]
    rng = parity_range(sizes, PARITY_BATCH)
    assert all(rng.contains(s, PARITY_BATCH) for s in sizes)
    assert (rng.min_res, rng.max_res, rng.name) == ((64, 64), (512, 512), "parity")
    assert not ResolutionRange((256, 256), (256, 256), (1024, 1024), 8).covers(rng)
    assert ResolutionRange((32, 32), (256, 256), (1024, 1024), 8).covers(rng)


def test_trtexec_shape_syntax():
    shapes = [InputShapes("z", (1, 16), (1, 16), (8, 16)), InputShapes("up0to1_y", (2,), (8,), (15,))]
    assert trtexec_shapes(shapes, "min") == "z:1x16,up0to1_y:2"
    assert trtexec_shapes(shapes, "max") == "z:8x16,up0to1_y:15"


def test_profile_manifest_round_trip():
    from inrgan_export.backends.trt_profiles import Profile

    layout = GridLayout(THREE, CoordConvention(), "nearest", False, ((0, 1), (1, 2)))
    prof = build_profile(layout, {"inr": [{"name": "coords_2", "shape": ["batch", 2, "h2", "w2"]}]},
                         ResolutionRange((4, 4), (16, 16), (32, 32), 4))
    again = Profile.from_manifest(prof.to_manifest())
    assert again == prof
