"""``inrgan-export export SRC --target T``: a checkpoint or demo:<preset> to a bundle."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..app.options import CALIB_METHODS, PRECISIONS, TARGETS, ExportOptions
from ..core.manifest import DEFAULT_INT8_WORST_DB
from . import args as a

HELP = "export a checkpoint or demo:<preset> to a bundle"


def add_arguments(e: argparse.ArgumentParser) -> None:
    e.add_argument("source", help="checkpoint .pt or demo:<preset>")
    e.add_argument("--target", required=True, choices=list(TARGETS))
    e.add_argument("--precision", default="fp32", choices=list(PRECISIONS))
    e.add_argument("-o", "--out", type=Path, default=None, help="bundle directory (default: <name>_<target>)")
    e.add_argument("--force", action="store_true", help="replace an existing output directory")
    e.add_argument("--device", default="CPU", help="device to compile for: OpenVINO CPU/GPU/NPU/AUTO (default CPU)")
    e.add_argument("--compress-weights", action="store_true",
                   help="OpenVINO: store IR weights as FP16 (inference precision is set by --precision)")
    e.add_argument("--min-res", type=a.size, default=None, metavar="HxW", help="TensorRT: smallest render size of the profiles")
    e.add_argument("--opt-res", type=a.size, default=None, metavar="HxW", help="TensorRT: size the profiles are tuned for")
    e.add_argument("--max-res", type=a.size, default=None, metavar="HxW", help="TensorRT: largest render size of the profiles")
    e.add_argument("--max-batch", type=a.positive, default=4, help="TensorRT: largest batch of the profiles (default 4)")
    e.add_argument("--calib-latents", type=a.calib_latents, default=32, metavar="N|FILE.npy",
                   help="INT8: N calibration latents from the prior (default 32), or a .npy [N, z_dim] of your own")
    e.add_argument("--calib-method", choices=list(CALIB_METHODS), default="percentile",
                   help="INT8: activation range method (ONNX Runtime's calibrators; default percentile 99.999)")
    e.add_argument("--min-psnr", type=a.psnr, default=DEFAULT_INT8_WORST_DB, metavar="DB",
                   help="INT8: worst-case PSNR gate over the 64-latent bank (default 30; the median must reach 35)")
    a.common(e)
    a.json_flag(e)


def run(args: argparse.Namespace) -> int:
    from ..app import pipeline  # the export extra (PyTorch, ONNX, Polygraphy)

    opts = ExportOptions(
        source=args.source,
        target=args.target,
        precision=args.precision,
        out=args.out or a.default_out(args.source, args.target),
        force=args.force,
        max_memory=args.max_memory,
        threads=args.threads,
        debug=args.debug,
        device=args.device,
        compress_weights=args.compress_weights,
        min_res=args.min_res,
        opt_res=args.opt_res,
        max_res=args.max_res,
        max_batch=args.max_batch,
        calib_latents=args.calib_latents,
        calib_method=args.calib_method,
        min_psnr=args.min_psnr,
    )
    result = pipeline.export_bundle(opts)
    if args.json:
        a.emit_json(result.to_json())
    show_int8(result.out)
    a.say_verdict(a.verdict("export", result.report), args.json)
    if result.error is not None:
        raise result.error
    return 0


def show_int8(bundle: Path) -> None:
    """The INT8 gate's figures and the layer plan, which the manifest records, said at the end."""
    from ..app.inspect_bundle import int8_lines
    from ..core.bundle import Bundle
    from ..core.log import info

    int8 = Bundle.open(bundle, verify_checksums=False).manifest.get("int8")
    if int8:
        for line in int8_lines(int8.get("int8_layers"), int8.get("gates") or {}, int8.get("float_layers") or []):
            info(line)
