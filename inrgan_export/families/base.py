"""The family extension point: what a family declares (:class:`Family`, its
:class:`ExportSpec` and :class:`Importer`s) and the registry. Families are registered by
module name and imported on first use, like targets and runtime backends.

Registry of generator families. A family says how to read its config, build its PyTorch
model, which demo presets it has and how its graphs are exported (its `ExportSpec`).

Every family's model offers the same small interface, which is all the exporter and the
runtimes rely on:

* ``model.hypernet(z, ...) -> theta``  (per latent, once)
* ``model.inr(theta, *grid_inputs) -> rgb``  (per view; grid inputs from ``model.layout``)
* ``model.layout`` — a :class:`~inrgan_export.core.grid.GridLayout`
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from torch import nn

from ..core.display import DisplayMapping
from ..core.errors import ConfigError
from ..core.manifest import DEFAULT_PARITY_ATOL


#: The licence note the authors attach to their code and weights (universome/inr-gan README);
#: both families come from that repository.
AUTHORS_LICENCE_NOTE = (
    "universome/inr-gan has no LICENSE file; its README says: 'This repo is built on top of "
    "StyleGAN2-ADA, so I assume it is restricted by the NVidia license (though I am not a lawyer)' "
    "(https://nvlabs.github.io/stylegan2-ada-pytorch/license.html)."
)


@dataclass(frozen=True)
class HypernetInput:
    """An input of the hypernetwork graph: ``latent`` is [N, model.z_dim], ``scalar`` is [N]."""

    name: str
    kind: str = "latent"
    dtype: str = "float32"


@dataclass(frozen=True)
class ExportSpec:
    """How one family is exported (Optimum-style declarative spec)."""

    family: str
    hypernet_inputs: tuple[HypernetInput, ...]
    theta_name: str = "theta"
    output_name: str = "rgb"
    #: opset 18: the newest opset torch.onnx's translator emits natively (a higher one is a
    #: version conversion), supported by ONNX Runtime, OpenVINO and TensorRT 10+.
    opset: int = 18
    #: size the graphs are traced at (any size works afterwards; dynamic dims)
    example_size: tuple[int, int] = (16, 16)
    #: FP32 parity gate of exported graphs vs PyTorch, on images in [-1, 1]
    parity_atol: float = DEFAULT_PARITY_ATOL


@dataclass(frozen=True)
class Importer:
    """Reads one foreign checkpoint format of a family into a
    :class:`~inrgan_export.families.checkpoint.Checkpoint`, running nothing from the file."""

    name: str
    description: str
    #: file suffixes (lower case) this importer claims
    suffixes: tuple[str, ...]
    #: True: needs the authors' config (``convert --config``); False: the file is self-describing
    needs_config: bool
    #: ``load(path, config=None, dataset=None) -> Checkpoint``
    load: Callable[..., Any]


@dataclass(frozen=True)
class Family:
    name: str
    description: str
    config_from_dict: Callable[[Mapping[str, Any]], Any]
    build: Callable[[Any], nn.Module]
    init_weights: Callable[[nn.Module, Any], None]
    count_parameters: Callable[[Any], tuple[int, int]]
    presets: Mapping[str, Any]
    export_spec: ExportSpec
    display: DisplayMapping = field(default_factory=DisplayMapping)
    #: output activation name → value range of the raw output (None: unbounded)
    output_range: Callable[[Any], tuple[float, float] | None] = lambda cfg: None
    #: estimated bytes of activations per output sample of each block, for tiling
    bytes_per_pixel: Callable[[Any], list[int]] = lambda cfg: []
    #: analytic MACs of one sample: (config, block shapes) -> {"inr": ..., "hypernet": ..., ...}
    macs: Callable[[Any, Any], dict] | None = None
    #: the licence note that travels with exported bundles
    licence_note: str = ""
    #: foreign checkpoint formats of this family (``convert`` and ``load_source`` ask them)
    importers: tuple[Importer, ...] = ()


FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    FAMILIES[family.name] = family
    return family


def get_family(name: str) -> Family:
    _load_builtin()
    if name not in FAMILIES:
        raise ConfigError(f"unknown model family {name!r}; known: {', '.join(sorted(FAMILIES))}")
    return FAMILIES[name]


def all_presets() -> dict[str, tuple[Family, Any]]:
    """``{preset name: (family, preset)}`` across families."""
    _load_builtin()
    out: dict[str, tuple[Family, Any]] = {}
    for fam in FAMILIES.values():
        for name, preset in fam.presets.items():
            out[name] = (fam, preset)
    return out


def importer_for(path: Any, with_config: bool) -> Importer | None:
    """The importer that claims ``path``: by suffix, among those that need (``with_config``) or
    do not need the authors' config. None: our own ``.pt`` format."""
    _load_builtin()
    suffix = str(path).lower().rsplit(".", 1)[-1] if "." in str(path) else ""
    for fam in FAMILIES.values():
        for imp in fam.importers:
            if f".{suffix}" in imp.suffixes and imp.needs_config == with_config:
                return imp
    return None


#: built-in families: name → module that registers it when imported
FAMILY_MODULES = {"paper": "inrgan_export.families.paper", "sg2": "inrgan_export.families.sg2"}


def _load_builtin() -> None:
    import importlib

    for module in FAMILY_MODULES.values():
        importlib.import_module(module)
