"""Target ``tensorrt``: precision-typed ONNX, optimization profiles from resolutions, and
strongly typed engines where TensorRT and a GPU exist.

What ``compile`` writes into the bundle, in the order data flows:

1. **optimization profiles** from ``--min-res/--opt-res/--max-res/--max-batch`` through the
   model's size rule (:mod:`.trt_profiles`); a second profile covers the parity grids when
   the user's range does not, so the parity report can run on the engines;
2. **precision-typed ONNX** (:mod:`.precision`): ``fp32`` is the exported graphs themselves;
   ``fp16``/``bf16`` convert ``inr.onnx`` (FP32 islands where FP16 is unsafe, decided by rules
   and by ranges measured in FP32 over the latent bank and the resolution range) and join it
   with the FP32 hypernetwork into ``generator.<p>.onnx``. The hypernetwork stays FP32: θ
   carries the Fourier bases the coordinate → Fourier-argument path needs in FP32, it runs
   once per latent (negligible next to the INR), and θ is gated at 1e-4 relative;
3. the **TensorRT-readiness lint** of every graph TensorRT will parse (:mod:`.trt_lint`);
4. ``build_engines.sh``: the same engines with ``trtexec``, one line per graph;
5. with TensorRT >= 10, cuda-python and a GPU: **engines** (:mod:`.trt_build`), a timing
   cache and their metadata; without: a deferred BackendUnavailable (exit 3) raised after
   the complete bundle is published, naming what was written.

ONNX Runtime runs the precision-typed graphs on CPU for the parity report (reduced precision:
PSNR >= 40 dB on every grid). The CPU provider rounds to FP16 only at op boundaries (ops
without FP16 kernels compute in FP32 between casts), so its error bounds TensorRT's FP16
error from below, it does not reproduce it. BF16 has no CPU kernels: ONNX Runtime runs an
FP32 graph that rounds to BF16 at the same op boundaries (``*.bf16-emulated.onnx``).

Over 400 lines: the target's steps (profiles, typed ONNX, lint, build script, engines) in the
order listed above.
"""
from __future__ import annotations

import dataclasses

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import onnx

from ..core.errors import BackendUnavailable, BundleError, InrganError, UnsupportedOption, UsageError
from ..core.log import info, step
from ..core.manifest import GRAPHS
from . import CompileContext, CompileResult, RuntimeSpec, Target
from ..backends.trt_profiles import Profile, ResolutionRange, build_profile, parity_range, resolve_range, trtexec_shapes

SCRIPT = "build_engines.sh"
BF16_MIN_CC = (8, 0)
#: activation estimate above which a range-measurement run is split into tiles
RANGE_BUDGET_BYTES = 1 << 30
#: sizes with more pixels than native² × this are measured on the first latents only
RANGE_FULL_BANK_PIXELS = 1.0
RANGE_LARGE_SIZE_LATENTS = 2


def parse_device(device: str) -> int:
    """``CPU`` (the CLI default), ``CUDA``, ``GPU``, ``CUDA:N``/``GPU:N`` → CUDA device index."""
    d = (device or "CUDA").strip().upper()
    if d in ("CPU", "CUDA", "GPU"):
        return 0
    for prefix in ("CUDA:", "GPU:"):
        if d.startswith(prefix) and d[len(prefix):].isdigit():
            return int(d[len(prefix):])
    raise UsageError(f"device {device!r} is not a TensorRT device; valid: CUDA, CUDA:N (the GPU the engines are built for)")


