"""Generator families: ``paper`` (the paper's model) and ``sg2`` (the authors' released,
StyleGAN2-ADA-based model). :mod:`.base` holds the extension point and its registry; each
family is a subpackage that registers itself."""
from __future__ import annotations

from ..core.display import DisplayMapping
from .base import (
    FAMILIES,
    ExportSpec,
    Family,
    HypernetInput,
    Importer,
    all_presets,
    get_family,
    importer_for,
    register,
)

__all__ = ["FAMILIES", "DisplayMapping", "ExportSpec", "Family", "HypernetInput", "Importer", "all_presets", "get_family",
           "importer_for", "register"]
