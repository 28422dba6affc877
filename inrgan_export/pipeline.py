"""The commands, composed from the pipeline's steps in the order data flows:
load (checkpoint) → split → export (ONNX) → verify (parity) → bundle."""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .bundle import MANIFEST_VERSION, SCHEMA, Bundle, BundleWriter, library_versions, write_manifest
from .checkpoint import Checkpoint, load_checkpoint, load_source, sha256_file
from .errors import BundleError, ParityError, UsageError
from .export import export_graph
from .families import get_family
from .grid import Window
from .latents import latents_from_seeds, load_latents
from .log import info, progress, step
from .options import ConvertOptions, ExportOptions, RenderOptions, VerifyOptions, check_target
from .runtime import open_bundle
from .runtime.base import Generator
from .runtime.onnxruntime_backend import OnnxRuntimeGenerator
from .runtime.torch_backend import TorchGenerator
from .split import GraphDef, split
from .verify import (
    GOLDEN,
    PARITY_BATCH,
    ParityGrid,
    ParityReport,
    golden_manifest,
    latent_bank,
    load_golden,
    parity_grids,
    run_parity,
    save_golden,
    theta_check,
    write_report,
)


# ------------------------------------------------------------------ export
@dataclass(frozen=True)
class ExportResult:
    out: Path
    report: ParityReport


def export_bundle(opts: ExportOptions) -> ExportResult:
    target = check_target(opts.target, opts.precision)
    writer = BundleWriter(opts.out, opts.force)
    writer.check()  # before any expensive work
    with step(f"loading {opts.source}"):
        ckpt = load_source(opts.source)
        model = ckpt.build()
    family = ckpt.family_spec
    spec = family.export_spec
    graphs = split(model, spec)
    with writer as tmp:
        exported = {}
        for graph in graphs:
            path = tmp / f"{graph.name}.onnx"
            with step(f"exporting {graph.name}.onnx (opset {spec.opset}, dynamic batch/height/width)", path):
                exported[graph.name] = export_graph(graph, model, spec, path, debug=opts.debug)
        reference = TorchGenerator(model, family, max_memory=opts.max_memory, threads=opts.threads)
        manifest = build_manifest(ckpt, model, graphs, exported, target.name, opts.precision, target.backend, reference)
        candidate = OnnxRuntimeGenerator(Bundle(tmp, manifest), max_memory=opts.max_memory, threads=opts.threads)
        grids = parity_grids(model.native_size[0])
        z_bank = latent_bank(model.z_dim)
        with step("parity: ONNX Runtime vs PyTorch on " + ", ".join(g.label for g in grids)):
            report, refs, theta_ref = parity_against_torch(reference, candidate, grids, z_bank, spec.parity_atol)
        save_golden(tmp / GOLDEN, z_bank, theta_ref, refs, grids)
        native = grids[0]
        with candidate:
            png = (refs[native.key][0], candidate.generate(z_bank[:1], native.size, native.window)[0])
        write_report(report, tmp, png, family.display)
        manifest["golden"] = golden_manifest(grids)
        manifest["parity"] = report.summary()
        write_manifest(tmp, manifest)
    info(report.table())
    info(f"wrote bundle {opts.out}")
    if not report.passed:
        raise ParityError("parity gate failed: " + "; ".join(report.failures()[:3]) + f" (report: {opts.out}/parity.md)")
    return ExportResult(opts.out, report)


def parity_against_torch(
    reference: TorchGenerator, candidate: Generator, grids: list[ParityGrid], z_bank: np.ndarray, tol: float
) -> tuple[ParityReport, dict[str, np.ndarray], np.ndarray]:
    z4 = z_bank[:PARITY_BATCH]
    theta_ref = reference.hypernet(z_bank)
    ref_fn = lambda g: reference.render(theta_ref[:PARITY_BATCH], g.size, g.window)  # noqa: E731
    return _run_candidates(ref_fn, reference_name(), candidate, grids, z_bank, theta_ref, tol) + (theta_ref,)