class TensorRTTarget(Target):
    name = "tensorrt"
    precisions = ("fp32", "fp16", "bf16", "int8")
    default_backend = "tensorrt"

    # ------------------------------------------------------------ options
    def check(self, options: Any) -> None:
        super().check(options)
        parse_device(options.device)
        given = [(n, v) for n, v in (("--min-res", options.min_res), ("--opt-res", options.opt_res),
                                     ("--max-res", options.max_res)) if v is not None]
        for (na, a), (nb, b) in zip(given, given[1:]):
            if a[0] > b[0] or a[1] > b[1]:
                raise UsageError(f"{na} {a[0]}x{a[1]} is larger than {nb} {b[0]}x{b[1]} in height or width; "
                                 "need --min-res <= --opt-res <= --max-res per axis")

    # ------------------------------------------------------------ compile
    def compile(self, ctx: CompileContext) -> CompileResult:
        opts = ctx.options
        manifest = ctx.manifest
        directory = ctx.directory
        iface = manifest["interface"]
        native = (int(iface["native_size"][0]), int(iface["native_size"][1]))
        layout = ctx.model.layout
        profiles = make_profiles(layout, manifest, native, opts)
        int8: dict[str, Any] = {}
        int8_error = None
        if opts.precision == "int8":
            # explicit quantization: the gated Q/DQ plan (8-bit activations; TensorRT has no
            # 16-bit pair saturation) replaces inr/generator; TensorRT builds it strongly typed
            from ..calibration.export import quantize_bundle

            int8, int8_error = quantize_bundle(ctx, cpu=False)
            ctx = dataclasses.replace(ctx, manifest=manifest.merged(int8))
        files = typed_graphs(ctx, "fp32" if opts.precision == "int8" else opts.precision, profiles[0].range)
        lint = lint_bundle(directory, files.tensorrt, profiles)
        failed = [i for r in lint for i in r.issues]
        if failed:
            raise InrganError(f"TensorRT-readiness lint failed ({len(failed)} issue(s)); first: {failed[0].text()}")
        engine_files = {g: f"{g}.engine" for g in GRAPHS}
        script = write_build_script(directory, files.tensorrt, engine_files, profiles, opts.precision, ctx.manifest["tool"])
        section: dict[str, Any] = {
            "precision": opts.precision,
            "strongly_typed": True,
            "size_range": profiles[0].range.to_manifest(),
            "profiles": [p.to_manifest() for p in profiles],
            "parity_profile": parity_profile_index(profiles, native),
            "precision_plan": files.plan_manifest,
            "lint": lint_manifest(lint),
            "build_script": script.name,
            "requires": {"tensorrt": ">= 10", "cuda_python": "for the tensorrt backend (device memory)",
                         "compute_capability": ">= 8.0 (bf16)" if opts.precision == "bf16" else ">= 6.0"},
        }
        graphs = {g: {"tensorrt_onnx": files.tensorrt[g], "onnxruntime_onnx": files.onnxruntime[g]} for g in GRAPHS}
        deferred = build_or_defer_engines(opts, directory, files, profiles, engine_files, script.name, section, graphs)
        if opts.precision == "int8":
            section["precision_plan"] = {"int8": "Q/DQ graph of the gated plan (manifest field 'int8')",
                                         "onnxruntime_cpu": "the same Q/DQ graph; x86 CPUs without VNNI sum u8 x s8 pairs in "
                                                            "saturating 16 bits, so ONNX Runtime's figure there bounds TensorRT's error from above"}
            graphs = {g: {**(int8.get("graphs", {}).get(g, {})), **e} for g, e in graphs.items()}
        extra = {k: v for k, v in int8.items() if k != "graphs"}
        return CompileResult(
            manifest={**extra, "graphs": graphs, "tensorrt": section, "onnxruntime_graph": "onnxruntime_onnx"},
            deferred_error=int8_error or deferred,  # a failed INT8 gate (exit 4) wins over a missing TensorRT (3)
        )

    # ------------------------------------------------------------ runtimes
    def runtimes(self, directory: Path, manifest: dict[str, Any], max_memory=None, threads=None) -> list[RuntimeSpec]:
        from ..core.bundle import Bundle
        from ..backends.onnxruntime_backend import OnnxRuntimeGenerator
        from ..backends.tensorrt_backend import TensorRTGenerator, engines_missing_message

        section = manifest.get("tensorrt")
        if not section:
            raise BundleError(f"bundle {directory} has no 'tensorrt' section; it was not exported with --target tensorrt")
        bundle = Bundle(directory, manifest)
        profiles = [Profile.from_manifest(p) for p in section["profiles"]]
        files = {g: manifest["graphs"][g]["tensorrt_onnx"] for g in GRAPHS}
        issues = [i for r in lint_bundle(directory, files, profiles) for i in r.issues]
        if issues:
            raise BundleError(f"TensorRT-readiness lint of bundle {directory} failed ({len(issues)} issue(s)); first: {issues[0].text()}")
        precision = section["precision"]
        paths = ("split",) if precision == "fp32" else ("split", "fused")
        specs = [RuntimeSpec("onnxruntime", precision,
                             OnnxRuntimeGenerator(bundle, max_memory=max_memory, threads=threads, graph_kind="onnxruntime_onnx"),
                             paths)]
        if engines_missing_message(bundle) is None and tensorrt_ready():
            specs.insert(0, RuntimeSpec("tensorrt", precision, TensorRTGenerator(bundle, max_memory=max_memory), ("split", "fused")))
        return specs


