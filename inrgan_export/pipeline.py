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
from .compile import CompileContext, get_target
from .options import ConvertOptions, ExportOptions, RenderOptions, VerifyOptions
from .runtime import open_bundle
from .runtime.base import Generator
from .runtime.onnxruntime_backend import OnnxRuntimeGenerator
from .runtime.torch_backend import TorchGenerator
from .split import GraphDef, split
from .verify import (
    GOLDEN,
    Candidate,
    Feed,
    ParityReport,
    gate_for,
    generator_runner,
    golden_manifest,
    feed_metadata,
    golden_runner,
    latent_bank,
    load_golden,
    onnxrt_runner,
    parity_feeds,
    parity_grids,
    run_parity,
    save_golden,
    tensorrt_runner,
    theta_check,
    write_report,
)


# ------------------------------------------------------------------ export
@dataclass(frozen=True)
class ExportResult:
    out: Path
    report: ParityReport


def export_bundle(opts: ExportOptions) -> ExportResult:
    target = get_target(opts.target)
    target.check(opts)
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
            if exported[graph.name].from_cache:
                info("  (the same graph was traced before: taken from the user cache)")
        reference = TorchGenerator(model, family, max_memory=opts.max_memory, threads=opts.threads)
        manifest = build_manifest(ckpt, model, graphs, exported, target.name, opts.precision, target.default_backend, reference)
        compiled = target.compile(CompileContext(tmp, model, family, manifest, opts))
        merge_manifest(manifest, compiled.manifest)
        grids = parity_grids(model.native_size[0])
        z_bank = latent_bank(model.z_dim)
        feeds = parity_feeds(model.layout, reference.interface.hypernet_inputs[0], z_bank, grids, reference.interface.hypernet_inputs[1:])
        ref_runner = generator_runner(reference, "split", "torch reference")
        runtimes = target.runtimes(tmp, manifest, max_memory=opts.max_memory, threads=opts.threads)
        report, refs = check_bundle(runtimes, tmp, manifest, ref_runner, reference_name(), feeds, opts.threads)
        theta_ref = reference.hypernet(z_bank)
        theta_checks(report, runtimes, z_bank, theta_ref)
        save_golden(tmp / GOLDEN, z_bank, theta_ref, refs, feeds)
        write_report(report, tmp, first_images(runtimes, refs, feeds), family.display)
        manifest["golden"] = golden_manifest(grids)
        manifest["parity"] = report.summary()
        if ckpt.latent_bank is not None:  # fitted latents travel with the weights
            from .latent_bank import BANK_FILE, manifest_entry

            np.save(tmp / BANK_FILE, ckpt.latent_bank["latents"], allow_pickle=False)
            manifest["latent_bank"] = manifest_entry(ckpt.latent_bank)
        write_manifest(tmp, manifest)
    info(report.table())
    info(f"wrote bundle {opts.out}")
    if compiled.deferred_error is not None:
        raise compiled.deferred_error
    if not report.passed:
        raise ParityError("parity gate failed: " + "; ".join(report.failures()[:3]) + f" (report: {opts.out}/parity.md)")
    return ExportResult(opts.out, report)


def merge_manifest(manifest: dict[str, Any], extra: dict[str, Any]) -> None:
    """A target's manifest additions: ``graphs`` entries merge per graph, the rest is set."""
    for key, value in extra.items():
        if key == "graphs":
            for name, fields in value.items():
                manifest["graphs"].setdefault(name, {}).update(fields)
        else:
            manifest[key] = value