def reference_name() -> str:
    import torch

    return f"PyTorch {torch.__version__} eager, float32, CPU"


def _run_candidates(ref_fn, ref_name, candidate: Generator, grids, z_bank, theta_ref, tol):
    paths = candidate_paths(candidate)
    total = len(grids) * len(paths) * 2
    with candidate, progress(total, "parity") as bar:
        report, refs = run_parity(ref_fn, ref_name, paths, grids, z_bank, candidate.interface.display, tol, bar)
        theta = candidate.hypernet(z_bank[: theta_ref.shape[0]])
        report.theta = theta_check(theta_ref, theta, f"{candidate.backend} hypernet")
    return report, refs


def candidate_paths(candidate: Generator) -> dict[str, Any]:
    name = candidate.backend
    return {
        f"{name} split": lambda z, g: candidate.generate(z, g.size, g.window),
        f"{name} fused": lambda z, g: candidate.generate_fused(z, g.size, g.window),
    }


def build_manifest(
    ckpt: Checkpoint,
    model,
    graphs: list[GraphDef],
    exported: dict,
    target: str,
    precision: str,
    backend: str,
    reference: TorchGenerator,
) -> dict[str, Any]:
    family = ckpt.family_spec
    spec = family.export_spec
    return {
        "schema": SCHEMA,
        "manifest_version": MANIFEST_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "tool": f"inrgan-export {__version__}",
        "family": family.name,
        "target": target,
        "precision": precision,
        "default_backend": backend,
        "config": ckpt.config,
        "interface": reference.interface.to_manifest(),
        "graphs": {
            g.name: {
                "onnx": exported[g.name].path.name,
                "inputs": [t.to_manifest() for t in g.inputs],
                "outputs": [t.to_manifest() for t in g.outputs],
                "nodes": exported[g.name].nodes,
                "simplified_with_onnxslim": exported[g.name].simplified,
            }
            for g in graphs
        },
        "theta_layout": [
            {"name": s.name, "offset": s.offset, "size": s.size, "kind": s.kind,
             "parts": [{"name": n, "shape": list(shape)} for n, shape in s.parts]}
            for s in model.theta_segments
        ],
        "opset": spec.opset,
        "versions": library_versions(),
        "provenance": {
            **ckpt.provenance,
            "licence_note": family.licence_note,
        },
    }


# ------------------------------------------------------------------ verify
def verify_bundle(opts: VerifyOptions) -> ParityReport:
    with step(f"opening {opts.bundle} (checking SHA-256 of every file)"):
        bundle = Bundle.open(opts.bundle)
    candidate = open_bundle(opts.bundle, max_memory=opts.max_memory, threads=opts.threads, verify_checksums=False)
    tol = get_family(bundle.family).export_spec.parity_atol
    display = candidate.interface.display
    if opts.reference:
        ckpt = load_source(opts.reference)
        if ckpt.family != bundle.family or ckpt.config != bundle.manifest["config"]:
            raise UsageError(
                f"reference {opts.reference} is a different model from bundle {opts.bundle} (family or config differ)"
            )
        reference = TorchGenerator(ckpt.build(), ckpt.family_spec, max_memory=opts.max_memory, threads=opts.threads)
        grids = parity_grids(reference.interface.native_size[0])
        z_bank = latent_bank(reference.interface.z_dim)
        with step("parity against the checkpoint: " + ", ".join(g.label for g in grids)):
            report, refs, _ = parity_against_torch(reference, candidate, grids, z_bank, tol)
    else:
        z_bank, theta_ref, refs, grids = load_golden(bundle.path, bundle.manifest)
        with step("parity against the bundle's golden reference: " + ", ".join(g.label for g in grids)):
            report, refs = _run_candidates(
                lambda g: refs[g.key], reference_name() + " (stored in golden.npz)", candidate, grids, z_bank, theta_ref, tol
            )
    info(report.table())
    if opts.out is not None:
        native = grids[0]
        with candidate:
            png = (refs[native.key][0], candidate.generate(z_bank[:1], native.size, native.window)[0])
        opts.out.mkdir(parents=True, exist_ok=True)
        write_report(report, opts.out, png, display)
        info(f"wrote report to {opts.out}")
    if not report.passed:
        raise ParityError("parity gate failed: " + "; ".join(report.failures()[:3]))
    return report


