"""Architecture config of the `sg2` family: the INR-GAN generator of the authors' released,
StyleGAN2-ADA-based implementation (`universome/inr-gan`, `src/training/networks.py`).

The config is read from what a network pickle records, never from a YAML guess: the
generator's init arguments (`z_dim`, `w_dim`, `img_resolution`, `mapping_kwargs`,
`synthesis_kwargs`) and its generator config (`cfg`, a plain dict whose values may be
OmegaConf interpolations such as ``${coords.low_res_cfg}``). `SG2Config.from_init_kwargs`
keeps what determines the inference graph and refuses, by name, every setting that their
code supports but this family does not export.

Over 400 lines: every setting of the authors' generator config that is accepted or refused, by
name, in one place.
"""
from __future__ import annotations

import math
import re
import reprlib
from dataclasses import asdict, dataclass
from typing import Any, Mapping

from ...core.errors import ConfigError

#: `torch_utils.ops.bias_act.activation_funcs`: name -> (default alpha, default gain)
BIAS_ACT = {
    "linear": (0.0, 1.0),
    "relu": (0.0, math.sqrt(2)),
    "lrelu": (0.2, math.sqrt(2)),
    "tanh": (0.0, 1.0),
    "sigmoid": (0.0, 1.0),
    "elu": (0.0, 1.0),
    "selu": (0.0, 1.0),
    "softplus": (0.0, 1.0),
    "swish": (0.0, math.sqrt(2)),
}
#: `fmm_modulate_linear`'s `activation`: the named forms; any other string is the plain form
#: (no squashing, no demodulation), exactly as their code treats it
FMM_FORMS = ("demod", "tanh", "sigmoid")
UPSAMPLING_MODES = ("nearest", "bilinear")
ARCHITECTURES = ("skip", "orig")
#: sanity bounds on what a file may declare (the released models: 1024 px, 8 mapping layers, 2 extra convs)
MAX_RESOLUTION = 2**14
MAX_LAYERS = 64
#: values a config may expand to once its interpolations are resolved, and their nesting
MAX_RESOLVED_VALUES = 100_000
MAX_RESOLVED_DEPTH = 64


@dataclass(frozen=True)
class CoordSpec:
    """One `CoordFuser` (`cfg.coords.res_configs[res]`): which coordinate features it adds."""

    resolution: int
    log_emb_size: int = 0
    use_diagonal: bool = False
    random_emb_size: int = 0
    shared_emb_size: int = 0
    predictable_emb_size: int = 0
    const_emb_size: int = 0
    use_cosine: bool = False
    use_raw_coords: bool = False
    fourier_scale: float = math.sqrt(10)
    fallback: bool = False  # cfg.coords.fallback: the fuser adds nothing

    @property
    def log_rows(self) -> int:
        """Rows of `generate_logarithmic_basis(resolution, log_emb_size, use_diagonal)`."""
        if self.fallback or self.log_emb_size <= 0:
            return 0
        per_direction = int(math.ceil(math.log2(self.resolution)))
        return per_direction * (4 if self.use_diagonal else 2)

    @property
    def sin_rows(self) -> int:
        """Rows whose sine (and cosine) are taken: log, random, shared, predictable."""
        if self.fallback:
            return 0
        return self.log_rows + self.random_emb_size + self.shared_emb_size + self.predictable_emb_size

    @property
    def total_dim(self) -> int:
        """`CoordFuser.get_total_dim()`: the channels it appends."""
        if self.fallback:
            return 0
        raw = 2 if self.use_raw_coords else 0
        return raw + self.sin_rows * (2 if self.use_cosine else 1) + self.const_emb_size


@dataclass(frozen=True)
class BlockInfo:
    """One `SynthesisBlock` as their constructor lays it out (derived, not stored)."""

    name: str  # "b4", "b8", ... (the nominal resolution, as in their module names)
    nominal: int
    resolution: int  # max(nominal, input resolution)
    up: int  # 1 or 2
    grid: int  # index of the coordinate grid this block runs on
    in_channels: int  # 0 for the first block
    out_channels: int
    coord_fuser: CoordSpec | None  # the block's own fuser (the first block's is its input)
    num_extra: int
    torgb: bool
    is_last: bool


