#!/usr/bin/env python3
"""Target ort-mobile on full-size presets, side by side in one run: INR latency of the bundle's
``.ort`` graph vs its ONNX graph (both ONNX Runtime, CPU EP) vs OpenVINO FP32 (compiled from
the same ONNX, f32 inference precision set explicitly) vs the INT8 ``.ort`` graph, at each
size, in alternating rounds after a warm-up; file sizes; INT8 PSNR against the FP32 ``.ort``
graph on held-out latents (seeds 1000.., not among the calibration or gate latents); the INT8
gate recorded at export; ONNX Runtime's mobile usability verdict per graph.

Bundles come from the CLI (run each under the shared memory lock):

    flock /tmp/heavy.lock inrgan-export demo:church --target ort-mobile -o church_ort/
    flock /tmp/heavy.lock inrgan-export demo:church --target ort-mobile --precision int8 -o church_ort8/
    flock /tmp/heavy.lock .venv/bin/python benchmarks/bench_ort_mobile.py \\
        --pair church:church_ort:church_ort8 --pair released-church:rc_ort:rc_ort8 \\
        --sizes 64,128,256 --json benchmarks/results/ort_mobile.json

Latency is one render of one latent's θ (the hypernet runs once per latent and is excluded),
batch 1, ``--threads`` CPU threads, median and IQR.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from inrgan_export.measure.harness import int_list, parser, record, write_json
from inrgan_export.measure.timing import interleaved
from inrgan_export.core.bundle import Bundle
from inrgan_export.core.imageio import psnr
from inrgan_export.core.latents import latents_from_seeds
from inrgan_export.backends.onnxruntime_backend import OnnxRuntimeGenerator
from inrgan_export.backends.openvino_backend import OpenVINOGenerator

HELD_OUT_SEEDS = list(range(1000, 1016))


def sizes_of(bundle: Bundle) -> dict[str, int]:
    files = bundle.manifest.files
    return {kind: sum(e.bytes for rel, e in files.items() if rel.endswith(f".{kind}")) for kind in ("onnx", "ort")}


def usability(bundle: Bundle) -> dict:
    section = bundle.manifest["ort_mobile"]
    graphs = {g: {ep: f"{v['verdict']} ({v['supported_nodes']}/{v['nodes']} nodes, {v['partitions']} partitions; "
                       f"fixed shapes: {v['verdict_if_fixed_shapes']}, {v['supported_nodes_if_fixed_shapes']}/{v['nodes']})"
                  for ep, v in rec.items() if isinstance(v, dict)}
              for g, rec in section["usability"]["graphs"].items()}
    return {"execution_providers": {p: v["use"] for p, v in section["execution_providers"].items()}, "graphs": graphs}


def bench_pair(name: str, fp32_dir: Path, int8_dir: Path | None, sizes: list[int], threads: int, rounds: int) -> dict:
    fp32 = Bundle.open(fp32_dir)
    iface = fp32.manifest.interface
    result: dict = {"preset": name, "bundle_fp32": str(fp32_dir), "file_bytes_fp32": sizes_of(fp32), "usability": usability(fp32)}
    gens = {
        "ort": OnnxRuntimeGenerator(fp32, threads=threads, graph_kind="ort"),
        "onnx": OnnxRuntimeGenerator(fp32, threads=threads, graph_kind="onnx"),
        "openvino_fp32": OpenVINOGenerator.for_benchmark(fp32, "fp32", threads, None),
    }
    int8 = None
    if int8_dir is not None:
        int8 = Bundle.open(int8_dir)
        gens["ort_int8"] = OnnxRuntimeGenerator(int8, threads=threads, graph_kind="ort")
        result["bundle_int8"] = str(int8_dir)
        result["file_bytes_int8"] = sizes_of(int8)
        result["int8_gate_at_export"] = {k: int8.manifest["int8"]["gates"].get(k) for k in
                                         ("passed", "median_psnr_db", "worst_psnr_db", "latents", "latent_seeds", "grids")}
        result["int8_layers"] = len(int8.manifest["int8"].get("int8_layers", []))
    for g in gens.values():
        g.activate()
    z = latents_from_seeds(HELD_OUT_SEEDS, iface.z_dim)
    theta = gens["ort"].hypernet(z)
    theta8 = gens["ort_int8"].hypernet(z) if int8 else None
    rows = []
    for s in sizes:
        size = (s, s)
        fns = {k: (lambda g=g: g.render(theta[:1], size)) for k, g in gens.items() if k != "ort_int8"}
        if int8:
            fns["ort_int8"] = lambda: gens["ort_int8"].render(theta8[:1], size)
        timing = interleaved(fns, rounds=rounds, warmup=1)
        row = {"size": s, "latency_s": {k: {"median": t.median_s, "q1": t.q1_s, "q3": t.q3_s, "runs": t.runs} for k, t in timing.items()}}
        base = timing["ort"].median_s
        row["ratio_to_ort"] = {k: t.median_s / base for k, t in timing.items()}
        # FP32 .ort vs the ONNX graph: same library, graph optimised at conversion vs at load
        ref = gens["onnx"].render(theta, size)
        row["ort_vs_onnx_max_abs"] = float(np.abs(gens["ort"].render(theta, size) - ref).max())
        if int8:
            out8 = gens["ort_int8"].render(theta8, size)
            p = [psnr(ref[i:i + 1], out8[i:i + 1], iface.display) for i in range(len(HELD_OUT_SEEDS))]
            row["int8_psnr_db"] = {"median": float(np.median(p)), "worst": float(np.min(p)), "latents": len(p)}
        rows.append(row)
        print(json.dumps({"preset": name, **row}), file=sys.stderr, flush=True)
    for g in gens.values():
        g.deactivate()
    result["sizes"] = rows
    return result


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("--pair", action="append", required=True, help="NAME:FP32_BUNDLE[:INT8_BUNDLE]")
    ap.add_argument("--sizes", type=int_list, default=[64, 128, 256])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    sizes = args.sizes
    out = record(threads=args.threads, rounds=args.rounds, presets=[],
                 note="absolute times are noisy on a shared machine; ratios are from alternating rounds")
    for spec in args.pair:
        name, fp32, *rest = spec.split(":")
        out["presets"].append(bench_pair(name, Path(fp32), Path(rest[0]) if rest else None, sizes, args.threads, args.rounds))
    write_json(out, args.json, echo=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
