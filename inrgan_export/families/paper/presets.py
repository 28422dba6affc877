"""Architectures of the `paper` family: the authors' `configs/inr-gan.yml` dataset sections,
plus `tiny` for tests. Each is reachable as ``demo:<name>`` with seeded weights.

The numbers below are the values of the authors' YAML (defaults merged with each dataset
section); note that this released config is not the paper's final model (Table 1 reports
38.76 GMACs at 256², the YAML church preset costs ~71 GMACs), and it is kept as released.
"""
from __future__ import annotations

from dataclasses import dataclass

from .config import BlockConfig, PaperConfig

# `hp.inr.resolutions_params` of the authors' YAML (defaults; fourier_scale 10 throughout).
_YAML_BLOCKS = {
    4: dict(dim=512, num_learnable_coord_feats=64, n_layers=2, to_rgb=False),
    8: dict(dim=512, num_learnable_coord_feats=64, n_layers=2, to_rgb=False),
    16: dict(dim=512, num_learnable_coord_feats=256, n_layers=2, to_rgb=False),
    32: dict(dim=512, num_learnable_coord_feats=256, n_layers=2, to_rgb=False),
    64: dict(dim=512, num_learnable_coord_feats=256, n_layers=3, to_rgb=False),
    128: dict(dim=512, num_learnable_coord_feats=256, n_layers=4, to_rgb=True),
    256: dict(dim=256, num_learnable_coord_feats=128, n_layers=4, to_rgb=True),
    512: dict(dim=64, num_learnable_coord_feats=32, n_layers=2, use_diag_feats=False, to_rgb=True),
    1024: dict(dim=32, num_learnable_coord_feats=8, n_layers=2, use_diag_feats=False, to_rgb=True),
}


def _yaml_block(res: int, **override) -> BlockConfig:
    params = dict(_YAML_BLOCKS[res], **override)
    return BlockConfig(resolution=res, fourier_scale=10.0, max_num_fixed_coord_feats=0, **params)


def _yaml_preset(native: int, num_blocks: int = 2, upsample_block_idx: int = 1, overrides: dict | None = None) -> PaperConfig:
    from ...core.grid import PaperSizeRule

    resolutions = PaperSizeRule(native, num_blocks, upsample_block_idx).block_sizes_1d(native)
    overrides = overrides or {}
    blocks = tuple(_yaml_block(r, **overrides.get(r, {})) for r in resolutions)
    return PaperConfig(
        z_dim=512,
        native_size=native,
        blocks=blocks,
        upsample_block_idx=upsample_block_idx,
        mapping_hid_dim=1024,
        mapping_num_layers=3,
        mapping_equalized_lr=False,
        mapping_residual=True,
        mapping_activation="relu",
        skip_coords=True,
        activation="relu",
        upsampling_mode="nearest",
        fmm_rank=10,
        fmm_equalized_lr=False,
        additionaly_scale_to_rgb=True,
        to_rgb_activation="none",
        output_activation="tanh",
        bias_hid_layer_std_scale=0.2,
    )


def _tiny() -> PaperConfig:
    """Three blocks (4², 8², 16² at native 16): a block without ToRGB (so a skip edge jumps
    a block), fixed logarithmic Fourier features, coordinate skips, ×2/×4… upsampling."""
    return PaperConfig(
        z_dim=16,
        native_size=16,
        blocks=(
            BlockConfig(resolution=4, dim=16, n_layers=1, num_learnable_coord_feats=4, fourier_scale=10.0, to_rgb=True),
            BlockConfig(
                resolution=8, dim=16, n_layers=2, num_learnable_coord_feats=4, fourier_scale=10.0,
                max_num_fixed_coord_feats=8, use_diag_feats=False, to_rgb=False,
            ),
            BlockConfig(resolution=16, dim=12, n_layers=1, num_learnable_coord_feats=4, fourier_scale=10.0, to_rgb=True),
        ),
        upsample_block_idx=2,
        mapping_hid_dim=32,
        mapping_num_layers=2,
    )


def _photos() -> PaperConfig:
    """A small generator at native 64 (blocks 16², 32², 64²; fixed logarithmic features in
    the last block), fitted to photographs by ``benchmarks/fit_photos.py`` (``demo:photos``)."""
    return PaperConfig(
        z_dim=64,
        native_size=64,
        blocks=(
            BlockConfig(resolution=16, dim=64, n_layers=2, num_learnable_coord_feats=32, fourier_scale=10.0, to_rgb=False),
            BlockConfig(resolution=32, dim=64, n_layers=2, num_learnable_coord_feats=32, fourier_scale=10.0, to_rgb=True),
            BlockConfig(
                resolution=64, dim=32, n_layers=2, num_learnable_coord_feats=32, fourier_scale=10.0,
                max_num_fixed_coord_feats=32, use_diag_feats=True, to_rgb=True,
            ),
        ),
        upsample_block_idx=1,
        mapping_hid_dim=96,
        mapping_num_layers=2,
        fmm_rank=5,
    )


@dataclass(frozen=True)
class Preset:
    name: str
    config: PaperConfig
    source: str  # where the architecture comes from
    #: fitted weights shipped as package data (``data/<file>``); None: seeded demo weights
    weights: str | None = None


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("tiny", _tiny(), "inrgan-export test preset (3 blocks, native 16)"),
        Preset("photos", _photos(), "fitted to crops of 4 photographs (benchmarks/fit_photos.py), with a latent bank", "photos.pt"),
        Preset("church", _yaml_preset(256), "authors' inr-gan.yml, dataset lsun_church_outdoor (256²)"),
        Preset("bedroom", _yaml_preset(128), "authors' inr-gan.yml, dataset lsun_bedroom (128²)"),
        Preset("ffhq256", _yaml_preset(256), "authors' inr-gan.yml, dataset ffhq_256 (256²)"),
        Preset("ffhq128", _yaml_preset(128), "authors' inr-gan.yml, dataset ffhq_thumbs (128²)"),
        Preset(
            "ffhq1024",
            _yaml_preset(1024, num_blocks=4, upsample_block_idx=4, overrides={512: dict(n_layers=2), 1024: dict(n_layers=1)}),
            "authors' inr-gan.yml, dataset ffhq_1024 (1024²)",
        ),
    )
}
