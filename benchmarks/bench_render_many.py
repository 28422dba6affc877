#!/usr/bin/env python3
"""render-many throughput: 1 and 2 Ray workers against a loop over the in-process runtime,
measured side by side in one run, in alternating rounds, on one bundle (default: demo:church
exported to ONNX once; --bundle reuses one).

    .venv/bin/python benchmarks/bench_render_many.py --json benchmarks/results/render_many_church.json

Per size and method, in alternating rounds (--rounds); the loops run one untimed warm-up batch:
  loop-b1   one process, bundle opened once, per seed: hypernet + render (a shell loop over
            `render` without reopening the bundle)
  loop-bB   the same process, seeds in batches of --batch (what one worker does per batch)
  ray-w1    render-many with 1 worker (1 thread) on a local 2-CPU cluster started once for the benchmark
  ray-w2    render-many with 2 workers (1 thread each)
Each figure is images/s. Loops: seeds / seconds, bundle already open. Ray runs: end to end
(2N seeds / the run's wall time, including the workers' start and their bundle load) and
marginal (N / (time of a 2N-seed run - time of an N-seed run): what more images cost once
the workers are up; Ray Data hands results over in bursts, so no per-batch clock is used).
Also the driver's ceiling: images/s it can write and checksum (the PNG bytes of one run), the
limit of a cluster whose workers are never the bottleneck.

A projection for N nodes (not measured; scaling is measured from 1 to 2 workers only):
N x (marginal rate of 2 workers on this 2-CPU machine), i.e. linear across nodes, capped by the
driver's ceiling; the measured 1 -> 2 worker efficiency says how far linear is from true here.
"""
from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from inrgan_export.measure.harness import int_list, parser, record, write_json
from inrgan_export.measure.timing import spread


def export_bundle(preset: str, where: Path) -> Path:
    out = where / f"{preset}_onnx"
    if not (out / "manifest.json").exists():
        cli = Path(sys.executable).with_name("inrgan-export")
        subprocess.run([str(cli), f"demo:{preset}", "--target", "onnx", "-o", str(out), "--force"], check=True)
    return out


def loop_in_process(bundle: Path, seeds: list[int], size: tuple[int, int], batch: int) -> float:
    """Seconds for the in-process runtime to render ``seeds`` (PNG bytes encoded, not written)."""
    import io

    from PIL import Image

    from inrgan_export import open_bundle
    from inrgan_export.core.imageio import to_uint8
    from inrgan_export.core.latents import latents_from_seeds

    with open_bundle(bundle, threads=1) as gen:
        gen.render(gen.hypernet(latents_from_seeds(seeds[:batch], gen.interface.z_dim)), size)  # warm-up, untimed
        t = time.perf_counter()
        for i in range(0, len(seeds), batch):
            z = latents_from_seeds(seeds[i : i + batch], gen.interface.z_dim)
            images = gen.render(gen.hypernet(z), size)
            for img in to_uint8(images, gen.interface.display):
                Image.fromarray(img, "RGB").save(io.BytesIO(), format="PNG")
        return time.perf_counter() - t


def ray_run(bundle: Path, seeds: list[int], size: tuple[int, int], batch: int, workers: int, tmp: Path):
    from inrgan_export.cluster.render_many import render_many
    from inrgan_export.app.options import RenderManyOptions

    out = tmp / f"out_{workers}_{size[0]}"
    shutil.rmtree(out, ignore_errors=True)
    r = render_many(RenderManyOptions(bundle=bundle, out=out, seeds=tuple(seeds), sizes=(size,), batch=batch,
                                      workers=workers, threads=1), log=lambda msg: None)
    assert r.rendered == len(seeds), r
    return r, out


