"""The sg2 model against the authors' Generator (golden outputs in tests/data/sg2, made by
running their code on these pickles), its grids, constant embeddings, tiling and the
-bil statistics."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from inrgan_export.load.sources import demo_checkpoint
from inrgan_export.families.sg2.config import SG2Config
from inrgan_export.families.sg2.pickle_import import load_network_pickle
from inrgan_export.core.grid import GridLayout, HalvingSizeRule, YUpCoordConvention
from inrgan_export.load.torch_backend import TorchGenerator

from ..conftest import DATA

SG2 = DATA / "sg2"
GOLDEN = ["tiny", "tiny_bil", "misc", "sigmoid_bil", "plain_bil"]


def grid_tensors(model, size, window=None, batch=1):
    g = model.layout.build(size, window, batch=batch).for_batch(batch)
    return [torch.from_numpy(g[n]) for n in model.layout.input_names()]


def render(model, z, psi, size, window=None):
    with torch.no_grad():
        theta = model.hypernet(torch.from_numpy(z), torch.full((z.shape[0],), float(psi)))
        return model.inr(theta, *grid_tensors(model, size, window, z.shape[0])).numpy()


@pytest.mark.parametrize("name", GOLDEN)
def test_matches_the_authors_generator(name):
    """Their Generator(z, truncation_psi=ψ) on the same weights, FP32 CPU: ≤ 1e-5."""
    model = load_network_pickle(SG2 / f"{name}.pkl").build()
    ref = np.load(SG2 / f"{name}_reference.npz")
    n = model.cfg.img_resolution
    for psi in ref["psi"]:
        expected = ref[f"rgb_psi{psi:g}"]
        got = render(model, ref["z"], psi, (n, n))
        assert np.abs(got - expected).max() <= 1e-5, (name, psi, np.abs(got - expected).max())


def test_the_golden_configs_cover_the_forms_their_code_supports():
    cfgs = {n: SG2Config.from_dict(load_network_pickle(SG2 / f"{n}.pkl").config) for n in GOLDEN}
    assert {c.fmm_activation for c in cfgs.values()} == {"demod", "tanh", "sigmoid", "none"}
    assert {c.upsampling_mode for c in cfgs.values()} == {"nearest", "bilinear"}
    assert {c.architecture for c in cfgs.values()} == {"skip", "orig"}
    assert any(c.instance_norm for c in cfgs.values()) and any(not c.per_resolution for c in cfgs.values())
    specs = [s for c in cfgs.values() for s in c.coords]
    for feature in ("random_emb_size", "shared_emb_size", "predictable_emb_size", "const_emb_size"):
        assert any(getattr(s, feature) for s in specs), feature
    assert any(s.log_rows and s.use_diagonal for s in specs) and any(s.log_rows and not s.use_diagonal for s in specs)
    assert any(s.use_raw_coords for s in specs) and any(not s.use_cosine for s in specs)
    assert cfgs["misc"].conv_clamp is not None and cfgs["tiny"].extra_convs


def test_coordinates_are_the_authors_generate_coords():
    conv = YUpCoordConvention(offset=(-1.0, -1.0), scale=(2.0, 2.0))
    for n in (4, 8, 32, 256, 3, 17):
        row = (np.arange(n, dtype=np.float32) / np.float32(n)) * np.float32(2) - np.float32(1)
        assert np.array_equal(conv.axis(n, 0.0, 1.0, 0), row)
        assert np.array_equal(conv.axis(n, 0.0, 1.0, 1), row[::-1])  # y_coords = x_coords.t().flip(0)
    # a window: x from its left edge, y from its bottom edge, both at pixel corners
    xs, ys = conv.axis(4, 0.25, 0.75, 0), conv.axis(4, 0.5, 1.0, 1)
    assert np.allclose(xs, -1 + 2 * (0.25 + 0.5 * np.arange(4) / 4))
    assert np.allclose(ys, -1 + 2 * (0.5 * np.arange(4)[::-1] / 4))
    layout = demo_checkpoint("sg2-tiny").build().layout
    again = GridLayout.from_manifest(layout.to_manifest())
    assert isinstance(again.coords, YUpCoordConvention) and again == layout


def test_size_rule_keeps_every_block_at_its_native_density():
    rule = HalvingSizeRule(native=256, num_blocks=4)
    assert rule.block_sizes_1d(256) == [32, 64, 128, 256]
    assert rule.block_sizes_1d(512) == [64, 128, 256, 512]
    assert rule.block_sizes_1d(100) == [12, 25, 50, 100]
    assert rule.block_sizes_1d(3) == [1, 1, 1, 3]
    assert rule.block_shapes((64, 200)) == [(8, 25), (16, 50), (32, 100), (64, 200)]


def test_constant_embeddings_are_exact_on_the_native_grid_and_bilinear_elsewhere():
    model = demo_checkpoint("sg2-tiny").build()
    fuser = model.synthesis.b16.coord_fuser
    table = fuser.const_embs[0]  # [C, 16, 16]
    layout = model.layout
    native = torch.from_numpy(layout.build((32, 32)).arrays["coords_1"])
    assert torch.equal(fuser.sample_const(native)[0], table.flatten(1))
    # twice as dense: even samples are stored values, odd ones the mean of their neighbours
    dense = torch.from_numpy(layout.build((64, 64)).arrays["coords_1"])
    got = fuser.sample_const(dense)[0].reshape(-1, 32, 32)
    # y points up and is sampled at pixel bottoms: dense row 2i+1 is native row i
    assert torch.allclose(got[:, 1::2, 0::2], table, atol=1e-6)
    mid = 0.5 * (table[:, :, :-1] + table[:, :, 1:])
    assert torch.allclose(got[:, 1::2, 1:-1:2], mid, atol=1e-6)
    # outside the image the edge values continue (clamped)
    out = torch.from_numpy(layout.build((32, 32), (-1.0, -1.0, 2.0, 2.0)).arrays["coords_1"])
    got = fuser.sample_const(out)[0].reshape(-1, 16, 16)
    assert torch.equal(got[:, :, 0], got[:, :, 1]) and torch.equal(got[:, 0, :2], table[:, 0, :1].expand(-1, 2))


@pytest.mark.parametrize("preset", ["sg2-tiny", "sg2-tiny-bil"])
def test_tiled_render_equals_the_full_render(preset):
    ckpt = demo_checkpoint(preset)
    model = ckpt.build()
    z = np.random.RandomState(4).randn(2, model.z_dim).astype(np.float32)
    full = TorchGenerator(model, ckpt.family_spec)
    tiny_budget = TorchGenerator(model, ckpt.family_spec, max_memory=1 << 20)
    for size, window in (((96, 80), None), ((64, 64), (-0.25, 0.1, 1.2, 0.9))):
        theta = full.hypernet(z, np.array([1.0, 0.6], np.float32))
        a = full.render(theta, size, window)
        b = tiny_budget.render(theta, size, window)
        assert tiny_budget.last_plan.pieces > 1
        assert np.abs(a - b).max() <= 1e-5


def test_a_window_of_a_nearest_model_is_a_crop_of_the_larger_render():
    """Every block keeps its density, so the window (0, 0, ½, ½) at 32² samples exactly the
    positions of the top-left quarter of a 64² render."""
    model = demo_checkpoint("sg2-tiny").build()
    z = np.random.RandomState(2).randn(2, model.z_dim).astype(np.float32)
    big = render(model, z, 0.8, (64, 64))
    win = render(model, z, 0.8, (32, 32), (0.0, 0.0, 0.5, 0.5))
    assert np.abs(win - big[:, :, :32, :32]).max() <= 1e-5


def test_bil_statistics_come_from_the_native_grid_once_per_latent():
    """-bil: θ carries each instance-normed layer's per-channel std over the native render;
    every size and window divides by those, so the native render is the authors' and other
    renders are per-pixel functions of θ (tiles exact, see above)."""
    model = demo_checkpoint("sg2-tiny-bil").build()
    norms = [s for s in model.theta_segments if s.kind == "norm"]
    assert [s.name for s in norms] == [
        "b8.conv1.norm", "b16.conv1.norm", "b16.extra_convs.0.norm", "b32.conv1.norm", "b32.extra_convs.0.norm"
    ]  # conv1 of every block but the first, and every extra layer (their SynthesisBlock)
    z = torch.from_numpy(np.random.RandomState(0).randn(3, model.z_dim).astype(np.float32))
    with torch.no_grad():
        theta = model.hypernet(z)
        # the input of b8.conv1 in a native render, seen after the division by the stored std
        captured = {}
        hook = model.synthesis.b8.conv1.register_forward_pre_hook(lambda m, args: captured.update(x=args[0]))
        model.inr(theta, *grid_tensors(model, (32, 32), batch=3))
        hook.remove()
    std = theta[:, norms[0].offset : norms[0].end]
    raw = captured["x"] * std[:, :, None]
    assert torch.allclose(raw.std(dim=2) + 1e-8, std, rtol=1e-5)
    # statistics do not depend on the render: a half-size render uses the same θ
    with torch.no_grad():
        small = model.inr(theta, *grid_tensors(model, (16, 16), batch=3))
    assert torch.isfinite(small).all()
    one = render(model, z.numpy(), 1.0, (1, 1))
    assert np.isfinite(one).all()  # a 1×1 grid has no std of its own; the native one is used
