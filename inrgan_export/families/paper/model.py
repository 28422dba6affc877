"""The `paper` generator in PyTorch: hypernetwork (mapping network + connector) → θ, and the
hierarchical Fourier INR evaluated on per-block coordinate grids.

Numerics follow the authors' paper-time code operation by operation (same op order, same
float32 constants), so for the same weights, latent and grid the outputs agree to float
rounding. Two deliberate differences in *form*, not in value:

* the INR takes one coordinate grid per block plus the resampling indices between blocks
  (see :mod:`inrgan_export.core.grid`) instead of computing them from an integer image size,
  so one graph serves every size, aspect ratio, window and tile;
* nearest/bilinear upsampling is an index gather with PyTorch's own source indices, which
  is what ``F.interpolate`` computes, expressed so that a tile of a render is exact.

Over 400 lines: one class per module of the authors' code, side by side, so the two can be
compared operation by operation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...core.grid import CoordConvention, GridLayout, PaperSizeRule
from .config import BlockConfig, PaperConfig, fixed_basis_rows


# ----------------------------------------------------------------- activations
class Activation(nn.Module):
    """The authors' `create_activation` choices, as one exportable module."""

    def __init__(self, name: str, kwargs: dict | None = None) -> None:
        super().__init__()
        kwargs = dict(kwargs or {})
        self.name = name
        self.negative_slope = float(kwargs.get("negative_slope", 0.2 if name == "scaled_leaky_relu" else 0.01))
        default_scale = math.sqrt(2 / (1 + self.negative_slope**2))
        self.scale = float(kwargs["scale"]) if kwargs.get("scale") is not None else default_scale

    def forward(self, x: Tensor) -> Tensor:
        n = self.name
        if n == "relu":
            return F.relu(x)
        if n == "leaky_relu":
            return F.leaky_relu(x, self.negative_slope)
        if n == "scaled_leaky_relu":
            return F.leaky_relu(x, self.negative_slope) * self.scale
        if n == "tanh":
            return torch.tanh(x)
        if n == "none":
            return x
        if n == "centered_sigmoid":
            return x.sigmoid() * 2 - 1
        if n == "unit_centered_sigmoid":
            return x.sigmoid() * 2
        if n == "unit_centered_tanh":
            return x.tanh() + 1
        if n == "sine":
            return x.sin()
        raise ValueError(f"unknown activation {n!r}")


# ----------------------------------------------------------------- hypernetwork
class EqualLinear(nn.Module):
    """StyleGAN2-style equalized-lr linear layer (the authors' `EqualLinear`, lr_mul=1)."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_dim, in_dim))
        self.bias = nn.Parameter(torch.zeros(out_dim))
        self.scale = 1 / math.sqrt(in_dim)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.scale, bias=self.bias * 1)


class MappingBlock(nn.Module):
    """The authors' `INRGeneratorBlock`: linear → (batch norm) → activation, optionally residual."""

    def __init__(self, in_dim: int, out_dim: int, cfg: PaperConfig, first: bool) -> None:
        super().__init__()
        self.linear = EqualLinear(in_dim, out_dim) if cfg.mapping_equalized_lr else nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim) if cfg.mapping_has_bn else None
        self.act = Activation(cfg.mapping_activation, dict(cfg.mapping_activation_kwargs))
        self.residual = in_dim == out_dim and cfg.mapping_residual and not first
        if self.residual:
            self.main_branch_weight = nn.Parameter(torch.tensor(0.1))

    def forward(self, x: Tensor) -> Tensor:
        y = self.linear(x)
        if self.bn is not None:
            y = self.bn(y)
        y = self.act(y)
        return x + self.main_branch_weight * y if self.residual else y


class Hypernetwork(nn.Module):
    """z [N, z_dim] → θ [N, theta_dim]."""

    def __init__(self, cfg: PaperConfig, theta_dim: int) -> None:
        super().__init__()
        dims = [cfg.z_dim] + [cfg.mapping_hid_dim] * cfg.mapping_num_layers
        self.mapping = nn.ModuleList(MappingBlock(dims[i], dims[i + 1], cfg, i == 0) for i in range(len(dims) - 1))
        self.connector = nn.Linear(dims[-1], theta_dim)

    def forward(self, z: Tensor) -> Tensor:
        x = z
        for block in self.mapping:
            x = block(x)
        return self.connector(x)


