"""Architecture config of the `paper` family: the generator of the INR-GAN paper as the
authors' paper-time code (`archive/original-implementation`) builds it from its YAML.

`PaperConfig.from_authors_yaml` reads their (resolved or dataset-merged) config and
keeps only what determines the inference graph; anything their code supports but
this tool does not export is refused by name rather than silently ignored.
"""
from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

from ...core.errors import ConfigError

#: Activations of the authors' `create_activation` that the exported graphs support.
ACTIVATIONS = (
    "relu",
    "leaky_relu",
    "scaled_leaky_relu",
    "tanh",
    "none",
    "centered_sigmoid",
    "unit_centered_sigmoid",
    "unit_centered_tanh",
    "sine",
)
OUTPUT_ACTIVATIONS = ("tanh", "clamp", "sigmoid", "none")
TO_RGB_ACTIVATIONS = ("none", "tanh")
UPSAMPLING_MODES = ("nearest", "bilinear")


#: sanity bounds on what a file may declare (the authors' configs: 6 blocks, 3 mapping layers)
MAX_BLOCKS = 32
MAX_LAYERS = 64

@dataclass(frozen=True)
class BlockConfig:
    """One resolution block of the hierarchical Fourier INR (`resolutions_params[res]`)."""

    resolution: int
    dim: int
    n_layers: int
    num_learnable_coord_feats: int
    fourier_scale: float
    max_num_fixed_coord_feats: int = 0
    use_diag_feats: bool | None = None
    select_high_freq_first: bool = False
    to_rgb: bool = False


