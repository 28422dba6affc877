#!/usr/bin/env python3
"""INR throughput on this machine's CPU, measured side by side in one run, in alternating
rounds: sgemm peak (4096^3 float32 matmul in PyTorch and in ONNX Runtime; the faster is the
peak) | PyTorch eager reference | ONNX Runtime FP32 | OpenVINO at each precision the CPU runs
(inference precision set explicitly and read back) — on the INR of a demo preset.

With --int8-bundle (an INT8 bundle of the same preset, e.g. from
`inrgan-export demo:church --target openvino --precision int8`, or --target onnx / ort-mobile)
its Q/DQ INR graph is timed in the same rounds through ONNX Runtime and through OpenVINO (the
bundle's IR, or its Q/DQ ONNX where it has no IR; f32 inference precision, INT8 from the
FakeQuantize nodes), and each is compared with its FP32 path.

    .venv/bin/python benchmarks/bench_inr_cpu.py --preset church --size 256 --threads 2
    .venv/bin/python benchmarks/bench_inr_cpu.py --preset church --openvino fp32 --int8-bundle church_ov8/

With --sizes 64,128,256,512 every path runs at every size within each round (sizes
interleaved, the sgemm peak re-measured in the same rounds), and the speed-ups (OpenVINO BF16
and INT8 against OpenVINO FP32, ONNX Runtime INT8 against ONNX Runtime FP32) are medians of
per-round ratios with their IQR, beside each path's worst PSNR against PyTorch FP32. Each path
runs as the runtime runs it: through the runtime's planner, so OpenVINO runs stay under its
1 GiB cap (one tensor of 2 GiB makes OpenVINO's CPU plugin return wrong values) and are split
into tiles where the runtime would split them:

    flock /tmp/heavy.lock .venv/bin/python benchmarks/bench_inr_cpu.py --preset church \
        --sizes 64,128,256,512 --threads 2 --rounds 9 --openvino fp32,bf16 --json out.json

Prints median time, IQR, GFLOP/s (2 x analytic MACs / median) and % of the sgemm peak; with
--json writes the numbers and the machine's description.
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from inrgan_export.measure.harness import machine_line, parser, record, write_json
from inrgan_export.measure.timing import interleaved, interleaved_times, ratio_spread, sgemm_paths, summarize
from inrgan_export.load.sources import demo_checkpoint
from inrgan_export.exporter.onnx_export import export_graph
from inrgan_export.backends.base import Generator
from inrgan_export.backends.openvino_backend import OPENVINO_RUN_BYTES
from inrgan_export.load.torch_backend import interface_of
from inrgan_export.load.split import split


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("--preset", default="church")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--openvino", default="fp32,bf16", help="OpenVINO precisions to time (skipped where the CPU lacks them)")
    ap.add_argument("--int8-bundle", type=Path, default=None, help="an INT8 bundle of the same preset: time its Q/DQ INR too")
    ap.add_argument("--sizes", default=None, help="comma-separated square sizes timed side by side in every round")
    args = ap.parse_args()
    if args.sizes:
        return main_sizes(args, [int(x) for x in args.sizes.split(",")])

    torch.set_num_threads(args.threads)
    ckpt = demo_checkpoint(args.preset)
    model = ckpt.build()
    family = ckpt.family_spec
    size = (args.size, args.size)
    grid = model.layout.build(size, None, batch=1).for_batch(args.batch)
    macs = family.macs(model.cfg, model.layout.size_rule.block_shapes(size))["inr"] * args.batch
    z = torch.from_numpy(np.random.RandomState(0).randn(args.batch, model.z_dim).astype(np.float32))
    with torch.no_grad():
        theta = model.hypernet(z)
    tensors = [torch.from_numpy(grid[n]) for n in [spec.name for spec in model.layout.input_specs()]]
    print(f"# {args.preset} INR at {args.size}x{args.size}, batch {args.batch}, {args.threads} threads: "
          f"{macs / 1e9:.2f} GMACs; {args.rounds} alternating rounds after 1 warm-up", file=sys.stderr)

    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        graph = next(g for g in split(model, family.export_spec) if g.name == "inr")
        path = Path(tmp) / "inr.onnx"
        export_graph(graph, model, family.export_spec, path)
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        ov_paths = openvino_paths(path, args.openvino.split(","), args.threads, {"theta": theta.numpy(), **grid})
    if args.int8_bundle is not None:
        ov_paths.update(int8_paths(args.int8_bundle, args.preset, args.threads, {"theta": theta.numpy(), **grid}))
    feeds = {"theta": theta.numpy(), **grid}
    with torch.no_grad():
        ref = model.inr(theta, *tensors).numpy()
    max_abs = float(np.abs(sess.run(None, feeds)[0] - ref).max())

    def torch_eager():
        with torch.no_grad():
            model.inr(theta, *tensors)

    sgemm = sgemm_paths(args.threads)
    flops = {name: flop for name, (flop, _) in sgemm.items()}
    flops.update({"torch eager": 2.0 * macs, "onnxruntime fp32": 2.0 * macs})
    fns = {name: fn for name, (_, fn) in sgemm.items()}
    fns.update({"torch eager": torch_eager, "onnxruntime fp32": lambda: sess.run(None, feeds)})
    max_abs_ov = {}
    for name, (fn, out) in ov_paths.items():
        fns[name] = fn
        flops[name] = 2.0 * macs
        max_abs_ov[name] = float(np.abs(np.array(fn(), copy=True) - ref).max())
    timings = interleaved(fns, rounds=args.rounds)
    gflops = {name: flops[name] / t.median_s / 1e9 for name, t in timings.items()}
    peak = max(gflops[name] for name in sgemm)

    print(f"{'path':<18} {'median':>10} {'IQR':>8} {'GFLOP/s':>9} {'% peak':>7}")
    for name, t in timings.items():
        print(f"{name:<18} {t.median_s * 1e3:8.1f}ms {t.iqr_s * 1e3:6.1f}ms {gflops[name]:9.1f} {100 * gflops[name] / peak:6.1f}%")
    speedup = timings["torch eager"].median_s / timings["onnxruntime fp32"].median_s
    print(f"ONNX Runtime / PyTorch eager: {speedup:.2f}x faster; max |diff| {max_abs:.2e}; peak = {peak:.1f} GFLOP/s")
    for name, err in max_abs_ov.items():
        ratio = timings["onnxruntime fp32"].median_s / timings[name].median_s
        print(f"{name}: {ratio:.2f}x the speed of ONNX Runtime FP32; max |diff| vs torch {err:.2e}")
    for fp32, int8 in (("onnxruntime fp32", "onnxruntime int8"), ("openvino fp32", "openvino int8")):
        if fp32 in timings and int8 in timings:
            print(f"{int8} / {fp32} speed-up: {timings[fp32].median_s / timings[int8].median_s:.2f}x")
    if "openvino bf16" in timings and "openvino fp32" in timings:
        print(f"OpenVINO bf16 / fp32 speed-up: {timings['openvino fp32'].median_s / timings['openvino bf16'].median_s:.2f}x")
    if args.json:
        write_json(record(
            preset=args.preset, size=list(size), batch=args.batch, threads=args.threads, rounds=args.rounds, inr_macs=macs,
            peak_gflops=peak, max_abs_onnxruntime_vs_torch=max_abs, max_abs_vs_torch=max_abs_ov,
            int8_bundle=str(args.int8_bundle) if args.int8_bundle else None,
            paths={n: {**timings[n].to_json(), "gflops": gflops[n], "percent_of_peak": 100 * gflops[n] / peak} for n in timings},
        ), args.json)
    return 0


def main_sizes(args, sizes: list[int]) -> int:
    """Every path at every size in each round; ratios per round; PSNR per path and size."""
    import onnxruntime as ort

    from inrgan_export.core.imageio import psnr

    torch.set_num_threads(args.threads)
    ckpt = demo_checkpoint(args.preset)
    model = ckpt.build()
    family = ckpt.family_spec
    display = family.display
    z = torch.from_numpy(np.random.RandomState(0).randn(args.batch, model.z_dim).astype(np.float32))
    with torch.no_grad():
        theta = model.hypernet(z)
    print(f"# {args.preset} INR, sizes {sizes}, batch {args.batch}, {args.threads} threads, {args.rounds} rounds after 1 "
          f"warm-up, sizes interleaved within each round; {machine_line()}", file=sys.stderr)
    fns: dict = {}
    quality: dict = {}
    macs: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        graph = next(g for g in split(model, family.export_spec) if g.name == "inr")
        path = Path(tmp) / "inr.onnx"
        export_graph(graph, model, family.export_spec, path)
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        iface = interface_of(model, family)
        for size in sizes:
            grid_inputs = model.layout.build((size, size), None, batch=1)
            grid = grid_inputs.for_batch(args.batch)
            feeds = {"theta": theta.numpy(), **grid}
            macs[size] = family.macs(model.cfg, model.layout.size_rule.block_shapes((size, size)))["inr"] * args.batch
            with torch.no_grad():
                ref = model.inr(theta, *[torch.from_numpy(grid[n]) for n in [spec.name for spec in model.layout.input_specs()]]).numpy()
            paths = {"onnxruntime fp32": (lambda feeds=feeds: sess.run(None, feeds)[0], None)}
            paths.update(openvino_paths(path, args.openvino.split(","), args.threads, feeds))
            if args.int8_bundle is not None:
                paths.update(int8_paths(args.int8_bundle, args.preset, args.threads, feeds))
            # every path runs as the runtime runs it: split by the runtime's planner where one run
            # would exceed its activation budget (OpenVINO's 1 GiB run cap, see openvino_backend)
            paths = {name: planned(iface, name, fn, theta.numpy(), grid_inputs) for name, (fn, _) in paths.items()}
            for name, (fn, out) in paths.items():
                fns[f"{name} @{size}"] = fn
                quality[f"{name} @{size}"] = {
                    "max_abs_vs_torch": float(np.abs(out - ref).max()),
                    "worst_psnr_db": min(psnr(ref[i : i + 1], out[i : i + 1], display) for i in range(ref.shape[0])),
                }
        sgemm = sgemm_paths(args.threads, n=2048)
        for name, (_, fn) in sgemm.items():
            fns[name] = fn
        times = interleaved_times(fns, rounds=args.rounds)
    peak_per_round = np.max([[flop / t / 1e9 for t in times[name]] for name, (flop, _) in sgemm.items()], axis=0)
    peak = float(np.median(peak_per_round))
    print(f"sgemm peak (2048^3, re-measured every round): median {peak:.1f} GFLOP/s, "
          f"IQR {np.percentile(peak_per_round, 25):.1f}..{np.percentile(peak_per_round, 75):.1f}")
    print(f"{'path':<24} {'median':>10} {'IQR':>9} {'GFLOP/s':>8} {'% peak':>7} {'worst dB':>9} {'max|diff|':>9}")
    rows = {}
    for name, ts in times.items():
        if name in sgemm:
            continue
        size = int(name.rsplit("@", 1)[1])
        t = summarize(ts)
        gf = 2.0 * macs[size] / t.median_s / 1e9
        q = quality[name]
        rows[name] = {**t.to_json(), "gflops": gf, "percent_of_peak": 100 * gf / peak, **q}
        print(f"{name:<24} {t.median_s * 1e3:8.2f}ms {t.iqr_s * 1e3:7.2f}ms {gf:8.1f} {100 * gf / peak:6.1f}% "
              f"{q['worst_psnr_db']:9.1f} {q['max_abs_vs_torch']:9.2e}")
    ratios = {}
    for fast, slow in (("openvino bf16", "openvino fp32"), ("openvino int8", "openvino fp32"),
                       ("onnxruntime int8", "onnxruntime fp32"), ("openvino fp32", "onnxruntime fp32")):
        for size in sizes:
            a, b = f"{fast} @{size}", f"{slow} @{size}"
            if a in times and b in times:
                med, q1, q3 = ratio_spread(times[b], times[a])
                ratios[f"{fast} vs {slow} @{size}"] = {"median": med, "q1": q1, "q3": q3}
                print(f"speed-up {fast} over {slow} at {size}x{size}: {med:.2f}x (per-round IQR {q1:.2f}..{q3:.2f}); "
                      f"{fast} worst PSNR {quality[a]['worst_psnr_db']:.1f} dB")
    if args.json:
        write_json(record(
            preset=args.preset, sizes=sizes, batch=args.batch, threads=args.threads, rounds=args.rounds,
            int8_bundle=str(args.int8_bundle) if args.int8_bundle else None, peak_gflops_median=peak,
            paths=rows, speedups=ratios, raw_seconds=times,
        ), args.json)
    return 0


class _PlannedRun(Generator):
    """One timed path behind the runtime's planner: a run over the budget is split into
    batch chunks and tiles exactly as ``render`` would split it."""

    backend = "bench"

    def __init__(self, iface, run, max_memory):
        super().__init__(iface, max_memory)
        self._run = run

    def activate_impl(self) -> None:
        pass

    def hypernet_impl(self, feeds):
        raise NotImplementedError("the INR benchmark times the INR only")

    def inr_impl(self, theta, grid):
        return np.array(self._run({self.interface.theta_name: theta, **grid}), copy=False)


def planned(iface, name: str, run, theta: np.ndarray, grid_inputs) -> tuple:
    """(timed function, its output) for one path: OpenVINO paths under the runtime's run cap."""
    gen = _PlannedRun(iface, run, OPENVINO_RUN_BYTES if name.startswith("openvino") else None).activate()
    out = gen.render_on(theta, grid_inputs)
    if gen.last_plan is not None and (gen.last_plan.pieces > 1 or gen.last_plan.batch_chunk < theta.shape[0]):
        print(f"# {name} at {grid_inputs.output_shape[0]}x{grid_inputs.output_shape[1]}: split into "
              f"{gen.last_plan.pieces} piece(s), batch chunks of {gen.last_plan.batch_chunk} (the runtime's plan)", file=sys.stderr)
    return (lambda: gen.render_on(theta, grid_inputs)), out