# ------------------------------------------------------------------- θ layout
@dataclass(frozen=True)
class ThetaSegment:
    """A contiguous slice of θ consumed by one INR module."""

    name: str
    offset: int
    size: int
    kind: str  # "fourier" | "fmm" | "linear"
    parts: tuple[tuple[str, tuple[int, ...]], ...]  # (part name, shape) in storage order

    @property
    def end(self) -> int:
        return self.offset + self.size


def fmm_parts(in_dim: int, out_dim: int, rank: int) -> tuple[tuple[str, tuple[int, ...]], ...]:
    return (("lhs", (out_dim, rank)), ("rhs", (rank, in_dim)), ("bias", (out_dim,)))


# ------------------------------------------------------------------ INR modules
class FMMLinear(nn.Module):
    """Factorized multiplicative modulation (the authors' `INRFactorizedSELinear`):
    ``W = W_shared ⊙ 2·sigmoid(A·B)``, bias predicted, ``y = W x + b`` per sample.

    Like every INR module here it works on a batch (``seg`` [N, P], ``x`` [N, in, L]) or on
    one sample (``seg`` [P], ``x`` [in, L]); the single-sample form is what the per-sample
    (Scan) graph is traced from."""

    def __init__(self, in_dim: int, out_dim: int, rank: int, weight_std: float, bias_std: float, equalized_lr: bool) -> None:
        super().__init__()
        self.in_dim, self.out_dim, self.rank = in_dim, out_dim, rank
        self.weight_std, self.bias_std, self.equalized_lr = weight_std, bias_std, equalized_lr
        self.weight = nn.Parameter(torch.empty(out_dim, in_dim))

    @property
    def theta_size(self) -> int:
        return self.rank * (self.in_dim + self.out_dim) + self.out_dim

    def shared_weight(self) -> Tensor:
        return self.weight_std * self.weight if self.equalized_lr else self.weight

    def modulated_weight(self, seg: Tensor) -> tuple[Tensor, Tensor]:
        o, r, i = self.out_dim, self.rank, self.in_dim
        lead = seg.shape[:-1]
        lhs = seg[..., : o * r].reshape(*lead, o, r)
        rhs = seg[..., o * r : o * r + r * i].reshape(*lead, r, i)
        bias = seg[..., o * r + r * i :].reshape(*lead, o, 1) * self.bias_std
        modulation = torch.matmul(lhs, rhs).sigmoid() * 2
        return self.shared_weight() * modulation, bias

    def forward(self, x: Tensor, seg: Tensor) -> Tensor:
        weight, bias = self.modulated_weight(seg)
        return torch.matmul(weight, x) + bias


class FourierFeatures(nn.Module):
    """Per-sample Fourier features (the authors' `INRFourierFeats` + sines/cosines):
    basis = [fourier_scale · θ-predicted rows; fixed logarithmic rows], feats = [sin(B·p); cos(B·p)]."""

    def __init__(self, block: BlockConfig) -> None:
        super().__init__()
        self.num_learnable = block.num_learnable_coord_feats
        self.fourier_scale = block.fourier_scale
        fixed = fixed_basis(block)
        self.register_buffer("fixed_basis", fixed, persistent=False)

    @property
    def theta_size(self) -> int:
        return 2 * self.num_learnable

    def forward(self, coords: Tensor, seg: Tensor) -> Tensor:
        """coords [(N,) 2, H, W] → [sin(B·p); cos(B·p)] of shape [(N,) 2F, H·W]."""
        lead = coords.shape[:-3]
        pts = coords.flatten(-2)  # [(N,) 2, L]
        parts = []
        if self.num_learnable:
            parts.append(self.fourier_scale * seg.reshape(*lead, self.num_learnable, 2))
        if self.fixed_basis.shape[0]:
            parts.append(self.fixed_basis.expand(*lead, -1, -1))
        basis = parts[0] if len(parts) == 1 else torch.cat(parts, dim=-2)  # [(N,) F, 2]
        y = torch.matmul(basis, pts)  # [(N,) F, L]
        return torch.cat([y.sin(), y.cos()], dim=-2)