@dataclass(frozen=True)
class PaperConfig:
    """Everything that shapes the `paper` generator's forward pass."""

    z_dim: int
    native_size: int
    blocks: tuple[BlockConfig, ...]
    upsample_block_idx: int
    # hypernetwork (mapping network + connector)
    mapping_hid_dim: int = 1024
    mapping_num_layers: int = 3
    mapping_equalized_lr: bool = False
    mapping_residual: bool = True
    mapping_activation: str = "relu"
    mapping_activation_kwargs: Mapping[str, float] = field(default_factory=dict)
    mapping_has_bn: bool = False
    # INR
    skip_coords: bool = True
    activation: str = "relu"
    activation_kwargs: Mapping[str, float] = field(default_factory=dict)
    upsampling_mode: str = "nearest"
    fmm_rank: int = 10
    fmm_equalized_lr: bool = False
    additionaly_scale_to_rgb: bool = True
    to_rgb_activation: str = "none"
    output_activation: str = "tanh"
    bias_hid_layer_std_scale: float = 0.2

    def __post_init__(self) -> None:
        self.validate()

    # ----------------------------------------------------------------- checks
    def validate(self) -> None:
        def need(cond: bool, msg: str) -> None:
            if not cond:
                raise ConfigError(msg)

        need(self.z_dim >= 1, f"z_dim must be >= 1, got {self.z_dim}")
        need(self.native_size >= 1, f"native size must be >= 1, got {self.native_size}")
        need(len(self.blocks) >= 1, "the INR needs at least one block (hp.inr.num_blocks >= 1)")
        need(self.mapping_num_layers >= 1, f"hp.generator.num_layers must be >= 1, got {self.mapping_num_layers}")
        need(self.fmm_rank >= 1, f"FMM rank must be >= 1, got {self.fmm_rank}")
        # bounds that keep building the model (even on the meta device) cheap for any file
        need(len(self.blocks) <= MAX_BLOCKS, f"the INR has {len(self.blocks)} blocks; the limit is {MAX_BLOCKS}")
        need(self.mapping_num_layers <= MAX_LAYERS, f"hp.generator.num_layers={self.mapping_num_layers} exceeds the limit {MAX_LAYERS}")
        for name, value, valid in (
            ("hp.generator.layer.activation", self.mapping_activation, ACTIVATIONS),
            ("hp.inr.activation", self.activation, ACTIVATIONS),
            ("hp.inr.output_activation", self.output_activation, OUTPUT_ACTIVATIONS),
            ("hp.inr.to_rgb_activation", self.to_rgb_activation, TO_RGB_ACTIVATIONS),
            ("hp.inr.upsampling_mode", self.upsampling_mode, UPSAMPLING_MODES),
        ):
            need(value in valid, f"{name} {value!r} is not supported; valid: {', '.join(valid)}")
        for i, b in enumerate(self.blocks):
            need(b.dim >= 1 and b.n_layers >= 1, f"block {i} (resolution {b.resolution}) needs dim >= 1 and n_layers >= 1")
            need(b.n_layers <= MAX_LAYERS, f"block {i} has n_layers={b.n_layers}; the limit is {MAX_LAYERS}")
            need(b.num_learnable_coord_feats >= 0, f"block {i}: num_learnable_coord_feats must be >= 0")
            fixed = fixed_basis_rows(b)
            need(
                b.num_learnable_coord_feats + fixed > 0,
                f"block {i} (resolution {b.resolution}) has no Fourier features at all",
            )

    # ------------------------------------------------------------ derived data
    @property
    def num_blocks(self) -> int:
        return len(self.blocks)

    def rgb_blocks(self) -> list[int]:
        """Indices of blocks with a ToRGB head (the last block always has one)."""
        return [i for i, b in enumerate(self.blocks) if b.to_rgb or i == self.num_blocks - 1]

    def coord_feat_dim(self, i: int) -> int:
        b = self.blocks[i]
        return 2 * (b.num_learnable_coord_feats + fixed_basis_rows(b))

    # --------------------------------------------------------- serialization
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["blocks"] = [asdict(b) for b in self.blocks]
        d["mapping_activation_kwargs"] = dict(self.mapping_activation_kwargs)
        d["activation_kwargs"] = dict(self.activation_kwargs)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PaperConfig":
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown field(s) in paper config: {', '.join(sorted(unknown))}")
        d = dict(d)
        try:
            d["blocks"] = tuple(BlockConfig(**b) for b in d["blocks"])
        except (KeyError, TypeError) as e:
            raise ConfigError(f"bad 'blocks' in paper config: {e}") from None
        try:
            return cls(**d)
        except TypeError as e:
            raise ConfigError(f"bad paper config: {e}") from None

    # ------------------------------------------------------------ authors' YAML
    @classmethod
    def from_authors_yaml(cls, cfg: Mapping[str, Any], dataset: str | None = None) -> "PaperConfig":
        """Build from the authors' `inr-gan.yml` (merged with `datasets[dataset]`) or from an
        experiment's resolved config (where `datasets` is null)."""
        cfg = resolve_authors_config(cfg, dataset)
        hp = _section(cfg, "hp")
        gen = _section(hp, "generator", "hp.")
        layer = _section(gen, "layer", "hp.generator.")
        inr = _section(hp, "inr", "hp.")
        data = _section(cfg, "data")

        _refuse_unsupported(cfg, gen, layer, inr, data)
        native = _int(data, "target_img_size", "data.")
        num_blocks = _int(inr, "num_blocks", "hp.inr.")
        upsample_idx = _int(inr, "upsample_block_idx", "hp.inr.")
        from ...core.grid import PaperSizeRule  # local import: grid is numpy-only and light

        rule = PaperSizeRule(native=native, num_blocks=num_blocks, upsample_block_idx=upsample_idx)
        resolutions = rule.block_sizes_1d(native)
        blocks = _blocks(inr, resolutions)
        se = (inr.get("module_kwargs") or {}).get("se_factorized") or {}
        return cls(
            z_dim=_int(gen, "z_dim", "hp.generator."),
            native_size=native,
            blocks=blocks,
            upsample_block_idx=upsample_idx,
            mapping_hid_dim=_int(gen, "hid_dim", "hp.generator."),
            mapping_num_layers=_int(gen, "num_layers", "hp.generator."),
            mapping_equalized_lr=bool(layer.get("equalized_lr", False)),
            mapping_residual=bool(layer.get("residual", False)),
            mapping_activation=str(layer.get("activation", "relu")),
            mapping_activation_kwargs=dict(layer.get("activation_kwargs") or {}),
            mapping_has_bn=bool(layer.get("has_bn", False)),
            skip_coords=bool(inr.get("skip_coords", False)),
            activation=str(inr.get("activation", "relu")),
            activation_kwargs=dict(inr.get("activation_kwargs") or {}),
            upsampling_mode=str(inr.get("upsampling_mode", "nearest")),
            fmm_rank=int(se.get("rank", 10)),
            fmm_equalized_lr=bool(se.get("equalized_lr", True)),
            additionaly_scale_to_rgb=bool(inr.get("additionaly_scale_to_rgb", False)),
            to_rgb_activation=str(inr.get("to_rgb_activation") or "none"),
            output_activation=str(inr.get("output_activation") or "none"),
            bias_hid_layer_std_scale=float(inr.get("bias_hid_layer_std_scale", 0.2)),
        )


