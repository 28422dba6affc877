#!/usr/bin/env python3
"""Why the INT8 ``.ort`` graph of an ort-mobile bundle is slow on x86: the bundle's ``.ort``
files are optimised for ARM (phones), whose Q/DQ fusions are not x86 kernels. This times, side
by side on this CPU (ONNX Runtime, CPU EP, batch 1, alternating rounds), the INR of an FP32 and
an INT8 ort-mobile bundle: FP32 ``.ort`` (ARM), INT8 Q/DQ ``.onnx`` (optimised at load for this
CPU), INT8 ``.ort`` (ARM) and the same INT8 graph converted here with ``--target_platform amd64``.

    .venv/bin/python benchmarks/ort_int8_platform_probe.py church_ort/ church_ort8/ --sizes 64,128
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from inrgan_export.core.environment import machine_info
from inrgan_export.core.manifest import Interface


def session(path: Path, threads: int) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    if path.suffix == ".ort":
        so.add_session_config_entry("session.load_model_format", "ORT")
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("fp32_bundle", type=Path)
    ap.add_argument("int8_bundle", type=Path)
    ap.add_argument("--sizes", default="64,128")
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
        for size in [int(s) for s in a.sizes.split(",")]:
            grid = iface.layout.build((size, size), None, batch=1).for_batch(1)
            feeds = {iface.theta_name: theta, **grid}
            outs = {n: s.run(None, feeds)[0] for n, s in sessions.items()}  # warm-up
            times = {n: [] for n in sessions}
            for _ in range(a.rounds):
                for n, s in sessions.items():
                    t = time.perf_counter()
                    s.run(None, feeds)
                    times[n].append(time.perf_counter() - t)
            base = float(np.median(times["fp32 .ort (arm)"]))
            for n, ts in times.items():
                med, q1, q3 = np.median(ts), np.percentile(ts, 25), np.percentile(ts, 75)
                print(f"{size}x{size}  {n:<36} {med * 1e3:8.1f} ms  IQR {q1 * 1e3:.1f}..{q3 * 1e3:.1f}  "
                      f"speed vs fp32 .ort {base / med:.2f}x", flush=True)
            int8_same = float(np.abs(outs["int8 .ort (arm)"] - outs["int8 .onnx (optimised at load)"]).max())
            print(f"{size}x{size}  max |int8 .ort (arm) - int8 .onnx| = {int8_same:.2e}")
            results[size] = {n: {"median_s": float(np.median(ts)), "q1_s": float(np.percentile(ts, 25)),
                                 "q3_s": float(np.percentile(ts, 75))} for n, ts in times.items()}
    if a.json:
        a.json.write_text(json.dumps({"sizes": results, "rounds": a.rounds, "threads": a.threads, "machine": machine_info(),
                                      "command": " ".join(sys.argv)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