def build_or_defer_engines(opts: Any, directory: Path, files: "TypedFiles", profiles: Sequence[Profile],
                           engine_files: dict[str, str], script: str, section: dict[str, Any],
                           graphs: dict[str, dict[str, str]]) -> BackendUnavailable | None:
    """Build the engines where TensorRT and a GPU are usable (filling ``section["engines"]`` and
    each graph's ``engine``); otherwise record how to build them and return the error that the
    export raises after publishing the TensorRT-ready bundle (exit 3)."""
    try:
        trt, cuda, device = _tensorrt_and_gpu(parse_device(opts.device))
    except BackendUnavailable as e:
        reason = str(e)
        how = f"bash {opts.out}/{SCRIPT} on a machine with TensorRT >= 10 (trtexec) and an NVIDIA GPU"
        section["engines"] = {
            "built": False,
            "files": engine_files,
            "reason": reason,
            "message": (f"the TensorRT engines are not built ({reason}); build them with {SCRIPT} in this directory "
                        "on a machine with TensorRT >= 10 (trtexec) and an NVIDIA GPU: the tensorrt backend then loads "
                        + ", ".join(engine_files.values())),
            "how_to_build": f"bash {SCRIPT}",
        }
        written = ", ".join([*dict.fromkeys(files.tensorrt.values()), script])
        return BackendUnavailable(
            f"{reason}: wrote the TensorRT-ready bundle {opts.out} ({written}) without engines; "
            f"build them with: {how}"
        )
    else:
        if opts.precision == "bf16" and device.compute_capability < BF16_MIN_CC:
            raise UnsupportedOption(
                f"precision bf16 needs a GPU of compute capability 8.0 (Ampere) or newer; {device.name} is "
                f"{device.sm}; use --precision fp16"
            )
        from .trt_build import build_engines

        sources = [opts.out] if Path(opts.out).is_dir() else []
        built = build_engines(trt, directory, files.tensorrt, profiles, device, sources)
        built["files"] = engine_files
        section["engines"] = built
        for g in GRAPHS:
            graphs[g]["engine"] = engine_files[g]
    return None


def _tensorrt_and_gpu(device_index: int):
    from ..backends.tensorrt_backend import Cuda
    from ..backends.tensorrt_backend import import_tensorrt

    trt = import_tensorrt()
    cuda = Cuda(device_index)
    return trt, cuda, cuda.info()


def tensorrt_ready() -> bool:
    """TensorRT >= 10, cuda-python and a GPU are usable here (never raises)."""
    try:
        _tensorrt_and_gpu(0)
    except (BackendUnavailable, InrganError, RuntimeError, OSError):
        return False
    return True


# --------------------------------------------------------------------------- profiles
def make_profiles(layout, manifest: Mapping[str, Any], native: tuple[int, int], opts) -> list[Profile]:
    from ..core.grid import PARITY_BATCH, parity_grids

    render = resolve_range(native, opts.max_batch, opts.min_res, opts.opt_res, opts.max_res)
    parity = parity_range([g.size for g in parity_grids(native[0])], PARITY_BATCH)
    ranges = [render] if render.covers(parity) else [render, parity]
    inputs = {g: manifest["graphs"][g]["inputs"] for g in GRAPHS}
    return [build_profile(layout, inputs, r) for r in ranges]


def parity_profile_index(profiles: Sequence[Profile], native: tuple[int, int]) -> int:
    """The profile Polygraphy's TrtRunner uses for the parity feeds (sizes and batch 4)."""
    from ..core.grid import PARITY_BATCH, parity_grids

    sizes = [g.size for g in parity_grids(native[0])]
    for k, p in enumerate(profiles):
        if all(p.range.contains(s, PARITY_BATCH) for s in sizes):
            return k
    return len(profiles) - 1


