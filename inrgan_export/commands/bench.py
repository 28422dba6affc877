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
    from ..core.log import stream
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
    results = json.loads((out / "results.json").read_text())
    if args.json:
        a.emit_json({"command": "bench", "out": str(out), **results})
    table, warnings = summary_lines(results)
    for line in table:
        a.say_verdict(line, args.json)
    for line in warnings:
        print(line, file=stream(), flush=True)
    return 0


#: a figure whose interquartile range exceeds this share of its median is flagged as noisy
NOISY_IQR = 0.10


def summary_lines(results: dict) -> tuple[list[str], list[str]]:
    """The summary table of the timed points (MACs when nothing was timed), then one warning per
    noisy figure (IQR > 10 % of the median)."""
    points = results.get("points") or []
    if not points:
        lines = [f"{'size':>9}  {'INR MACs':>15}  {'hypernet MACs':>15}"]
        for m in results.get("macs") or []:
            lines.append(f"{str(m['height']) + 'x' + str(m['width']):>9}  {m['inr_macs_analytic']:>15,}  {m['hypernet_macs_analytic']:>15,}")
        return lines, []
    lines = [f"{'backend':<12} {'prec':<5} {'batch':>5} {'size':>9}  {'INR ms (IQR)':>17}  {'hypernet ms (IQR)':>17}"
             f"  {'images/s':>9}  {'% sgemm':>7}"]
    warnings = []
    for p in points:
        size = f"{p['height']}x{p['width']}"
        lines.append(f"{p['backend']:<12} {p['precision']:<5} {p['batch']:>5} {size:>9}  "
                     f"{_ms(p['inr_median_ms'], p['inr_iqr_ms']):>17}  {_ms(p['hypernet_median_ms'], p['hypernet_iqr_ms']):>17}"
                     f"  {p['images_per_s']:>9.1f}  {p['percent_of_sgemm_peak']:>7.1f}")
        for what in ("inr", "hypernet"):
            med, iqr = p[f"{what}_median_ms"], p[f"{what}_iqr_ms"]
            if iqr > NOISY_IQR * med:
                warnings.append(f"warning: noisy figure: {p['backend']} {p['precision']} batch {p['batch']} {size} {what}: "
                                f"IQR {iqr:.3g} ms is {100 * iqr / med:.0f} % of its median {med:.3g} ms (over 10 %); "
                                "rerun on a quieter machine or with more runs")
    return lines, warnings


def _ms(median: float, iqr: float) -> str:
    return f"{median:.3g} ({iqr:.2g})"
