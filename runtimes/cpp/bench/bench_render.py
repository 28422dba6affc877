"""Render latency: the C++ runtime vs the Python runtime on the same backend and bundle.

Both paths run OpenVINO (f32 inference precision, latency hint, the same thread count) on the
same model files with the same inputs, in alternating rounds in one run (this VM's speed
drifts from minute to minute):

* cpp:     Generator::render through the C++ API (runtimes/cpp/bench/bench_render.cpp, one
           process per round: warm-up renders, then timed renders);
* python:  the Python runtime's OpenVINO backend (inrgan_export.backends.openvino_backend,
           through open_bundle(..., backend="openvino")), when this version has it;
* minimal: inrgan_export's Generator API (runtime/base.py: checks, cached grids, planning)
           over a minimal OpenVINO backend written here (zero-copy inputs);
* raw:     OpenVINO's InferRequest.infer on prepared inputs alone (Python API): the floor.

    .venv/bin/python runtimes/cpp/bench/bench_render.py --bundle church_onnx \\
        --bench runtimes/cpp/build/release/inrgan-bench --size 256 --threads 2

Prints one JSON object (medians, IQRs, all samples, C++ overhead over the Python path).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np
import openvino as ov

from inrgan_export.core.bundle import Bundle
from inrgan_export.core.latents import latent_from_seed
from inrgan_export.backends.base import Generator, Interface


class OpenVinoGenerator(Generator):
    """The Python runtime over OpenVINO, configured exactly as the C++ backend configures it."""

    backend = "openvino"

    def __init__(self, bundle: Bundle, threads: int) -> None:
        super().__init__(Interface.from_manifest(bundle.interface))
        self.bundle, self.threads = bundle, threads
        self.requests: dict[str, ov.InferRequest] = {}

    def config(self) -> dict:
        precision = (self.bundle.manifest.get("openvino") or {}).get("inference_precision", "f32")
        return {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": self.threads}

    def activate_impl(self) -> None:
        core = ov.Core()
        for name in ("hypernet", "inr"):
            graphs = self.bundle.manifest["graphs"][name]
            path = self.bundle.path / graphs.get("openvino", graphs["onnx"])
            self.requests[name] = core.compile_model(core.read_model(path), "CPU", self.config()).create_infer_request()

    def _run(self, name: str, feeds: dict) -> np.ndarray:
        request = self.requests[name]
        request.infer(feeds, share_inputs=True)
        return request.get_output_tensor(0).data  # copied into the result by the caller

    def hypernet_impl(self, feeds):
        return self._run("hypernet", feeds).copy()

    def inr_impl(self, theta, grid):
        return self._run("inr", {self.interface.theta_name: theta, **grid})


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def stats(ms: list[float]) -> dict:
    q25, q50, q75 = np.percentile(ms, [25, 50, 75])
    return {"median_ms": round(float(q50), 2), "iqr_ms": round(float(q75 - q25), 2), "n": len(ms)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", type=Path, required=True)
    ap.add_argument("--bench", type=Path, default=Path(__file__).resolve().parents[1] / "build" / "release" / "inrgan-bench")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3, help="timed renders per path and round")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()

    bundle = Bundle.open(args.bundle)  # checksums verified once here; the C++ rounds skip them
    size = (args.size, args.size)
    gen = OpenVinoGenerator(bundle, args.threads).activate()
    theta = gen.hypernet(latent_from_seed(args.seed, gen.interface.z_dim))
    feeds = {gen.interface.theta_name: theta, **gen.grid(size).for_batch(1)}
    for _ in range(args.warmup):
        gen.render(theta, size)

    samples: dict[str, list[float]] = {"cpp": [], "python": [], "minimal": [], "raw": []}
    runtime = None
    try:
        from inrgan_export.backends import BACKENDS, open_bundle

        if "openvino" in BACKENDS:
            runtime = open_bundle(args.bundle, backend="openvino", device="CPU", threads=args.threads, verify_checksums=False)
            runtime.activate()
            for _ in range(args.warmup):
                runtime.render(theta, size)
    except ImportError:
        pass
    if runtime is None:
        del samples["python"]

    def python_round() -> None:
        if runtime is not None:
            for _ in range(args.repeat):
                t = time.perf_counter()
                runtime.render(theta, size)
                samples["python"].append(1e3 * (time.perf_counter() - t))
        for _ in range(args.repeat):
            t = time.perf_counter()
            gen.render(theta, size)
            samples["minimal"].append(1e3 * (time.perf_counter() - t))
        request = gen.requests["inr"]
        for _ in range(args.repeat):
            t = time.perf_counter()
            request.infer(feeds, share_inputs=True)
            samples["raw"].append(1e3 * (time.perf_counter() - t))

    def cpp_round() -> None:
        cmd = [str(args.bench), str(args.bundle), "--size", f"{args.size}x{args.size}", "--threads", str(args.threads),
               "--warmup", str(args.warmup), "--repeat", str(args.repeat), "--seed", str(args.seed), "--no-verify"]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        samples["cpp"].extend(json.loads(out)["times_ms"])

    for r in range(args.rounds):  # alternate which path goes first
        for run in ((cpp_round, python_round) if r % 2 == 0 else (python_round, cpp_round)):
            run()

    result = {
        "bundle": str(args.bundle), "size": list(size), "batch": 1, "threads": args.threads,
        "backend": f"OpenVINO {ov.get_version()}", "inference_precision": gen.config()["INFERENCE_PRECISION_HINT"],
        "machine": f"{cpu_model()}, {os.cpu_count()} CPUs", "rounds": args.rounds, "repeat": args.repeat,
        **{path: stats(ms) for path, ms in samples.items()},
    }
    for other in ("python", "minimal"):
        if other in result:
            result[f"cpp_overhead_vs_{other}"] = f"{100 * (result['cpp']['median_ms'] / result[other]['median_ms'] - 1):+.1f} %"
    result["cpp_overhead_vs_raw_infer"] = f"{100 * (result['cpp']['median_ms'] / result['raw']['median_ms'] - 1):+.1f} %"
    result["samples_ms"] = {path: [round(v, 2) for v in ms] for path, ms in samples.items()}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
