#!/usr/bin/env python3
"""serve: latency and throughput of the render service over HTTP on 127.0.0.1.

    flock /tmp/heavy.lock .venv/bin/python benchmarks/bench_serve.py church_onnx/ \\
        --json benchmarks/results/serve_church.json

For 1 and 2 replicas (1 backend thread each, on a local Ray cluster of this machine's CPUs),
each size, θ-cache miss and hit, and 1, 4 and 16 concurrent clients, one point sends
max(--min-requests, 2 x clients) GET /render requests (PNG) from that many client threads and
reports p50 / p99 / IQR of the client-side latency and the throughput (requests / the
point's wall time), with the replicas' mean batch size and measured θ-cache hit rate.

miss: every request a seed never asked before (hypernetwork + INR). hit: four seeds asked
(3 x replicas) times per size beforehand so that every replica holds their θ (INR only); the
hit rate actually seen is reported. Warm-up: two untimed requests per size before the first
point. With few requests per point p99 is close to the maximum: the counts are modest on
purpose (a shared 2-CPU machine). Every latency is kept in the JSON.
"""
from __future__ import annotations

import logging
import os
import socket
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

from inrgan_export.measure.harness import int_list, parser, record, write_json
from inrgan_export.measure.timing import spread

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(url: str) -> tuple[float, dict[str, str]]:
    t0 = time.perf_counter()
    with OPENER.open(url, timeout=600) as r:
        r.read()
        headers = {k.lower(): v for k, v in r.headers.items()}
        if r.status != 200:
            raise RuntimeError(f"{url}: HTTP {r.status}")
    return time.perf_counter() - t0, headers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def summary(latencies: list[float]) -> dict:
    s = spread(latencies)
    return {"p50": s["median"], "p99": float(np.percentile(latencies, 99)), "q1": s["q1"], "q3": s["q3"],
            "min": s["min"], "max": s["max"]}


def run_point(url: str, seeds: list[int], size: int, clients: int) -> dict:
    lat: list[float] = []
    heads: list[dict] = []
    lock = threading.Lock()

    def client(part: list[int]) -> None:
        for seed in part:
            dt, h = get(f"{url}/render?seed={seed}&size={size}x{size}")
            with lock:
                lat.append(dt)
                heads.append(h)

    threads = [threading.Thread(target=client, args=(seeds[i::clients],)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {
        "requests": len(lat),
        "wall_s": wall,
        "throughput_rps": len(lat) / wall,
        "latency_s": summary(lat),
        "hit_rate": sum(h["x-theta-cache"] == "hit" for h in heads) / len(heads),
        "mean_batch": statistics.mean(int(h["x-batch-size"]) for h in heads),
        "server_render_s_median": statistics.median(float(h["x-render-seconds"]) for h in heads),
        "latencies": lat,
    }


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--sizes", type=int_list, default=[64, 256])
    ap.add_argument("--clients", type=int_list, default=[1, 4, 16])
    ap.add_argument("--replicas", type=int_list, default=[1, 2])
    ap.add_argument("--min-requests", type=int, default=8)
    ap.add_argument("--max-memory", default="1G", help="activation budget per replica render")
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args()

    import ray

    from inrgan_export.cluster.serve import start_service, stop_service
    from inrgan_export.app.options import ServeOptions
    from inrgan_export.backends.base import parse_bytes

    sizes, clients, replica_counts = args.sizes, args.clients, args.replicas
    cpus = os.cpu_count() or 1
    ray.init(address="local", num_cpus=cpus, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    logging.getLogger("ray.serve").setLevel(logging.WARNING)
    result = record(cpus=cpus, loadavg_before=os.getloadavg(), points=[])
    next_seed = 1000
    try:
        for replicas in replica_counts:
            opts = ServeOptions(bundle=args.bundle.resolve(), port=free_port(), replicas=replicas, threads=1,
                                max_memory=parse_bytes(args.max_memory), max_queued=-1, timeout_s=600.0)
            t0 = time.perf_counter()
            url = start_service(opts, app_name=f"bench{replicas}")
            start_s = time.perf_counter() - t0
            print(f"replicas={replicas}: up in {start_s:.1f} s", file=sys.stderr, flush=True)
            for size in sizes:
                for seed in (0, 1):  # warm-up (grids, kernels)
                    get(f"{url}/render?seed={900 + seed}&size={size}x{size}")
                hot = [0, 1, 2, 3]
                for _ in range(3 * replicas):
                    for seed in hot:
                        get(f"{url}/render?seed={seed}&size={size}x{size}")
                for cache in ("miss", "hit"):
                    for c in clients:
                        n = max(args.min_requests, 2 * c)
                        if cache == "miss":
                            seeds = list(range(next_seed, next_seed + n))
                            next_seed += n
                        else:
                            seeds = [hot[i % len(hot)] for i in range(n)]
                        point = run_point(url, seeds, size, c)
                        point.update(replicas=replicas, size=size, cache=cache, clients=c, service_start_s=start_s)
                        result["points"].append(point)
                        s = point["latency_s"]
                        print(f"replicas={replicas} {size}x{size} {cache:4} clients={c:2}: p50 {s['p50'] * 1e3:8.1f} ms  "
                              f"p99 {s['p99'] * 1e3:8.1f} ms  IQR {s['q1'] * 1e3:.1f}-{s['q3'] * 1e3:.1f} ms  "
                              f"{point['throughput_rps']:6.2f} req/s  hit {point['hit_rate']:.2f}  batch {point['mean_batch']:.2f}  "
                              f"(n={point['requests']})", file=sys.stderr, flush=True)
            stop_service(f"bench{replicas}")
    finally:
        result["loadavg_after"] = os.getloadavg()
        write_json(result, args.json)
        ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
