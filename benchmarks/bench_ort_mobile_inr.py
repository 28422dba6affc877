#!/usr/bin/env python3
"""INR-only variant of bench_ort_mobile.py for a preset without an exported bundle: the INR
graph is exported (or taken from the user cache), converted to ``.ort`` with the ort-mobile
target's own converter call, and timed side by side in alternating rounds: ``.ort`` vs the ONNX
graph (ONNX Runtime, CPU EP) vs OpenVINO FP32 (f32 inference precision). θ comes from the
PyTorch hypernetwork. No INT8 (that needs the calibrated export).

    flock /tmp/heavy.lock .venv/bin/python benchmarks/bench_ort_mobile_inr.py --preset released-church \\
        --json benchmarks/results/ort_mobile_released-church_inr.json
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from inrgan_export.measure.harness import int_list, parser, record, write_json
from inrgan_export.measure.timing import interleaved
from inrgan_export.load.sources import demo_checkpoint
from inrgan_export.compile.ort_mobile import convert_to_ort
from inrgan_export.core.latents import latents_from_seeds
from inrgan_export.exporter.onnx_export import export_graph
from inrgan_export.backends.onnxruntime_backend import ort_session
from inrgan_export.load.split import split


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("--preset", default="released-church")
    ap.add_argument("--sizes", type=int_list, default=[64, 128, 256])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    import openvino as ov

    torch.set_num_threads(args.threads)
    ckpt = demo_checkpoint(args.preset)
    model = ckpt.build()
    spec = ckpt.family_spec.export_spec
    inr = next(g for g in split(model, spec) if g.name == "inr")
    extra = [torch.ones(1)] if len(spec.hypernet_inputs) > 1 else []  # sg2: truncation_psi = 1
    with torch.no_grad():
        theta = model.hypernet(torch.from_numpy(latents_from_seeds([1000], model.z_dim)), *extra).numpy()
    out = record(preset=args.preset, threads=args.threads, rounds=args.rounds, sizes=[],
                 note="absolute times are noisy on a shared machine; ratios are from alternating rounds")
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = Path(tmp) / "inr.onnx"
        export_graph(inr, model, spec, onnx_path)
        ort_path = convert_to_ort({"inr": onnx_path}, Path(tmp))["inr"]
        out["file_bytes"] = {"onnx": onnx_path.stat().st_size, "ort": ort_path.stat().st_size}
        sessions = {"ort": ort_session(ort_path, args.threads, ort_format=True), "onnx": ort_session(onnx_path, args.threads)}
        core = ov.Core()
        config = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": args.threads}
        compiled = core.compile_model(core.read_model(str(onnx_path)), "CPU", config)
        request = compiled.create_infer_request()
        theta_name = spec.theta_name
        for s in args.sizes:
            grid = model.layout.build((s, s), None, batch=1).for_batch(1)
            feeds = {theta_name: theta, **{n: grid[n] for n in inr.input_names if n != theta_name}}
            fns = {k: (lambda sess=sess: sess.run(None, feeds)) for k, sess in sessions.items()}
            fns["openvino_fp32"] = lambda: request.infer(feeds)
            timing = interleaved(fns, rounds=args.rounds, warmup=1)
            a, b = sessions["ort"].run(None, feeds)[0], sessions["onnx"].run(None, feeds)[0]
            row = {"size": s, "latency_s": {k: {"median": t.median_s, "q1": t.q1_s, "q3": t.q3_s, "runs": t.runs} for k, t in timing.items()},
                   "ratio_to_ort": {k: t.median_s / timing["ort"].median_s for k, t in timing.items()},
                   "ort_vs_onnx_max_abs": float(np.abs(a - b).max())}
            out["sizes"].append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    write_json(out, args.json, echo=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
