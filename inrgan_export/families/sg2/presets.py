"""Architectures of the `sg2` family, each reachable as ``demo:<name>`` with seeded weights.

``released-*`` are the configurations of the authors' released network pickles
(`universome/inr-gan`, `configs/inr-gan.yml` and `inr-gan-bil.yml` with their `train.py`
defaults: z/w 512, a 2-layer mapping network, channel_base 32768, channel_max 512, FP32). The
churches models have no extra layers at 128/256 (their README: `extra_convs: {}` for
Churches); the bedrooms and FFHQ models have one at each. ``sg2-tiny*`` are small test
generators exercising the same code paths.
"""
from __future__ import annotations

from dataclasses import dataclass

from .config import CoordSpec, SG2Config

#: `coords.low_res_cfg` / `coords.medium_res_cfg` of the authors' inr-gan.yml
_LOW = dict(log_emb_size=64, const_emb_size=128, use_cosine=True, use_diagonal=True)
_MEDIUM = dict(log_emb_size=32, random_emb_size=32, const_emb_size=64, use_cosine=True)


def released(bilinear: bool, extra_convs: bool) -> SG2Config:
    """The released 256² INR-GAN (``-bil``: bilinear upsampling and instance norm)."""
    coords = [CoordSpec(resolution=32, **_LOW), CoordSpec(resolution=64, **_LOW)]
    coords += [CoordSpec(resolution=r, **_MEDIUM) for r in (128, 256)]
    return SG2Config(
        z_dim=512,
        w_dim=512,
        img_resolution=256,
        input_resolution=32,
        coords=tuple(coords),
        mapping_layers=2,
        channel_base=32768,
        channel_max=512,
        upsampling_mode="bilinear" if bilinear else "nearest",
        fmm_rank=10,
        fmm_activation="demod",
        instance_norm=bilinear,
        extra_convs=((128, 1), (256, 1)) if extra_convs else (),
    )


def tiny(bilinear: bool = False) -> SG2Config:
    """Native 32, input grid 8 (blocks b4, b8 share it), grids 8/16/32; logarithmic bases with
    and without diagonals, a random basis, constant embeddings, extra layers at 16 and 32."""
    return SG2Config(
        z_dim=16,
        w_dim=16,
        img_resolution=32,
        input_resolution=8,
        coords=(
            CoordSpec(resolution=8, log_emb_size=16, const_emb_size=4, use_cosine=True, use_diagonal=True),
            CoordSpec(resolution=16, log_emb_size=16, random_emb_size=4, const_emb_size=3, use_cosine=True),
            CoordSpec(resolution=32, log_emb_size=16, random_emb_size=4, const_emb_size=3, use_cosine=True),
        ),
        mapping_layers=2,
        channel_base=256,
        channel_max=32,
        upsampling_mode="bilinear" if bilinear else "nearest",
        fmm_rank=3,
        fmm_activation="demod",
        instance_norm=bilinear,
        extra_convs=((16, 1), (32, 1)),
    )


def photos() -> SG2Config:
    """A small generator at native 64 (input grid 16), fitted to photographs by
    ``benchmarks/fit_photos.py`` (``demo:photos-sg2``)."""
    return SG2Config(
        z_dim=64,
        w_dim=64,
        img_resolution=64,
        input_resolution=16,
        coords=(
            CoordSpec(resolution=16, log_emb_size=16, const_emb_size=16, use_cosine=True, use_diagonal=True),
            CoordSpec(resolution=32, log_emb_size=16, random_emb_size=16, const_emb_size=8, use_cosine=True),
            CoordSpec(resolution=64, log_emb_size=16, random_emb_size=16, const_emb_size=8, use_cosine=True),
        ),
        mapping_layers=2,
        channel_base=2048,
        channel_max=64,
        upsampling_mode="nearest",
        fmm_rank=4,
        fmm_activation="demod",
    )


@dataclass(frozen=True)
class Preset:
    name: str
    config: SG2Config
    source: str
    #: fitted weights shipped as package data (``data/<file>``); None: seeded demo weights
    weights: str | None = None


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("sg2-tiny", tiny(False), "inrgan-export test preset of the sg2 family (native 32)"),
        Preset("sg2-tiny-bil", tiny(True), "inrgan-export test preset of the sg2 family, -bil form (native 32)"),
        Preset("photos-sg2", photos(), "fitted to crops of 4 photographs (benchmarks/fit_photos.py), with a latent bank", "photos-sg2.pt"),
        Preset("released-church", released(False, False), "authors' released churches.pkl configuration (256²)"),
        Preset("released-church-bil", released(True, False), "authors' released churches-bil.pkl configuration (256²)"),
        Preset("released-ffhq", released(False, True), "authors' released ffhq.pkl / bedrooms.pkl configuration (256²)"),
        Preset("released-ffhq-bil", released(True, True), "authors' released ffhq-bil.pkl / bedrooms-bil.pkl configuration (256²)"),
    )
}