def check_bundle(runtimes, directory: Path, manifest: dict, ref_runner, ref_name: str, feeds: list[Feed],
                 threads: int | None) -> tuple[ParityReport, dict[str, np.ndarray]]:
    """Every runtime of the target (split and fused paths) plus Polygraphy's ONNX Runtime runner
    on the fused FP32 graph, against the reference, on the same feeds."""
    atol = get_family(manifest["family"]).export_spec.parity_atol
    int8_min = float((manifest.get("int8") or {}).get("gates", {}).get("worst_threshold_db", 30.0))
    candidates = []
    for rt in runtimes:
        for path in rt.paths:
            name = f"{rt.backend} {path}"
            gate = gate_for(rt.precision, atol, int8_min)
            candidates.append(Candidate(generator_runner(rt.generator, path, name), rt.backend, rt.precision, name, gate))
    generator_onnx = directory / manifest["graphs"]["generator"]["onnx"]
    name = "onnxruntime fused (polygraphy)"
    onnx_precision = manifest.get("onnx_precision", "fp32")  # precision-typed graphs (int8 Q/DQ, fp16)
    candidates.append(Candidate(onnxrt_runner(generator_onnx, name, threads), "onnxruntime", onnx_precision, name,
                                gate_for(onnx_precision, atol, int8_min)))
    trt = tensorrt_runner(directory, manifest, "tensorrt fused (polygraphy)")  # None without TensorRT and engines
    if trt is not None:
        p = manifest["tensorrt"]["precision"]
        candidates.append(Candidate(trt, "tensorrt", p, trt.name, gate_for(p, atol, int8_min)))
    display = get_family(manifest["family"]).display
    with step(f"parity of {len(candidates)} path(s) against {ref_name} on {len({f.grid.key for f in feeds})} grids"):
        with progress(len(feeds) * (len(candidates) + 1), "parity") as bar:
            return run_parity(ref_runner, ref_name, candidates, feeds, manifest["interface"]["output_name"], display, bar)


def theta_checks(report: ParityReport, runtimes, z_bank: np.ndarray, theta_ref: np.ndarray) -> None:
    for rt in runtimes:
        with rt.generator as gen:
            report.theta.append(theta_check(theta_ref, gen.hypernet(z_bank[: theta_ref.shape[0]]), f"{rt.backend} hypernet"))


def first_images(runtimes, refs: dict[str, np.ndarray], feeds: list[Feed]):
    """(reference, exported) images of the first latent on the native grid, for parity.png."""
    feed = next(f for f in feeds if f.batch == 1)
    with runtimes[0].generator as gen:
        out = gen.generate(feed.arrays[gen.interface.hypernet_inputs[0]], feed.grid.size, feed.grid.window)
    return refs[feed.key][0], out[0]


def reference_name() -> str:
    import torch

    return f"PyTorch {torch.__version__} eager, float32, CPU"


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
    manifest = bundle.manifest
    target = get_target(manifest["target"])
    iface = manifest["interface"]
    z_name = iface["hypernet_inputs"][0]
    layout = bundle.layout
    if opts.reference:
        ckpt = load_source(opts.reference)
        if ckpt.family != bundle.family or ckpt.config != manifest["config"]:
            raise UsageError(
                f"reference {opts.reference} is a different model from bundle {opts.bundle} (family or config differ)"
            )
        reference = TorchGenerator(ckpt.build(), ckpt.family_spec, max_memory=opts.max_memory, threads=opts.threads)
        grids = parity_grids(reference.interface.native_size[0])
        z_bank = latent_bank(reference.interface.z_dim)
        feeds = parity_feeds(layout, z_name, z_bank, grids, iface["hypernet_inputs"][1:])
        ref_runner = generator_runner(reference, "split", "torch reference")
        ref_name = reference_name()
        theta_ref = reference.hypernet(z_bank)
    else:
        z_bank, theta_ref, feeds, outputs = load_golden(bundle.path, manifest, layout, z_name)
        meta = feed_metadata(layout, z_name, int(iface["z_dim"]), iface["hypernet_inputs"][1:])
        ref_runner = golden_runner(outputs, iface["output_name"], "golden reference", meta)
        ref_name = reference_name() + " (stored in golden.npz)"
    runtimes = target.runtimes(bundle.path, manifest, max_memory=opts.max_memory, threads=opts.threads)
    report, refs = check_bundle(runtimes, bundle.path, manifest, ref_runner, ref_name, feeds, opts.threads)
    theta_checks(report, runtimes, z_bank, theta_ref)
    info(report.table())
    if opts.out is not None:
        opts.out.mkdir(parents=True, exist_ok=True)
        display = get_family(manifest["family"]).display
        write_report(report, opts.out, first_images(runtimes, refs, feeds), display)
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


