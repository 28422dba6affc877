"""First vs second open of a bundle in C++ with OpenVINO's compiled-model cache.

Each round uses a fresh cache folder (INRGAN_EXPORT_CACHE): the first open compiles both
graphs and writes the cache, the second open of the same bundle loads them; a third open with
``--no-cache`` compiles again (what every open cost before the cache). Times are
``Generator::open`` inside ``inrgan-bench --open-only`` (manifest, SHA-256 of every file,
reading/compiling or loading the graphs), one fresh process per open.

    .venv/bin/python runtimes/cpp/bench/bench_open.py --bundle church_onnx \\
        --bench runtimes/cpp/build/release/inrgan-bench --rounds 5 --out benchmarks/results/cpp_open_cache.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def open_ms(bench: str, bundle: str, cache: Path, extra: list[str]) -> float:
    env = dict(os.environ, INRGAN_EXPORT_CACHE=str(cache))
    proc = subprocess.run([bench, bundle, "--open-only", *extra], capture_output=True, text=True, env=env, timeout=3600)
    if proc.returncode != 0:
        sys.exit(f"inrgan-bench failed: {proc.stderr.strip()}")
    return float(json.loads(proc.stdout)["open_ms"])


def cpu() -> dict:
    info = {"machine": platform.machine(), "cpus": os.cpu_count()}
    try:
        text = Path("/proc/cpuinfo").read_text()
        for line in text.splitlines():
            if line.startswith("model name"):
                info["model"] = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                info["isa"] = {f: f in flags for f in ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile")}
                break
    except OSError:
        pass
    return info


def summary(values: list[float]) -> dict:
    q1, med, q3 = np.percentile(values, [25, 50, 75])
    return {"median_ms": round(float(med), 1), "iqr_ms": round(float(q3 - q1), 1), "min_ms": round(min(values), 1),
            "max_ms": round(max(values), 1), "raw_ms": [round(v, 1) for v in values]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--bench", required=True, help="inrgan-bench of a Release build")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    extra = ["--threads", str(args.threads)] if args.threads else []
    first, second, uncached = [], [], []
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="inrgan-cache-") as tmp:
            first.append(open_ms(args.bench, args.bundle, Path(tmp), extra))
            second.append(open_ms(args.bench, args.bundle, Path(tmp), extra))
            uncached.append(open_ms(args.bench, args.bundle, Path(tmp), [*extra, "--no-cache"]))
        print(f"round {r}: first {first[-1]:.0f} ms, second {second[-1]:.0f} ms, no cache {uncached[-1]:.0f} ms", file=sys.stderr)
    result = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "bundle": args.bundle,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpu": cpu(),
        "load_average": os.getloadavg(),
        "note": "shared 2-core VM with other jobs running: noisy",
        "first_open": summary(first),
        "second_open": summary(second),
        "open_without_cache": summary(uncached),
        "second_over_first": round(float(np.median(second) / np.median(first)), 3),
    }
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