# --------------------------------------------------------------------------- typed graphs
@dataclass(frozen=True)
class TypedFiles:
    tensorrt: dict[str, str]      # graph -> the ONNX file TensorRT compiles
    onnxruntime: dict[str, str]   # graph -> the ONNX file ONNX Runtime runs on CPU
    plan_manifest: dict[str, Any] | None


def typed_graphs(ctx: CompileContext, precision: str, render: ResolutionRange) -> TypedFiles:
    """Write the precision-typed graphs; FP32 bundles use the exported graphs as they are."""
    names = {g: ctx.manifest["graphs"][g]["onnx"] for g in GRAPHS}
    if precision == "fp32":
        return TypedFiles(dict(names), dict(names), None)
    from . import precision as P

    directory = ctx.directory
    inr = onnx.load(str(directory / names["inr"]))
    types = P.tensor_types(inr)
    layout = ctx.model.layout
    coord_inputs = [s.name for s in layout.input_specs() if s.kind == "coords"]
    with step(f"measuring FP32 value ranges of {names['inr']} over the latent bank and the resolution range"):
        ranges, measured = measure_inr_ranges(ctx, inr, types, render)
    plan = P.plan_precision(inr, precision, coord_inputs, ranges, types)
    for line in P.describe(plan):
        info(f"  FP32 {line}")
    tensorrt, onnxruntime = dict(names), dict(names)
    variants = [(False, f"{precision}")] + ([(True, f"{precision}-emulated")] if precision == "bf16" else [])
    for emulate, tag in variants:
        path = directory / f"inr.{tag}.onnx"
        with step(f"writing {path.name} ({len(plan.low_nodes)} {precision} nodes, {len(plan.fp32)} FP32 nodes"
                  f"{', FP32 graph rounding at op boundaries for CPU runtimes' if emulate else ''})", path):
            typed = P.apply_precision(inr, plan, emulate=emulate)
            typed.doc_string = f"inrgan-export inr graph, precision-typed {tag} (FP32 islands: {dict(plan.rules())})"
            if not emulate:
                problems = P.check_plan_applied(typed, plan)
                if problems:
                    raise InrganError(f"precision-typed {path.name} does not follow its plan: {problems[0]}")
            onnx.save(typed, str(path))
            onnx.checker.check_model(str(path), full_check=True)
        gen_path = directory / f"generator.{tag}.onnx"
        with step(f"writing {gen_path.name} (FP32 {names['hypernet']} joined with {path.name} at theta)", gen_path):
            fuse_typed(ctx, directory / names["hypernet"], path, gen_path)
        if emulate:
            onnxruntime.update(inr=path.name, generator=gen_path.name)
        else:
            tensorrt.update(inr=path.name, generator=gen_path.name)
            if precision != "bf16":
                onnxruntime.update(inr=path.name, generator=gen_path.name)
    plan_manifest = {
        **P.plan_to_manifest(plan),
        "graph": "inr (the generator graph joins it with the FP32 hypernetwork; hypernet stays FP32)",
        "hypernet": "fp32: theta carries the Fourier bases (coordinate -> Fourier argument path), runs once per latent, gated at 1e-4",
        "io": "inputs and outputs stay FP32",
        "ranges": {**measured, "headroom": P.HEADROOM, "limits": {"max_finite": P.LIMITS[precision][0],
                                                                   "min_normal": P.LIMITS[precision][1]}},
        "onnxruntime_cpu": ("fp16: the graph itself (the CPU provider rounds at op boundaries)" if precision == "fp16"
                            else "bf16: *.bf16-emulated.onnx, FP32 rounding to BF16 at op boundaries (no CPU BF16 kernels)"),
    }
    return TypedFiles(tensorrt, onnxruntime, plan_manifest)


def fuse_typed(ctx: CompileContext, hypernet: Path, inr: Path, out: Path) -> None:
    """Join the FP32 hypernetwork with a typed INR at θ, as the exporter joins the FP32 ones."""
    from ..exporter.onnx_export import fuse_graphs
    from ..load.split import GraphDef, TensorSpec

    entry = ctx.manifest["graphs"]["generator"]

    def specs(items):
        return tuple(TensorSpec(t["name"], tuple(t["shape"]), t.get("dtype", "float32")) for t in items)

    graph = GraphDef("generator", None, specs(entry["inputs"]), specs(entry["outputs"]), fused_from=("hypernet", "inr"))
    fuse_graphs(graph, [hypernet, inr], ctx.family.export_spec, out)


