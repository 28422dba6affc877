"""``--precision int8`` for every target: replace a bundle's FP32 INR graph by the Q/DQ graph
of the gated precision plan, rebuild the fused generator graph, and describe it all in the
manifest. Targets call :func:`quantize_bundle` from their compile step."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import onnx

from ..core.errors import ParityError
from ..core.grid import CHECK_MAX_MEMORY
from ..exporter.onnx_export import fuse_files
from .data import CalibrationSpec
from .plan import build_plan


def spec_from_options(opts: Any) -> CalibrationSpec:
    fields = {"method": opts.calib_method, "min_res": opts.min_res, "max_res": opts.max_res}
    if isinstance(opts.calib_latents, Path):
        return CalibrationSpec.from_file(opts.calib_latents, **fields)
    return CalibrationSpec(latents=opts.calib_latents, **fields)


def _quantization(plan) -> str:
    text = "Q/DQ, symmetric int8, per-tensor"
    rows = plan.calibration.get("weight_scales_per_row_per_sample")
    if rows:
        text += (f"; the per-sample weights of {len(rows)} layer(s) per row and per sample (row max, "
                 "W x = m * ((W / m) x), per-tensor Q/DQ of W / m)")
    return text


def quantize_bundle(ctx: Any, cpu: bool = True) -> tuple[dict[str, Any], ParityError | None]:
    """(manifest additions, deferred gate error) after writing the INT8 graphs into the bundle.

    ``cpu``: the graph will run on x86 CPUs (ONNX Runtime, OpenVINO), so activations are
    quantized to 7 bits: without VNNI, u8 x s8 products are summed in saturating 16-bit pairs,
    which full-range activations overflow when both MatMul operands are dynamic (measured on
    this project's AVX2 machine: 27 dB with 8-bit activations on OpenVINO, 48 dB with 7-bit on
    demo:tiny). TensorRT keeps 8 bits."""
    from ..load.torch_backend import TorchGenerator

    opts = ctx.options
    graphs = ctx.manifest["graphs"]
    inr = ctx.directory / graphs["inr"]["onnx"]
    budget = opts.max_memory if opts.max_memory is not None else CHECK_MAX_MEMORY
    reference = TorchGenerator(ctx.model, ctx.family, max_memory=budget, threads=opts.threads)
    with tempfile.TemporaryDirectory(prefix="inrgan-int8-") as tmp:
        fp32 = Path(tmp) / "inr.fp32.onnx"
        shutil.move(str(inr), fp32)
        plan = build_plan(fp32, inr, ctx.manifest, reference, spec_from_options(opts), opts.min_psnr, opts.threads,
                          reduce_range_activations=cpu)
    theta = ctx.family.export_spec.theta_name
    fused = fuse_files(ctx.directory / graphs["hypernet"]["onnx"], inr, theta, ctx.directory / graphs["generator"]["onnx"],
                       "inrgan-export generator graph: hypernet (FP32) and the INT8 Q/DQ inr joined at theta")
    additions = {
        "onnx_precision": "int8",
        "int8": {**plan.to_manifest(), "hypernet": "FP32 (runs once per latent)"},
        "graphs": {"inr": {"nodes": len(onnx.load(str(inr)).graph.node), "quantization": _quantization(plan)},
                   "generator": {"nodes": len(fused.graph.node)}},
    }
    error = None
    g = plan.gates
    if not g["passed"]:
        error = ParityError(
            f"INT8 gate failed: {g['reason']}" if g.get("reason") else
            f"INT8 gate failed on the held-out latents (seeds {g['latent_seeds']}): " + "; ".join(g["failed_by"])
            + f" (needs median ≥ {g['median_threshold_db']} dB and worst ≥ {g['worst_threshold_db']} dB over {g['latents']} latents)"
        )
    return additions, error