def fixed_basis(block: BlockConfig) -> Tensor:
    """The authors' fixed logarithmic basis (horizontal, vertical, two diagonals), same float ops."""
    rows = fixed_basis_rows(block)
    if rows == 0:
        return torch.zeros(0, 2)
    n = int(math.ceil(math.log2(block.resolution))) + 1

    def basis(num: int, block_dir: list[float], period_length: float) -> Tensor:
        period_coef = 2.0 * math.pi / period_length
        b = torch.tensor([block_dir]).repeat(num, 1)
        powers = torch.tensor([2]).repeat(num).pow(torch.arange(num)).unsqueeze(1)
        return (b * powers * period_coef).float()

    s2 = math.sqrt(2)
    bases = [
        basis(n, [0.0, 1.0], 4.0),
        basis(n, [1.0, 0.0], 4.0),
        basis(n, [-1.0 / s2, 1.0 / s2], 4.0 * s2),
        basis(n, [1.0 / s2, 1.0 / s2], 4.0 * s2),
    ]
    max_fixed = block.max_num_fixed_coord_feats
    if n * len(bases) > max_fixed and not block.use_diag_feats:
        bases = bases[:2]
    if n * len(bases) > max_fixed:
        exceeding = (n * len(bases) - max_fixed) // len(bases)
        if block.select_high_freq_first:
            bases = [b[exceeding:] for b in bases]
        else:
            bases = [b[:-exceeding] for b in bases]
    return torch.cat(bases, dim=0)


class ToRGB(nn.Module):
    """Fully predicted linear head dim → 3 (the authors' `INRToRGB`)."""

    def __init__(self, dim: int, weight_std: float, bias_std: float, activation: str) -> None:
        super().__init__()
        self.dim, self.weight_std, self.bias_std, self.activation = dim, weight_std, bias_std, activation

    @property
    def theta_size(self) -> int:
        return 3 * self.dim + 3

    def forward(self, x: Tensor, seg: Tensor) -> Tensor:
        lead = seg.shape[:-1]
        w = (self.weight_std * seg[..., : 3 * self.dim]).reshape(*lead, 3, self.dim)
        b = (self.bias_std * seg[..., 3 * self.dim :]).reshape(*lead, 3, 1)
        out = torch.matmul(w, x) + b
        return torch.tanh(out) if self.activation == "tanh" else out


class Connector(nn.Module):
    """Joins a block to the previous one (the authors' `INRResConnector`): the coarse features
    are embedded at the coarse resolution, upsampled, and added to the embedded coordinates."""

    def __init__(self, lr_dim: int, coord_dim: int, out_dim: int, rank: int, equalized_lr: bool) -> None:
        super().__init__()
        lr_scale, hr_scale = math.sqrt(1 / lr_dim), math.sqrt(1 / coord_dim)
        self.lr = FMMLinear(lr_dim, out_dim, rank, lr_scale, lr_scale, equalized_lr)
        self.hr = FMMLinear(coord_dim, out_dim, rank, hr_scale, hr_scale, equalized_lr)


class INRBlock(nn.Module):
    def __init__(self, cfg: PaperConfig, i: int, num_rgb: int) -> None:
        super().__init__()
        block = cfg.blocks[i]
        cf = cfg.coord_feat_dim(i)
        self.dim = block.dim
        self.fourier = FourierFeatures(block)
        self.connector = (
            Connector(cfg.blocks[i - 1].dim, cf, block.dim, cfg.fmm_rank, cfg.fmm_equalized_lr) if i > 0 else None
        )
        self.layers = nn.ModuleList()
        for j in range(block.n_layers):
            if i == 0 and j == 0:
                in_dim = cf
            elif cfg.skip_coords:
                in_dim = cf + block.dim
            else:
                in_dim = block.dim
            std = math.sqrt(2 / in_dim)
            self.layers.append(
                FMMLinear(in_dim, block.dim, cfg.fmm_rank, std, std * cfg.bias_hid_layer_std_scale, cfg.fmm_equalized_lr)
            )
        self.to_rgb = None
        if i in cfg.rgb_blocks():
            w_std = math.sqrt(2 / block.dim)
            b_std = w_std * cfg.bias_hid_layer_std_scale
            if cfg.additionaly_scale_to_rgb:
                w_std /= math.sqrt(num_rgb)
                b_std /= math.sqrt(num_rgb)
            self.to_rgb = ToRGB(block.dim, w_std, b_std, cfg.to_rgb_activation)


