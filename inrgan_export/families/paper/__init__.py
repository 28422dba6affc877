"""Family `paper`: the generator of the INR-GAN paper (authors' paper-time code)."""
from __future__ import annotations

from ...core.display import DisplayMapping
from ..base import AUTHORS_LICENCE_NOTE, ExportSpec, Family, HypernetInput, Importer, register
from .config import PaperConfig
from .model import PaperGenerator, count_parameters, init_weights_, macs
from .presets import PRESETS


def _output_range(cfg: PaperConfig) -> tuple[float, float] | None:
    return (-1.0, 1.0) if cfg.output_activation in ("tanh", "clamp", "sigmoid") else None


def _bytes_per_pixel(cfg: PaperConfig) -> list[int]:
    """Live float32 activations per sample of each block while it runs (coordinate features,
    the concatenated layer input, its output, and the temporaries of the matmul), doubled for
    allocator slack. An estimate for choosing tiles, not a measurement."""
    out = []
    for i, b in enumerate(cfg.blocks):
        cf = cfg.coord_feat_dim(i)
        live = cf + cf // 2 + 2 * (cf + b.dim) + 2 * b.dim + 6
        out.append(4 * 2 * live)
    return out


PAPER = register(
    Family(
        name="paper",
        description="INR-GAN as in the paper (authors' archive/original-implementation)",
        config_from_dict=PaperConfig.from_dict,
        build=PaperGenerator,
        init_weights=init_weights_,
        count_parameters=count_parameters,
        presets=PRESETS,
        export_spec=ExportSpec(family="paper", hypernet_inputs=(HypernetInput("z", "latent"),)),
        display=DisplayMapping(),
        output_range=_output_range,
        bytes_per_pixel=_bytes_per_pixel,
        macs=macs,
        licence_note=AUTHORS_LICENCE_NOTE,
        importers=(
            Importer(
                name="authors-paper",
                description="the authors' paper-time gen_ema.pt (a state dict) with their YAML config",
                suffixes=(".pt", ".pth"),
                needs_config=True,
                load=lambda path, config=None, dataset=None: _authors().import_authors_checkpoint(path, config, dataset),
            ),
        ),
    )
)


def _authors():
    from . import authors  # PyYAML, imported when a conversion asks for it

    return authors
