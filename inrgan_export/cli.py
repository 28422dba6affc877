"""``inrgan-export``: command-line edge. Parses arguments into the frozen option dataclasses,
runs one command, and maps typed errors to one-line messages and exit codes
(0 ok, 2 bad input or usage, 3 backend unavailable, 4 parity gate failed, 1 anything else)."""
from __future__ import annotations

import argparse
import difflib
import errno
import json
import math
import os
import sys
from pathlib import Path
from typing import Sequence

from . import signals
from ._version import __version__
from .errors import InrganError, UsageError
from .extras import missing_extra
from .grid import Window, parse_size
from .manifest import DEFAULT_INT8_WORST_DB
from .options import (PRECISIONS, TARGETS, ConvertOptions, ExportOptions, RenderManyOptions, RenderOptions, ServeOptions,
                      VerifyOptions)
from .runtime.base import parse_bytes

COMMANDS = ("export", "convert", "render", "render-many", "serve", "verify", "inspect", "bench", "demo")


class _Parser(argparse.ArgumentParser):
    """argparse that raises a one-line UsageError instead of printing usage and exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        if "invalid choice" in message:
            # "argument --target: invalid choice: 'onxx' (choose from onnx, openvino, tensorrt)"
            bad = message.split("invalid choice: ")[1].split(" ")[0].strip("'")
            choices = message.split("choose from ")[-1].rstrip(")").replace("'", "").split(", ")
            close = difflib.get_close_matches(bad, choices, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise UsageError(f"{message.split(':')[0]}: {bad!r} is not one of {', '.join(choices)}{hint}")
        raise UsageError(f"{self.prog}: {message}")


def _size(text: str) -> tuple[int, int]:
    return parse_size(text)


def _window(text: str) -> Window:
    return Window.parse(text)


def _memory(text: str) -> int:
    return parse_bytes(text)


def _psi(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not math.isfinite(v):
        raise UsageError(f"--truncation {text!r} is not a finite number (e.g. 0.7; 1 = no truncation)")
    return v


def _calib_latents(text: str) -> int | Path:
    if text.lower().endswith(".npy"):
        path = Path(text)
        if not path.is_file():
            raise UsageError(f"--calib-latents {text}: no such file (a .npy [N, z_dim] of latents, or a count such as 32)")
        return path
    return _positive(text)


def _psnr(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not (math.isfinite(v) and 0 < v < 200):
        raise UsageError(f"--min-psnr {text!r} must be a number of dB in (0, 200), e.g. 32")
    return v


def _sizes(text: str) -> tuple[tuple[int, int], ...]:
    return tuple(parse_size(part) for part in text.split(",") if part.strip())


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _batches(text: str) -> tuple[int, ...]:
    return tuple(_positive(part) for part in text.split(",") if part.strip())


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise UsageError(f"{text!r} is not a positive integer") from None
    if v < 1:
        raise UsageError(f"{text!r} is not a positive integer")
    return v


def _count(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        v = -1
    if v < 0:
        raise UsageError(f"{text!r} is not a count (0 or more)")
    return v


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not (math.isfinite(v) and v >= 0):
        raise UsageError(f"{text!r} is not a number of seconds (e.g. 0.01, 30)")
    return v


def _memory_any(text: str) -> int:
    """A byte count without parse_bytes' 1M floor (a request body limit may be small)."""
    if text.strip().isdigit():
        return _positive(text)
    return parse_bytes(text)


def _json_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true",
                   help="print one machine-readable result object on stdout (progress stays on stderr)")


