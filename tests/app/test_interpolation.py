"""Interpolation in INR form (inrgan_export.app.interpolation) on both families' bundles."""
from __future__ import annotations

import numpy as np
import pytest

from inrgan_export.core.errors import InputValueError, ShapeError, UsageError
from inrgan_export.core.latents import latent_from_seed
from inrgan_export.backends import open_bundle
from inrgan_export.app.interpolation import (MAX_STEPS, interpolate, layer_mask, lerp, slerp, steps_ts, theta_layout,
                                                 walk_ts)

SIZE = (24, 24)


@pytest.fixture(scope="module")
def sg2_bundle(tmp_path_factory):
    """demo:sg2-tiny exported once for this module (the sg2 family: θ holds per-layer styles)."""
    import inrgan_export

    out = tmp_path_factory.mktemp("bundles") / "sg2_tiny_onnx"
    inrgan_export.export("demo:sg2-tiny", target="onnx", out=out)
    return out


@pytest.fixture(params=["paper", "sg2"])
def gen(request, tiny_bundle, sg2_bundle):
    with open_bundle(tiny_bundle if request.param == "paper" else sg2_bundle) as g:
        yield g


def ends(g):
    return latent_from_seed(1, g.interface.z_dim), latent_from_seed(2, g.interface.z_dim)


def test_theta_space_ends_are_the_endpoint_renders_and_the_middle_is_the_averaged_theta(gen):
    za, zb = ends(gen)
    frames = list(interpolate(gen, za, zb, 5, size=SIZE))
    assert len(frames) == 5 and frames[0].shape == (1, 3, *SIZE)
    ta, tb = gen.hypernet(za), gen.hypernet(zb)
    img_a, img_b = gen.render(ta, SIZE), gen.render(tb, SIZE)
    np.testing.assert_array_equal(frames[0], img_a)  # bit-identical: same backend, same θ
    np.testing.assert_array_equal(frames[-1], img_b)
    # t = 0.5 (k = 2 of 5): the INR on the mean of the two θ, computed here independently
    mid_theta = ((ta.astype(np.float64) + tb.astype(np.float64)) / 2).astype(np.float32)
    mid = gen.render(mid_theta, SIZE)
    np.testing.assert_allclose(frames[2], mid, atol=1e-6, rtol=0)
    # and it is neither end, nor the pixel blend of the ends (θ blending is not pixel blending)
    assert np.abs(frames[2] - img_a).max() > 1e-2 and np.abs(frames[2] - img_b).max() > 1e-2
    assert np.abs(frames[2] - (img_a + img_b) / 2).max() > 1e-3


def test_interpolate_yields_theta_without_a_size(gen):
    za, zb = ends(gen)
    thetas = list(interpolate(gen, za, zb, ts=[0.0, 0.25, 1.0]))
    ta, tb = gen.hypernet(za), gen.hypernet(zb)
    np.testing.assert_array_equal(thetas[0], ta)
    np.testing.assert_array_equal(thetas[2], tb)
    np.testing.assert_allclose(thetas[1], 0.75 * ta + 0.25 * tb, rtol=0, atol=1e-6)


def test_latent_space_uses_slerp_and_its_ends_are_the_endpoint_renders(gen):
    za, zb = ends(gen)
    frames = list(interpolate(gen, za, zb, 3, space="latent", size=SIZE))
    np.testing.assert_array_equal(frames[0], gen.generate(za, SIZE))
    np.testing.assert_array_equal(frames[-1], gen.generate(zb, SIZE))
    zmid = slerp(za, zb, 0.5).astype(np.float32)
    np.testing.assert_allclose(frames[1], gen.generate(zmid, SIZE), atol=1e-6, rtol=0)
    lerp_mid = list(interpolate(gen, za, zb, 3, space="latent", method="lerp", size=SIZE))[1]
    assert np.abs(lerp_mid - frames[1]).max() > 1e-3  # the default really is slerp


