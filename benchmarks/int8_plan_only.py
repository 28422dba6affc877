#!/usr/bin/env python3
"""The INT8 plan of an INR graph as ``export --precision int8`` builds it for a CPU target
(calibration, sensitivity sweep, selection, held-out gate; no bundle, no parity report).

    python benchmarks/int8_plan_only.py PRESET FP32_DIR OUT_INR.onnx

FP32_DIR holds inr.onnx and a manifest.json with theta_layout (benchmarks/export_inr_graph.py).
Prints the plan's record (layers, sweep, selection, gate, seconds, the machine) as JSON;
--json writes it to a file. --latents shrinks the calibration set (a quick look, not the
export's plan).
"""
from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

from inrgan_export.measure.harness import parser, record, write_json


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("preset", help="demo preset name, e.g. released-church")
    ap.add_argument("fp32_dir", type=Path)
    ap.add_argument("out", type=Path, help="the INT8 INR graph to write")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--latents", type=int, default=None, help="calibration latents (default: the export's)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    from inrgan_export import open_checkpoint
    from inrgan_export.calibration.data import CalibrationSpec
    from inrgan_export.calibration.plan import build_plan

    t = time.perf_counter()
    ref = open_checkpoint(f"demo:{args.preset}", threads=args.threads)
    man = json.loads((args.fp32_dir / "manifest.json").read_text())
    spec = CalibrationSpec() if args.latents is None else dataclasses.replace(CalibrationSpec(), latents=args.latents)
    plan = build_plan(args.fp32_dir / "inr.onnx", args.out, man, ref, spec, threads=args.threads, reduce_range_activations=True)
    d = plan.to_manifest()
    doc = record(
        preset=args.preset, int8_layers=d["int8_layers"], sweep_psnr_db=d["sweep_psnr_db"],
        full_plan_sweep_psnr_db=d["full_plan_sweep_psnr_db"],
        selection={k: d["selection"][k] for k in ("median_psnr_db", "worst_psnr_db", "passed", "attempts")},
        gates={k: d["gates"][k] for k in ("median_psnr_db", "worst_psnr_db", "passed", "per_grid")},
        seconds=d["seconds"], wall_s=round(time.perf_counter() - t, 1),
    )
    write_json(doc, args.json)
    print(f"INT8 plan: {len(d['int8_layers'])} of {len(d['sweep_psnr_db'])} layers in INT8; held-out gate median "
          f"{d['gates']['median_psnr_db']} dB, worst {d['gates']['worst_psnr_db']} dB; {doc['wall_s']:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