def emit_json(obj: dict) -> None:
    print(json.dumps(obj, indent=2, allow_nan=False, default=str))


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-memory", type=_memory, default=None, metavar="BYTES",
                   help="activation budget of one INR run; larger renders are tiled (default: 40%% of RAM, at most 4G)")
    p.add_argument("--threads", type=_positive, default=None, help="CPU threads for the backend (default: all cores)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="inrgan-export", description="Export INR-GAN generators to deployable graphs.")
    p.add_argument("--version", action="version", version=f"inrgan-export {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks and exporter logs (anywhere on the line)")
    sub = p.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    e = sub.add_parser("export", help="export a checkpoint or demo:<preset> to a bundle")
    e.add_argument("source", help="checkpoint .pt or demo:<preset>")
    e.add_argument("--target", required=True, choices=list(TARGETS))
    e.add_argument("--precision", default="fp32", choices=list(PRECISIONS))
    e.add_argument("-o", "--out", type=Path, default=None, help="bundle directory (default: <name>_<target>)")
    e.add_argument("--force", action="store_true", help="replace an existing output directory")
    e.add_argument("--device", default="CPU", help="device to compile for: OpenVINO CPU/GPU/NPU/AUTO (default CPU)")
    e.add_argument("--compress-weights", action="store_true",
                   help="OpenVINO: store IR weights as FP16 (inference precision is set by --precision)")
    e.add_argument("--min-res", type=_size, default=None, metavar="HxW", help="TensorRT: smallest render size of the profiles")
    e.add_argument("--opt-res", type=_size, default=None, metavar="HxW", help="TensorRT: size the profiles are tuned for")
    e.add_argument("--max-res", type=_size, default=None, metavar="HxW", help="TensorRT: largest render size of the profiles")
    e.add_argument("--max-batch", type=_positive, default=4, help="TensorRT: largest batch of the profiles (default 4)")
    e.add_argument("--calib-latents", type=_calib_latents, default=32, metavar="N|FILE.npy",
                   help="INT8: N calibration latents from the prior (default 32), or a .npy [N, z_dim] of your own")
    e.add_argument("--calib-method", choices=["max", "percentile", "entropy"], default="percentile",
                   help="INT8: activation range method (ONNX Runtime's calibrators; default percentile 99.999)")
    e.add_argument("--min-psnr", type=_psnr, default=DEFAULT_INT8_WORST_DB, metavar="DB",
                   help="INT8: worst-case PSNR gate over the 64-latent bank (default 30; the median must reach 35)")
    _common(e)
    _json_flag(e)

    c = sub.add_parser("convert", help="import an authors' checkpoint into our .pt format")
    c.add_argument("source", type=Path, help="the authors' gen_ema.pt (state dict) or released network pickle (.pkl)")
    c.add_argument("--config", type=Path, default=None, help="the experiment's config.yml or the authors' inr-gan.yml (not for .pkl)")
    c.add_argument("--dataset", default=None, help="dataset section of inr-gan.yml to merge (e.g. lsun_church_outdoor)")
    c.add_argument("-o", "--out", type=Path, required=True)
    c.add_argument("--force", action="store_true")

    r = sub.add_parser("render", help="render images from a checkpoint, demo:<preset> or bundle")
    r.add_argument("source")
    g = r.add_mutually_exclusive_group()
    g.add_argument("--seed", default=None, help="3, 0-7 or 1,5,9: seed s is numpy RandomState(s).randn(1, z_dim)")
    g.add_argument("--latent", type=Path, default=None, help=".npy of float32 latents [N, z_dim]")
    g.add_argument("--latent-bank", default=None, metavar="ROWS",
                   help="rows of the source's fitted latent bank (demo:photos and its bundles): 3, 0-7, train or heldout")
    r.add_argument("--contact-sheet", action="store_true",
                   help="write one labelled PNG of the first latent: 1/2 native, native, 4x, a zoom and an extrapolation")
    r.add_argument("--size", type=_size, default=None, help="HxW or N (default: native size)")
    r.add_argument("--window", type=_window, default=Window(), help="X0,Y0,X1,Y1 in native-image units (default 0,0,1,1)")
    r.add_argument("--backend", default=None, help="torch (checkpoints) or a bundle backend: onnxruntime")
    r.add_argument("--device", default="CPU", help="backend device (CPU; CUDA for onnxruntime where available)")
    r.add_argument("--truncation", type=_psi, default=None, metavar="PSI",
                   help="truncation ψ for generators that take it (sg2 family; default 1 = none)")
    r.add_argument("--allow-failed-parity", action="store_true",
                   help="render through a bundle backend whose recorded parity or INT8 gate failed (refused otherwise)")
    r.add_argument("-o", "--out", type=Path, required=True, help="OUT.png (one file per image) or OUT.npy (raw [N,3,H,W])")
    r.add_argument("--force", action="store_true", help="replace existing output files")
    r.add_argument("--allow-nonfinite", action="store_true",
                   help="write images that hold NaN or Inf (default: refused, naming the first bad pixel)")
    _common(r)

    m = sub.add_parser("render-many", help="render seeds x sizes x windows of a bundle on a Ray cluster (resumable)")
    m.add_argument("bundle", type=Path)
    m.add_argument("--seeds", required=True, help="as render's --seed (0-9999, 1,5,9), up to 1,000,000 seeds")
    m.add_argument("--sizes", type=_sizes, required=True, help="HxW or N list, e.g. 64x64,256x256")
    m.add_argument("--windows", default="0,0,1,1", help="X0,Y0,X1,Y1 windows separated by ';' (default 0,0,1,1)")
    m.add_argument("--truncation", type=_psi, default=None, metavar="PSI", help="truncation ψ (sg2 family)")
    m.add_argument("--backend", default=None, help="bundle backend (default: the bundle's own)")
    m.add_argument("--format", choices=["png", "npy"], default="png", help="png or npy (raw float32 [1,3,H,W]) per image")
    m.add_argument("-o", "--out", type=Path, required=True, help="output directory (a rerun skips complete outputs)")
    m.add_argument("--address", default=None, help="existing cluster: auto, HOST:PORT or ray://HOST:PORT (default: start a local one)")
    m.add_argument("--workers", type=_positive, default=None, help="actor workers (default: cluster CPUs / --threads)")
    m.add_argument("--threads", type=_positive, default=1, help="backend threads (and CPUs reserved) per worker (default 1)")
    m.add_argument("--batch", type=_positive, default=8, help="seeds per worker batch (default 8)")
    m.add_argument("--cpus", type=_positive, default=None, help="CPUs of the local cluster (default: all)")
    m.add_argument("--max-memory", type=_memory, default=None, metavar="BYTES", help="activation budget per worker render")
    m.add_argument("--wait", action="store_true", help="another render-many writing into -o: wait for it (default: refuse)")

    s = sub.add_parser("serve", help="an HTTP render service of a bundle on Ray Serve (GET/POST /render, /healthz, /info)")
    s.add_argument("bundle", type=Path)
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; beyond it, give --token)")
    s.add_argument("--token", default=None, metavar="FILE",
                   help="a file holding a bearer token: /render and /info then need 'Authorization: Bearer TOKEN' (else 401)")
    s.add_argument("--port", type=_positive, default=8000, help="HTTP port (default 8000)")
    s.add_argument("--replicas", type=_positive, default=1, help="replicas, each with the bundle open and its own θ cache (default 1)")
    s.add_argument("--address", default=None, help="existing cluster: auto, HOST:PORT or ray://HOST:PORT (default: start a local one)")
    s.add_argument("--backend", default=None, help="bundle backend (default: the bundle's own)")
    s.add_argument("--threads", type=_positive, default=1, help="backend threads (and CPUs reserved) per replica (default 1)")
    s.add_argument("--max-memory", type=_memory, default=None, metavar="BYTES", help="activation budget of one render per replica")
    s.add_argument("--oversize", choices=["tile", "refuse"], default="tile",
                   help="a render past the memory budget: tile it (default) or refuse it with 413")
    s.add_argument("--theta-cache", type=_count, default=256, metavar="N", help="θ vectors cached per replica, LRU (default 256; 0: none)")
    s.add_argument("--max-batch", type=_positive, default=8, help="requests rendered together per replica (default 8)")
    s.add_argument("--batch-wait", type=_seconds, default=0.01, metavar="S", help="how long a batch waits to fill (default 0.01 s)")
    s.add_argument("--max-body", type=_memory_any, default=1 << 20, metavar="BYTES", help="POST body limit, else 413 (default 1M)")
    s.add_argument("--max-pixels", type=_positive, default=4096 * 4096, help="pixels per render, else 413 (default 16777216 = 4096x4096)")
    s.add_argument("--timeout", type=_seconds, default=60.0, metavar="S", help="seconds per request in its replica, else 504 (default 60)")
    s.add_argument("--max-concurrent", type=_positive, default=16, help="requests one replica works on at once (default 16)")
    s.add_argument("--max-queued", type=int, default=64, help="requests waiting beyond those, else 429 (default 64; -1: no limit)")
    s.add_argument("--cpus", type=_positive, default=None, help="CPUs of the local cluster (default: all)")

    v = sub.add_parser("verify", help="re-run the parity report of a bundle")
    v.add_argument("bundle", type=Path)
    v.add_argument("--reference", default=None, help="recompute references from this checkpoint (default: golden data)")
    v.add_argument("-o", "--out", type=Path, default=None, help="write parity.json/md/png here")
    _common(v)
    _json_flag(v)

    i = sub.add_parser("inspect", help="what a bundle holds: family, graphs, dims, precisions, size range, parity, files")
    i.add_argument("bundle", type=Path)
    i.add_argument("--no-checksums", action="store_true", help="skip the SHA-256 check of every file (faster on big bundles)")
    _json_flag(i)

    b = sub.add_parser("bench", help="MACs and latency against resolution, per backend and precision")
    b.add_argument("source", help="checkpoint, demo:<preset> or bundle (a bundle: its own backend and precision)")
    b.add_argument("--sizes", type=_sizes, default=None, help="e.g. 32,64,128,256,512,256x384 (default: native/8 .. 2x native)")
    b.add_argument("--backends", type=_names, default=None, help="torch,onnxruntime,openvino (default: all three; a bundle: its own)")
    b.add_argument("--precisions", type=_names, default=("fp32",), help="e.g. fp32,bf16 (default fp32)")
    b.add_argument("--batch", type=_batches, default=(1,), help="e.g. 1,8 (default 1)")
    b.add_argument("--views", type=_positive, default=8, help="k views of one latent for the amortised cost (default 8)")
    b.add_argument("--macs-only", action="store_true", help="count MACs only, no timing")
    b.add_argument("--quick", action="store_true", help="one timed run per point and a small sgemm (seconds; for tests)")
    b.add_argument("-o", "--out", type=Path, default=None, help="output directory (default bench_<name>)")
    b.add_argument("--force", action="store_true")
    _common(b)
    _json_flag(b)

    d = sub.add_parser("demo", help="built-in demo generators")
    d.add_argument("--list", action="store_true", help="list demo presets with parameter counts")
    return p


