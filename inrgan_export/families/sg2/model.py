"""The `sg2` generator in PyTorch: the authors' StyleGAN2-ADA-based INR-GAN
(`src/training/networks.py`, `layers.py`), split into a hypernetwork and an INR.

Module and tensor names mirror theirs (``mapping.fc0.weight``,
``synthesis.b64.conv0.affine.weight``, ``synthesis.b4.input.input.coord_fuser.const_embs``), so a
network pickle's parameters load one to one. Numerics follow their forward pass operation by
operation (FullyConnectedLayer's ``addmm``, ``bias_act``'s order, ``fmm_modulate_linear``'s
``L·R/√rank``, demodulation, ``x / (std + 1e-8)``, ``w_avg.lerp(w, ψ)``).

The split:

* ``hypernet(z, truncation_psi) → θ``: mapping network, truncation, and every per-sample
  quantity: the FMM factors of each layer (the affine outputs, ``(in + out)·rank`` values), the
  ToRGB styles, the predictable coordinate embeddings' affine outputs, and for instance-normed
  models the per-channel statistics of a native-grid pass (see below);
* ``inr(θ, coords_g…, up…) → rgb``: the synthesis network on per-grid coordinates. Coordinate
  features (Fourier features of the shared bases, learned constant embeddings) do not depend on
  the latent: they are computed once per call from the grid (``coords_g[:1]``) and broadcast
  over the batch.

Instance norm (the ``-bil`` models) divides a layer's input by its standard deviation over the
rendered grid. Here that statistic is taken once per latent, by the hypernetwork, from a render
of the native grid, and carried in θ: the INR is then a per-pixel function of θ and the grid,
so every size, window and tile uses the same statistics, and the native render is the authors'.

Over 400 lines: one class per module of the authors' networks.py/layers.py, side by side, so the
two can be compared operation by operation.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...core.grid import GridLayout
from ..paper.model import ThetaSegment, resample
from .config import BIAS_ACT, BlockInfo, CoordSpec, SG2Config

THETA_FORMS = ("factors", "weights")


# ---------------------------------------------------------------- primitives
def _eps(x: Tensor, value: float) -> Tensor:
    """``value`` as a one-element 1-D tensor to add to ``x`` (same numbers as adding the
    Python float). A scalar ``+ 1e-8`` does not survive the ONNX export: the exporter's graph
    optimizer (onnxscript 0.7) rewrites ``x + c`` to ``x`` for every scalar ``c`` within
    ``abs_tol=1e-8`` of 0, which turns ``rsqrt(mean(z²) + 1e-8)`` into ``rsqrt(mean(z²))`` and
    so a zero latent into NaN θ. The rule matches 0-D constants only."""
    return x.new_full((1,), value)


def bias_act(x: Tensor, b: Tensor | None, act: str = "linear", gain: float | None = None, clamp: float | None = None) -> Tensor:
    """`torch_utils.ops.bias_act`'s reference path on [N, C, ...]: add bias, activate, scale, clamp."""
    alpha, def_gain = BIAS_ACT[act]
    if b is not None:
        x = x + b.reshape([1, -1] + [1] * (x.ndim - 2))
    if act == "relu":
        x = F.relu(x)
    elif act == "lrelu":
        x = F.leaky_relu(x, alpha)
    elif act == "tanh":
        x = torch.tanh(x)
    elif act == "sigmoid":
        x = torch.sigmoid(x)
    elif act == "elu":
        x = F.elu(x)
    elif act == "selu":
        x = F.selu(x)
    elif act == "softplus":
        x = F.softplus(x)
    elif act == "swish":
        x = torch.sigmoid(x) * x
    gain = float(def_gain if gain is None else gain)
    if gain != 1:
        x = x * gain
    if clamp is not None and clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return x


class FullyConnectedLayer(nn.Module):
    def __init__(self, in_features: int, out_features: int, activation: str = "linear", lr_multiplier: float = 1.0, bias_init: float = 0.0) -> None:
        super().__init__()
        self.activation = activation
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.full([out_features], float(np.float32(bias_init))))
        self.bias_init = bias_init
        self.lr_multiplier = lr_multiplier
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: Tensor) -> Tensor:
        w = self.weight * self.weight_gain
        b = self.bias
        if self.bias_gain != 1:
            b = b * self.bias_gain
        if self.activation == "linear":
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, self.activation)