def resample(x: Tensor, src_hw: tuple, idx: Sequence[Tensor], mode: str) -> Tensor:
    """Upsample flattened [(N,) C, Hs·Ws] → [(N,) C, Hd·Wd] with precomputed PyTorch source indices.

    Nearest: one Gather with the flat index ``iy·Ws + ix`` (half the memory traffic of a
    row gather followed by a column gather). Bilinear: columns first, then rows, which
    associates the weighted sum as PyTorch's kernel does."""
    hs, ws = src_hw
    if mode == "nearest":
        iy, ix = idx
        flat = (iy.unsqueeze(1) * ws + ix.unsqueeze(0)).reshape(-1)
        return x.index_select(-1, flat)
    y0, y1, wy, x0, x1, wx = idx
    x = x.reshape(*x.shape[:-1], hs, ws)
    wx = wx.reshape(1, -1)
    x = x.index_select(-1, x0) * (1 - wx) + x.index_select(-1, x1) * wx
    wy = wy.reshape(-1, 1)
    return (x.index_select(-2, y0) * (1 - wy) + x.index_select(-2, y1) * wy).flatten(-2)


class HierarchicalFourierINR(nn.Module):
    """(θ, per-grid inputs) → rgb [N, 3, H, W] (the authors' `HierarchicalFourierINRs`)."""

    def __init__(self, cfg: PaperConfig) -> None:
        super().__init__()
        self.cfg = cfg
        rgb = cfg.rgb_blocks()
        self.blocks = nn.ModuleList(INRBlock(cfg, i, len(rgb)) for i in range(cfg.num_blocks))
        self.act = Activation(cfg.activation, dict(cfg.activation_kwargs))
        self.layout = grid_layout(cfg)
        self.input_names = self.layout.input_names()
        self.segments = theta_segments(self)
        self.theta_dim = self.segments[-1].end if self.segments else 0

    def forward(self, theta: Tensor, *grid: Tensor) -> Tensor:
        """θ [N, P] and coords [N, 2, H, W] (batched), or θ [P] and coords [2, H, W] (one
        sample); resampling indices are shared by the batch."""
        g = dict(zip(self.input_names, grid))
        seg = {s.name: theta[..., s.offset : s.end] for s in self.segments}
        mode = self.layout.resample_mode
        x: Tensor | None = None
        images: Tensor | None = None  # [(N,) 3, H·W] of the latest ToRGB block
        prev_rgb = -1
        hw = [(g[f"coords_{i}"].shape[-2], g[f"coords_{i}"].shape[-1]) for i in range(len(self.blocks))]
        for i, block in enumerate(self.blocks):
            cf = block.fourier(g[f"coords_{i}"], seg.get(f"b{i}.fourier", theta[..., :0]))
            if i == 0:
                x = cf
            else:
                assert block.connector is not None and x is not None
                lr = block.connector.lr(x, seg[f"b{i}.connector.lr"])
                lr = resample(lr, hw[i - 1], _edge(g, i - 1, i, mode), mode)
                x = self.act(lr + block.connector.hr(cf, seg[f"b{i}.connector.hr"]))
            for j, layer in enumerate(block.layers):
                if self.cfg.skip_coords and (i > 0 or j > 0):
                    x = torch.cat([x, cf], dim=-2)
                x = self.act(layer(x, seg[f"b{i}.layer{j}"]))
            if block.to_rgb is not None:
                out = block.to_rgb(x, seg[f"b{i}.to_rgb"])
                if images is not None:
                    out = out + resample(images, hw[prev_rgb], _edge(g, prev_rgb, i, mode), mode)
                images, prev_rgb = out, i
        assert images is not None
        h, w = hw[-1]
        return output_activation(images.reshape(*images.shape[:-2], 3, h, w), self.cfg.output_activation)


