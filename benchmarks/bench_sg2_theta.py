#!/usr/bin/env python3
"""What θ should hold for the sg2 family, measured: the FMM factors (each layer's affine
output, modulated inside the INR graph) or the modulated weights (computed once per latent by
the hypernetwork). Exports both INR graphs of a demo preset and times ONNX Runtime in
alternating rounds at several sizes, batch 1; prints θ sizes and hypernetwork times too.

    .venv/bin/python benchmarks/bench_sg2_theta.py --preset released-church --sizes 32,64,128,256 --threads 2 \
        --json benchmarks/results/sg2_theta.json
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from inrgan_export.measure.harness import int_list, parser, record, write_json
from inrgan_export.measure.timing import interleaved, interleaved_times, ratio_spread, summarize
from inrgan_export.load.sources import demo_checkpoint
from inrgan_export.exporter.onnx_export import export_graph
from inrgan_export.families.sg2.model import SG2Generator
from inrgan_export.load.split import split


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("--preset", default="released-church")
    ap.add_argument("--sizes", type=int_list, default=[32, 64, 128, 256])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    import onnxruntime as ort

    ckpt = demo_checkpoint(args.preset)
    family = ckpt.family_spec
    if family.name != "sg2":
        ap.error(f"--preset {args.preset}: a {family.name}-family preset; θ forms exist for the sg2 family only")
    doc = record(preset=args.preset, threads=args.threads, rounds=args.rounds, theta_floats={}, hypernet={}, inr={})
    models = {}
    for form in ("factors", "weights"):
        m = SG2Generator(ckpt.build().cfg, theta_form=form)
        m.load_state_dict(ckpt.state_dict)
        models[form] = m.eval().requires_grad_(False)
    z = torch.from_numpy(np.random.RandomState(0).randn(1, ckpt.build().z_dim).astype(np.float32))
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.log_severity_level = 3
    with tempfile.TemporaryDirectory() as tmp:
        sessions, thetas = {}, {}
        for form, m in models.items():
            graph = next(g for g in split(m, family.export_spec) if g.name == "inr")
            path = Path(tmp) / f"inr_{form}.onnx"
            export_graph(graph, m, family.export_spec, path)
            sessions[form] = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
            with torch.no_grad():
                thetas[form] = m.hypernet(z).numpy()
            doc["theta_floats"][form] = int(m.theta_dim)
            print(f"# θ {form}: {m.theta_dim:,} floats ({4 * m.theta_dim / 2**20:.2f} MiB per latent)", file=sys.stderr)
        with torch.no_grad():
            hyper = interleaved({f: (lambda m=m: m.hypernet(z)) for f, m in models.items()}, rounds=args.rounds)
        for f, t in hyper.items():
            doc["hypernet"][f] = t.to_json()
            print(f"hypernet (torch) {f:8s} {1e3 * t.median_s:9.2f} ms")
        for n in args.sizes:
            grid = models["factors"].layout.build((n, n), None, batch=1).for_batch(1)
            fns = {f: (lambda f=f: sessions[f].run(None, {"theta": thetas[f], **grid})) for f in sessions}
            times = interleaved_times(fns, rounds=args.rounds)
            res = {f: summarize(ts) for f, ts in times.items()}
            med, q1, q3 = ratio_spread(times["factors"], times["weights"])
            a, b = res["factors"].median_s, res["weights"].median_s
            doc["inr"][n] = {**{f: t.to_json() for f, t in res.items()}, "factors_over_weights": {"median": med, "q1": q1, "q3": q3}}
            print(f"INR {n:4d}x{n:<4d} factors {1e3 * a:9.2f} ms | weights {1e3 * b:9.2f} ms | factors/weights {med:.3f} "
                  f"(per-round IQR {q1:.3f}..{q3:.3f})")
    if args.json:
        write_json(doc, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
