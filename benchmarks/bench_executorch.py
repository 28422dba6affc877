#!/usr/bin/env python3
"""The INR of a preset on ExecuTorch (XNNPACK delegate) against ONNX Runtime and OpenVINO FP32,
side by side in one run: at each size every path runs once per round, sizes and paths
interleaved (one warm-up each), medians and IQR. Also the ``.pte`` sizes and the activation
memory ExecuTorch plans at each dim bound.

    .venv/bin/python benchmarks/bench_executorch.py --preset church --sizes 64,128,256 \
        --bounds 256,512 --threads 2 --rounds 7 --json benchmarks/results/executorch_church.json

The programs are lowered exactly as ``--target executorch`` lowers them (compile/executorch.py:
torch.export with every named dim bounded through the size rule, XnnpackPartitioner); the
first bound is the one timed. Needs the export, openvino and mobile extras.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from inrgan_export.measure.harness import int_list, parser, record, write_json
from inrgan_export.measure.timing import interleaved
from inrgan_export.load.sources import demo_checkpoint
from inrgan_export.compile.executorch import import_executorch, lower, planned_bytes
from inrgan_export.exporter.onnx_export import export_graph
from inrgan_export.backends.onnxruntime_backend import ort_session
from inrgan_export.backends.trt_profiles import dim_ranges, resolve_range
from inrgan_export.load.split import split


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("--preset", default="church")
    ap.add_argument("--sizes", type=int_list, default=[64, 128, 256])
    ap.add_argument("--bounds", type=int_list, default=[256, 512], help="max render side of the lowered programs; the first is timed")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    sizes, bounds = args.sizes, args.bounds

    ckpt = demo_checkpoint(args.preset)
    model = ckpt.build()
    family = ckpt.family_spec
    spec = family.export_spec
    graph = next(g for g in split(model, spec) if g.name == "inr")
    to_edge, partitioner = import_executorch()
    z = torch.from_numpy(np.random.RandomState(0).randn(1, model.z_dim).astype(np.float32))
    extra = [torch.ones(1)] * (len(spec.hypernet_inputs) - 1)
    with torch.no_grad():
        theta = model.hypernet(z, *extra).numpy()
    result = record(preset=args.preset, threads=args.threads, rounds=args.rounds, bounds={}, sizes={})
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        programs = {}
        for b in bounds:
            rng = resolve_range(model.native_size, 1, max_res=(b, b))
            dims = {name: hi for name, (_, _, hi) in dim_ranges(model.layout.size_rule, rng).items()}
            t = time.perf_counter()
            program = lower(graph, model, spec, dims, to_edge, partitioner)
            path = tmp / f"inr_{b}.pte"
            path.write_bytes(program.buffer)
            programs[b] = path
            result["bounds"][b] = {"pte_bytes": path.stat().st_size, "planned_memory_bytes": planned_bytes(program),
                                   "lowering_s": round(time.perf_counter() - t, 1)}
            print(f"# bound {b}: .pte {path.stat().st_size / 2**20:.1f} MiB, planned "
                  f"{planned_bytes(program) / 2**20:.1f} MiB", file=sys.stderr)
        onnx_path = tmp / "inr.onnx"
        export_graph(graph, model, spec, onnx_path)
        result["onnx_bytes"] = onnx_path.stat().st_size
        from executorch.runtime import Runtime

        method = Runtime.get().load_program(str(programs[bounds[0]])).load_method("forward")
        sess = ort_session(onnx_path, args.threads)
        import openvino as ov

        core = ov.Core()
        compiled = core.compile_model(str(onnx_path), "CPU", {"INFERENCE_PRECISION_HINT": "f32",
                                                              "INFERENCE_NUM_THREADS": args.threads,
                                                              "PERFORMANCE_HINT": "LATENCY"})
        assert str(compiled.get_property("INFERENCE_PRECISION_HINT")) in ("f32", "<Type: 'float32'>")
        request = compiled.create_infer_request()
        fns = {}
        outputs = {}
        for s in sizes:
            grid = model.layout.build((s, s), None, batch=1).for_batch(1)
            feeds = {"theta": theta, **grid}
            names = [spec.name for spec in model.layout.input_specs()]
            et_inputs = [torch.from_numpy(theta)] + [torch.from_numpy(grid[n]) for n in names]
            fns[(s, "executorch-xnnpack")] = lambda et_inputs=et_inputs: method.execute(et_inputs)[0]
            fns[(s, "onnxruntime")] = lambda feeds=feeds: sess.run(None, feeds)[0]
            fns[(s, "openvino-fp32")] = lambda feeds=feeds: (request.infer(feeds), request.get_output_tensor(0).data)[1]
            with torch.no_grad():
                ref = model.inr(torch.from_numpy(theta), *[torch.from_numpy(grid[n]) for n in names]).numpy()
            outputs[s] = {
                "executorch-xnnpack": float(np.abs(method.execute(et_inputs)[0].numpy() - ref).max()),
                "onnxruntime": float(np.abs(sess.run(None, feeds)[0] - ref).max()),
                "openvino-fp32": float(np.abs(fns[(s, "openvino-fp32")]() - ref).max()),
            }
        timings = interleaved({f"{s} {p}": fn for (s, p), fn in fns.items()}, rounds=args.rounds)
    for s in sizes:
        row = {}
        for p in ("executorch-xnnpack", "onnxruntime", "openvino-fp32"):
            t = timings[f"{s} {p}"]
            row[p] = {"median_ms": round(t.median_s * 1e3, 2), "q1_ms": round(t.q1_s * 1e3, 2), "q3_ms": round(t.q3_s * 1e3, 2),
                      "max_abs_vs_torch": outputs[s][p]}
        row["executorch_vs_onnxruntime"] = round(row["onnxruntime"]["median_ms"] / row["executorch-xnnpack"]["median_ms"], 2)
        row["executorch_vs_openvino"] = round(row["openvino-fp32"]["median_ms"] / row["executorch-xnnpack"]["median_ms"], 2)
        result["sizes"][s] = row
        print(f"{args.preset} {s}x{s}: " + ", ".join(f"{p} {row[p]['median_ms']} ms [{row[p]['q1_ms']}, {row[p]['q3_ms']}]"
                                                    for p in ("executorch-xnnpack", "onnxruntime", "openvino-fp32")))
    write_json(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
