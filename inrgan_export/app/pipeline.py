"""The export-side commands, composed from the layers below in the order data flows:
load (checkpoint) → split → export (ONNX, where the target wants it) → compile (target) →
verify (parity) → publish the bundle. Orchestration only: each step lives in its layer."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.bundle import Bundle, BundleWriter, write_manifest
from ..load.sources import load_checkpoint, load_source
from ..compile import CompileContext, get_target
from ..core.errors import InrganError, OutputError, ParityError, UsageError
from ..exporter.onnx_export import build_manifest, export_graph
from ..families import get_family, importer_for
from ..core.log import info, step
from .options import ConvertOptions, ExportOptions, VerifyOptions
from ..load.torch_backend import TorchGenerator
from ..load.split import split
from ..verify import (
    GOLDEN,
    ParityReport,
    check_runtimes,
    check_thetas,
    feed_metadata,
    first_images,
    generator_runner,
    golden_manifest,
    golden_runner,
    latent_bank,
    load_golden,
    parity_feeds,
    parity_grids,
    reference_name,
    save_golden,
    verdict_changes,
    write_report,
)
from ..core.grid import CHECK_MAX_MEMORY


# ------------------------------------------------------------------ export
#: the activation budget of one run during a parity report, unless --max-memory says
#: otherwise: the reference and every runtime hold their own buffers at once, and the report
#: must fit a laptop (the 2× grid is tiled within it)
PARITY_MAX_MEMORY = CHECK_MAX_MEMORY


def parity_memory(max_memory: int | None) -> int:
    return max_memory if max_memory is not None else PARITY_MAX_MEMORY


@dataclass(frozen=True)
class ExportResult:
    """A published bundle and its verdict. ``error`` is what the export ends with although the
    bundle was published complete: a failed parity or INT8 gate (exit 4) or a missing
    TensorRT (exit 3); the parity failure wins, since it says the artifacts are wrong."""

    out: Path
    report: ParityReport
    error: InrganError | None = None

    def to_json(self) -> dict:
        return {
            "command": "export",
            "bundle": str(self.out),
            "passed": self.report.passed and self.error is None,
            "error": None if self.error is None else {"exit_code": self.error.exit_code, "message": str(self.error)},
            "parity": self.report.summary(),
        }


def export_bundle(opts: ExportOptions) -> ExportResult:
    """Run an export; the returned result carries any error that came after publishing."""
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
        if target.needs_onnx:
            for graph in graphs:
                path = tmp / f"{graph.name}.onnx"
                with step(f"exporting {graph.name}.onnx (opset {spec.opset}, dynamic batch/height/width)", path):
                    exported[graph.name] = export_graph(graph, model, spec, path, debug=opts.debug)
                if exported[graph.name].from_cache:
                    info("  (the same graph was traced before: taken from the user cache)")
        memory = parity_memory(opts.max_memory)
        reference = TorchGenerator(model, family, max_memory=memory, threads=opts.threads)
        manifest = build_manifest(ckpt, model, graphs, exported, target.name, opts.precision, target.default_backend, reference)
        compiled = target.compile(CompileContext(tmp, model, family, manifest, opts, graphs))
        manifest = manifest.merged(compiled.manifest)
        grids = parity_grids(model.native_size[0])
        z_bank = latent_bank(model.z_dim)
        inputs = reference.interface.hypernet_inputs
        feeds = parity_feeds(model.layout, inputs[0], z_bank, grids, inputs[1:])
        ref_runner = generator_runner(reference, "split", "torch reference")
        runtimes = target.runtimes(tmp, manifest, max_memory=memory, threads=opts.threads)
        report, refs = check_runtimes(runtimes, tmp, manifest, ref_runner, reference_name(), feeds, opts.threads)
        theta_ref = reference.hypernet(z_bank)
        check_thetas(report, runtimes, z_bank, theta_ref, spec.parity_atol)
        save_golden(tmp / GOLDEN, z_bank, theta_ref, refs, feeds)
        write_report(report, tmp, first_images(runtimes, refs, feeds), family.display)
        checked = {"golden": golden_manifest(grids), "parity": report.summary()}
        if ckpt.latent_bank is not None:  # fitted latents travel with the weights
            from ..core.latent_bank import BANK_FILE, manifest_entry

            np.save(tmp / BANK_FILE, ckpt.latent_bank["latents"], allow_pickle=False)
            checked["latent_bank"] = manifest_entry(ckpt.latent_bank)
        write_manifest(tmp, manifest.merged(checked))
    info(report.table())
    info(f"wrote bundle {opts.out}")
    error = compiled.deferred_error
    if not report.passed:
        error = ParityError("parity gate failed: " + "; ".join(report.failures()[:3]) + f" (report: {opts.out}/parity.md)")
    return ExportResult(opts.out, report, error)


# ------------------------------------------------------------------ verify
def verify_bundle(opts: VerifyOptions, raise_on_failure: bool = True) -> ParityReport:
    with step(f"opening {opts.bundle} (checking SHA-256 of every file)"):
        bundle = Bundle.open(opts.bundle)
    if opts.out is not None:
        check_report_dir(opts.out, bundle.path)
    manifest = bundle.manifest
    target = get_target(manifest.target)
    iface = manifest.interface
    z_name = iface.hypernet_inputs[0]
    layout = iface.layout
    if opts.reference:
        ckpt = load_source(opts.reference)
        if ckpt.family != bundle.family or ckpt.config != manifest["config"]:
            raise UsageError(
                f"reference {opts.reference} is a different model from bundle {opts.bundle} (family or config differ)"
            )
        reference = TorchGenerator(ckpt.build(), ckpt.family_spec, max_memory=parity_memory(opts.max_memory), threads=opts.threads)
        z_bank = latent_bank(iface.z_dim)
        feeds = parity_feeds(layout, z_name, z_bank, parity_grids(iface.native_size[0]), iface.hypernet_inputs[1:])
        ref_runner = generator_runner(reference, "split", "torch reference")
        ref_name = reference_name()
        theta_ref = reference.hypernet(z_bank)
    else:
        golden = manifest.get("golden")
        if isinstance(golden, dict) and isinstance(golden.get("file"), str):
            bundle.listed_file(golden["file"], "golden.file")  # checked by Bundle.open only if listed
        z_bank, theta_ref, feeds, outputs = load_golden(bundle.path, manifest, layout, z_name)
        meta = feed_metadata(layout, z_name, iface.z_dim, iface.hypernet_inputs[1:])
        ref_runner = golden_runner(outputs, iface.output_name, "golden reference", meta)
        ref_name = reference_name() + " (stored in golden.npz)"
    runtimes = target.runtimes(bundle.path, manifest, max_memory=parity_memory(opts.max_memory), threads=opts.threads)
    report, refs = check_runtimes(runtimes, bundle.path, manifest, ref_runner, ref_name, feeds, opts.threads)
    check_thetas(report, runtimes, z_bank, theta_ref, get_family(manifest.family).export_spec.parity_atol)
    info(report.table())
    changed = verdict_changes(manifest.get("parity"), report)
    if changed is not None:  # bundles written before the scaled FP32 rule keep their recorded verdict
        info(changed)
    if opts.out is not None:
        write_report_atomically(opts.out, lambda tmp: write_report(report, tmp, first_images(runtimes, refs, feeds), iface.display))
        info(f"wrote report to {opts.out}")
    if raise_on_failure and not report.passed:
        raise ParityError("parity gate failed: " + "; ".join(report.failures()[:3]))
    return report


def check_report_dir(out: Path, bundle_path: Path) -> None:
    """``verify -o`` must not write into the bundle it verifies: its parity.json is a listed
    file, and rewriting it would make the bundle fail its own checksums."""
    root = bundle_path.resolve()
    target = out.resolve()
    if target == root or root in target.parents:
        raise UsageError(f"verify -o {out}: that is inside the bundle being verified; choose a directory outside {bundle_path}")
    if out.exists() and not out.is_dir():
        raise OutputError(f"verify -o {out}: exists and is not a directory")


def write_report_atomically(out: Path, write) -> None:
    """Write the report files into a temporary directory next to ``out``, then move each into
    ``out`` with a rename: a reader sees the old file or the new one, never a part of one."""
    import shutil
    import tempfile

    try:
        out.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".report.", suffix=".partial", dir=out))
    except OSError as e:
        raise OutputError(f"cannot write the report to {out}: {e.strerror}") from None
    try:
        write(tmp)
        for f in sorted(tmp.iterdir()):
            os.chmod(f, 0o644)
            os.replace(f, out / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------ convert
def convert(opts: ConvertOptions) -> Path:
    """Import a foreign checkpoint (a family's importer) into our ``.pt`` format."""
    src = opts.source
    if not src.is_file():
        raise UsageError(f"source {src} does not exist")
    with_config = opts.config is not None or opts.dataset is not None
    importer = importer_for(src, with_config)
    if importer is None:
        other = importer_for(src, not with_config)
        if other is not None and other.needs_config:
            raise UsageError(f"converting {src} needs its config: --config CONFIG.yml (the experiment's config or inr-gan.yml with --dataset)")
        if other is not None:
            raise UsageError(f"{src} records its own architecture ({other.description}); drop --config/--dataset")
        raise UsageError(f"{src}: no importer reads this file; convert takes the authors' gen_ema.pt with --config, or their .pkl")
    if opts.out.exists() and not opts.force:
        raise UsageError(f"output {opts.out} exists; pass --force to overwrite it")
    with step(f"reading {src} ({importer.description})"):
        ckpt = importer.load(src, config=opts.config, dataset=opts.dataset)
    with step(f"writing {opts.out}", opts.out):
        ckpt.save(opts.out, force=opts.force)
    load_checkpoint(opts.out)  # round trip through the safe loader
    return opts.out