def openvino_paths(onnx_path: Path, precisions: list[str], threads: int, feeds: dict) -> dict:
    """{"openvino <p>": (fn, output)} for the precisions this CPU runs; compiled from the INR
    ONNX with the inference precision set explicitly and checked on the compiled model."""
    try:
        import openvino as ov
    except ImportError:
        print("# OpenVINO not installed: skipped", file=sys.stderr)
        return {}
    from inrgan_export.backends.openvino_backend import PRECISION_HINTS, device_precisions, inference_precision

    core = ov.Core()
    supported = device_precisions(core, "CPU")
    out = {}
    for p in precisions:
        if p not in supported:
            print(f"# OpenVINO {p}: not run by this CPU (it runs {', '.join(supported)}); skipped", file=sys.stderr)
            continue
        compiled = core.compile_model(str(onnx_path), "CPU", {"INFERENCE_PRECISION_HINT": PRECISION_HINTS[p],
                                                              "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"})
        assert inference_precision(compiled) == PRECISION_HINTS[p]
        request = compiled.create_infer_request()

        def run(feeds=feeds, request=request):
            request.infer(feeds)
            return request.get_output_tensor(0).data

        out[f"openvino {p}"] = (run, None)
    return out


def int8_paths(bundle_dir: Path, preset: str, threads: int, feeds: dict) -> dict:
    """{"onnxruntime int8": ..., "openvino int8": ...} from an INT8 bundle's INR graph (Q/DQ
    ONNX for ONNX Runtime, the bundle's IR for OpenVINO when it has one)."""
    import onnxruntime as ort

    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    if manifest.get("precision") != "int8":
        raise SystemExit(f"--int8-bundle {bundle_dir}: precision is {manifest.get('precision')!r}, expected 'int8'")
    if manifest["interface"]["theta_dim"] != feeds["theta"].shape[1]:
        raise SystemExit(f"--int8-bundle {bundle_dir}: theta_dim {manifest['interface']['theta_dim']}, "
                         f"expected {feeds['theta'].shape[1]} (a bundle of demo:{preset})")
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    sess = ort.InferenceSession(str(bundle_dir / "inr.onnx"), so, providers=["CPUExecutionProvider"])
    out = {"onnxruntime int8": (lambda feeds=feeds: sess.run(None, feeds)[0], None)}
    # OpenVINO INT8: the bundle's IR where it has one (--target openvino), otherwise its Q/DQ
    # ONNX (--target onnx or ort-mobile), which OpenVINO reads as FakeQuantize the same way
    ir = bundle_dir / "inr.xml"
    source = ir if ir.exists() else bundle_dir / "inr.onnx"
    try:
        import openvino as ov
    except ImportError:
        print("# OpenVINO not installed: openvino int8 skipped", file=sys.stderr)
        return out
    from inrgan_export.backends.openvino_backend import inference_precision

    print(f"# openvino int8 from {source.name}", file=sys.stderr)
    compiled = ov.Core().compile_model(str(source), "CPU", {"INFERENCE_PRECISION_HINT": "f32",
                                                            "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"})
    assert inference_precision(compiled) == "f32"
    request = compiled.create_infer_request()

    def run(feeds=feeds, request=request):
        request.infer(feeds)
        return request.get_output_tensor(0).data

    out["openvino int8"] = (run, None)
    return out


if __name__ == "__main__":
    sys.exit(main())