def measure_inr_ranges(ctx: CompileContext, inr: onnx.ModelProto, types, render: ResolutionRange):
    """Largest |value| of every float tensor of the FP32 INR over the latent bank at the parity
    grids and the ends and opt of the resolution range (large sizes: first latents only, in
    tiles); θ from the FP32 hypernetwork under ONNX Runtime."""
    from ..backends.onnxruntime_backend import ort_session
    from ..core.grid import parity_grids
    from ..core.latents import latent_bank
    from .precision import RangeMeter

    manifest = ctx.manifest
    iface = manifest["interface"]
    layout = ctx.model.layout
    native = (int(iface["native_size"][0]), int(iface["native_size"][1]))
    hyper = ort_session(ctx.directory / manifest["graphs"]["hypernet"]["onnx"], ctx.options.threads)
    z = latent_bank(int(iface["z_dim"]))
    feeds = {iface["hypernet_inputs"][0]: z}
    feeds.update({n: np.ones(z.shape[0], np.float32) for n in iface["hypernet_inputs"][1:]})
    theta = hyper.run(None, feeds)[0]
    from ..core.grid import Window

    grids = [(g.size, g.window) for g in parity_grids(native[0])]
    grids += [(r, Window()) for r in (render.min_res, render.opt_res, render.max_res)]
    sizes = list(dict.fromkeys((tuple(size), window) for size, window in grids))
    meter = RangeMeter(inr, ctx.options.threads, types)
    bpp = [int(b) for b in iface["memory"]["bytes_per_pixel"]]
    full, partial = [], []
    for size, window in sizes:
        grid = layout.build(size, window, batch=1)
        n_latents = z.shape[0] if size[0] * size[1] <= RANGE_FULL_BANK_PIXELS * native[0] * native[1] else RANGE_LARGE_SIZE_LATENTS
        (full if n_latents == z.shape[0] else partial).append(f"{size[0]}x{size[1]}" + ("" if window.is_full() else f" window {window.text()}"))
        per_sample = sum(b * h * w for b, (h, w) in zip(bpp, grid.block_shapes))
        tiles = [None]
        by = 1
        while per_sample // (by * by) > RANGE_BUDGET_BYTES and by < grid.block_shapes[0][0]:
            by *= 2
        if by > 1:
            tiles = grid.tiles(by, by)
        for i in range(n_latents):
            for tile in tiles:
                arrays = grid.for_batch(1) if tile is None else grid.slice(tile, 1, 0)
                meter.update({iface["theta_name"]: theta[i : i + 1], **arrays})
    largest = sorted(meter.ranges.items(), key=lambda kv: -kv[1])[:5]
    measured = {
        "what": "largest |value| of every float tensor of the FP32 INR (ONNX Runtime), theta from the FP32 hypernetwork",
        "latent_seeds": list(range(z.shape[0])),
        "sizes_with_all_seeds": full,
        "sizes_with_first_seeds": {"seeds": list(range(RANGE_LARGE_SIZE_LATENTS)), "sizes": partial},
        "runs": meter.runs,
        "largest": [{"tensor": k, "max_abs": float(v)} for k, v in largest],
    }
    return meter.ranges, measured


# --------------------------------------------------------------------------- lint
def lint_bundle(directory: Path, files: Mapping[str, str], profiles: Sequence[Profile]):
    from .trt_lint import lint_model, majors

    reports = []
    loaded = {}
    for graph, name in files.items():
        if name not in loaded:
            loaded[name] = onnx.load(str(directory / name))
        prof = [{s.name: s.to_manifest() for s in p.graphs.get(graph, [])} for p in profiles]
        for major in majors():
            reports.append(lint_model(loaded[name], name, major, prof))
    return reports