def test_slerp_ends_and_norm():
    rng = np.random.RandomState(0)
    a, b = rng.randn(1, 512), rng.randn(1, 512)
    np.testing.assert_array_equal(slerp(a, b, 0.0), a)
    np.testing.assert_array_equal(slerp(a, b, 1.0), b)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    omega = np.arccos(np.dot(a[0], b[0]) / (na * nb))
    for t in (0.1, 0.5, 0.9):
        s = slerp(a, b, t)
        # the norm moves linearly between the ends (Gaussian latents stay on the prior's shell)...
        assert np.linalg.norm(s) == pytest.approx((1 - t) * na + t * nb, rel=1e-9)
        # ... and the angle to a is t of the angle between the ends
        assert np.arccos(np.dot(s[0], a[0]) / (np.linalg.norm(s) * na)) == pytest.approx(t * omega, rel=1e-7)
    # a lerp midpoint of two independent Gaussians has ~1/sqrt(2) of their norm: slerp does not
    assert np.linalg.norm(lerp(a, b, 0.5)) < 0.8 * np.linalg.norm(slerp(a, b, 0.5))
    # parallel rows have no unique great circle: lerp
    np.testing.assert_allclose(slerp(a, 2 * a, 0.5), 1.5 * a)


def test_layer_mixing_all_is_b_none_is_a_and_a_subset_mixes_only_its_segments(gen):
    za, zb = ends(gen)
    ta, tb = gen.hypernet(za), gen.hypernet(zb)
    segs = theta_layout(gen)
    names = [s.name for s in segs]
    all_b = list(interpolate(gen, za, zb, ts=[1.0], layers=names, size=SIZE))[0]
    np.testing.assert_array_equal(all_b, gen.render(tb, SIZE))
    for t in (0.0, 0.5, 1.0):
        none = list(interpolate(gen, za, zb, ts=[t], layers=[]))[0]
        np.testing.assert_array_equal(none, ta)
    first = segs[0].name.split(".")[0]  # a prefix: every segment of the first block
    mixed = list(interpolate(gen, za, zb, ts=[1.0], layers=[first]))[0][0]
    mask = layer_mask(segs, gen.interface.theta_dim, [first])
    assert 0 < mask.sum() < mask.size
    np.testing.assert_array_equal(mixed[mask], tb[0][mask])
    np.testing.assert_array_equal(mixed[~mask], ta[0][~mask])


def test_theta_layout_comes_from_the_manifest_and_matches_the_reference(tiny_bundle):
    from inrgan_export.load.sources import open_checkpoint

    with open_bundle(tiny_bundle) as g:
        from_bundle = theta_layout(g)
        raw = g.bundle.manifest["theta_layout"]
    ref = theta_layout(open_checkpoint("demo:tiny"))
    assert from_bundle == ref
    assert [s.name for s in from_bundle] == [r["name"] for r in raw]
    assert sum(s.size for s in from_bundle) == g.interface.theta_dim


def test_bad_input_is_one_line(gen):
    za, zb = ends(gen)
    with pytest.raises(UsageError, match=r"θ layer 'nope' is not in this generator's theta_layout.*valid: "):
        next(interpolate(gen, za, zb, 3, layers=["nope"]))
    with pytest.raises(UsageError, match=r"t = 1.5 is outside \[0, 1\]"):
        next(interpolate(gen, za, zb, ts=[0.5, 1.5]))
    assert len(list(interpolate(gen, za, zb, ts=[-0.5, 1.5], extrapolate=True))) == 2
    for steps in (0, MAX_STEPS + 1):
        with pytest.raises(UsageError, match=f"steps {steps} must be an integer in 1..{MAX_STEPS}"):
            next(interpolate(gen, za, zb, steps))
    with pytest.raises(InputValueError, match="are the same latent"):
        next(interpolate(gen, za, za.copy(), 3))
    with pytest.raises(ShapeError, match=r"latent has shape \[1, 3\]"):
        next(interpolate(gen, za, np.zeros((1, 3), np.float32), 3))
    with pytest.raises(UsageError, match="layer mixing selects θ segments"):
        next(interpolate(gen, za, zb, 3, space="latent", layers=["b0"]))


def test_steps_and_walk_parameters():
    np.testing.assert_array_equal(steps_ts(5), [0, 0.25, 0.5, 0.75, 1])
    pts = walk_ts(3, 5)  # 5 frames over two segments: keys at frames 0, 2 and 4
    assert pts == [(0, 0.0), (0, 0.5), (1, 0.0), (1, 0.5), (1, 1.0)]
    assert len(walk_ts(4, 48)) == 48
