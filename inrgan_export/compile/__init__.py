"""Compile step: turn the split model into a target's artifacts.

A target is one small class (``Target``) registered by name in :data:`TARGETS`. The export
pipeline runs: load → split → (FP32 ONNX export, if ``target.needs_onnx``) →
``target.compile(ctx)`` → verify (the target's runtimes against PyTorch) → publish.

The contract: ``compile`` gets the bundle directory under construction, the PyTorch model and
its split graph definitions (``ctx.graphs``), and, for ONNX-based targets, the FP32 ONNX
graphs already in the directory and listed in ``ctx.manifest``. A target built from
``torch.export`` (``needs_onnx = False``) exports from ``ctx.model``/``ctx.graphs`` itself. It
writes its files into the directory and returns its own manifest section (and per-graph
entries naming its files); the pipeline merges that once. ``runtimes`` names the runtimes
that run the target's bundles here, for the parity report and ``verify``.
"""
from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..core.errors import InrganError, UnsupportedOption, UsageError

PRECISIONS = ("fp32", "fp16", "bf16", "int8")


@dataclass
class CompileContext:
    """What a target gets: the bundle directory under construction (FP32 ONNX graphs already
    in it), the model, and the export options."""

    directory: Path
    model: Any
    family: Any
    manifest: Any  # inrgan_export.core.manifest.Manifest: read it, never change it
    options: Any
    #: the split graph definitions (inrgan_export.load.split.GraphDef), for targets that export themselves
    graphs: tuple[Any, ...] = ()


@dataclass
class CompileResult:
    #: the target's section, merged into the manifest once (e.g. {"openvino": {...}};
    #: "graphs" entries are merged per graph)
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
    #: False for targets that export from the PyTorch model themselves (torch.export)
    needs_onnx: ClassVar[bool] = True

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
    "executorch": "executorch:ExecuTorchTarget",
    "ort-mobile": "ort_mobile:OrtMobileTarget",
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
