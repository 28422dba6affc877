"""Target ``onnx``: the FP32 ONNX graphs themselves, run by ONNX Runtime."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from . import CompileContext, CompileResult, RuntimeSpec, Target


class OnnxTarget(Target):
    name = "onnx"
    precisions = ("fp32", "int8")
    default_backend = "onnxruntime"

    def compile(self, ctx: CompileContext) -> CompileResult:
        if ctx.options.precision == "int8":
            from ..calibration.export import quantize_bundle

            additions, error = quantize_bundle(ctx)
            return CompileResult(manifest=additions, deferred_error=error)
        return CompileResult()

    def runtimes(self, directory: Path, manifest: dict[str, Any], max_memory=None, threads=None) -> list[RuntimeSpec]:
        from ..core.bundle import Bundle
        from ..backends.onnxruntime_backend import OnnxRuntimeGenerator

        gen = OnnxRuntimeGenerator(Bundle(directory, manifest), max_memory=max_memory, threads=threads)
        # the fused graph is checked by Polygraphy's own OnnxrtRunner (see pipeline)
        return [RuntimeSpec("onnxruntime", manifest.get("precision", "fp32"), gen, paths=("split",))]