def lint_manifest(reports) -> dict[str, Any]:
    from .trt_lint import table_source

    return {
        "passed": all(r.passed for r in reports),
        "tensorrt_majors": sorted({r.major for r in reports}),
        "table": table_source(),
        "graphs": sorted({r.graph for r in reports}),
        "issues": [i.to_manifest() for r in reports for i in r.issues],
    }


# --------------------------------------------------------------------------- trtexec script
def trtexec_line(onnx_file: str, engine: str, graph: str, profiles: Sequence[Profile]) -> str:
    args = ["\"$TRTEXEC\"", f"--onnx={shlex.quote(onnx_file)}", f"--saveEngine={shlex.quote(engine)}",
            "--stronglyTyped", "--noTF32", "--skipInference", "--timingCacheFile=\"$CACHE\""]
    for k, p in enumerate(profiles):
        if len(profiles) > 1:
            args.append(f"--profile={k}")
        shapes = p.graphs[graph]
        for which, flag in (("min", "--minShapes"), ("opt", "--optShapes"), ("max", "--maxShapes")):
            args.append(f"{flag}={trtexec_shapes(shapes, which)}")
    return " ".join(args)


def write_build_script(directory: Path, files: Mapping[str, str], engines: Mapping[str, str],
                       profiles: Sequence[Profile], precision: str, tool: str) -> Path:
    lines = [
        "#!/usr/bin/env bash",
        f"# Builds this bundle's TensorRT engines with trtexec (written by {tool}).",
        "# Needs TensorRT >= 10 with trtexec on PATH (or TRTEXEC=/path/to/trtexec) and an NVIDIA GPU"
        + (" of compute capability >= 8.0 (bf16)." if precision == "bf16" else "."),
        f"# Strongly typed: the precision ({precision}) is in the ONNX tensor types; TF32 off (FP32 islands stay FP32).",
        "# Optimization profiles (output sizes HxW through the model's size rule; batch 1..max):",
    ]
    for k, p in enumerate(profiles):
        r = p.range
        lines.append(f"#   profile {k} ({r.name}): {r.text()}, opt {r.opt_res[0]}x{r.opt_res[1]}, batch 1..{r.max_batch} (opt {r.opt_batch})")
    lines += [
        "# The timing cache is keyed by TensorRT version and GPU: timing-cache/trt<version>_<gpu>.cache",
        "set -euo pipefail",
        'cd "$(dirname "$0")"',
        'TRTEXEC="${TRTEXEC:-trtexec}"',
        'if ! command -v "$TRTEXEC" >/dev/null 2>&1; then',
        '  echo "build_engines.sh: $TRTEXEC not found: install TensorRT >= 10 (trtexec) or set TRTEXEC=/path/to/trtexec" >&2',
        "  exit 3",
        "fi",
        "TRT_VERSION=\"$(\"$TRTEXEC\" --help 2>&1 | sed -n 's/.*\\[TensorRT v\\([0-9][0-9]*\\)\\].*/\\1/p' | head -n 1 || true)\"",
        "GPU_INFO=\"$(nvidia-smi --query-gpu=name,compute_cap --format=csv,noheader 2>/dev/null | head -n 1 || true)\"",
        "GPU=\"$(printf '%s' \"${GPU_INFO:-unknown GPU}\" | tr -c 'A-Za-z0-9.' '_')\"",
    ]
    if precision == "bf16":
        lines += [
            "CC=\"$(printf '%s' \"$GPU_INFO\" | awk -F', *' '{print $2}')\"",
            'if [ -n "$CC" ] && ! awk -v cc="$CC" \'BEGIN { exit !(cc >= 8.0) }\'; then',
            '  echo "build_engines.sh: bf16 engines need compute capability >= 8.0; this GPU is $GPU_INFO" >&2',
            "  exit 2",
            "fi",
        ]
    lines += [
        'mkdir -p timing-cache',
        'CACHE="timing-cache/trt${TRT_VERSION:-unknown}_${GPU}.cache"',
    ]
    for g in GRAPHS:
        lines.append(trtexec_line(files[g], engines[g], g, profiles))
    lines.append('echo "built ' + ", ".join(engines[g] for g in GRAPHS)
                 + ' with TensorRT ${TRT_VERSION:-?} on ${GPU_INFO:-?} (timing cache $CACHE)"')
    path = directory / SCRIPT
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o755)
    return path