def normalize_argv(argv: Sequence[str]) -> list[str]:
    """The design card's bare form ``inrgan-export CKPT --target ...`` means ``export``;
    a subcommand name always wins over a file of the same name."""
    argv = list(argv)
    idx = next((i for i, a in enumerate(argv) if not a.startswith("-")), None)
    if idx is not None and argv[idx] not in COMMANDS:
        argv.insert(idx, "export")
    return argv


#: options whose value may start with '-' (a window left of or above the image)
NEGATIVE_VALUE_OPTIONS = ("--window", "--windows")


def join_negative_values(argv: Sequence[str]) -> list[str]:
    """``--window -0.25,-0.25,1.25,1.25`` → ``--window=-0.25,...``: argparse would otherwise
    read a value starting with '-' as an option."""
    out: list[str] = []
    it = iter(range(len(argv)))
    for i in it:
        a = argv[i]
        if a in NEGATIVE_VALUE_OPTIONS and i + 1 < len(argv) and argv[i + 1].startswith("-") and argv[i + 1][1:2] not in ("", "-"):
            out.append(f"{a}={argv[i + 1]}")
            next(it, None)
        else:
            out.append(a)
    return out


def default_out(source: str, target: str) -> Path:
    stem = source.split(":", 1)[1] if source.startswith("demo:") else Path(source).stem
    return Path(f"{stem}_{target}")


