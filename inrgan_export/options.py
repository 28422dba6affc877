"""Options of each command: frozen dataclasses built once at the CLI edge and validated
there; the pipeline never rewrites them."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .compile import PRECISIONS, TARGETS  # noqa: F401  (re-exported for the CLI)
from .grid import Window
from .manifest import DEFAULT_INT8_WORST_DB


@dataclass(frozen=True)
class ExportOptions:
    source: str
    target: str
    precision: str
    out: Path
    force: bool = False
    max_memory: int | None = None
    threads: int | None = None
    debug: bool = False
    #: device the target compiles for (OpenVINO: CPU/GPU/NPU/AUTO; TensorRT: the CUDA GPU)
    device: str = "CPU"
    #: OpenVINO IR weight storage: compress weights to FP16 in the .bin (inference precision is separate)
    compress_weights: bool = False
    #: resolution range (H, W) that compiled profiles cover (TensorRT); None: the target's default
    min_res: tuple[int, int] | None = None
    opt_res: tuple[int, int] | None = None
    max_res: tuple[int, int] | None = None
    max_batch: int = 4
    #: INT8: calibration latents, method (max | percentile | entropy) and worst-case PSNR gate
    calib_latents: int | Path = 32  # a count of prior latents, or the user's own .npy
    calib_method: str = "percentile"
    min_psnr: float = DEFAULT_INT8_WORST_DB


@dataclass(frozen=True)
class ConvertOptions:
    source: Path
    out: Path
    config: Path | None = None
    dataset: str | None = None
    force: bool = False


@dataclass(frozen=True)
class RenderOptions:
    source: str
    out: Path
    seeds: tuple[int, ...] | None = None
    latent: Path | None = None
    size: tuple[int, int] | None = None
    window: Window = Window()
    backend: str | None = None
    device: str = "CPU"
    max_memory: int | None = None
    threads: int | None = None
    force: bool = True
    truncation: float | None = None  # ψ for generators with a truncation input (family sg2)
    allow_failed_parity: bool = False  # render through a backend whose recorded gate failed


@dataclass(frozen=True)
class VerifyOptions:
    bundle: Path
    reference: str | None = None
    out: Path | None = None
    max_memory: int | None = None
    threads: int | None = None
