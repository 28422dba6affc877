"""The ``render`` command: latents → images through a bundle (torch-free) or, with the
``export`` extra, through a checkpoint's PyTorch reference."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.bundle import Bundle, is_bundle
from ..core.errors import BundleError, InputValueError, UsageError
from ..core.grid import Window, check_size
from ..core.imageio import png_bound
from ..core.latents import MAX_SEEDS, latents_from_seeds, load_latents
from ..core.log import human_bytes, info, step
from .options import RenderOptions
from ..backends import open_bundle
from ..backends.base import Generator


def open_source(source: str, backend: str | None, device: str, max_memory: int | None, threads: int | None,
                allow_failed_parity: bool = False, precision: str | None = None, compile: bool = False) -> Generator:
    """A bundle directory with its (or the given) backend; anything else is a checkpoint,
    ``.pkl`` or ``demo:<preset>`` run by the PyTorch reference (on ``device``, at
    ``precision``, optionally compiled)."""
    if Path(source).is_dir():
        if not is_bundle(source):
            raise BundleError(f"{source} is a directory without manifest.json, not a bundle")
        if precision is not None or compile:
            raise UsageError("--precision and --compile apply to the torch backend (checkpoints); a bundle's "
                             "precision was fixed at export")
        return open_bundle(source, backend=backend, device=device, max_memory=max_memory, threads=threads,
                           allow_failed_parity=allow_failed_parity)
    if backend not in (None, "torch"):
        raise UsageError(
            f"backend {backend} runs bundles; export {source} first (inrgan-export export {source} --target onnx -o DIR), "
            "or use --backend torch"
        )
    from ..load.sources import open_checkpoint  # the export extra (PyTorch); missing: exit 3, see cli

    return open_checkpoint(source, max_memory=max_memory, threads=threads, device=device,
                           precision=precision or "fp32", compile=compile)


@dataclass(frozen=True)
class OutputPlan:
    """Where a render's pixels live: in memory, or streamed tile by tile to memory-mapped files."""

    streamed: bool
    memory_bytes: int  # grid + output + encoding held in memory
    disk_bytes: int  # temporary and final files


def memory_bytes(layout, n: int, size: tuple[int, int], kind: str, streamed: bool, budget: int) -> int:
    """Bytes a render holds at once, besides the INR activations the runtime tiles itself:
    the coordinate grid, the output and, for PNG, the display mapping (float64 temporaries
    and the uint8 pixels). Streamed, only the grid and one band of rows stay in memory."""
    h, w = size
    grid = layout.input_bytes(size)
    if streamed:
        return grid + BAND_BYTES_PER_VALUE * 3 * w * band_rows(w, budget)
    out = n * 3 * h * w * 4
    encode = n * h * w * 3 * (1 + 2 * 8) if kind == "png" else 0
    return grid + out + encode


def disk_bytes(n: int, size: tuple[int, int], kind: str, streamed: bool) -> int:
    h, w = size
    if kind == "npy":
        return n * 3 * h * w * 4 + 4096
    scratch = 3 * h * w * 4 if streamed else 0  # one image's float32 memory map
    return scratch + n * png_bound(h, w)


#: bytes held per value of a band being encoded: float32 pixels, the float64 temporaries of
#: the display mapping, uint8 pixels and the compressor's input
BAND_BYTES_PER_VALUE = 24


