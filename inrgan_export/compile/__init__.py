"""Compile step: turn a bundle's FP32 ONNX graphs into a target's artifacts.

A target is one small class (``Target``) registered by name. The export pipeline runs:
load → split → export (FP32 ONNX) → ``target.compile(ctx)`` → verify (the target's runtimes
against PyTorch) → publish. ``compile`` writes its files into the bundle directory and
returns what the manifest records and which runtimes the parity report must check.
"""
from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..errors import InrganError, UnsupportedOption, UsageError

PRECISIONS = ("fp32", "fp16", "bf16", "int8")


@dataclass
class CompileContext:
    """What a target gets: the bundle directory under construction (FP32 ONNX graphs already
    in it), the model, and the export options."""

    directory: Path
    model: Any
    family: Any
    manifest: dict[str, Any]
    options: Any


@dataclass
class CompileResult:
    #: merged into the manifest (e.g. {"openvino": {...}}; "graphs" entries are merged per graph)
    manifest: dict[str, Any] = field(default_factory=dict)
    #: raised after the (complete) bundle is published, e.g. TensorRT not found → exit 3
    deferred_error: InrganError | None = None


@dataclass(frozen=True)
class RuntimeSpec:
    """A runtime the parity report checks on a bundle of this target."""

    backend: str
    precision: str
    generator: Any  # a runtime.Generator
    paths: tuple[str, ...] = ("split", "fused")  # which graphs to check through it


class Target(ABC):
    name: ClassVar[str]
    #: precisions this version can build for the target (before asking the device)
    precisions: ClassVar[tuple[str, ...]]
    default_backend: ClassVar[str]

    def check(self, options: Any) -> None:
        """Refuse impossible option combinations before any work (exit 2, naming what is valid)."""
        if options.precision not in PRECISIONS:
            raise UsageError(f"unknown precision {options.precision!r}; valid: {', '.join(PRECISIONS)}")
        if options.precision not in self.precisions:
            raise UnsupportedOption(
                f"precision {options.precision} is not supported for target {self.name}; "
                f"supported: {', '.join(self.precisions)}"
            )

    @abstractmethod
    def compile(self, ctx: CompileContext) -> CompileResult: ...

    @abstractmethod
    def runtimes(self, directory: Path, manifest: dict[str, Any], max_memory: int | None = None,
                 threads: int | None = None) -> list[RuntimeSpec]:
        """The runtimes that run this target's bundles here (for parity and verify)."""


#: target name → "module:Class", imported on use so a missing library only matters when asked for
TARGETS: dict[str, str] = {
    "onnx": "onnx:OnnxTarget",
    "openvino": "openvino:OpenVINOTarget",
    "tensorrt": "tensorrt:TensorRTTarget",
}


def get_target(name: str) -> Target:
    if name not in TARGETS:
        raise UsageError(f"unknown target {name!r}; valid: {', '.join(TARGETS)}")
    module, cls = TARGETS[name].split(":")
    try:
        mod = importlib.import_module(f"{__name__}.{module}")
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith(f"{__name__}."):
            available = ", ".join(t for t in TARGETS if _exists(t))
            raise UnsupportedOption(f"target {name} is not available in this version; available targets: {available}") from None
        raise
    return getattr(mod, cls)()


def _exists(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(f"{__name__}.{TARGETS[name].split(':')[0]}") is not None