def normalize_2nd_moment(x: Tensor, eps: float = 1e-8) -> Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + _eps(x, eps)).rsqrt()


class MappingNetwork(nn.Module):
    """z → w, then ``w_avg.lerp(w, ψ)`` (truncation of every layer's w, as ``truncation_cutoff=None``)."""

    def __init__(self, cfg: SG2Config) -> None:
        super().__init__()
        hidden = cfg.mapping_layer_features or cfg.w_dim
        dims = [cfg.z_dim] + [hidden] * (cfg.mapping_layers - 1) + [cfg.w_dim]
        self.num_layers = cfg.mapping_layers
        for i in range(cfg.mapping_layers):
            layer = FullyConnectedLayer(dims[i], dims[i + 1], cfg.mapping_activation, cfg.mapping_lr_multiplier)
            setattr(self, f"fc{i}", layer)
        self.register_buffer("w_avg", torch.zeros([cfg.w_dim]))

    def forward(self, z: Tensor, truncation_psi: Tensor | None = None) -> Tensor:
        x = normalize_2nd_moment(z)
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        if truncation_psi is not None:
            x = torch.lerp(self.w_avg.unsqueeze(0), x, truncation_psi.reshape(-1, 1).to(x.dtype))
        return x


# ------------------------------------------------------------- INR layers
class SynthesisLayer(nn.Module):
    """A per-pixel FMM layer (`SynthesisLayer` with `cfg.fmm.enabled`, kernel 1).

    ``W = weight ⊙ (act(L·R/√rank) + 1)``, row-normalised in the ``demod`` form; then
    ``bias_act(W·x, bias, activation)``; with instance norm the input is first divided by its
    per-channel standard deviation (+1e-8)."""

    def __init__(self, in_channels: int, out_channels: int, cfg: SG2Config, instance_norm: bool) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.rank = in_channels, out_channels, cfg.fmm_rank
        self.form = cfg.fmm_activation
        self.activation = cfg.layer_activation
        self.conv_clamp = cfg.conv_clamp
        self.instance_norm = instance_norm
        self.affine = FullyConnectedLayer(cfg.w_dim, (in_channels + out_channels) * cfg.fmm_rank, bias_init=0)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros([out_channels]))

    @property
    def factors_size(self) -> int:
        return (self.in_channels + self.out_channels) * self.rank

    def modulated_weight(self, styles: Tensor) -> Tensor:
        """Affine outputs [N, (in+out)·rank] → per-sample weights [N, out, in]."""
        o, r, i = self.out_channels, self.rank, self.in_channels
        left = styles[:, : o * r].reshape(-1, o, r)
        right = styles[:, o * r :].reshape(-1, r, i)
        modulation = torch.matmul(left, right) / math.sqrt(r)
        if self.form == "tanh":
            modulation = modulation.tanh()
        elif self.form == "sigmoid":
            modulation = modulation.sigmoid() - 0.5
        w = self.weight.squeeze(3).squeeze(2).unsqueeze(0) * (modulation + 1.0)
        if self.form == "demod":
            # = W.norm(dim=2) of their code; spelled as sqrt(sum(W²)) because ONNX Runtime's
            # symbolic shape inference (used for MAC counts) cannot type opset-18 ReduceL2
            w = w / (w.square().sum(dim=2, keepdim=True).sqrt() + _eps(w, 1e-8))
        return w

    def forward(self, x: Tensor, weight: Tensor) -> Tensor:
        """x [N, in, L], per-sample weight [N, out, in] → [N, out, L]."""
        return bias_act(torch.matmul(weight, x), self.bias, self.activation, clamp=self.conv_clamp)