# ------------------------------------------------------------------ render
def open_source(source: str, backend: str | None, device: str, max_memory: int | None, threads: int | None) -> Generator:
    from .bundle import is_bundle

    if Path(source).is_dir():
        if not is_bundle(source):
            raise BundleError(f"{source} is a directory without manifest.json, not a bundle")
        return open_bundle(source, backend=backend, device=device, max_memory=max_memory, threads=threads)
    if backend not in (None, "torch"):
        raise UsageError(
            f"backend {backend} runs bundles; export {source} first (inrgan-export export {source} --target onnx -o DIR), "
            "or use --backend torch"
        )
    ckpt = load_source(source)
    return TorchGenerator(ckpt.build(), ckpt.family_spec, max_memory=max_memory, threads=threads)


def render(opts: RenderOptions) -> list[Path]:
    from .imageio import write_images

    gen = open_source(opts.source, opts.backend, opts.device, opts.max_memory, opts.threads)
    iface = gen.interface
    if opts.latent is not None:
        z = load_latents(opts.latent, iface.z_dim)
        labels = [f"{i:04d}" for i in range(z.shape[0])]
    else:
        seeds = list(opts.seeds or (0,))
        z = latents_from_seeds(seeds, iface.z_dim)
        labels = [f"seed{s:04d}" for s in seeds]
    size = opts.size or iface.native_size
    with gen, step(f"rendering {len(labels)} image(s) at {size[0]}x{size[1]} with {gen.backend}"):
        images = gen.generate(z, size, opts.window)
    paths = write_images(opts.out, images, labels, iface.display)
    if gen.last_plan is not None and gen.last_plan.pieces > 1:
        info(f"  rendered in {gen.last_plan.pieces} tiles to stay within the memory budget")
    for p in paths:
        info(f"wrote {p}")
    return paths


# ------------------------------------------------------------------ convert
def convert(opts: ConvertOptions) -> Path:
    """Import a checkpoint of the authors' paper-time code into our format."""
    import torch

    from .families.paper.authors import convert_state_dict, read_yaml
    from .families.paper.config import PaperConfig

    src = opts.source
    if not src.is_file():
        raise UsageError(f"source {src} does not exist")
    if opts.config is None:
        raise UsageError(f"converting {src} needs its config: --config CONFIG.yml (the experiment's config or inr-gan.yml with --dataset)")
    if opts.out.exists() and not opts.force:
        raise UsageError(f"output {opts.out} exists; pass --force to overwrite it")
    with step(f"reading {src} and {opts.config}"):
        cfg = PaperConfig.from_authors_yaml(read_yaml(opts.config), opts.dataset)
        try:
            state = torch.load(src, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - any failure of the safe loader is one message
            raise _foreign(src, e) from None
        if not isinstance(state, dict):
            raise _foreign(src, TypeError(f"holds a {type(state).__name__}, not a state dict"))
        state_dict = convert_state_dict(state, cfg)
    ckpt = Checkpoint(
        family="paper",
        config=cfg.to_dict(),
        state_dict=state_dict,
        provenance={
            "origin": f"converted from {src.name} (authors' paper-time code, archive/original-implementation)",
            "source_sha256": sha256_file(src),
            "config_file": opts.config.name,
            "config_sha256": sha256_file(opts.config),
            "dataset_section": opts.dataset,
            "licence": get_family("paper").licence_note,
        },
    )
    ckpt.build()  # strict load: names any mismatch before anything is written
    with step(f"writing {opts.out}", opts.out):
        ckpt.save(opts.out, force=opts.force)
    load_checkpoint(opts.out)  # round trip through the safe loader
    return opts.out


def _foreign(path: Path, err: Exception):
    from .errors import CheckpointError

    text = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
    return CheckpointError(f"{path} is not a plain PyTorch state dict that can be loaded safely: {text}")
