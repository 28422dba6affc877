"""``inrgan-export bench``: MACs and latency against resolution, per backend and precision.

For each output size: MACs analytic (the family's formula) and counted from the exported
ONNX graphs (they must agree within 1 %), the convolutional baseline (StyleGAN2 at native
size), and — unless ``--macs-only`` — latency of the hypernetwork (once per latent) and of
the INR (per view) for every backend × precision × batch, with warm-up, median, IQR and
count, the amortised cost of k views of one latent, and each point's % of the sgemm peak
measured in the same run. Writes results.json, results.csv, report.md and PNG plots.

Over 400 lines: one command's whole report (MACs, timing, results.json/csv, Markdown), written
in the order it appears.

``--device cuda`` runs the torch backend on the GPU (fp32, or fp16/bf16 autocast; ``--compile``
for torch.compile with CUDA graphs): the peak is then a GEMM on that GPU at the same
precision, measured in the same rounds, and the datasheet's peak from :mod:`.gpu`; the
authors' published V100 throughput is set beside the figures. Without the ONNX exporter
(onnxscript) the MACs are the analytic ones only; without matplotlib there are no plots;
each such gap is recorded in results.json under ``skipped``.
"""
from __future__ import annotations

import csv
import json
import math
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..core.bundle import Bundle, BundleWriter, is_bundle
from ..core.errors import UnsupportedOption, UsageError
from ..core.log import info, progress, step
from ..core.environment import machine_info
from .macs import count_graph
from .gpu import AUTHORS_SOURCE, AUTHORS_V100, GPU_PEAKS, gpu_peak
from .stylegan2 import synthesis_macs
from .timing import Timing, interleaved_times, measure, ratio_spread, sgemm_paths, summarize

#: the paper's Table 1 (GMACs / parameters) for the rows we can compare with
PAPER_TABLE1 = {
    "LSUN 128²": {"preset": "bedroom", "size": 128, "inr_gan": (21.58, 107.03e6), "stylegan2": None},
    "LSUN 256²": {"preset": "church", "size": 256, "inr_gan": (38.76, 107.03e6), "stylegan2": (84.36, 30.03e6)},
    "FFHQ 1024²": {"preset": "ffhq1024", "size": 1024, "inr_gan": (47.35, 117.3e6), "stylegan2": (143.18, 30.37e6)},
}


@dataclass(frozen=True)
class BenchOptions:
    source: str
    out: Path
    sizes: tuple[tuple[int, int], ...] | None = None
    backends: tuple[str, ...] | None = None
    precisions: tuple[str, ...] = ("fp32",)
    batches: tuple[int, ...] = (1,)
    threads: int | None = None
    macs_only: bool = False
    quick: bool = False
    views: int = 8
    force: bool = False
    max_memory: int | None = None
    #: the torch backend's device (cpu, cuda, cuda:N); other backends run on the CPU only
    device: str = "cpu"
    #: torch backend on CUDA: torch.compile with CUDA graphs (first call timed apart)
    compile: bool = False
    #: analytic MACs only: no ONNX export (no counted MACs, no ONNX backends)
    analytic_macs: bool = False


@dataclass
class Point:
    backend: str
    precision: str
    batch: int
    size: tuple[int, int]
    inr: Timing
    hypernet: Timing
    inr_macs: int
    views: int

    def row(self, peak_gflops: float) -> dict[str, Any]:
        gflops = 2 * self.inr_macs * self.batch / self.inr.median_s / 1e9
        amortised = (self.hypernet.median_s + self.views * self.inr.median_s) / self.views
        return {
            "backend": self.backend, "precision": self.precision, "batch": self.batch,
            "height": self.size[0], "width": self.size[1],
            "inr_median_ms": 1e3 * self.inr.median_s, "inr_iqr_ms": 1e3 * self.inr.iqr_s, "inr_runs": self.inr.runs,
            "hypernet_median_ms": 1e3 * self.hypernet.median_s, "hypernet_iqr_ms": 1e3 * self.hypernet.iqr_s,
            f"amortised_ms_per_view_k{self.views}": 1e3 * amortised,
            "images_per_s": self.batch / self.inr.median_s,
            "generate_images_per_s": self.batch / (self.hypernet.median_s + self.inr.median_s),
            "inr_gmacs_per_s": self.inr_macs * self.batch / self.inr.median_s / 1e9,
            "inr_gmacs_per_image": self.inr_macs / 1e9, "gflops": gflops, "percent_of_sgemm_peak": 100 * gflops / peak_gflops,
        }