class ToRGBLayer(nn.Module):
    """Modulated 1×1 convolution without demodulation: ``(weight ⊙ s)·x + bias``, s = affine(w)/√in."""

    def __init__(self, in_channels: int, cfg: SG2Config) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.conv_clamp = cfg.conv_clamp
        self.affine = FullyConnectedLayer(cfg.w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.empty(cfg.img_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros([cfg.img_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def styles(self, w: Tensor) -> Tensor:
        return self.affine(w) * self.weight_gain

    def modulated_weight(self, styles: Tensor) -> Tensor:
        return self.weight.squeeze(3).squeeze(2).unsqueeze(0) * styles.reshape(-1, 1, self.in_channels)

    def forward(self, x: Tensor, weight: Tensor) -> Tensor:
        return bias_act(torch.matmul(weight, x), self.bias, "linear", clamp=self.conv_clamp)


# --------------------------------------------------------- coordinate features
def logarithmic_basis(resolution: int, use_diagonal: bool) -> Tensor:
    """`generate_logarithmic_basis(resolution, ·, use_diagonal)`, same float32 operations."""
    n = int(math.ceil(math.log2(resolution)))

    def wavefront(direction: list[float], period: float) -> Tensor:
        coef = 2.0 * math.pi / period
        basis = torch.tensor([direction]).repeat(n, 1)
        powers = torch.tensor([2]).repeat(n).pow(torch.arange(n)).unsqueeze(1)
        return (basis * powers * coef).float()

    s2 = math.sqrt(2)
    bases = [wavefront([0.0, 1.0], 4.0), wavefront([1.0, 0.0], 4.0)]
    if use_diagonal:
        bases += [wavefront([-1.0 / s2, 1.0 / s2], 4.0 * s2), wavefront([1.0 / s2, 1.0 / s2], 4.0 * s2)]
    return torch.cat(bases, dim=0)


class CoordFuser(nn.Module):
    """Coordinate features of one resolution (their `CoordFuser`), appended along channels:
    ``[raw coords], sin(B·p) for B = [log; random; shared; predictable], [cos(B·p)], const_embs``.

    The constant embeddings are a learned grid at the fuser's native resolution R. They are
    sampled at the block's coordinates: continuous pixel indices ``fx = (x + 1)·R/2``,
    ``fy = (1 − y)·R/2 − 1`` (exactly the integers 0..R−1 on the native grid), bilinear between
    the four neighbours, clamped to the edge outside [0, R−1]. On the native grid this returns
    the stored values exactly."""

    def __init__(self, spec: CoordSpec, w_dim: int) -> None:
        super().__init__()
        self.spec = spec
        self.resolution = spec.resolution
        if spec.log_rows:
            self.register_buffer("log_basis", logarithmic_basis(spec.resolution, spec.use_diagonal))
        if spec.random_emb_size:
            self.register_buffer("random_basis", torch.empty(spec.random_emb_size, 2))
        if spec.shared_emb_size:
            self.shared_basis = nn.Parameter(torch.empty(spec.shared_emb_size, 2))
        if spec.predictable_emb_size:
            p = spec.predictable_emb_size
            self.affine = FullyConnectedLayer(w_dim, p * 2 + p, bias_init=0)
        if spec.const_emb_size:
            r = spec.resolution
            self.const_embs = nn.Parameter(torch.empty(1, spec.const_emb_size, r, r))

    @property
    def total_dim(self) -> int:
        return self.spec.total_dim

    def forward(self, coords: Tensor, predicted: Tensor | None) -> Tensor:
        """coords [N, 2, H, W] (the grid; only the first sample is read) and the predictable
        embeddings' affine outputs [N, 3P] (or None) → features [1 or N, total_dim, H·W]."""
        s = self.spec
        grid = coords[:1]
        pts = grid.flatten(2)  # [1, 2, L]
        parts: list[Tensor] = []
        if s.use_raw_coords:
            parts.append(pts)
        raw = [basis.unsqueeze(0) @ pts for basis in self._shared_bases()]  # [1, F, L] each
        if s.predictable_emb_size:
            assert predicted is not None
            p = s.predictable_emb_size
            w = s.fourier_scale * predicted[:, : 2 * p]
            w = w.reshape(-1, p, 2)
            bias = predicted[:, 2 * p :].reshape(-1, p, 1)
            batch = w.shape[0]
            raw = [r.expand(batch, -1, -1) for r in raw]
            raw.append(torch.matmul(w, pts) + bias)
            parts = [t.expand(batch, -1, -1) for t in parts]
        if raw:
            emb = raw[0] if len(raw) == 1 else torch.cat(raw, dim=1)
            parts.append(emb.sin())
            if s.use_cosine:
                parts.append(emb.cos())
        if s.const_emb_size:
            const = self.sample_const(grid)
            if parts and parts[0].shape[0] != 1:
                const = const.expand(parts[0].shape[0], -1, -1)
            parts.append(const)
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)

    def _shared_bases(self) -> list[Tensor]:
        out = []
        for name in ("log_basis", "random_basis", "shared_basis"):
            if hasattr(self, name):
                out.append(getattr(self, name))
        return out

    def sample_const(self, grid: Tensor) -> Tensor:
        """Constant embeddings at the grid's coordinates: [1, C, H·W]."""
        r = self.resolution
        table = self.const_embs[0]  # [C, R, R]
        xs = grid[0, 0, 0, :]
        ys = grid[0, 1, :, 0]
        x0, x1, wx = _bilinear_taps((xs + 1) * (r / 2), r)
        y0, y1, wy = _bilinear_taps((1 - ys) * (r / 2) - 1, r)
        wy = wy.reshape(1, -1, 1)
        rows = table.index_select(1, y0) * (1 - wy) + table.index_select(1, y1) * wy  # [C, H, R]
        out = rows.index_select(2, x0) * (1 - wx) + rows.index_select(2, x1) * wx  # [C, H, W]
        return out.flatten(1).unsqueeze(0)


def _bilinear_taps(f: Tensor, n: int) -> tuple[Tensor, Tensor, Tensor]:
    """Continuous indices → (i0, i1, w1) for ``t[i0]·(1 − w1) + t[i1]·w1``, clamped to [0, n−1]."""
    f = f.clamp(0, n - 1)
    i0 = f.floor().clamp(max=max(n - 2, 0))
    w1 = f - i0
    i0 = i0.to(torch.int64)
    i1 = (i0 + 1).clamp(max=n - 1)
    return i0, i1, w1


class CoordsInput(nn.Module):
    def __init__(self, spec: CoordSpec, w_dim: int) -> None:
        super().__init__()
        self.coord_fuser = CoordFuser(spec, w_dim)


class GenInput(nn.Module):
    """The first block's input: coordinate features only (`GenInput` of type ``coords``)."""

    def __init__(self, spec: CoordSpec, w_dim: int) -> None:
        super().__init__()
        self.input = CoordsInput(spec, w_dim)


class SynthesisBlock(nn.Module):
    def __init__(self, info: BlockInfo, cfg: SG2Config) -> None:
        super().__init__()
        self.info = info
        if info.in_channels == 0:
            self.input = GenInput(cfg.coords[0], cfg.w_dim)
            conv1_in = cfg.coords[0].total_dim
        else:
            fuser_dim = 0
            if info.coord_fuser is not None:
                self.coord_fuser = CoordFuser(info.coord_fuser, cfg.w_dim)
                fuser_dim = info.coord_fuser.total_dim
            self.conv0 = SynthesisLayer(info.in_channels + fuser_dim, info.out_channels, cfg, instance_norm=False)
            conv1_in = info.out_channels
        self.conv1 = SynthesisLayer(conv1_in, info.out_channels, cfg, instance_norm=info.in_channels > 0 and cfg.instance_norm)
        if info.num_extra:
            self.extra_convs = nn.ModuleList(
                SynthesisLayer(info.out_channels, info.out_channels, cfg, instance_norm=cfg.instance_norm) for _ in range(info.num_extra)
            )
        if info.torgb:
            self.torgb = ToRGBLayer(info.out_channels, cfg)

    @property
    def fuser(self) -> CoordFuser | None:
        if self.info.in_channels == 0:
            return self.input.input.coord_fuser
        return getattr(self, "coord_fuser", None)

    def layers(self) -> list[tuple[str, SynthesisLayer]]:
        out = [] if self.info.in_channels == 0 else [("conv0", self.conv0)]
        out.append(("conv1", self.conv1))
        if self.info.num_extra:
            out += [(f"extra_convs.{k}", m) for k, m in enumerate(self.extra_convs)]
        return out


class SynthesisNetwork(nn.Module):
    def __init__(self, cfg: SG2Config) -> None:
        super().__init__()
        self.block_infos = cfg.blocks()
        for info in self.block_infos:
            setattr(self, info.name, SynthesisBlock(info, cfg))

    def blocks(self) -> list[SynthesisBlock]:
        return [getattr(self, info.name) for info in self.block_infos]


# ------------------------------------------------------------- grid layout
def grid_layout(cfg: SG2Config) -> GridLayout:
    from ...core.grid import HalvingSizeRule, YUpCoordConvention

    n = len(cfg.grid_resolutions())
    mode = cfg.upsampling_mode
    return GridLayout(
        size_rule=HalvingSizeRule(native=cfg.img_resolution, num_blocks=n),
        coords=YUpCoordConvention(offset=(-1.0, -1.0), scale=(2.0, 2.0)),
        resample_mode=mode,
        align_corners=mode == "bilinear",
        edges=tuple((g - 1, g) for g in range(1, n)),
    )


# ---------------------------------------------------------------- generator
class SG2Generator(nn.Module):
    """The whole generator; ``hypernet`` and ``inr`` are the two graphs the exporter splits.

    ``theta_form`` chooses what θ holds: ``"factors"`` (the default: each FMM layer's affine
    output, ``(in + out)·rank`` values, modulated inside the INR) or ``"weights"`` (the
    modulated, demodulated ``[out, in]`` weights; kept for cost measurements)."""

    family = "sg2"

    def __init__(self, cfg: SG2Config, theta_form: str = "factors") -> None:
        super().__init__()
        if theta_form not in THETA_FORMS:
            raise ValueError(f"theta_form must be one of {THETA_FORMS}, got {theta_form!r}")
        self.cfg = cfg
        self.theta_form = theta_form
        self.synthesis = SynthesisNetwork(cfg)
        self.mapping = MappingNetwork(cfg)
        self._layout = grid_layout(cfg)
        self.input_names = self._layout.input_names()
        self.segments = self._theta_segments()
        self._theta_dim = self.segments[-1].end
        if cfg.instance_norm:
            # the native grid the statistics are taken on (constants of the hypernetwork graph)
            native = self._layout.build((cfg.img_resolution, cfg.img_resolution)).arrays
            for name in self.input_names:
                self.register_buffer(f"_native_{name}", torch.from_numpy(np.ascontiguousarray(native[name])), persistent=False)

    # ------------------------------------------------------------ interface
    @property
    def layout(self) -> GridLayout:
        return self._layout

    @property
    def z_dim(self) -> int:
        return self.cfg.z_dim

    @property
    def native_size(self) -> tuple[int, int]:
        return (self.cfg.img_resolution, self.cfg.img_resolution)

    @property
    def theta_dim(self) -> int:
        return self._theta_dim

    @property
    def theta_segments(self) -> list[ThetaSegment]:
        return self.segments

    # ------------------------------------------------------------ θ layout
    def _theta_segments(self) -> list[ThetaSegment]:
        segs: list[ThetaSegment] = []
        offset = 0

        def add(name: str, size: int, kind: str, parts: tuple) -> None:
            nonlocal offset
            segs.append(ThetaSegment(name, offset, size, kind, parts))
            offset += size

        weights = self.theta_form == "weights"
        for block in self.synthesis.blocks():
            b = block.info.name
            fuser = block.fuser
            if fuser is not None and fuser.spec.predictable_emb_size:
                p = fuser.spec.predictable_emb_size
                # the predicted Fourier basis (w·coords + b → sin/cos): kind "fourier", as in the paper family
                add(f"{b}.coords", 3 * p, "fourier", (("weight", (p, 2)), ("bias", (p,))))
            for lname, layer in block.layers():
                o, i, r = layer.out_channels, layer.in_channels, layer.rank
                if weights:
                    add(f"{b}.{lname}", o * i, "weight", (("weight", (o, i)),))
                else:
                    add(f"{b}.{lname}", layer.factors_size, "fmm", (("lhs", (o, r)), ("rhs", (r, i))))
            if block.info.torgb:
                c = block.torgb.in_channels
                if weights:
                    add(f"{b}.torgb", 3 * c, "weight", (("weight", (3, c)),))
                else:
                    add(f"{b}.torgb", c, "styles", (("styles", (c,)),))
        for block in self.synthesis.blocks():
            for lname, layer in block.layers():
                if layer.instance_norm:
                    add(f"{block.info.name}.{lname}.norm", layer.in_channels, "norm", (("std", (layer.in_channels,)),))
        return segs

    # ------------------------------------------------------------ hypernet
    def hypernet(self, z: Tensor, truncation_psi: Tensor | None = None) -> Tensor:
        """z [N, z_dim] (and ψ [N], default 1) → θ [N, theta_dim]."""
        if truncation_psi is None:
            truncation_psi = torch.ones(z.shape[0], dtype=z.dtype)
        w = self.mapping(z, truncation_psi)
        params = self._per_sample(w)
        parts = [params[s.name] for s in self.segments if s.kind != "norm"]
        if self.cfg.instance_norm:
            native = {name: getattr(self, f"_native_{name}") for name in self.input_names}
            stats = self._synthesize(self._as_weights(params), native, collect_stats=True)
            parts += stats
        return torch.cat(parts, dim=1)

    def _per_sample(self, w: Tensor) -> dict[str, Tensor]:
        """Every θ segment except the statistics, in the chosen form."""
        out: dict[str, Tensor] = {}
        weights = self.theta_form == "weights"
        for block in self.synthesis.blocks():
            b = block.info.name
            fuser = block.fuser
            if fuser is not None and fuser.spec.predictable_emb_size:
                out[f"{b}.coords"] = fuser.affine(w)
            for lname, layer in block.layers():
                styles = layer.affine(w)
                out[f"{b}.{lname}"] = layer.modulated_weight(styles).flatten(1) if weights else styles
            if block.info.torgb:
                styles = block.torgb.styles(w)
                out[f"{b}.torgb"] = block.torgb.modulated_weight(styles).flatten(1) if weights else styles
        return out

    def _as_weights(self, params: dict[str, Tensor]) -> dict[str, Tensor]:
        """θ segments → what the synthesis consumes: per-sample weight matrices (modulated here
        in the ``factors`` form), predictable embeddings and statistics as they are."""
        out: dict[str, Tensor] = {}
        for block in self.synthesis.blocks():
            b = block.info.name
            if f"{b}.coords" in params:
                out[f"{b}.coords"] = params[f"{b}.coords"]
            for lname, layer in block.layers():
                p = params[f"{b}.{lname}"]
                if self.theta_form == "weights":
                    out[f"{b}.{lname}"] = p.reshape(-1, layer.out_channels, layer.in_channels)
                else:
                    out[f"{b}.{lname}"] = layer.modulated_weight(p)
                if f"{b}.{lname}.norm" in params:
                    out[f"{b}.{lname}.norm"] = params[f"{b}.{lname}.norm"]
            if block.info.torgb:
                p = params[f"{b}.torgb"]
                t = block.torgb
                out[f"{b}.torgb"] = p.reshape(-1, 3, t.in_channels) if self.theta_form == "weights" else t.modulated_weight(p)
        return out

    # ------------------------------------------------------------ INR
    def inr(self, theta: Tensor, *grid: Tensor) -> Tensor:
        """θ [N, P] and the layout's grid inputs → rgb [N, 3, H, W] (raw, no output activation)."""
        g = dict(zip(self.input_names, grid))
        params = {s.name: theta[:, s.offset : s.end] for s in self.segments}
        return self._synthesize(self._as_weights(params), g, collect_stats=False)

    def forward(self, z: Tensor, *grid: Tensor) -> Tensor:
        return self.inr(self.hypernet(z), *grid)

    def _synthesize(self, p: dict[str, Tensor], g: dict[str, Tensor], collect_stats: bool):
        """Their `SynthesisNetwork.forward` on the given grids, features as [N, C, H·W].

        With ``collect_stats`` (the hypernetwork's native pass) each instance-normed layer
        normalises by the standard deviation of its input over the grid and the list of those
        statistics [N, C] (+1e-8) is returned; otherwise they come from θ."""
        mode = self._layout.resample_mode
        n_grids = self._layout.num_blocks
        coords = [g[f"coords_{k}"] for k in range(n_grids)]
        hw = [(c.shape[-2], c.shape[-1]) for c in coords]
        batch = next(v for k, v in p.items() if not k.endswith(".norm")).shape[0]
        stats: list[Tensor] = []
        remaining = sum(1 for s in self.segments if s.kind == "norm")
        x: Tensor | None = None
        img: Tensor | None = None
        for block in self.synthesis.blocks():
            info = block.info
            b = info.name
            fuser = block.fuser
            if info.in_channels == 0:
                assert fuser is not None
                x = fuser(coords[info.grid], p.get(f"{b}.coords"))
                x = x.expand(batch, -1, -1)
            else:
                assert x is not None
                if info.up == 2:
                    x = resample(x, hw[info.grid - 1], self._edge(g, info.grid), mode)
                if fuser is not None:
                    f = fuser(coords[info.grid], p.get(f"{b}.coords"))
                    x = torch.cat([x, f.expand(batch, -1, -1)], dim=1)
            for lname, layer in block.layers():
                if layer.instance_norm:
                    if collect_stats:
                        s = x.std(dim=2, keepdim=True) + _eps(x, 1e-8)
                        stats.append(s.squeeze(2))
                        remaining -= 1
                    else:
                        s = p[f"{b}.{lname}.norm"].unsqueeze(2)
                    x = x / s
                if collect_stats and remaining == 0:
                    return stats
                x = layer(x, p[f"{b}.{lname}"])
            if img is not None and info.up == 2:
                img = resample(img, hw[info.grid - 1], self._edge(g, info.grid), mode)
            if info.torgb:
                y = block.torgb(x, p[f"{b}.torgb"])
                img = y if img is None else img + y
        if collect_stats:
            return stats
        assert img is not None
        h, w = hw[-1]
        return img.reshape(batch, img.shape[1], h, w)

    def _edge(self, g: dict[str, Tensor], dst: int) -> list[Tensor]:
        stem = f"up{dst - 1}to{dst}_"
        if self._layout.resample_mode == "nearest":
            return [g[stem + "y"], g[stem + "x"]]
        return [g[stem + k] for k in ("y0", "y1", "yw", "x0", "x1", "xw")]


# ----------------------------------------------------------- weights, counts
def init_weights_(model: SG2Generator, generator: torch.Generator) -> None:
    """Their initialisation (FullyConnectedLayer: randn / lr_multiplier, bias = bias_init;
    layer weights randn; constant embeddings randn; random bases randn·fourier_scale), then
    ``w_avg`` set to the mean w of 256 seeded latents, as a trained generator's tracks it."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, FullyConnectedLayer):
                m.weight.normal_(generator=generator).div_(m.lr_multiplier)
                m.bias.fill_(float(np.float32(m.bias_init)))
            elif isinstance(m, (SynthesisLayer, ToRGBLayer)):
                m.weight.normal_(generator=generator)
                m.bias.zero_()
            elif isinstance(m, CoordFuser):
                if hasattr(m, "random_basis"):
                    m.random_basis.normal_(generator=generator).mul_(m.spec.fourier_scale)
                if hasattr(m, "shared_basis"):
                    m.shared_basis.normal_(generator=generator).mul_(m.spec.fourier_scale)
                if hasattr(m, "const_embs"):
                    m.const_embs.normal_(generator=generator)
                if hasattr(m, "log_basis"):
                    m.log_basis.copy_(logarithmic_basis(m.spec.resolution, m.spec.use_diagonal))
        z = torch.randn(256, model.cfg.z_dim, generator=generator)
        model.mapping.w_avg.zero_()
        model.mapping.w_avg.copy_(model.mapping(z).mean(dim=0))


def count_parameters(cfg: SG2Config) -> tuple[int, int]:
    """(parameters, θ size), from a model built on the meta device."""
    with torch.device("meta"):
        model = SG2Generator(cfg)
    params = sum(t.numel() for t in model.state_dict().values())
    return params, model.theta_dim


def macs(cfg: SG2Config, block_shapes: Sequence[tuple[int, int]]) -> dict[str, object]:
    """Multiply-accumulates of one sample (MatMul work only): per grid block the shared bases'
    ``2·F`` (once per grid, not per latent), every layer's ``out·in`` and ToRGB's ``3·in`` per
    sample point; the per-sample FMM modulation ``L·R`` (``out·in·rank``) is part of "inr" and
    reported separately too. The hypernetwork (mapping, affines; with instance norm also its
    native-grid pass up to the last normalised layer) runs once per latent."""

    def synthesis(shapes: Sequence[tuple[int, int]], stop_at_last_norm: bool) -> tuple[list[int], int]:
        pixels = [h * w for h, w in shapes]
        ops: list[tuple[int, int, bool]] = []  # (grid, MACs, starts an instance-normed layer)
        modulation = 0
        for info in cfg.blocks():
            p = pixels[info.grid]
            fuser = cfg.coords[0] if info.in_channels == 0 else info.coord_fuser
            if fuser is not None:
                ops.append((info.grid, 2 * fuser.sin_rows * p, False))
            first_in = cfg.coords[0].total_dim if info.in_channels == 0 else info.in_channels + (fuser.total_dim if fuser else 0)
            layers = [(first_in, info.out_channels, False)]
            if info.in_channels:
                layers.append((info.out_channels, info.out_channels, cfg.instance_norm))
            layers += [(info.out_channels, info.out_channels, cfg.instance_norm)] * info.num_extra
            for i, o, normed in layers:
                ops.append((info.grid, 0, normed))
                ops.append((info.grid, i * o * p, False))
                modulation += i * o * cfg.fmm_rank
            if info.torgb:
                ops.append((info.grid, 3 * info.out_channels * p, False))
        if stop_at_last_norm:
            last = max((k for k, op in enumerate(ops) if op[2]), default=-1)
            ops = ops[:last]
        per_block = [0] * len(pixels)
        for g, m, _ in ops:
            per_block[g] += m
        return per_block, modulation

    per_block, modulation = synthesis(block_shapes, False)
    hidden = cfg.mapping_layer_features or cfg.w_dim
    dims = [cfg.z_dim] + [hidden] * (cfg.mapping_layers - 1) + [cfg.w_dim]
    hyper = sum(a * b for a, b in zip(dims[:-1], dims[1:]))
    for info in cfg.blocks():
        fuser = cfg.coords[0] if info.in_channels == 0 else info.coord_fuser
        if fuser is not None and fuser.predictable_emb_size:
            hyper += cfg.w_dim * 3 * fuser.predictable_emb_size
        n_layers = (1 if info.in_channels == 0 else 2) + info.num_extra
        first_in = cfg.coords[0].total_dim if info.in_channels == 0 else info.in_channels + (fuser.total_dim if fuser else 0)
        ins = [first_in] + [info.out_channels] * (n_layers - 1)
        hyper += sum(cfg.w_dim * (i + info.out_channels) * cfg.fmm_rank for i in ins)
        if info.torgb:
            hyper += cfg.w_dim * info.out_channels
    if cfg.instance_norm:
        native = [(r, r) for r in cfg.grid_resolutions()]
        native_blocks, native_mod = synthesis(native, True)
        hyper += sum(native_blocks) + native_mod
    return {"inr": sum(per_block) + modulation, "inr_per_block": per_block, "modulation": modulation, "hypernet": hyper}