def run_render_many(args: argparse.Namespace) -> int:
    """render-many: the driver needs the runtime layer only, not the export pipeline."""
    from .cluster.render_many import parse_render_many_seeds, parse_windows, render_many

    opts_m = RenderManyOptions(
        bundle=args.bundle,
        out=args.out,
        seeds=parse_render_many_seeds(args.seeds),
        sizes=args.sizes,
        windows=parse_windows(args.windows),
        truncation=args.truncation,
        backend=args.backend,
        image_format=args.format,
        address=args.address,
        workers=args.workers,
        threads=args.threads,
        batch=args.batch,
        cpus=args.cpus,
        max_memory=args.max_memory,
        wait=args.wait,
    )
    result = render_many(opts_m)
    print(f"render-many: {result.rendered} rendered, {result.skipped} already complete, "
          f"{result.total} outputs in {args.out} ({result.seconds:.1f} s)")
    return 0


def read_token(path: str | None) -> str | None:
    """``serve --token FILE``: the token from a file (never on the command line, where other
    users of the machine see it in the process list)."""
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            raw = f.read(4097)
    except OSError as e:
        raise UsageError(f"--token {path}: cannot read it ({e.strerror or type(e).__name__})") from None
    try:
        token = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        token = ""
    if not 16 <= len(token) <= 4096 or any(c.isspace() or not c.isprintable() for c in token):
        raise UsageError(f"--token {path} must hold one token of 16 to 4096 printable ASCII characters without spaces")
    return token