def _refuse_unsupported(cfg: Mapping[str, Any], gen: Mapping[str, Any], layer: Mapping[str, Any],
                        inr: Mapping[str, Any], data: Mapping[str, Any]) -> None:
    """Every setting of the authors' config that the paper family cannot rebuild, named."""
    def refuse(path: str, value: Any, valid: Any) -> None:
        raise ConfigError(f"{path}={value!r} is not supported by the paper family (supported: {valid})")

    if cfg.get("model_type", "inr_gan") != "inr_gan":
        refuse("model_type", cfg.get("model_type"), "inr_gan")
    if inr.get("type") != "hier_fourier_inr":
        refuse("hp.inr.type", inr.get("type"), "hier_fourier_inr")
    if (inr.get("res_increase_scheme") or {}).get("enabled"):
        refuse("hp.inr.res_increase_scheme.enabled", True, False)
    for key in ("use_pixel_norm", "use_noise"):
        if inr.get(key):
            refuse(f"hp.inr.{key}", inr.get(key), False)
    if inr.get("hid_layer_type", "se_factorized") != "se_factorized":
        refuse("hp.inr.hid_layer_type", inr.get("hid_layer_type"), "se_factorized")
    for key in ("is_conditional", "is_variable_sized"):
        if data.get(key):
            refuse(f"data.{key}", data.get(key), False)
    if data.get("num_img_channels", 3) != 3:
        refuse("data.num_img_channels", data.get("num_img_channels"), 3)
    if layer.get("has_bn"):
        # BatchNorm1d in eval mode is an affine map; supported.
        pass
    if gen.get("dist", "normal") != "normal":
        refuse("hp.generator.dist", gen.get("dist"), "normal")


def _blocks(inr: Mapping[str, Any], resolutions: Sequence[int]) -> tuple["BlockConfig", ...]:
    """One BlockConfig per INR block, from ``hp.inr.resolutions_params`` at its resolution."""
    params = inr.get("resolutions_params") or {}
    params = {int(k): v for k, v in params.items()}
    blocks = []
    for i, res in enumerate(resolutions):
        if res not in params:
            raise ConfigError(
                f"hp.inr.resolutions_params has no entry for block {i}'s resolution {res} "
                f"(has: {sorted(params)})"
            )
        p = params[res]
        try:
            blocks.append(
                BlockConfig(
                    resolution=int(p.get("resolution", res)),
                    dim=int(p["dim"]),
                    n_layers=int(p["n_layers"]),
                    num_learnable_coord_feats=int(p["num_learnable_coord_feats"]),
                    fourier_scale=float(p["fourier_scale"]),
                    max_num_fixed_coord_feats=int(p.get("max_num_fixed_coord_feats", 0)),
                    use_diag_feats=None if p.get("use_diag_feats") is None else bool(p["use_diag_feats"]),
                    select_high_freq_first=bool(p.get("select_high_freq_first") or False),
                    to_rgb=bool(p.get("to_rgb", False)),
                )
            )
        except KeyError as e:
            raise ConfigError(f"hp.inr.resolutions_params[{res}] lacks {e.args[0]!r}") from None
    return tuple(blocks)


