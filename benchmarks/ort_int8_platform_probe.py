#!/usr/bin/env python3
"""Why the INT8 ``.ort`` graph of an ort-mobile bundle is slow on x86: the bundle's ``.ort``
files are optimised for ARM (phones), whose Q/DQ fusions are not x86 kernels. This times, side
by side on this CPU (ONNX Runtime, CPU EP, batch 1, alternating rounds), the INR of an FP32 and
an INT8 ort-mobile bundle: FP32 ``.ort`` (ARM), INT8 Q/DQ ``.onnx`` (optimised at load for this
CPU), INT8 ``.ort`` (ARM) and the same INT8 graph converted here with ``--target_platform amd64``.

    .venv/bin/python benchmarks/ort_int8_platform_probe.py church_ort/ church_ort8/ --sizes 64,128
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort

from inrgan_export.measure.harness import int_list, parser, record, write_json
from inrgan_export.measure.timing import interleaved_times, ratio_spread, summarize
from inrgan_export.core.manifest import Interface


def session(path: Path, threads: int) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    if path.suffix == ".ort":
        so.add_session_config_entry("session.load_model_format", "ORT")
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("fp32_bundle", type=Path)
    ap.add_argument("int8_bundle", type=Path)
    ap.add_argument("--sizes", type=int_list, default=[64, 128])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    manifest = json.loads((a.int8_bundle / "manifest.json").read_text())
    iface = Interface.from_manifest(manifest["interface"])
    theta = np.load(a.int8_bundle / "golden.npz")["theta"][:1]
    with tempfile.TemporaryDirectory() as tmp:
        x86 = Path(tmp) / "inr.onnx"
        x86.write_bytes((a.int8_bundle / "inr.onnx").read_bytes())
        subprocess.run([sys.executable, "-m", "onnxruntime.tools.convert_onnx_models_to_ort", "--optimization_style", "Fixed",
                        "--target_platform", "amd64", str(x86)], check=True, capture_output=True)
        paths = {"fp32 .ort (arm)": a.fp32_bundle / "inr.ort", "int8 .onnx (optimised at load)": a.int8_bundle / "inr.onnx",
                 "int8 .ort (arm)": a.int8_bundle / "inr.ort", "int8 .ort (amd64, converted here)": x86.with_suffix(".ort")}
        sessions = {name: session(p, a.threads) for name, p in paths.items()}
        results = {}
        for size in a.sizes:
            grid = iface.layout.build((size, size), None, batch=1).for_batch(1)
            feeds = {iface.theta_name: theta, **grid}
            outs = {n: s.run(None, feeds)[0] for n, s in sessions.items()}  # also the warm-up
            times = interleaved_times({n: (lambda s=s: s.run(None, feeds)) for n, s in sessions.items()},
                                      rounds=a.rounds, warmup=0)
            base = "fp32 .ort (arm)"
            results[size] = {}
            for n, ts in times.items():
                t = summarize(ts)
                med, q1, q3 = ratio_spread(times[base], ts)
                results[size][n] = {**t.to_json(), "speed_vs_fp32_ort": {"median": med, "q1": q1, "q3": q3}}
                print(f"{size}x{size}  {n:<36} {t.median_s * 1e3:8.1f} ms  IQR {t.q1_s * 1e3:.1f}..{t.q3_s * 1e3:.1f}  "
                      f"speed vs fp32 .ort {med:.2f}x (per-round IQR {q1:.2f}..{q3:.2f})", flush=True)
            int8_same = float(np.abs(outs["int8 .ort (arm)"] - outs["int8 .onnx (optimised at load)"]).max())
            results[size]["max_abs_int8_ort_arm_vs_int8_onnx"] = int8_same
            print(f"{size}x{size}  max |int8 .ort (arm) - int8 .onnx| = {int8_same:.2e}")
    if a.json:
        write_json(record(sizes=results, rounds=a.rounds, threads=a.threads), a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
