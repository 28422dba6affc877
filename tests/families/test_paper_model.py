"""The `paper` family's PyTorch model against outputs of the authors' own code.

tests/data/authors/ holds two configs in the authors' format, state dicts made by their
code's initialisation (with every duplicate key their INRModuleDict writes) and the
images their `INRGenerator` produced for RandomState(0..3) latents at square sizes >=
native (see tests/data/authors/README.md).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from inrgan_export.families.paper.authors import convert_state_dict, read_yaml
from inrgan_export.families.paper.config import PaperConfig
from inrgan_export.families.paper.model import PaperGenerator, count_parameters
from inrgan_export.families.paper.presets import PRESETS
from inrgan_export.core.latents import latents_from_seeds

from ..conftest import AUTHORS


def authors_model(name: str) -> tuple[PaperGenerator, dict[str, np.ndarray]]:
    cfg = PaperConfig.from_authors_yaml(read_yaml(AUTHORS / f"{name}.yml"))
    state = torch.load(AUTHORS / f"{name}_gen_ema.pt", map_location="cpu", weights_only=True)
    model = PaperGenerator(cfg)
    model.load_state_dict(convert_state_dict(state, cfg))
    model.eval()
    ref = dict(np.load(AUTHORS / f"{name}_reference.npz"))
    return model, ref


@pytest.mark.parametrize("name", ["tiny2", "tiny3"])
def test_pytorch_model_reproduces_the_authors_outputs(name):
    model, ref = authors_model(name)
    z = latents_from_seeds([0, 1, 2, 3], model.z_dim)
    assert np.array_equal(z, ref["z"])  # seed s is RandomState(s).randn(1, z_dim)
    sizes = sorted(int(k[4:]) for k in ref if k.startswith("img_"))
    native = model.cfg.native_size
    assert {native, 3 * native // 2, 2 * native, 3 * native} <= set(sizes)
    with torch.no_grad():
        theta = model.hypernet(torch.from_numpy(z))
        assert np.abs(theta.numpy() - ref["theta"]).max() <= 1e-5
        for s in sizes:
            grid = model.layout.build((s, s), None, batch=1).for_batch(4)
            assert [h for h, _ in model.layout.size_rule.block_shapes((s, s))] == list(ref[f"block_sizes_{s}"])
            out = model.inr(theta, *[torch.from_numpy(grid[n]) for n in model.inr.input_names]).numpy()
            err = np.abs(out - ref[f"img_{s}"]).max()
            assert err <= 1e-5, (name, s, err)


def test_authors_outputs_are_not_trivial():
    # guards against a comparison that would pass on constant images
    for name in ("tiny2", "tiny3"):
        _, ref = authors_model(name)
        assert ref["img_" + str(max(int(k[4:]) for k in ref if k.startswith("img_")))].std() > 0.1


# ------------------------------------------------------------------ presets and θ
def test_church_preset_matches_the_authors_parameter_counts():
    # counted on the authors' INRGenerator built from inr-gan.yml --dataset lsun_church_outdoor
    params, theta = count_parameters(PRESETS["church"].config)
    assert (params, theta) == (114_344_968, 106_502)


@pytest.mark.parametrize("preset", ["tiny", "bedroom"])
def test_count_parameters_equals_the_built_model(preset):
    cfg = PRESETS[preset].config
    model = PaperGenerator(cfg)
    params, theta = count_parameters(cfg)
    assert params == sum(p.numel() for p in model.parameters())
    assert theta == model.theta_dim == model.hypernet.connector.out_features


def test_theta_segments_tile_theta_in_consumption_order():
    model = PaperGenerator(PRESETS["tiny"].config)
    segs = model.theta_segments
    assert segs[0].offset == 0
    for a, b in zip(segs, segs[1:]):
        assert a.end == b.offset
    assert segs[-1].end == model.theta_dim
    for s in segs:
        assert sum(int(np.prod(shape)) for _, shape in s.parts) == s.size
    names = [s.name for s in segs]
    assert names[:2] == ["b0.fourier", "b0.layer0"]
    assert names.index("b1.connector.lr") < names.index("b1.connector.hr") < names.index("b1.layer0")
    assert "b1.to_rgb" not in names and names[-1] == "b2.to_rgb"  # block 1 has no ToRGB in tiny


def test_presets_have_distinct_grids_per_block():
    for name, preset in PRESETS.items():
        model_layout = PaperGenerator(preset.config).layout if name == "tiny" else None
        if model_layout:
            assert (0, 2) in model_layout.edges  # the skip edge jumps block 1
        sizes = [b.resolution for b in preset.config.blocks]
        assert sizes == sorted(sizes) and sizes[-1] == preset.config.native_size