def driver_ceiling(out: Path, repeats: int = 3) -> float:
    """images/s at which the driver writes (atomically) and checksums these files' bytes."""
    from inrgan_export.cluster.render_many import sha256_bytes, write_atomic

    blobs = [p.read_bytes() for p in sorted(out.glob("seed*.png"))]
    best = 0.0
    with tempfile.TemporaryDirectory() as d:
        for _ in range(repeats):
            t = time.perf_counter()
            for i, b in enumerate(blobs):
                sha256_bytes(b)
                write_atomic(Path(d) / f"{i}.png", b)
            best = max(best, len(blobs) / (time.perf_counter() - t))
    return best


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("--preset", default="church")
    ap.add_argument("--bundle", type=Path, default=None, help="an exported bundle (default: export demo:PRESET once)")
    ap.add_argument("--sizes", type=int_list, default=[64, 256])
    ap.add_argument("--count", type=int_list, default=[16, 2],
                    help="N: seeds of the smaller of each Ray pair (2N in the other, N in the loops)")
    ap.add_argument("--batch", type=int_list, default=[4, 1], help="seeds per worker batch, one per size")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    import ray

    work = Path(tempfile.mkdtemp(prefix="bench_render_many_"))
    bundle = args.bundle or export_bundle(args.preset, work)
    t = time.perf_counter()
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    ray_init_s = time.perf_counter() - t
    sizes, counts, batches = args.sizes, args.count, args.batch
    results = record(bundle=str(bundle), ray_init_s=ray_init_s, rounds=args.rounds, sizes={})
    try:
        for side, count, batch in zip(sizes, counts, batches):
            size = (side, side)
            seeds = list(range(count))
            methods = ["loop-b1"] + ([f"loop-b{batch}"] if batch > 1 else []) + ["ray-w1", "ray-w2"]
            runs: dict[str, dict[str, list[float]]] = {m: {"end_to_end": [], "marginal": [], "first_output_s": []}
                                                      for m in methods}
            last_out = None
            for r in range(args.rounds):  # loops warm up untimed; a Ray run's warm-up is its workers' start
                for method in runs:
                    if method.startswith("loop"):
                        secs = loop_in_process(bundle, seeds, size, 1 if method == "loop-b1" else batch)
                        e2e = marginal = count / secs
                        first = None
                    else:
                        small, _ = ray_run(bundle, seeds, size, batch, int(method[-1]), work)
                        res, last_out = ray_run(bundle, list(range(2 * count)), size, batch, int(method[-1]), work)
                        e2e, first = 2 * count / res.seconds, res.first_output_s
                        marginal = count / (res.seconds - small.seconds) if res.seconds > small.seconds else float("nan")
                    print(f"# {side}² round {r} {method}: {e2e:.2f} images/s end to end, {marginal:.2f} marginal",
                          file=sys.stderr, flush=True)
                    runs[method]["end_to_end"].append(e2e)
                    runs[method]["marginal"].append(marginal)
                    if first is not None:
                        runs[method]["first_output_s"].append(first)
            summary = {m: {k: spread(v, keep=True) for k, v in d.items() if v} for m, d in runs.items()}
            w1 = summary["ray-w1"]["marginal"]["median"]
            w2 = summary["ray-w2"]["marginal"]["median"]
            ceiling = driver_ceiling(last_out)
            efficiency = w2 / (2 * w1)
            results["sizes"][f"{side}x{side}"] = {
                "count": count,
                "batch": batch,
                "methods": summary,
                "scaling_1_to_2_workers_marginal": w2 / w1,
                "efficiency_1_to_2": efficiency,
                "driver_ceiling_images_per_s": ceiling,
                "projection_not_measured": {
                    f"{n}_nodes_like_this_one": min(n * w2, ceiling) for n in (1, 2, 4, 8, 16, 64)
                },
            }
    finally:
        ray.shutdown()
        shutil.rmtree(work / "out_1_64", ignore_errors=True)
    for key, d in results["sizes"].items():
        print(f"\n{args.preset} {key}, {d['count']} seeds, batch {d['batch']}: images/s median [min, max] over {args.rounds} rounds")
        for m, v in d["methods"].items():
            e, s = v["end_to_end"], v.get("marginal")
            line = f"  {m:<8} end-to-end {e['median']:7.2f} [{e['min']:.2f}, {e['max']:.2f}]"
            if s:
                line += f"   marginal {s['median']:7.2f} [{s['min']:.2f}, {s['max']:.2f}]"
            print(line)
        print(f"  1 -> 2 workers (marginal): x{d['scaling_1_to_2_workers_marginal']:.2f}; driver ceiling {d['driver_ceiling_images_per_s']:.0f} images/s")
        print("  PROJECTION (not measured): " + ", ".join(f"{k.split('_')[0]} nodes {v:.1f}" for k, v in d["projection_not_measured"].items()))
    if args.json:
        write_json(results, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