def _edge(g: dict[str, Tensor], s: int, d: int, mode: str) -> list[Tensor]:
    stem = f"up{s}to{d}_"
    if mode == "nearest":
        return [g[stem + "y"], g[stem + "x"]]
    return [g[stem + k] for k in ("y0", "y1", "yw", "x0", "x1", "xw")]


def output_activation(x: Tensor, name: str) -> Tensor:
    if name == "tanh":
        return x.tanh()
    if name == "clamp":
        return x.clamp(-1.0, 1.0)
    if name == "sigmoid":
        return x.sigmoid() * 2 - 1
    return x


def grid_layout(cfg: PaperConfig) -> GridLayout:
    edges = {(i - 1, i) for i in range(1, cfg.num_blocks)}
    rgb = cfg.rgb_blocks()
    edges |= {(a, b) for a, b in zip(rgb[:-1], rgb[1:])}
    return GridLayout(
        size_rule=PaperSizeRule(cfg.native_size, cfg.num_blocks, cfg.upsample_block_idx),
        coords=CoordConvention(),
        resample_mode=cfg.upsampling_mode,
        align_corners=False,
        edges=tuple(sorted(edges)),
    )


def theta_segments(inr: HierarchicalFourierINR) -> list[ThetaSegment]:
    """θ is consumed block by block: Fourier basis, connector (lr, hr), layers, ToRGB."""
    segs: list[ThetaSegment] = []
    offset = 0

    def add(name: str, size: int, kind: str, parts: tuple) -> None:
        nonlocal offset
        if size:
            segs.append(ThetaSegment(name, offset, size, kind, parts))
            offset += size

    for i, block in enumerate(inr.blocks):
        f = block.fourier
        add(f"b{i}.fourier", f.theta_size, "fourier", (("basis", (f.num_learnable, 2)),))
        if block.connector is not None:
            for part in ("lr", "hr"):
                m = getattr(block.connector, part)
                add(f"b{i}.connector.{part}", m.theta_size, "fmm", fmm_parts(m.in_dim, m.out_dim, m.rank))
        for j, m in enumerate(block.layers):
            add(f"b{i}.layer{j}", m.theta_size, "fmm", fmm_parts(m.in_dim, m.out_dim, m.rank))
        if block.to_rgb is not None:
            d = block.to_rgb.dim
            add(f"b{i}.to_rgb", block.to_rgb.theta_size, "linear", (("weight", (3, d)), ("bias", (3,))))
    return segs


