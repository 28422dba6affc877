#!/usr/bin/env python3
"""OpenVINO's fixed per-call cost at small sizes: a bundle's INR graph compiled with dynamic
shapes (what the runtime does) and reshaped to the one static shape, each at f32 and bf16,
timed in alternating rounds against ONNX Runtime; then OpenVINO's per-node performance
counters of the dynamic f32 model, whose sum is the time spent in kernels (the rest of the
call is per-call overhead: shape inference and memory set-up of a dynamic-shape model).

    .venv/bin/python benchmarks/profile_openvino_small.py --bundle tiny_onnx/ --size 16 --threads 2 --json out.json
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from inrgan_export.measure.harness import machine_line, parser, record, write_json
from inrgan_export.measure.timing import interleaved_times, summarize
from inrgan_export.backends import open_bundle


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("--bundle", type=Path, required=True, help="an ONNX bundle (its inr.onnx is profiled)")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    import openvino as ov

    from inrgan_export.backends.onnxruntime_backend import ort_session

    with open_bundle(args.bundle, backend="onnxruntime") as g:
        z = np.random.RandomState(0).randn(1, g.interface.z_dim).astype(np.float32)
        theta = g.hypernet(z)
        grid = g.grid((args.size, args.size)).for_batch(1)
    inr = args.bundle / json.loads((args.bundle / "manifest.json").read_text())["graphs"]["inr"]["onnx"]
    core = ov.Core()
    fns = {}
    requests = {}
    for static in (False, True):
        for precision in ("f32", "bf16"):
            model = core.read_model(str(inr))
            names = {i.get_any_name() for i in model.inputs}
            feeds = {"theta": theta, **{k: v for k, v in grid.items() if k in names}}
            if static:
                model.reshape({k: ov.PartialShape(list(v.shape)) for k, v in feeds.items()})
            compiled = core.compile_model(model, "CPU", {"INFERENCE_NUM_THREADS": args.threads, "PERFORMANCE_HINT": "LATENCY",
                                                         "INFERENCE_PRECISION_HINT": precision, "PERF_COUNT": True})
            request = compiled.create_infer_request()
            name = f"openvino {precision} {'static' if static else 'dynamic'}"
            requests[name] = request
            fns[name] = lambda request=request, feeds=feeds: request.infer(feeds)
    sess = ort_session(inr, args.threads)
    ort_feeds = {k: v for k, v in feeds.items() if k in {i.name for i in sess.get_inputs()}}
    fns["onnxruntime fp32"] = lambda: sess.run(None, ort_feeds)
    times = interleaved_times(fns, rounds=args.rounds, warmup=2)
    doc = record(bundle=str(args.bundle), size=args.size, threads=args.threads, rounds=args.rounds, paths={}, kernels={})
    print(f"# {inr} at {args.size}x{args.size}, batch 1, {args.threads} threads, {args.rounds} alternating rounds; "
          f"{machine_line(doc['machine'])}")
    for name, ts in times.items():
        t = summarize(ts, 2)
        doc["paths"][name] = t.to_json()
        print(f"{name:<26} median {t.median_s * 1e3:8.2f} ms  IQR {t.q1_s * 1e3:.2f}..{t.q3_s * 1e3:.2f} ms")
    for name in ("openvino f32 dynamic", "openvino f32 static"):
        info = requests[name].get_profiling_info()
        kernels = sum(p.real_time.total_seconds() for p in info) * 1e3
        doc["kernels"][name] = {"nodes": len(info), "kernel_ms_last_call": kernels}
        print(f"{name}: {len(info)} nodes, per-node real time summed over the last call {kernels:.2f} ms; slowest:")
        for p in sorted(info, key=lambda p: -p.real_time.total_seconds())[:5]:
            print(f"    {p.node_name[:48]:<48} {p.node_type:<14} {p.exec_type:<22} {p.real_time.total_seconds() * 1e3:.3f} ms")
    if args.json:
        write_json(doc, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