def source_bank(source: str) -> dict[str, Any] | None:
    """The fitted latent bank of a bundle or checkpoint (None when it has none)."""
    from .bundle import is_bundle
    from .latent_bank import read_bundle_bank

    if Path(source).is_dir():
        if not is_bundle(source):
            raise BundleError(f"{source} is a directory without manifest.json, not a bundle")
        b = Bundle.open(source)
        return read_bundle_bank(b.path, b.manifest)
    return load_source(source).latent_bank


def render(opts: RenderOptions) -> list[Path]:
    from .imageio import write_images

    if opts.contact_sheet and (opts.size is not None or opts.window != Window()):
        raise UsageError("--contact-sheet chooses its own sizes and windows; drop --size and --window")
    if opts.contact_sheet and opts.out.suffix.lower() != ".png":
        raise UsageError(f"--contact-sheet writes one PNG; got -o {opts.out} (expected a .png path)")
    bank = source_bank(opts.source) if opts.latent_bank is not None else None
    gen = open_source(opts.source, opts.backend, opts.device, opts.max_memory, opts.threads)
    iface = gen.interface
    if opts.latent_bank is not None:
        from .latent_bank import select

        z, rows = select(bank, opts.latent_bank, opts.source)
        if z.shape[1] != iface.z_dim:
            raise BundleError(f"{opts.source}: its latent bank has width {z.shape[1]}, the generator takes {iface.z_dim}")
        labels = [f"bank{r:04d}" for r in rows]
    elif opts.latent is not None:
        z = load_latents(opts.latent, iface.z_dim)
        labels = [f"{i:04d}" for i in range(z.shape[0])]
    else:
        seeds = list(opts.seeds or (0,))
        z = latents_from_seeds(seeds, iface.z_dim)
        labels = [f"seed{s:04d}" for s in seeds]
    size = opts.size or iface.native_size
    extra = truncation_inputs(iface, opts.truncation, z.shape[0])
    if opts.contact_sheet:
        from .contact_sheet import write_contact_sheet

        with gen, step(f"rendering the contact sheet of {labels[0]} with {gen.backend}"):
            path = write_contact_sheet(gen, gen.hypernet(z[:1], *[e[:1] for e in extra]), opts.out, iface.display)
        info(f"wrote {path}")
        return [path]
    with gen, step(f"rendering {len(labels)} image(s) at {size[0]}x{size[1]} with {gen.backend}"):
        images = gen.render(gen.hypernet(z, *extra), size, opts.window)
    paths = write_images(opts.out, images, labels, iface.display)
    if gen.last_plan is not None and gen.last_plan.pieces > 1:
        info(f"  rendered in {gen.last_plan.pieces} tiles to stay within the memory budget")
    for p in paths:
        info(f"wrote {p}")
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


# ------------------------------------------------------------------ convert
def convert(opts: ConvertOptions) -> Path:
    """Import a checkpoint of the authors' paper-time code into our format."""
    import torch

    from .families.paper.authors import convert_state_dict, read_yaml
    from .families.paper.config import PaperConfig

    src = opts.source
    if not src.is_file():
        raise UsageError(f"source {src} does not exist")
    if src.suffix.lower() == ".pkl":
        return convert_network_pickle(opts)
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


def convert_network_pickle(opts: ConvertOptions) -> Path:
    """A StyleGAN2-ADA network pickle (the authors' released ``*.pkl``, family sg2) → our .pt;
    its architecture comes from the pickle itself, so no --config."""
    from .families.sg2.pickle_import import load_network_pickle

    if opts.config is not None or opts.dataset is not None:
        raise UsageError(f"{opts.source} is a network pickle that records its own architecture; drop --config/--dataset")
    if opts.out.exists() and not opts.force:
        raise UsageError(f"output {opts.out} exists; pass --force to overwrite it")
    with step(f"reading {opts.source} (restricted unpickler: nothing in it runs)"):
        ckpt = load_network_pickle(opts.source)
    with step(f"writing {opts.out}", opts.out):
        ckpt.save(opts.out, force=opts.force)
    load_checkpoint(opts.out)  # round trip through the safe loader
    return opts.out


def _foreign(path: Path, err: Exception):
    from .errors import CheckpointError

    text = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
    return CheckpointError(f"{path} is not a plain PyTorch state dict that can be loaded safely: {text}")