@dataclass
class Model:
    """What the bench needs of a source, whatever it is."""

    family: Any
    config: Any
    interface: Any
    onnx_dir: Path
    manifest: dict[str, Any]
    native: tuple[int, int]
    parameters: int
    checkpoint: Any = None  # for the torch backend
    bundle: Bundle | None = None
    tmp: Any = field(default=None, repr=False)
    #: why the graphs could not be exported here (no counted MACs, no ONNX backends), or None
    no_graphs: str | None = None


def default_sizes(native: int) -> list[tuple[int, int]]:
    sizes = sorted({max(1, native // 8), max(1, native // 4), max(1, native // 2), native, 2 * native})
    return [(s, s) for s in sizes]


def load_model(source: str, debug: bool = False, analytic_macs: bool = False) -> Model:
    from ..families import get_family
    from ..backends.base import Interface

    if Path(source).is_dir():
        if not is_bundle(source):
            raise UsageError(f"{source} is a directory without manifest.json, not a bundle")
        bundle = Bundle.open(source)
        fam = get_family(bundle.family)
        cfg = fam.config_from_dict(bundle.manifest["config"])
        params, _ = fam.count_parameters(cfg)
        iface = Interface.from_manifest(bundle.interface)
        return Model(fam, cfg, iface, bundle.path, bundle.manifest, iface.native_size, params, bundle=bundle)
    from ..load.sources import load_source
    from ..exporter.onnx_export import export_graph
    from ..exporter.onnx_export import build_manifest
    from ..load.torch_backend import TorchGenerator
    from ..load.split import split

    ckpt = load_source(source)
    model = ckpt.build()
    fam = ckpt.family_spec
    why = "--analytic-macs" if analytic_macs else None
    try:
        import onnxscript  # noqa: F401  (torch.onnx's exporter)
    except ImportError as e:  # a machine with torch but not the export extra (a lent GPU)
        why = f"no ONNX exporter here ({e})"
    if why is not None:
        ref = TorchGenerator(model, fam)
        params, _ = fam.count_parameters(model.cfg)
        return Model(fam, model.cfg, ref.interface, None, {}, model.native_size, params, checkpoint=ckpt,
                     no_graphs=f"{why}: no ONNX export, MACs are the analytic ones, ONNX backends skipped")
    tmp = tempfile.TemporaryDirectory(prefix="inrgan-bench-")
    directory = Path(tmp.name)
    graphs = [g for g in split(model, fam.export_spec) if g.name in ("hypernet", "inr")]
    exported = {}
    for g in graphs:
        path = directory / f"{g.name}.onnx"
        with step(f"exporting {g.name}.onnx for the ONNX backends and the MAC count", path):
            exported[g.name] = export_graph(g, model, fam.export_spec, path, debug=debug)
    ref = TorchGenerator(model, fam)
    manifest = build_manifest(ckpt, model, graphs, exported, "onnx", "fp32", "onnxruntime", ref)
    params, _ = fam.count_parameters(model.cfg)
    return Model(fam, model.cfg, ref.interface, directory, manifest, model.native_size, params, checkpoint=ckpt, tmp=tmp)


def mac_rows(m: Model, sizes: Sequence[tuple[int, int]]) -> list[dict[str, Any]]:
    iface = m.interface
    if m.no_graphs is None:
        import onnx

        from .macs import count_graph

        inr_graph = onnx.load(str(m.onnx_dir / m.manifest["graphs"]["inr"]["onnx"]))
        hyper_graph = onnx.load(str(m.onnx_dir / m.manifest["graphs"]["hypernet"]["onnx"]))
        hyper_counted = count_graph(hyper_graph, {iface.hypernet_inputs[0]: [1, iface.z_dim],
                                                  **{n: [1] for n in iface.hypernet_inputs[1:]}})
    native_side = m.native[0]
    conv = synthesis_macs(native_side) if native_side >= 4 and 2 ** int(math.log2(native_side)) == native_side else None
    rows = []
    for size in sizes:
        shapes = m.interface.layout.size_rule.block_shapes(size)
        analytic = m.family.macs(m.config, shapes)
        if m.no_graphs is not None:
            rows.append({
                "height": size[0], "width": size[1], "pixels": size[0] * size[1],
                "block_grids": [f"{h}x{w}" for h, w in shapes],
                "inr_macs_analytic": analytic["inr"], "inr_macs_counted": None, "agreement_percent": None,
                "inr_elementwise_flops_counted": None, "hypernet_macs_analytic": analytic["hypernet"],
                "hypernet_macs_counted": None, "stylegan2_baseline_macs": conv,
            })
            continue
        grid = m.interface.layout.build(size, None, batch=1)
        feeds = {iface.theta_name: [1, iface.theta_dim], **{k: list(v.shape) for k, v in grid.arrays.items()}}
        counted = count_graph(inr_graph, feeds)
        rows.append({
            "height": size[0], "width": size[1], "pixels": size[0] * size[1],
            "block_grids": [f"{h}x{w}" for h, w in shapes],
            "inr_macs_analytic": analytic["inr"], "inr_macs_counted": counted.macs,
            "agreement_percent": 100 * abs(counted.macs - analytic["inr"]) / max(analytic["inr"], 1),
            "inr_elementwise_flops_counted": counted.elementwise_flops,
            "hypernet_macs_analytic": analytic["hypernet"], "hypernet_macs_counted": hyper_counted.macs,
            "stylegan2_baseline_macs": conv,
        })
    return rows


def table1_rows() -> list[dict[str, Any]]:
    from ..families import get_family

    fam = get_family("paper")
    rows = []
    for label, entry in PAPER_TABLE1.items():
        cfg = fam.presets[entry["preset"]].config
        from ..core.grid import PaperSizeRule

        rule = PaperSizeRule(cfg.native_size, cfg.num_blocks, cfg.upsample_block_idx)
        macs = fam.macs(cfg, rule.block_shapes((entry["size"], entry["size"])))
        params, _ = fam.count_parameters(cfg)
        paper_macs, paper_params = entry["inr_gan"]
        sg2 = entry["stylegan2"]
        rows.append({
            "setting": label, "preset": f"demo:{entry['preset']}",
            "ours_inr_gmacs": macs["inr"] / 1e9, "ours_hypernet_gmacs": macs["hypernet"] / 1e9, "ours_params_m": params / 1e6,
            "paper_inr_gan_gmacs": paper_macs, "paper_inr_gan_params_m": paper_params / 1e6,
            "ours_stylegan2_gmacs": synthesis_macs(entry["size"]) / 1e9,
            "paper_stylegan2_gmacs": sg2[0] if sg2 else None,
        })
    return rows


def backend_generators(m: Model, backend: str, precision: str, threads: int | None, max_memory: int | None,
                       device: str = "cpu", compile: bool = False):
    """A runtime for (backend, precision) from the runtime registry, or the reason it cannot run here."""
    from ..core.errors import BackendUnavailable
    from ..backends import backend_spec

    spec = backend_spec(backend)
    if m.bundle is not None:
        own = m.manifest.get("default_backend")
        own_precision = m.manifest.get("precision", "fp32")
        if (backend, precision) != (own, own_precision) and backend != "onnxruntime":
            return None, f"a {own}/{own_precision} bundle benchmarks its own backend and precision"
    if spec.runs == "checkpoints":  # the PyTorch reference
        if m.checkpoint is None:
            return None, f"{backend} needs a checkpoint, not a bundle"
        from ..load.torch_backend import AUTOCAST_DTYPES, TorchGenerator

        if precision not in AUTOCAST_DTYPES:
            return None, f"the torch backend runs {', '.join(AUTOCAST_DTYPES)} (fp16/bf16 as autocast)"
        return TorchGenerator(m.checkpoint.build(), m.family, max_memory=max_memory, threads=threads, device=device,
                              precision=precision, compile=compile), None
    if device.lower() != "cpu":
        return None, f"--device {device} applies to the torch backend; {backend} runs on the CPU here"
    if m.no_graphs is not None:
        return None, m.no_graphs
    bundle = m.bundle if m.bundle is not None else Bundle(m.onnx_dir, m.manifest)
    try:
        return spec.load().for_benchmark(bundle, precision, threads, max_memory), None
    except (UnsupportedOption, BackendUnavailable) as e:
        return None, str(e)


def default_backends() -> tuple[str, ...]:
    from ..backends import BACKENDS

    return tuple(name for name, spec in BACKENDS.items() if spec.benched_by_default)


def run_bench(opts: BenchOptions) -> Path:
    writer = BundleWriter(opts.out, opts.force)
    writer.check()
    m = load_model(opts.source, analytic_macs=opts.analytic_macs)
    sizes = list(opts.sizes or default_sizes(m.native[0]))
    with step("counting MACs (analytic and from the ONNX graphs)"):
        macs = mac_rows(m, sizes)
    agree = [r["agreement_percent"] for r in macs if r["agreement_percent"] is not None]
    worst = max(agree) if agree else None
    results: dict[str, Any] = {
        "source": opts.source, "family": m.family.name, "native": list(m.native), "parameters": m.parameters,
        "macs": macs, "macs_worst_disagreement_percent": worst, "table1": table1_rows(),
        "machine": machine_info(), "points": [], "skipped": [],
    }
    if m.no_graphs is not None:
        results["skipped"].append({"backend": "onnx export", "precision": "-", "reason": m.no_graphs})
    on_gpu = opts.device.lower() != "cpu"
    if on_gpu:
        results["gpu"] = gpu_record(opts.device)
    if not opts.macs_only:
        time_points(m, sizes, macs, opts, results, on_gpu)
    with writer as tmp:
        write_outputs(tmp, results, opts)
    if m.tmp is not None:
        m.tmp.cleanup()
    info(f"wrote {opts.out}: results.json, results.csv, report.md, plots")
    return opts.out


def time_points(m: Model, sizes: list, macs: list[dict[str, Any]], opts: BenchOptions, results: dict[str, Any],
                on_gpu: bool) -> None:
    """Every (backend, precision, batch) point, into ``results`` (points, size ratios, sgemm peaks)."""
    backends = opts.backends or ((m.manifest.get("default_backend"),) if m.bundle else default_backends())
    precisions = opts.precisions if not m.bundle else (m.manifest.get("precision", "fp32"),)
    rounds, warmup = (2, 1) if opts.quick else (5, 1)
    if opts.compile:
        warmup = 3  # CUDA graphs are recorded on the calls after the first (compiling) one
    sgemm_n = 1024 if opts.quick else 4096
    sgemm = sgemm_paths(opts.threads, n=sgemm_n) if not on_gpu else {}
    combos = [(b, p) for b in backends for p in precisions]
    z_all = np.random.RandomState(0).randn(max(opts.batches), m.interface.z_dim).astype(np.float32)
    peaks: list[float] = []
    sgemm_detail: dict[str, list[float]] = {name: [] for name in sgemm}
    results["size_ratios"] = []
    with progress(len(combos) * len(opts.batches), "latency") as bar:
        for backend, precision in combos:
            gen, why = backend_generators(m, backend, precision, opts.threads, opts.max_memory, opts.device,
                                          opts.compile)
            if gen is None:
                results["skipped"].append({"backend": backend, "precision": precision, "reason": why})
                info(f"  skipped {backend}/{precision}: {why}")
                bar.update(len(opts.batches))
                continue
            run_sgemm = sgemm
            if on_gpu and backend == "torch":
                from .timing import gemm_paths_cuda

                run_sgemm = gemm_paths_cuda(gen.device, precision, n=sgemm_n)
                sgemm_detail.update({name: sgemm_detail.get(name, []) for name in run_sgemm})
            with gen:
                for batch in opts.batches:
                    round_peaks, times = time_batch(gen, z_all[:batch], sizes, run_sgemm, rounds, warmup)
                    peaks += round_peaks
                    for name in run_sgemm:
                        sgemm_detail[name] += times[("sgemm", name)]
                    peak = float(np.median(round_peaks))
                    for size, mrow in zip(sizes, macs):
                        point = Point(backend, precision, batch, size, summarize(times[tuple(size)], warmup),
                                      times["hypernet"], mrow["inr_macs_analytic"], opts.views)
                        row = {**point.row(peak), "sgemm_peak_gflops_same_rounds": peak,
                               "first_call_s": times["first"][tuple(size)], "device": getattr(gen, "device", "cpu"),
                               "compile": bool(getattr(gen, "compile", False))}
                        if on_gpu and backend == "torch":
                            row.update(datasheet_fraction(results["gpu"], precision, row["gflops"]))
                        results["points"].append(row)
                    results["size_ratios"] += size_ratio_rows(m, sizes, times, backend, precision, batch, rounds)
                    bar.update(1)
    results["sgemm_peak_gflops"] = float(np.median(peaks)) if peaks else 0.0
    results["sgemm"] = {name: {**summarize(ts).to_json(), "gflops": 2.0 * sgemm_n**3 / float(np.median(ts)) / 1e9,
                               "n": sgemm_n, "measured": "in the same rounds as the sizes"}
                        for name, ts in sgemm_detail.items() if ts}
    if on_gpu:
        results["authors_v100"] = {"source": AUTHORS_SOURCE, "figures": list(AUTHORS_V100),
                                   "note": "a different GPU (V100 32 GB) and a different model (the authors' "
                                           "StyleGAN2-ADA-based INR-GAN; ours are the released configs/inr-gan.yml "
                                           "presets); their img/s is for whole images, compare generate_images_per_s"}


def time_batch(gen, z: np.ndarray, sizes: list, sgemm: dict, rounds: int, warmup: int) -> tuple[list[float], dict]:
    """Every size once per round, and the sgemm peak in the same rounds (a machine whose speed
    drifts affects all sizes and the peak alike); the first call per size (compilation and
    CUDA-graph capture with --compile) is timed apart and is one of the warm-up calls."""
    hyper = measure(lambda: gen.hypernet(z), repeats=3, warmup=warmup)
    theta = gen.hypernet(z)
    fns: dict[Any, Any] = {}
    first: dict[tuple[int, int], float] = {}
    for size in sizes:
        gen.grid(size)  # per-grid inputs once, as an application would
        fns[tuple(size)] = (lambda size=size: gen.render(theta, size))
        t0 = time.perf_counter()
        fns[tuple(size)]()
        first[tuple(size)] = time.perf_counter() - t0
    fns.update({("sgemm", name): fn for name, (_, fn) in sgemm.items()})
    times: dict[Any, Any] = interleaved_times(fns, rounds=rounds, warmup=max(0, warmup - 1))
    round_peaks = [max(sgemm[name][0] / times[("sgemm", name)][i] / 1e9 for name in sgemm) for i in range(rounds)]
    times["hypernet"] = hyper
    times["first"] = first
    return round_peaks, times


def size_ratio_rows(m: Model, sizes: list, times: dict, backend: str, precision: str, batch: int,
                    rounds: int) -> list[dict[str, Any]]:
    """Latency of each size relative to native (or the middle size), per round."""
    base = tuple(m.native) if tuple(m.native) in times else tuple(sizes[len(sizes) // 2])
    rows = []
    for size in sizes:
        if tuple(size) == base:
            continue
        med, q1, q3 = ratio_spread(times[tuple(size)], times[base])
        rows.append({"backend": backend, "precision": precision, "batch": batch,
                     "size": f"{size[0]}x{size[1]}", "relative_to": f"{base[0]}x{base[1]}",
                     "latency_ratio_median": med, "latency_ratio_q1": q1, "latency_ratio_q3": q3,
                     "pixel_ratio": (size[0] * size[1]) / (base[0] * base[1]), "rounds": rounds})
    return rows


def gpu_record(device: str) -> dict[str, Any]:
    """The CUDA device's name, its datasheet peaks (or why there are none) and the TF32 setting."""
    import torch

    from ..load.torch_backend import cuda_facts, resolve_device

    dev = resolve_device(device, cuda_facts())
    name = torch.cuda.get_device_name(dev)
    entry = gpu_peak(name)
    props = torch.cuda.get_device_properties(dev)
    return {"device": dev, "name": name, "memory_bytes": props.total_memory,
            "capability": f"{props.major}.{props.minor}", "torch": torch.__version__, "cuda": torch.version.cuda,
            "tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32),
            "datasheet": asdict(entry) if entry else None,
            "datasheet_missing": None if entry else f"{name!r} is not in inrgan_export/measure/gpu.py GPU_PEAKS"}


def datasheet_fraction(gpu: dict[str, Any], precision: str, gflops: float) -> dict[str, Any]:
    """A point's share of the GPU's datasheet peak at its precision (None where unknown)."""
    sheet = gpu.get("datasheet")
    if not sheet:
        return {"datasheet_peak_tflops": None, "datasheet_row": None, "percent_of_datasheet_peak": None}
    entry = next(e for e in GPU_PEAKS if e.name == sheet["name"])
    peak, row = entry.peak(precision, gpu["tf32_matmul"])
    pct = 100 * gflops / (peak * 1e3) if peak else None
    return {"datasheet_peak_tflops": peak, "datasheet_row": row, "percent_of_datasheet_peak": pct}


def write_outputs(directory: Path, results: dict[str, Any], opts: BenchOptions) -> None:
    (directory / "results.json").write_text(json.dumps(results, indent=2, default=_json_default) + "\n")
    with open(directory / "results.csv", "w", newline="") as f:
        rows = results["points"] or [dict(kind="macs", **{k: v for k, v in r.items() if k != "block_grids"}) for r in results["macs"]]
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plots = []
    try:
        from .plots import latency_plot, macs_plot, throughput_plot

        plots.append(macs_plot(results, directory / "macs_vs_resolution.png"))
        if results["points"]:
            plots.append(latency_plot(results, directory / "latency_vs_resolution.png"))
            if len(opts.batches) > 1:
                plots.append(throughput_plot(results, directory / "throughput_vs_batch.png"))
    except ImportError as e:  # matplotlib is not everywhere a GPU is
        results["skipped"].append({"backend": "plots", "precision": "-", "reason": f"no plots: {e}"})
        (directory / "results.json").write_text(json.dumps(results, indent=2, default=_json_default) + "\n")
    (directory / "report.md").write_text(report_markdown(results, [p.name for p in plots]))


def _json_default(o: Any) -> Any:
    if isinstance(o, Timing):
        return o.to_json()
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    raise TypeError(type(o).__name__)


def report_markdown(results: dict[str, Any], plots: list[str]) -> str:
    mach = results["machine"]
    lines = [
        f"# Benchmark of {results['source']} ({results['family']} family, native {results['native'][0]}x{results['native'][1]}, "
        f"{results['parameters'] / 1e6:.2f} M parameters)",
        "",
        f"Machine: {mach.get('cpu_model', '?')}, {mach.get('affinity_cpus', mach.get('logical_cpus'))} CPUs, "
        f"ISA {', '.join(mach.get('isa_flags', [])) or '?'}; GPUs: {', '.join(mach.get('gpus', [])) or 'none'}; "
        + ", ".join(f"{k} {v}" for k, v in mach.get("versions", {}).items()),
        "",
        "## MACs per image against output size",
        "",
        "Analytic (from the config) and counted from the exported INR graph (MatMul/Gemm/Conv MACs; elementwise "
        f"FLOPs separately). Worst disagreement: {_num(results['macs_worst_disagreement_percent'], '.3f')} %. The hypernetwork "
        "runs once per latent. The StyleGAN2 baseline renders at native size whatever the output size.",
        "",
        "| size | block grids | INR GMACs analytic | INR GMACs counted | agree % | elementwise GFLOPs | hypernet GMACs | StyleGAN2 GMACs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results["macs"]:
        sg = f"{r['stylegan2_baseline_macs'] / 1e9:.2f}" if r["stylegan2_baseline_macs"] else "n/a"
        lines.append(
            f"| {r['height']}x{r['width']} | {' / '.join(r['block_grids'])} | {r['inr_macs_analytic'] / 1e9:.4g} | "
            f"{_num(r['inr_macs_counted'], '.4g', 1e9)} | {_num(r['agreement_percent'], '.3f')} | "
            f"{_num(r['inr_elementwise_flops_counted'], '.4g', 1e9)} | "
            f"{_num(r['hypernet_macs_counted'] or r['hypernet_macs_analytic'], '.4g', 1e9)} | {sg} |"
        )
    lines += [
        "",
        "## Table 1 of the paper against our presets",
        "",
        "Our presets are the authors' released `configs/inr-gan.yml`, which is not the paper's final model: each "
        "block has 4 FMM layers (256/128 Fourier features, widths 512/256) and the coordinate features are "
        "concatenated to every layer's input (`skip_coords`), which roughly doubles the per-pixel cost of the "
        "paper's multi-scale INR. The StyleGAN2 numbers here count the convolutions and ToRGB of config F; "
        "modulation, blur filters and noise are not counted (under 1 % of the total).",
        "",
        "| setting | preset | ours INR GMACs | paper INR-GAN GMACs | ours params (M) | paper params (M) | ours StyleGAN2 GMACs | paper StyleGAN2 GMACs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results["table1"]:
        paper_sg = f"{r['paper_stylegan2_gmacs']:.2f}" if r["paper_stylegan2_gmacs"] else "—"
        lines.append(
            f"| {r['setting']} | {r['preset']} | {r['ours_inr_gmacs']:.2f} | {r['paper_inr_gan_gmacs']:.2f} | "
            f"{r['ours_params_m']:.2f} | {r['paper_inr_gan_params_m']:.2f} | {r['ours_stylegan2_gmacs']:.2f} | {paper_sg} |"
        )
    if results.get("points"):
        lines += [
            "",
            f"## Latency (sgemm peak re-measured in the same rounds: median {results['sgemm_peak_gflops']:.1f} GFLOP/s)",
            "",
            "INR per view (median, IQR, runs after warm-up; every size once per round, sizes interleaved), hypernetwork "
            "once per latent, amortised cost per view over k views of one latent.",
            "",
            "| backend | precision | batch | size | INR ms | IQR | n | hypernet ms | amortised ms/view | img/s | GFLOP/s | % peak |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for p in results["points"]:
            amort = next(v for k, v in p.items() if k.startswith("amortised"))
            lines.append(
                f"| {p['backend']} | {p['precision']} | {p['batch']} | {p['height']}x{p['width']} | {p['inr_median_ms']:.1f} | "
                f"{p['inr_iqr_ms']:.1f} | {p['inr_runs']} | {p['hypernet_median_ms']:.1f} | {amort:.1f} | "
                f"{p['images_per_s']:.2f} | {p['gflops']:.1f} | {p['percent_of_sgemm_peak']:.1f} |"
            )
        lines += ["", "Latency ratios against the native size (batch 1), next to the MAC ratios:", ""]
        lines += ratio_lines(results)
    if results.get("gpu"):
        lines += gpu_lines(results)
    if results.get("skipped"):
        lines += ["", "Skipped: " + "; ".join(f"{s['backend']}/{s['precision']}: {s['reason']}" for s in results["skipped"])]
    lines += ["", "Plots: " + ", ".join(f"`{p}`" for p in plots), ""]
    return "\n".join(lines)


def _num(value: Any, fmt: str, scale: float = 1.0) -> str:
    return "n/a" if value is None else format(value / scale, fmt)


def gpu_lines(results: dict[str, Any]) -> list[str]:
    """The GPU section: throughput against the datasheet peak, first calls, and the authors' V100 figures."""
    gpu = results["gpu"]
    sheet = gpu.get("datasheet")
    lines = ["", f"## On the GPU: {gpu['name']} ({gpu['device']}, compute capability {gpu['capability']}, "
             f"torch {gpu['torch']}, CUDA {gpu['cuda']}, TF32 matmul {'on' if gpu['tf32_matmul'] else 'off'})", "",
             (f"Datasheet row: {sheet['name']}; {sheet['source']}." if sheet else f"No datasheet peak: {gpu['datasheet_missing']}."),
             "INR timings include copying θ in and the images out (host float32); the first call at each size "
             "(compilation and CUDA-graph capture with --compile) is timed apart and excluded.", "",
             "| precision | compile | batch | size | INR ms | img/s (INR) | img/s (hypernet + INR) | INR GMAC/s | "
             "% of datasheet peak | % of GEMM measured | first call s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for p in results["points"]:
        if p.get("device", "cpu") == "cpu":
            continue
        lines.append(f"| {p['precision']} | {'yes' if p['compile'] else 'no'} | {p['batch']} | {p['height']}x{p['width']} | "
                     f"{p['inr_median_ms']:.2f} | {p['images_per_s']:.1f} | {p['generate_images_per_s']:.1f} | "
                     f"{p['inr_gmacs_per_s']:.0f} | {_num(p.get('percent_of_datasheet_peak'), '.1f')} | "
                     f"{p['percent_of_sgemm_peak']:.1f} | {p['first_call_s']:.2f} |")
    authors = results.get("authors_v100")
    if authors:
        lines += ["", f"The authors' published figures ({authors['source']}); {authors['note']}:", "",
                  "| model | precision | size | batch | img/s on V100 32 GB | ours on this GPU, same size and batch (hypernet + INR) |",
                  "|---|---|---|---|---|---|"]
        for f in authors["figures"]:
            ours = [p for p in results["points"] if p.get("device", "cpu") != "cpu" and p["batch"] == f["batch"]
                    and (p["height"], p["width"]) == (f["size"], f["size"])
                    and (p["precision"] == "fp32") == (f["precision"] == "fp32")]
            mine = "; ".join(f"{p['precision']}{' compiled' if p['compile'] else ''}: {p['generate_images_per_s']:.1f}"
                             for p in ours) or "not measured (pass that size and batch)"
            lines.append(f"| {f['model']} | {f['precision']} | {f['size']}² | {f['batch']} | {f['images_per_s']:.2f} | {mine} |")
    return lines


def ratio_lines(results: dict[str, Any]) -> list[str]:
    native = tuple(results["native"])
    macs = {(r["height"], r["width"]): r["inr_macs_analytic"] for r in results["macs"]}
    out = ["| backend | precision | size | latency / latency(native), median of per-round ratios | IQR | MACs / MACs(native) |",
           "|---|---|---|---|---|---|"]
    for r in results.get("size_ratios", []):
        if r["batch"] != 1 or r["relative_to"] != f"{native[0]}x{native[1]}":
            continue
        h, w = (int(x) for x in r["size"].split("x"))
        mac = f"{macs[(h, w)] / macs[native]:.4f}" if (h, w) in macs and native in macs else "-"
        out.append(f"| {r['backend']} | {r['precision']} | {r['size']} | {r['latency_ratio_median']:.4f} | "
                   f"{r['latency_ratio_q1']:.4f}..{r['latency_ratio_q3']:.4f} | {mac} |")
    return out


def check_options(opts: BenchOptions) -> None:
    """Refuse bad options before any work: batches, views, precisions, and the torch device
    (one line naming the devices there are; exit 3 when torch has no CUDA at all)."""
    if opts.device.lower() != "cpu" or opts.compile:
        from ..load.torch_backend import check_run_options, cuda_facts, resolve_device

        device = resolve_device(opts.device, cuda_facts())
        if opts.backends is not None and "torch" not in opts.backends:
            raise UsageError(f"--device {opts.device} and --compile apply to the torch backend; add it to --backends")
        check_run_options(device, "fp32", opts.compile)
    for b in opts.batches:
        if b < 1:
            raise UsageError(f"batch {b} must be >= 1")
    if opts.views < 1:
        raise UsageError(f"--views {opts.views} must be >= 1")
    for p in opts.precisions:
        if p not in ("fp32", "fp16", "bf16", "int8"):
            raise UnsupportedOption(f"unknown precision {p!r}; valid: fp32, fp16, bf16, int8")


__all__ = ["BenchOptions", "run_bench", "check_options", "asdict"]
