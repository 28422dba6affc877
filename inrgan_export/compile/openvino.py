"""Target ``openvino``: OpenVINO IR of every graph, converted from the bundle's ONNX with
OpenVINO's own converter (``openvino.convert_model``), dynamic batch/height/width kept.

``--precision`` is the inference precision (``INFERENCE_PRECISION_HINT``: fp32 → f32,
bf16 → bf16, fp16 → f16), refused (exit 2) on a device whose OPTIMIZATION_CAPABILITIES
lack it, and read back from the compiled model into the manifest. IR weight storage is a
separate choice (``--compress-weights``: FP16 weights in the .bin), also recorded.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..core.log import info, step
from ..core.manifest import GRAPHS
from . import CompileContext, CompileResult, RuntimeSpec, Target


def int8_dot_product_isa() -> list[str] | None:
    """The INT8 dot-product ISA extensions of this CPU (empty where none; None where unknown)."""
    from ..core.environment import isa_flags

    flags = isa_flags()
    return None if flags is None else [f for f in ("avx_vnni", "avx512_vnni", "amx_int8") if f in flags]


class OpenVINOTarget(Target):
    name = "openvino"
    precisions = ("fp32", "bf16", "fp16", "int8")
    default_backend = "openvino"

    def check(self, options: Any) -> None:
        super().check(options)
        from ..backends.openvino_backend import check_device, check_precision, import_openvino

        core = import_openvino().Core()
        device = options.device.upper()
        check_device(core, device)
        check_precision(core, device, options.precision)

    def compile(self, ctx: CompileContext) -> CompileResult:
        from ..core.bundle import Bundle
        from ..backends.openvino_backend import OpenVINOGenerator, import_openvino, inference_precision, matmul_kernels

        ov = import_openvino()
        opts = ctx.options
        additions: dict[str, Any] = {}
        error = None
        if opts.precision == "int8":
            # the same gated Q/DQ plan as the other targets; OpenVINO turns Q/DQ into FakeQuantize
            from ..calibration.export import quantize_bundle

            additions, error = quantize_bundle(ctx)
        base = ctx.manifest.merged(additions)  # the INT8 graphs, when quantized
        graphs: dict[str, dict[str, str]] = {}
        for name, entry in base["graphs"].items():
            xml = ctx.directory / f"{name}.xml"
            with step(f"converting {entry['onnx']} to OpenVINO IR ({'FP16' if opts.compress_weights else 'FP32'} weights)", xml):
                model = ov.convert_model(str(ctx.directory / entry["onnx"]))
                ov.save_model(model, str(xml), compress_to_fp16=opts.compress_weights)
            graphs[name] = {"openvino": xml.name, "openvino_weights": xml.with_suffix(".bin").name}
        section = {
            "version": ov.__version__,
            "converter": "openvino.convert_model from the bundle's ONNX",
            "device": opts.device.upper(),
            "precision": opts.precision,
            "weights": "fp16-compressed" if opts.compress_weights else "fp32",
            "dynamic_dims": "batch, h<b>, w<b> kept dynamic (-1)",
        }
        # compile once (no cache) to read back what the device actually runs
        gen = OpenVINOGenerator(Bundle(ctx.directory, base.merged({"graphs": graphs, "openvino": section})), cache=False,
                                threads=opts.threads)
        with gen:
            section["inference_precision_hint"] = gen.config()["INFERENCE_PRECISION_HINT"]
            section["inference_precision"] = {n: inference_precision(gen.compile(n)) for n in GRAPHS}
            if opts.precision == "int8":
                # kernels are chosen at a shape's first inference: render the native size once
                gen.generate(np.zeros((1, gen.interface.z_dim), np.float32), gen.interface.native_size)
                section["inr_matmul_kernels"] = matmul_kernels(gen.compile("inr"))
        merged_graphs = {n: {**(additions.get("graphs", {}).get(n, {})), **g} for n, g in graphs.items()}
        if opts.precision == "int8":
            section["quantization"] = "INT8 from the bundle's Q/DQ graph (FakeQuantize); the rest f32"
            if section["device"] == "CPU" and int8_dot_product_isa() == []:
                info("note: this CPU has no INT8 dot-product instructions (AVX-VNNI, AVX512-VNNI or AMX): OpenVINO "
                     f"runs the INT8 MatMuls with {', '.join(k for k in section['inr_matmul_kernels'] if k.startswith('i8'))}; on such CPUs it measured "
                     "slower than fp32 (BENCHMARKS.md), so prefer --precision fp32 here or --target onnx --precision int8")
        return CompileResult(manifest={**additions, "graphs": merged_graphs, "openvino": section, "default_backend": "openvino"},
                             deferred_error=error)

    def runtimes(self, directory: Path, manifest: dict[str, Any], max_memory=None, threads=None) -> list[RuntimeSpec]:
        from ..core.bundle import Bundle
        from ..backends.openvino_backend import OpenVINOGenerator

        gen = OpenVINOGenerator(Bundle(directory, manifest), max_memory=max_memory, threads=threads)
        return [RuntimeSpec("openvino", manifest["openvino"]["precision"], gen)]