def run_serve(args: argparse.Namespace) -> int:
    """serve: runs until Ctrl-C or SIGTERM, then removes the service; a clean stop is exit 0."""
    from .cluster.serve import run_service

    run_service(ServeOptions(
        bundle=args.bundle,
        host=args.host,
        port=args.port,
        replicas=args.replicas,
        address=args.address,
        backend=args.backend,
        threads=args.threads,
        max_memory=args.max_memory,
        oversize=args.oversize,
        theta_cache=args.theta_cache,
        max_batch=args.max_batch,
        batch_wait_s=args.batch_wait,
        max_body=args.max_body,
        max_pixels=args.max_pixels,
        timeout_s=args.timeout,
        max_concurrent=args.max_concurrent,
        max_queued=args.max_queued,
        cpus=args.cpus,
        debug=args.debug,
        token=read_token(args.token),
    ))
    return 0


def run(args: argparse.Namespace) -> int:
    if args.command == "render-many":
        return run_render_many(args)
    if args.command == "serve":
        return run_serve(args)
    if args.command in ("export", "convert", "verify"):
        from . import pipeline  # the export extra (PyTorch, ONNX, Polygraphy)

    if args.command == "export":
        opts = ExportOptions(
            source=args.source,
            target=args.target,
            precision=args.precision,
            out=args.out or default_out(args.source, args.target),
            force=args.force,
            max_memory=args.max_memory,
            threads=args.threads,
            debug=args.debug,
            device=args.device,
            compress_weights=args.compress_weights,
            min_res=args.min_res,
            opt_res=args.opt_res,
            max_res=args.max_res,
            max_batch=args.max_batch,
            calib_latents=args.calib_latents,
            calib_method=args.calib_method,
            min_psnr=args.min_psnr,
        )
        result = pipeline.export_bundle(opts)
        if args.json:
            emit_json(result.to_json())
        if result.error is not None:
            raise result.error
    elif args.command == "convert":
        pipeline.convert(ConvertOptions(args.source, args.out, args.config, args.dataset, args.force))
        print(f"wrote {args.out}")
    elif args.command == "render":
        from .latents import parse_seeds

        opts_r = RenderOptions(
            source=args.source,
            out=args.out,
            seeds=tuple(parse_seeds(args.seed)) if args.seed is not None else None,
            latent=args.latent,
            size=args.size,
            window=args.window,
            backend=args.backend,
            device=args.device,
            max_memory=args.max_memory,
            threads=args.threads,
            truncation=args.truncation,
            latent_bank=args.latent_bank,
            contact_sheet=args.contact_sheet,
            force=args.force,
            allow_nonfinite=args.allow_nonfinite,
            allow_failed_parity=args.allow_failed_parity,
        )
        from .render import render

        render(opts_r)
    elif args.command == "verify":
        report = pipeline.verify_bundle(VerifyOptions(args.bundle, args.reference, args.out, args.max_memory, args.threads),
                                        raise_on_failure=not args.json)
        if args.json:
            emit_json({"command": "verify", "bundle": str(args.bundle), **report.summary()})
            if not report.passed:
                from .errors import ParityError

                raise ParityError("parity gate failed: " + "; ".join(report.failures()[:3]))
    elif args.command == "inspect":
        from .inspect_bundle import format_inspect, inspect_bundle

        info = inspect_bundle(args.bundle, verify_checksums=not args.no_checksums)
        if args.json:
            emit_json({"command": "inspect", **info})
        else:
            print(format_inspect(info))
    elif args.command == "bench":
        from .bench.run import BenchOptions, check_options, run_bench

        opts_b = BenchOptions(
            source=args.source,
            out=args.out or Path(f"bench_{default_out(args.source, 'x').name[:-2]}"),
            sizes=args.sizes,
            backends=args.backends,
            precisions=args.precisions,
            batches=args.batch,
            threads=args.threads,
            macs_only=args.macs_only,
            quick=args.quick,
            views=args.views,
            force=args.force,
            max_memory=args.max_memory,
        )
        check_options(opts_b)
        out = run_bench(opts_b)
        if args.json:
            emit_json({"command": "bench", "out": str(out), **json.loads((out / "results.json").read_text())})
    elif args.command == "demo":
        print_demo_list()
    else:
        raise UsageError("no command given; try: inrgan-export demo:tiny --target onnx -o tiny_onnx/  (or --help)")
    return 0


