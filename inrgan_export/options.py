"""Options of each command: frozen dataclasses built once at the CLI edge and validated
there; the pipeline never rewrites them."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import UnsupportedOption, UsageError
from .grid import Window

PRECISIONS = ("fp32", "fp16", "bf16", "int8")


@dataclass(frozen=True)
class TargetInfo:
    name: str
    precisions: tuple[str, ...]  # precisions this version builds
    backend: str  # default runtime backend of its bundles
    available: bool = True


TARGETS: dict[str, TargetInfo] = {
    "onnx": TargetInfo("onnx", ("fp32",), "onnxruntime"),
    "openvino": TargetInfo("openvino", (), "openvino", available=False),
    "tensorrt": TargetInfo("tensorrt", (), "tensorrt", available=False),
}


def check_target(target: str, precision: str) -> TargetInfo:
    if target not in TARGETS:
        raise UsageError(f"unknown target {target!r}; valid: {', '.join(TARGETS)}")
    info = TARGETS[target]
    if not info.available:
        ready = ", ".join(t for t, i in TARGETS.items() if i.available)
        raise UnsupportedOption(f"target {target} is not available in this version; available targets: {ready}")
    if precision not in PRECISIONS:
        raise UsageError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
    if precision not in info.precisions:
        raise UnsupportedOption(
            f"precision {precision} is not supported for target {target}; supported: {', '.join(info.precisions)}"
        )
    return info


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


@dataclass(frozen=True)
class VerifyOptions:
    bundle: Path
    reference: str | None = None
    out: Path | None = None
    max_memory: int | None = None
    threads: int | None = None