class PaperGenerator(nn.Module):
    """The whole generator; `hypernet` and `inr` are the two graphs the exporter splits."""

    family = "paper"

    def __init__(self, cfg: PaperConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.inr = HierarchicalFourierINR(cfg)
        self.hypernet = Hypernetwork(cfg, self.inr.theta_dim)

    @property
    def layout(self) -> GridLayout:
        return self.inr.layout

    @property
    def z_dim(self) -> int:
        return self.cfg.z_dim

    @property
    def native_size(self) -> tuple[int, int]:
        return (self.cfg.native_size, self.cfg.native_size)

    @property
    def theta_dim(self) -> int:
        return self.inr.theta_dim

    @property
    def theta_segments(self) -> list[ThetaSegment]:
        return self.inr.segments

    def forward(self, z: Tensor, *grid: Tensor) -> Tensor:
        return self.inr(self.hypernet(z), *grid)


def init_weights_(model: PaperGenerator, generator: torch.Generator) -> None:
    """The authors' initialisation (used for the seeded demo checkpoints)."""
    cfg = model.cfg
    with torch.no_grad():
        for block in model.hypernet.mapping:
            lin = block.linear
            if isinstance(lin, EqualLinear):
                lin.weight.normal_(generator=generator)
                lin.bias.zero_()
            else:
                bound = 1 / math.sqrt(lin.in_features)
                lin.weight.uniform_(-bound, bound, generator=generator)
                lin.bias.uniform_(-bound, bound, generator=generator)
            if block.residual:
                block.main_branch_weight.fill_(0.1)
        con = model.hypernet.connector
        bound = 1 / math.sqrt(con.in_features)
        con.weight.uniform_(-bound, bound, generator=generator)
        con.bias.uniform_(-bound, bound, generator=generator)
        con.bias.mul_(math.sqrt(1 / cfg.mapping_hid_dim))
        for m in model.inr.modules():
            if isinstance(m, FMMLinear):
                m.weight.normal_(0.0, 1.0 if m.equalized_lr else m.weight_std, generator=generator)


def count_parameters(cfg: PaperConfig) -> tuple[int, int]:
    """(parameters, θ size) computed from the config without building the model."""
    theta = 0
    params = 0
    rank = cfg.fmm_rank
    rgb = cfg.rgb_blocks()
    for i, b in enumerate(cfg.blocks):
        cf = cfg.coord_feat_dim(i)
        theta += 2 * b.num_learnable_coord_feats
        if i > 0:
            for in_dim in (cfg.blocks[i - 1].dim, cf):
                theta += rank * (in_dim + b.dim) + b.dim
                params += in_dim * b.dim
        for j in range(b.n_layers):
            in_dim = cf if (i == 0 and j == 0) else (cf + b.dim if cfg.skip_coords else b.dim)
            theta += rank * (in_dim + b.dim) + b.dim
            params += in_dim * b.dim
        if i in rgb:
            theta += 3 * b.dim + 3
    dims = [cfg.z_dim] + [cfg.mapping_hid_dim] * cfg.mapping_num_layers
    for k in range(len(dims) - 1):
        params += dims[k] * dims[k + 1] + dims[k + 1]
        if cfg.mapping_has_bn:
            params += 2 * dims[k + 1]
        if dims[k] == dims[k + 1] and cfg.mapping_residual and k > 0:
            params += 1
    params += dims[-1] * theta + theta
    return params, theta


def macs(cfg: PaperConfig, block_shapes: Sequence[tuple[int, int]]) -> dict[str, object]:
    """Multiply-accumulates of one sample (MatMul/Gemm work only; elementwise ops are not MACs).

    Per block with P samples: the Fourier basis product (2 per feature), the connector's
    coarse embedding at the previous block's P and its coordinate embedding, each FMM
    layer, ToRGB; plus the per-sample FMM modulation products A·B (independent of P).
    The hypernetwork runs once per latent and is reported separately."""
    rank = cfg.fmm_rank
    rgb = cfg.rgb_blocks()
    per_block: list[int] = []
    per_pixel: list[int] = []
    modulation = 0
    pixels = [h * w for h, w in block_shapes]
    for i, b in enumerate(cfg.blocks):
        cf = cfg.coord_feat_dim(i)
        p = pixels[i]
        pix = cf  # basis product: (F = cf/2 features) x 2 coordinates
        total = 0
        if i > 0:
            prev = cfg.blocks[i - 1].dim
            total += prev * b.dim * pixels[i - 1]
            pix += cf * b.dim
            modulation += rank * b.dim * (prev + cf)
        for j in range(b.n_layers):
            in_dim = cf if (i == 0 and j == 0) else (cf + b.dim if cfg.skip_coords else b.dim)
            pix += in_dim * b.dim
            modulation += rank * b.dim * in_dim
        if i in rgb:
            pix += 3 * b.dim
        total += pix * p
        per_pixel.append(pix)
        per_block.append(total)
    dims = [cfg.z_dim] + [cfg.mapping_hid_dim] * cfg.mapping_num_layers
    _, theta = count_parameters(cfg)
    hyper = sum(a * b for a, b in zip(dims[:-1], dims[1:])) + dims[-1] * theta
    return {
        "inr": sum(per_block) + modulation,
        "inr_per_block": per_block,
        "inr_per_pixel": per_pixel,
        "modulation": modulation,
        "hypernet": hyper,
    }


Builder = Callable[[PaperConfig], PaperGenerator]