def band_rows(w: int, budget: int) -> int:
    """Rows per streamed band: a band holds at most a quarter of the budget (and 48 MB)."""
    return max(1, min(48 << 20, budget // 4) // (BAND_BYTES_PER_VALUE * 3 * w))


def plan_output(layout, n: int, size: tuple[int, int], kind: str, budget: int, directory: Path) -> OutputPlan:
    """In memory when it fits ``budget``, else streamed; refused (one line naming the largest
    size that would work) when the budget cannot hold even the streamed render or the disk
    cannot hold the files."""
    in_memory = memory_bytes(layout, n, size, kind, False, budget)
    if in_memory <= budget:
        plan = OutputPlan(False, in_memory, disk_bytes(n, size, kind, False))
    else:
        streamed = memory_bytes(layout, n, size, kind, True, budget)
        if streamed > budget:
            best = largest_size(size, lambda s: memory_bytes(layout, n, s, kind, True, budget) <= budget)
            raise InputValueError(
                f"render at {size[0]}x{size[1]} needs {human_bytes(streamed)} of memory even streamed to disk "
                f"(its coordinate grid), over the budget of {human_bytes(budget)} (--max-memory); "
                f"the largest size within the budget is {best}"
            )
        plan = OutputPlan(True, streamed, disk_bytes(n, size, kind, True))
    try:
        free = shutil.disk_usage(directory).free
    except OSError:
        return plan
    if plan.disk_bytes > free:
        best = largest_size(size, lambda s: disk_bytes(n, s, kind, plan.streamed) <= free)
        raise InputValueError(
            f"render of {n} image(s) at {size[0]}x{size[1]} needs {human_bytes(plan.disk_bytes)} on disk at {directory} "
            f"but {human_bytes(free)} are free; the largest size that fits is {best}"
        )
    return plan


def largest_size(size: tuple[int, int], fits) -> str:
    """The largest size of the same aspect ratio (both sides scaled) for which ``fits`` holds."""
    h, w = size

    def scaled(f: float) -> tuple[int, int]:
        return max(1, int(h * f)), max(1, int(w * f))

    if not fits(scaled(0.0)):
        return "none (not even 1x1)"
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if fits(scaled(mid)) else (lo, mid)
    bh, bw = scaled(lo)
    return f"{bh}x{bw}"


def source_bank(source: str) -> dict[str, Any] | None:
    """The fitted latent bank of a bundle or checkpoint (None when it has none)."""
    from ..core.latent_bank import read_bundle_bank

    if Path(source).is_dir():
        if not is_bundle(source):
            raise BundleError(f"{source} is a directory without manifest.json, not a bundle")
        b = Bundle.open(source)
        return read_bundle_bank(b.path, b.manifest)
    from ..load.sources import load_source  # the export extra (PyTorch); missing: exit 3, see cli

    return load_source(source).latent_bank


def render(opts: RenderOptions) -> list[Path]:
    from ..core.imageio import check_outputs, output_kind, output_paths, write_images

    if opts.contact_sheet and (opts.size is not None or opts.window != Window()):
        raise UsageError("--contact-sheet chooses its own sizes and windows; drop --size and --window")
    if opts.contact_sheet and opts.out.suffix.lower() != ".png":
        raise UsageError(f"--contact-sheet writes one PNG; got -o {opts.out} (expected a .png path)")
    bank = source_bank(opts.source) if opts.latent_bank is not None else None
    kind = output_kind(opts.out)
    gen = open_source(opts.source, opts.backend, opts.device, opts.max_memory, opts.threads, opts.allow_failed_parity,
                      opts.precision, opts.compile)
    iface = gen.interface
    text = run_metadata(gen)
    if opts.latent_bank is not None:
        from ..core.latent_bank import select

        z, rows = select(bank, opts.latent_bank, opts.source)
        if z.shape[1] != iface.z_dim:
            raise BundleError(f"{opts.source}: its latent bank has width {z.shape[1]}, the generator takes {iface.z_dim}")
        labels = [f"bank{r:04d}" for r in rows]
    elif opts.latent is not None:
        z = load_latents(opts.latent, iface.z_dim, max_rows=MAX_SEEDS)
        labels = [f"{i:04d}" for i in range(z.shape[0])]
    else:
        seeds = list(opts.seeds or (0,))
        z = latents_from_seeds(seeds, iface.z_dim)
        labels = [f"seed{s:04d}" for s in seeds]
    if opts.contact_sheet:
        from ..core.contact_sheet import write_contact_sheet

        extra = truncation_inputs(iface, opts.truncation, 1)
        with gen, step(f"rendering the contact sheet of {labels[0]} with {gen.backend}"):
            path = write_contact_sheet(gen, gen.hypernet(z[:1], *extra), opts.out, iface.display)
        info(f"wrote {path}")
        return [path]
    size = check_size(opts.size or iface.native_size)
    gen.check_size_range(size)
    paths = [opts.out] if kind == "npy" else output_paths(opts.out, labels)
    check_outputs(paths, opts.force)  # before any work
    directory = opts.out.parent if str(opts.out.parent) else Path(".")
    plan = plan_output(iface.layout, len(labels), size, kind, gen.max_memory, directory)
    extra = truncation_inputs(iface, opts.truncation, z.shape[0])
    how = " (streamed to disk tile by tile)" if plan.streamed else ""
    with gen, step(f"rendering {len(labels)} image(s) at {size[0]}x{size[1]} with {gen.backend}{how}"):
        if plan.streamed:  # θ streamed too: one latent's θ at a time, never all of them
            def theta_of(i: int) -> np.ndarray:
                return gen.hypernet(z[i : i + 1], *[e[i : i + 1] for e in extra])
            paths = render_streamed(gen, theta_of, size, opts, labels, paths, kind, text)
        else:
            images = gen.render(gen.hypernet(z, *extra), size, opts.window)
            paths = write_images(opts.out, images, labels, iface.display, opts.force, opts.allow_nonfinite, text)
    if gen.last_plan is not None and gen.last_plan.pieces > 1:
        info(f"  rendered in {gen.last_plan.pieces} tiles to stay within the memory budget")
    if getattr(gen, "compile", False):
        first = getattr(gen, "first_call_s", {})
        info(f"  torch.compile: {len(first)} input shape(s), first calls (compilation, CUDA-graph capture) "
             f"{sum(first.values()):.1f} s in all")
    for p in paths:
        info(f"wrote {p}")
    return paths


def run_metadata(gen: Generator) -> dict[str, str] | None:
    """PNG text of how the images were made, for runs off the CPU FP32 reference path (device,
    precision, compile); None on that path, whose files stay byte for byte as they were."""
    run = getattr(gen, "run_info", None)
    if run is None or (run["device"] == "cpu" and run["precision"] == "fp32" and not run["compile"]):
        return None
    import json

    return {"inrgan-export:run": json.dumps(run, sort_keys=True)}


def render_streamed(gen: Generator, theta_of, size: tuple[int, int], opts: RenderOptions,
                    labels: list[str], paths: list[Path], kind: str, text: dict[str, str] | None = None) -> list[Path]:
    """Tiles go straight into memory-mapped files: the ``.npy`` output itself, or one image's
    float32 scratch map that is then encoded to PNG band by band. All outputs are published
    together at the end (all or nothing)."""
    from ..core.imageio import check_finite, discard, publish_all, temp_path, write_error, write_png_streamed

    h, w = size
    grid = gen.grid(size, opts.window)
    rows = band_rows(w, gen.max_memory)
    pairs: list[tuple[Path, Path]] = []
    scratch_path: Path | None = None
    try:
        if kind == "npy":
            tmp = temp_path(paths[0])
            pairs.append((tmp, paths[0]))
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(len(labels), 3, h, w))
            for i in range(len(labels)):
                gen.render_on(theta_of(i), grid, out=out[i : i + 1])
                if not opts.allow_nonfinite:
                    check_finite(out[i : i + 1], labels, first_index=i)
            out.flush()
            del out
        else:
            scratch_path = temp_path(paths[0].with_suffix(".raw"))
            scratch = np.memmap(scratch_path, dtype=np.float32, mode="w+", shape=(1, 3, h, w))
            for i, path in enumerate(paths):
                gen.render_on(theta_of(i), grid, out=scratch)
                if not opts.allow_nonfinite:
                    check_finite(scratch, labels, first_index=i)
                tmp = temp_path(path)
                pairs.append((tmp, path))
                write_png_streamed(tmp, scratch[0], gen.interface.display, rows, text=text)
            del scratch
    except OSError as e:
        discard(pairs)
        raise write_error(pairs[-1][1] if pairs else paths[0], e) from None
    except BaseException:
        discard(pairs)
        raise
    finally:
        if scratch_path is not None:
            scratch_path.unlink(missing_ok=True)
    publish_all(pairs, opts.force)
    return paths


def truncation_inputs(iface, psi: float | None, batch: int) -> list[np.ndarray]:
    """``--truncation ψ`` as the hypernetwork's extra input (family sg2's ``truncation_psi``)."""
    if psi is None:
        return []
    if "truncation_psi" not in iface.hypernet_inputs:
        raise UsageError(f"--truncation: family {iface.family} has no truncation input (only the sg2 family takes one)")
    if iface.hypernet_inputs[1:2] != ("truncation_psi",):
        raise UsageError(f"--truncation: this generator's hypernetwork inputs are {', '.join(iface.hypernet_inputs)}")
    return [np.full(batch, psi, dtype=np.float32)]