def print_demo_list() -> None:
    from .families import all_presets

    print(f"{'name':<12} {'family':<8} {'native':>7} {'params':>13} {'theta':>9}  source")
    for name, (fam, preset) in sorted(all_presets().items(), key=lambda kv: kv[0]):
        params, theta = fam.count_parameters(preset.config)
        native = preset.config.native_size
        print(f"demo:{name:<7} {fam.name:<8} {native:>6}² {params:>13,} {theta:>9,}  {preset.source}")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv  # accepted anywhere on the line
    argv = normalize_argv(join_negative_values([a for a in argv if a != "--debug"]))
    previous = signals.install()
    try:
        args = build_parser().parse_args(argv)
        args.debug = debug
        return run(args)
    except InrganError as e:
        if debug:
            raise
        print(f"inrgan-export: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("inrgan-export: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        if debug:
            raise
        print("inrgan-export: error: out of memory: the input is too large for this machine; "
              "use a smaller --size, fewer images or a smaller --max-memory", file=sys.stderr)
        return 2
    except OSError as e:
        if _interrupted(e):
            print("inrgan-export: interrupted", file=sys.stderr)
            return 130
        err = system_error(e)
        if err is None or debug:
            raise
        print(f"inrgan-export: error: {err}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as e:
        err = missing_extra(e, f"inrgan-export {argv[0] if argv else ''}".strip())
        if err is None or debug:
            raise
        print(f"inrgan-export: error: {err}", file=sys.stderr)
        return err.exit_code
    except Exception as e:  # noqa: BLE001 - last resort: one line, exit 1
        if _interrupted(e):  # an interrupt wrapped by a library (torch.onnx's exporter does)
            print("inrgan-export: interrupted", file=sys.stderr)
            return 130
        if debug:
            raise
        msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
        print(f"inrgan-export: internal error: {type(e).__name__}: {msg} (run with --debug for a traceback)", file=sys.stderr)
        return 1
    finally:
        signals.restore(previous)


#: errno values that mean "this output or input cannot be used here" (bad input: exit 2)
SYSTEM_ERRNOS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.EFBIG: "file too large for the file system",
    errno.ENAMETOOLONG: "file name too long",
}

def _interrupted(e: BaseException) -> bool:
    """True if ``e`` is, or was caused by, an interrupt (a signal arrived during the run)."""
    seen = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, KeyboardInterrupt):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return signals.received() is not None


#: errno values of a user path that is not what it should be (a folder where a file is
#: expected, a dangling symlink or a loop, ...): bad input, exit 2, named by the OS's words
PATH_ERRNOS = {errno.ENOENT, errno.EISDIR, errno.ENOTDIR, errno.ELOOP, errno.EEXIST, errno.ENOTEMPTY,
               errno.EXDEV, errno.EINVAL, errno.ETXTBSY, errno.EBUSY, errno.ENXIO, errno.ENODEV,
               errno.EMLINK, errno.ESPIPE, errno.EIO, errno.EMFILE, errno.ENFILE}


def system_error(e: OSError) -> UsageError | None:
    """Disk full, permission denied, a folder where a file belongs and the like: one line
    naming the file, exit 2. An OSError without an errno is a bug of ours (None)."""
    where = f" ({e.filename})" if e.filename else ""
    what = SYSTEM_ERRNOS.get(e.errno or -1)
    if what is not None:
        return UsageError(f"{what}{where}: nothing was published; free space, fix permissions or choose another output")
    if e.errno in PATH_ERRNOS:
        link = f" -> {e.filename2}" if getattr(e, "filename2", None) else ""
        return UsageError(f"{os.strerror(e.errno).lower()}{where}{link}: this path cannot be used; "
                          "choose a regular file or folder you own")
    return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