def resolve_authors_config(cfg: Mapping[str, Any], dataset: str | None) -> dict[str, Any]:
    """Merge `datasets[dataset]` over the defaults the way firelab's `Config.overwrite` does
    (recursive for mappings, replace otherwise)."""
    cfg = copy.deepcopy(dict(cfg))
    datasets = cfg.get("datasets")
    if dataset is not None:
        if not isinstance(datasets, Mapping) or dataset not in datasets:
            valid = ", ".join(sorted(datasets)) if isinstance(datasets, Mapping) else "none (the config has no datasets section)"
            raise ConfigError(f"dataset {dataset!r} is not in the config's datasets section; valid: {valid}")
        cfg = merge_overwrite(cfg, datasets[dataset])
    elif isinstance(datasets, Mapping) and datasets:
        # Their trainer always merges `datasets[config.dataset]`; do the same.
        name = cfg.get("dataset")
        if name not in datasets:
            raise ConfigError(
                f"config field dataset={name!r} names no entry of its datasets section; "
                f"pass --dataset NAME (one of: {', '.join(sorted(datasets))})"
            )
        cfg = merge_overwrite(cfg, datasets[name])
    cfg["datasets"] = None
    return cfg


def merge_overwrite(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if k in out and isinstance(v, Mapping) and isinstance(out[k], Mapping):
            out[k] = merge_overwrite(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def fixed_basis_rows(block: BlockConfig) -> int:
    """Number of fixed (logarithmic) Fourier basis rows the authors' `INRFourierFeats` builds."""
    if block.max_num_fixed_coord_feats <= 0:
        return 0
    n = int(math.ceil(math.log2(block.resolution))) + 1
    num_bases = 4
    if n * num_bases > block.max_num_fixed_coord_feats:
        if block.use_diag_feats is None:
            raise ConfigError(
                f"resolutions_params[{block.resolution}] needs use_diag_feats "
                f"({n * num_bases} fixed features exceed max_num_fixed_coord_feats={block.max_num_fixed_coord_feats})"
            )
        if not block.use_diag_feats:
            num_bases = 2
    if n * num_bases > block.max_num_fixed_coord_feats:
        exceeding = (n * num_bases - block.max_num_fixed_coord_feats) // num_bases
        if block.select_high_freq_first:
            kept = n - exceeding
            if kept * num_bases > block.max_num_fixed_coord_feats:
                raise ConfigError(
                    f"resolutions_params[{block.resolution}]: the authors' code fails its own assert for "
                    f"max_num_fixed_coord_feats={block.max_num_fixed_coord_feats} with select_high_freq_first"
                )
        else:
            # The authors slice `b[:-exceeding]`, which keeps nothing when exceeding == 0.
            kept = n - exceeding if exceeding > 0 else 0
        n = kept
    return n * num_bases


def _section(d: Mapping[str, Any], key: str, prefix: str = "") -> Mapping[str, Any]:
    v = d.get(key)
    if not isinstance(v, Mapping):
        raise ConfigError(f"config lacks the section {prefix}{key}")
    return v


def _int(d: Mapping[str, Any], key: str, prefix: str) -> int:
    if key not in d or d[key] is None:
        raise ConfigError(f"config lacks {prefix}{key}")
    try:
        return int(d[key])
    except (TypeError, ValueError):
        raise ConfigError(f"{prefix}{key} must be an integer, got {d[key]!r}") from None
