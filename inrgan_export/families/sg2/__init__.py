"""Family `sg2`: INR-GAN as the authors released it, built on StyleGAN2-ADA
(`universome/inr-gan`, `src/training/networks.py`); their network pickles are read by
:mod:`.pickle_import` without running any code they contain."""
from __future__ import annotations

from ...core.display import DisplayMapping
from ..base import AUTHORS_LICENCE_NOTE, ExportSpec, Family, HypernetInput, Importer, register
from .config import SG2Config
from .model import SG2Generator, count_parameters, init_weights_, macs
from .presets import PRESETS


def _bytes_per_pixel(cfg: SG2Config) -> list[int]:
    """Live float32 activations per sample point of each grid while its widest layer runs
    (input with coordinate features, output, the RGB image and temporaries), doubled for
    allocator slack. An estimate for choosing tiles, not a measurement."""
    widest = [0] * len(cfg.grid_resolutions())
    for b in cfg.blocks():
        fuser = cfg.coords[0] if b.in_channels == 0 else b.coord_fuser
        feats = fuser.total_dim if fuser is not None else 0
        live = 2 * (b.in_channels + feats) + 3 * b.out_channels + 2 * feats + 12
        widest[b.grid] = max(widest[b.grid], live)
    return [4 * 2 * w for w in widest]


SG2 = register(
    Family(
        name="sg2",
        description="INR-GAN as released (authors' StyleGAN2-ADA-based src/, network pickles)",
        config_from_dict=SG2Config.from_dict,
        build=SG2Generator,
        init_weights=init_weights_,
        count_parameters=count_parameters,
        presets=PRESETS,
        export_spec=ExportSpec(
            family="sg2",
            hypernet_inputs=(HypernetInput("z", "latent"), HypernetInput("truncation_psi", "scalar")),
            # h and w of every grid distinct and >= 2 for up to 6 grid blocks (e.g. 32..1024)
            example_size=(96, 160),
        ),
        # The authors save `uint8(clamp(x * 127.5 + 128, 0, 255))` (truncation); this mapping
        # rounds to nearest instead and equals theirs except at exact half-way values.
        display=DisplayMapping(),
        output_range=lambda cfg: None,  # no output activation: raw values are unbounded
        bytes_per_pixel=_bytes_per_pixel,
        macs=macs,
        licence_note=AUTHORS_LICENCE_NOTE,
        importers=(
            Importer(
                name="stylegan2-ada-pickle",
                description="the authors' released StyleGAN2-ADA network pickle (G_ema), read without running it",
                suffixes=(".pkl",),
                needs_config=False,
                load=lambda path, config=None, dataset=None: _pickle_import().load_network_pickle(path),
            ),
        ),
    )
)


def _pickle_import():
    from . import pickle_import

    return pickle_import