@dataclass(frozen=True)
class SG2Config:
    """Everything that shapes the forward pass of their `Generator` at inference."""

    z_dim: int
    w_dim: int
    img_resolution: int
    input_resolution: int
    coords: tuple[CoordSpec, ...]  # the input fuser's spec first, then one per fused block resolution
    img_channels: int = 3
    c_dim: int = 0
    # mapping network
    mapping_layers: int = 8
    mapping_activation: str = "lrelu"
    mapping_lr_multiplier: float = 0.01
    mapping_layer_features: int | None = None
    # synthesis network
    channel_base: int = 32768
    channel_max: int = 512
    architecture: str = "skip"
    layer_activation: str = "lrelu"
    conv_clamp: float | None = None
    upsampling_mode: str = "nearest"
    fmm_rank: int = 10
    fmm_activation: str = "demod"
    instance_norm: bool = False
    per_resolution: bool = True
    extra_convs: tuple[tuple[int, int], ...] = ()  # (resolution, count)

    def __post_init__(self) -> None:
        self.validate()

    # ----------------------------------------------------------------- checks
    def validate(self) -> None:
        def need(cond: bool, msg: str) -> None:
            if not cond:
                raise ConfigError(msg)

        need(self.z_dim >= 1 and self.w_dim >= 1, f"z_dim and w_dim must be >= 1, got {self.z_dim}, {self.w_dim}")
        r = self.img_resolution
        need(r >= 4 and r & (r - 1) == 0, f"img_resolution must be a power of two >= 4, got {r}")
        # bounds that keep building the model (even on the meta device) cheap for any file
        need(r <= MAX_RESOLUTION, f"img_resolution={r} exceeds the limit {MAX_RESOLUTION}")
        need(self.mapping_layers <= MAX_LAYERS, f"mapping_kwargs.num_layers={self.mapping_layers} exceeds the limit {MAX_LAYERS}")
        for res, count in self.extra_convs:
            need(count <= MAX_LAYERS, f"cfg.num_extra_convs[{res}]={count} exceeds the limit {MAX_LAYERS}")
        need(self.input_resolution >= 1, f"cfg.input.resolution must be >= 1, got {self.input_resolution}")
        need(self.c_dim == 0, f"c_dim={self.c_dim}: conditional generators are not supported by the sg2 family (c_dim must be 0)")
        need(self.img_channels == 3, f"img_channels={self.img_channels} is not supported (3 only)")
        need(self.mapping_layers >= 1, f"mapping_kwargs.num_layers must be >= 1, got {self.mapping_layers}")
        need(self.fmm_rank >= 1, f"cfg.fmm.rank must be >= 1, got {self.fmm_rank}")
        for path, value, valid in (
            ("mapping_kwargs.activation", self.mapping_activation, tuple(BIAS_ACT)),
            ("synthesis_kwargs.activation", self.layer_activation, tuple(BIAS_ACT)),
            ("cfg.upsampling_mode", self.upsampling_mode, UPSAMPLING_MODES),
            ("synthesis_kwargs.architecture", self.architecture, ARCHITECTURES),
        ):
            need(value in valid, f"{path}={_short(value)} is not supported by the sg2 family (supported: {', '.join(valid)})")
        have = {c.resolution for c in self.coords}
        for b in self.blocks():
            if b.coord_fuser is not None:
                need(b.resolution in have, f"cfg.coords.res_configs has no entry for resolution {b.resolution}")
        need(self.coords[0].total_dim > 0, "the input CoordFuser produces no channels (the first layer would have no input)")

    # ------------------------------------------------------------ derived data
    @property
    def native_size(self) -> int:
        return self.img_resolution

    def channels(self, nominal: int) -> int:
        return min(self.channel_base // nominal, self.channel_max)

    def coord_spec(self, resolution: int) -> CoordSpec:
        for c in self.coords[1:]:
            if c.resolution == resolution:
                return c
        raise ConfigError(f"cfg.coords.res_configs has no entry for resolution {resolution}")

    def grid_resolutions(self) -> list[int]:
        """Distinct block resolutions, coarse to fine: one coordinate grid each."""
        return sorted({b.resolution for b in self.blocks()})

    def blocks(self) -> list[BlockInfo]:
        out = []
        log2 = int(math.log2(self.img_resolution))
        resolutions = sorted({max(2**i, self.input_resolution) for i in range(2, log2 + 1)})
        extra = dict(self.extra_convs)
        for i in range(2, log2 + 1):
            nominal = 2**i
            res = max(nominal, self.input_resolution)
            up = 1 if nominal <= self.input_resolution else 2
            first = nominal == 4
            fuser = None
            if not first and (not self.per_resolution or up == 2):
                fuser = self.coord_spec(res)
            if fuser is not None and fuser.total_dim == 0:
                fuser = None  # fallback: their fuser returns its input unchanged
            is_last = nominal == self.img_resolution
            out.append(
                BlockInfo(
                    name=f"b{nominal}",
                    nominal=nominal,
                    resolution=res,
                    up=up,
                    grid=resolutions.index(res),
                    in_channels=0 if first else self.channels(nominal // 2),
                    out_channels=self.channels(nominal),
                    coord_fuser=fuser,
                    num_extra=int(extra.get(res, 0)),
                    torgb=is_last or self.architecture == "skip",
                    is_last=is_last,
                )
            )
        return out

    # --------------------------------------------------------- serialization
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["coords"] = [asdict(c) for c in self.coords]
        d["extra_convs"] = [list(e) for e in self.extra_convs]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "SG2Config":
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown field(s) in sg2 config: {', '.join(sorted(unknown))}")
        d = dict(d)
        try:
            d["coords"] = tuple(CoordSpec(**c) for c in d["coords"])
            d["extra_convs"] = tuple((int(r), int(n)) for r, n in d.get("extra_convs", ()))
            return cls(**d)
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"bad sg2 config: {e}") from None

    # -------------------------------------------------- their recorded kwargs
    @classmethod
    def from_init_kwargs(cls, kwargs: Mapping[str, Any]) -> "SG2Config":
        """From `Generator.__init__`'s recorded keyword arguments (`G_ema.init_kwargs`)."""
        kwargs = dict(kwargs)
        for key in ("z_dim", "w_dim", "img_resolution"):
            if key not in kwargs:
                raise ConfigError(f"the generator's init arguments lack {key!r}")
        known = {"z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs", "synthesis_kwargs", "cfg"}
        unknown = set(kwargs) - known
        if unknown:
            raise ConfigError(f"the generator's init arguments have unknown key(s): {', '.join(sorted(unknown))}")
        mapping = dict(kwargs.get("mapping_kwargs") or {})
        synthesis = dict(kwargs.get("synthesis_kwargs") or {})
        gcfg = resolve_interpolations(kwargs.get("cfg") or {})

        inp, coords, fmm, mode = _check_supported(mapping, synthesis, gcfg)
        input_res = _int(inp, "resolution", "cfg.input.")
        res = int(kwargs["img_resolution"])
        log2 = int(math.log2(res)) if res >= 1 else 0
        per_res = bool(coords.get("per_resolution", False))
        fused = sorted(
            {max(2**i, input_res) for i in range(3, log2 + 1) if not per_res or 2**i > input_res}
        )  # resolutions of the blocks that own a CoordFuser (SynthesisBlock.__init__)
        fuser_cfg = inp.get("coord_fuser_cfg")
        if not isinstance(fuser_cfg, Mapping):
            raise ConfigError("cfg.input.coord_fuser_cfg must be a mapping (the input CoordFuser's config)")
        specs = [_coord_spec(fuser_cfg, input_res, "cfg.input.coord_fuser_cfg")]
        specs += [_coord_spec(coords, r, "cfg.coords") for r in fused]
        extra = gcfg.get("num_extra_convs") or {}
        if not isinstance(extra, Mapping):
            raise ConfigError(f"cfg.num_extra_convs must be a mapping of resolution -> count, got {_short(extra)}")
        clamp = synthesis.get("conv_clamp")
        return cls(
            z_dim=int(kwargs["z_dim"]),
            w_dim=int(kwargs["w_dim"]),
            img_resolution=res,
            input_resolution=input_res,
            coords=tuple(specs),
            img_channels=int(kwargs.get("img_channels", 3)),
            c_dim=int(kwargs.get("c_dim", 0) or 0),
            mapping_layers=int(mapping.get("num_layers", 8)),
            mapping_activation=str(mapping.get("activation", "lrelu")),
            mapping_lr_multiplier=float(mapping.get("lr_multiplier", 0.01)),
            mapping_layer_features=None if mapping.get("layer_features") is None else int(mapping["layer_features"]),
            channel_base=int(synthesis.get("channel_base", 32768)),
            channel_max=int(synthesis.get("channel_max", 512)),
            architecture=str(synthesis.get("architecture", "skip")),
            layer_activation=str(synthesis.get("activation", "lrelu")),
            conv_clamp=None if clamp is None else float(clamp),
            upsampling_mode=str(mode),
            fmm_rank=int(fmm.get("rank", 1)),
            fmm_activation=str(fmm.get("activation", "none")),
            instance_norm=bool(fmm.get("instance_norm", False)),
            per_resolution=per_res,
            extra_convs=tuple(sorted((int(k), int(v)) for k, v in extra.items() if int(v) > 0)),
        )


def _check_supported(mapping: Mapping[str, Any], synthesis: Mapping[str, Any], gcfg: Mapping[str, Any]):
    """Refuse, by name, every init argument the sg2 family cannot rebuild; returns the config's
    ``input``, ``coords`` and ``fmm`` sections and the upsampling mode."""
    def refuse(path: str, value: Any, supported: str) -> None:
        raise ConfigError(f"{path}={_short(value)} is not supported by the sg2 family (supported: {supported})")

    # mapping network
    for key in mapping:
        if key not in ("num_layers", "embed_features", "layer_features", "activation", "lr_multiplier", "w_avg_beta"):
            refuse(f"mapping_kwargs.{key}", mapping[key], "num_layers, layer_features, activation, lr_multiplier, w_avg_beta")
    if mapping.get("w_avg_beta", 0.995) is None:
        refuse("mapping_kwargs.w_avg_beta", None, "a number (the generator needs w_avg for truncation)")
    # synthesis network
    layer_keys = {"activation"}
    ignored = {"resample_filter", "fp16_channels_last", "channels_last"}  # unused by FMM layers and FP32 blocks
    for key in synthesis:
        if key not in {"channel_base", "channel_max", "num_fp16_res", "conv_clamp", "architecture"} | layer_keys | ignored:
            refuse(f"synthesis_kwargs.{key}", synthesis[key], "channel_base, channel_max, conv_clamp, architecture, activation")
    if int(synthesis.get("num_fp16_res", 0) or 0) != 0:
        refuse("synthesis_kwargs.num_fp16_res", synthesis["num_fp16_res"], "0 (the released models are FP32)")
    # generator config: every key their code reads
    inp = _mapping(gcfg, "input", "cfg.")
    coords = _mapping(gcfg, "coords", "cfg.")
    fmm = _mapping(gcfg, "fmm", "cfg.", required=False)
    if inp.get("type") != "coords":
        refuse("cfg.input.type", inp.get("type"), "coords (an INR input; 'const' is the convolutional StyleGAN2)")
    if not coords.get("enabled"):
        refuse("cfg.coords.enabled", coords.get("enabled"), "true")
    if int(coords.get("kernel_size", 1)) != 1:
        refuse("cfg.coords.kernel_size", coords.get("kernel_size"), "1 (per-pixel layers)")
    if int(coords.get("coord_dim", 2)) != 2:
        refuse("cfg.coords.coord_dim", coords.get("coord_dim"), "2")
    if not fmm.get("enabled"):
        refuse("cfg.fmm.enabled", fmm.get("enabled"), "true (FMM layers)")
    if gcfg.get("use_noise"):
        refuse("cfg.use_noise", gcfg.get("use_noise"), "false")
    mode = gcfg.get("upsampling_mode")
    if mode not in UPSAMPLING_MODES:
        refuse("cfg.upsampling_mode", mode, "nearest, bilinear")
    return inp, coords, fmm, mode


def _coord_spec(coords: Mapping[str, Any], resolution: int, path: str) -> CoordSpec:
    """`CoordFuser(cfg, w_dim, resolution)` as their constructor reads its config."""
    if coords.get("fallback"):
        return CoordSpec(resolution=resolution, fallback=True)
    res_configs = coords.get("res_configs")
    if not isinstance(res_configs, Mapping) or str(resolution) not in res_configs:
        raise ConfigError(f"{path}.res_configs has no entry for resolution {resolution}")
    rc = res_configs[str(resolution)]
    if not isinstance(rc, Mapping):
        raise ConfigError(f"{path}.res_configs[{resolution}] must be a mapping, got {_short(rc)}")
    p = f"{path}.res_configs[{resolution}]"
    if rc.get("init_dist", "randn") not in ("randn", "rand"):
        raise ConfigError(f"{p}.init_dist={_short(rc.get('init_dist'))} is not supported (randn, rand)")
    spec = CoordSpec(
        resolution=resolution,
        log_emb_size=int(rc.get("log_emb_size", 0) or 0),
        use_diagonal=bool(rc.get("use_diagonal", False)),
        random_emb_size=int(rc.get("random_emb_size", 0) or 0),
        shared_emb_size=int(rc.get("shared_emb_size", 0) or 0),
        predictable_emb_size=int(rc.get("predictable_emb_size", 0) or 0),
        const_emb_size=int(rc.get("const_emb_size", 0) or 0),
        use_cosine=bool(rc.get("use_cosine", False)),
        use_raw_coords=bool(rc.get("use_raw_coords", False)),
        fourier_scale=float(rc.get("fourier_scale", math.sqrt(10))),
    )
    if spec.log_emb_size > 0 and spec.log_rows > spec.log_emb_size:
        raise ConfigError(
            f"{p}: the logarithmic basis has {spec.log_rows} rows > log_emb_size={spec.log_emb_size} "
            "(their generate_logarithmic_basis fails its own assert)"
        )
    return spec


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlist, _REPR.maxdict = 3, 60, 60, 6, 6


def _short(value: Any) -> str:
    """A value as it appears in an error line: bounded, whatever the file put there."""
    return _REPR.repr(value)


_INTERP = re.compile(r"^\$\{([A-Za-z0-9_.]+)\}$")


def resolve_interpolations(cfg: Any) -> Any:
    """Resolve OmegaConf node interpolations (``${a.b}``, relative to the config's root) in a
    plain nested dict, as `OmegaConf.create(cfg)` does on access. Other interpolations
    (resolvers such as ``${env:X}``, strings with text around them) are refused."""
    root = cfg
    count = 0  # values produced: interpolations copy what they name, so a chain can expand

    def lookup(path: str, seen: tuple[str, ...], depth: int) -> Any:
        if path in seen:
            raise ConfigError(f"config interpolation ${{{path[:80]}}} refers to itself")
        node: Any = root
        for part in path.split("."):
            if not isinstance(node, Mapping) or part not in node:
                raise ConfigError(f"config interpolation ${{{path[:80]}}} names a key that does not exist")
            node = node[part]
        return walk(node, seen + (path,), depth + 1)

    def walk(node: Any, seen: tuple[str, ...] = (), depth: int = 0) -> Any:
        nonlocal count
        count += 1
        if count > MAX_RESOLVED_VALUES:
            raise ConfigError(f"the config expands to more than {MAX_RESOLVED_VALUES:,} values once its interpolations are resolved")
        if depth > MAX_RESOLVED_DEPTH:
            raise ConfigError(f"the config nests deeper than {MAX_RESOLVED_DEPTH} levels once its interpolations are resolved")
        if isinstance(node, str) and "${" in node:
            m = _INTERP.match(node)
            if not m:
                raise ConfigError(f"config value {node[:80]!r} uses an interpolation this tool does not resolve")
            return lookup(m.group(1), seen, depth)
        if isinstance(node, Mapping):
            return {str(k): walk(v, seen, depth + 1) for k, v in node.items()}
        if isinstance(node, (list, tuple)):
            return [walk(v, seen, depth + 1) for v in node]
        return node

    return walk(cfg)


def _mapping(d: Mapping[str, Any], key: str, prefix: str, required: bool = True) -> Mapping[str, Any]:
    v = d.get(key)
    if v is None and not required:
        return {}
    if not isinstance(v, Mapping):
        raise ConfigError(f"the generator config lacks the section {prefix}{key}")
    return v


def _int(d: Mapping[str, Any], key: str, prefix: str) -> int:
    if d.get(key) is None:
        raise ConfigError(f"the generator config lacks {prefix}{key}")
    try:
        return int(d[key])
    except (TypeError, ValueError):
        raise ConfigError(f"{prefix}{key} must be an integer, got {_short(d[key])}") from None
