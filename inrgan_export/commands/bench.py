"""``inrgan-export bench``: MACs and latency against resolution, per backend and precision."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from . import args as a

HELP = "MACs and latency against resolution, per backend and precision"


def add_arguments(b: argparse.ArgumentParser) -> None:
    b.add_argument("source", help="checkpoint, demo:<preset> or bundle (a bundle: its own backend and precision)")
    b.add_argument("--sizes", type=a.sizes, default=None, help="e.g. 32,64,128,256,512,256x384 (default: native/8 .. 2x native)")
    b.add_argument("--backends", type=a.names, default=None, help="torch,onnxruntime,openvino (default: all three; a bundle: its own)")
    b.add_argument("--precisions", type=a.names, default=("fp32",), help="e.g. fp32,bf16 (default fp32)")
    b.add_argument("--batch", type=a.batches, default=(1,), help="e.g. 1,8 (default 1)")
    b.add_argument("--views", type=a.positive, default=8, help="k views of one latent for the amortised cost (default 8)")
    b.add_argument("--macs-only", action="store_true", help="count MACs only, no timing")
    b.add_argument("--quick", action="store_true", help="one timed run per point and a small sgemm (seconds; for tests)")
    b.add_argument("--device", default="cpu", help="torch backend: cpu (default), cuda or cuda:N; other backends: cpu")
    b.add_argument("--compile", action="store_true",
                   help="torch backend on CUDA: torch.compile with CUDA graphs (first call per size timed apart)")
    b.add_argument("--analytic-macs", action="store_true",
                   help="MACs from the config only: skip the ONNX export (and so the ONNX backends and the counted MACs)")
    b.add_argument("-o", "--out", type=Path, default=None, help="output directory (default bench_<name>)")
    b.add_argument("--force", action="store_true")
    a.common(b)
    a.json_flag(b)


def run(args: argparse.Namespace) -> int:
    from ..measure.run import BenchOptions, check_options, run_bench

    opts_b = BenchOptions(
        source=args.source,
        out=args.out or Path(f"bench_{a.default_out(args.source, 'x').name[:-2]}"),
        sizes=args.sizes,
        backends=args.backends,
        precisions=args.precisions,
        batches=args.batch,
        threads=args.threads,
        macs_only=args.macs_only,
        quick=args.quick,
        views=args.views,
        force=args.force,
        max_memory=args.max_memory,
        device=args.device,
        compile=args.compile,
        analytic_macs=args.analytic_macs,
    )
    check_options(opts_b)
    out = run_bench(opts_b)
    if args.json:
        a.emit_json({"command": "bench", "out": str(out), **json.loads((out / "results.json").read_text())})
    return 0
