"""Timing with warm-up, reported as median, interquartile range and count."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Timing:
    median_s: float
    q1_s: float
    q3_s: float
    runs: int
    warmup: int

    @property
    def iqr_s(self) -> float:
        return self.q3_s - self.q1_s

    def to_json(self) -> dict:
        return {**asdict(self), "iqr_s": self.iqr_s}

    def text(self) -> str:
        return f"{self.median_s * 1e3:9.1f} ms (IQR {self.iqr_s * 1e3:.1f}, n={self.runs})"


def measure(fn: Callable[[], object], repeats: int = 5, warmup: int = 1, min_time: float = 0.0) -> Timing:
    """Run ``fn`` ``warmup`` times untimed, then at least ``repeats`` times (and at least
    ``min_time`` seconds in total)."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < repeats or (time.perf_counter() - start) < min_time:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    q1, med, q3 = np.percentile(times, [25, 50, 75])
    return Timing(float(med), float(q1), float(q3), len(times), warmup)


def interleaved_times(fns: dict[str, Callable[[], object]], rounds: int = 5, warmup: int = 1,
                      rotate: bool = False, calls: dict[str, int] | None = None) -> dict[str, list[float]]:
    """Every path once per round: {path: [seconds per round]}. Ratios of two paths are best
    taken per round (both saw the same machine state). ``rotate``: each round starts one path
    later (no path always runs first, e.g. after a cold page cache or an idle core);
    ``calls``: a path runs that many times per round and its time is the mean per call (for
    calls too short for one clock reading, see :func:`calls_for`)."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    names = list(fns)
    calls = calls or {}
    times: dict[str, list[float]] = {k: [] for k in fns}
    for r in range(rounds):
        order = names[r % len(names):] + names[: r % len(names)] if rotate and names else names
        for name in order:
            fn, n = fns[name], calls.get(name, 1)
            t = time.perf_counter()
            for _ in range(n):
                fn()
            times[name].append((time.perf_counter() - t) / n)
    return times


def calls_for(fn: Callable[[], object], seconds: float = 0.02) -> int:
    """How many calls of ``fn`` take about ``seconds`` (at least 1), from one timed call."""
    t = time.perf_counter()
    fn()
    return max(1, int(seconds / max(time.perf_counter() - t, 1e-6)))


def spread(values: list[float], keep: bool = False) -> dict:
    """Median, quartiles, extremes and count of any measured quantity (images/s, latencies);
    ``keep`` adds the values themselves."""
    v = np.sort(np.asarray(values, dtype=float))
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    out = {"median": float(med), "q1": float(q1), "q3": float(q3), "min": float(v[0]), "max": float(v[-1]), "n": int(v.size)}
    if keep:
        out["values"] = [float(x) for x in v]
    return out


def summarize(ts: list[float], warmup: int = 1) -> Timing:
    q1, med, q3 = np.percentile(ts, [25, 50, 75])
    return Timing(float(med), float(q1), float(q3), len(ts), warmup)


def ratio_spread(numerator: list[float], denominator: list[float]) -> tuple[float, float, float]:
    """(median, q1, q3) of the per-round ratios numerator / denominator."""
    r = np.asarray(numerator) / np.asarray(denominator)
    q1, med, q3 = np.percentile(r, [25, 50, 75])
    return float(med), float(q1), float(q3)


def interleaved(fns: dict[str, Callable[[], object]], rounds: int = 5, warmup: int = 1) -> dict[str, Timing]:
    """Time several paths in alternating rounds, so that a machine whose speed drifts (shared
    cores, turbo) affects all of them alike; one warm-up call each first."""
    return {name: summarize(ts, warmup) for name, ts in interleaved_times(fns, rounds, warmup).items()}


def sgemm_paths(threads: int | None = None, n: int = 4096) -> dict[str, tuple[float, Callable[[], object]]]:
    """Large float32 matrix products, ``{name: (flop, fn)}``: PyTorch (MKL/oneDNN) and ONNX
    Runtime's MatMul (MLAS). The faster one is taken as the machine's practical sgemm peak."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=gen)
    b = torch.randn(n, n, generator=gen)
    paths = {"sgemm torch": (2.0 * n**3, lambda: torch.mm(a, b))}
    try:
        import onnx
        from onnx import TensorProto, helper

        from ..backends.onnxruntime_backend import ort_session
    except ImportError:
        return paths
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])], "sgemm",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n]), helper.make_tensor_value_info("b", TensorProto.FLOAT, [n, n])],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [n, n])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    sess = ort_session(model.SerializeToString(), threads, quiet=False)
    feeds = {"a": a.numpy(), "b": b.numpy()}
    paths["sgemm onnxruntime"] = (2.0 * n**3, lambda: sess.run(None, feeds))
    del onnx
    return paths


def gemm_paths_cuda(device: str, precision: str, n: int = 4096) -> dict[str, tuple[float, Callable[[], object]]]:
    """A square GEMM on the GPU at the bench's precision (fp32, or fp16/bf16 tensors), each
    call synchronised: the practical peak the INR's matmuls are measured against."""
    import torch

    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    gen = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, generator=gen, device=device).to(dtype)
    b = torch.randn(n, n, generator=gen, device=device).to(dtype)

    def run() -> None:
        torch.mm(a, b)
        torch.cuda.synchronize(device)

    return {f"gemm torch {device} {precision}": (2.0 * n**3, run)}
