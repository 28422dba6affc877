"""The public Python export API: what ``inrgan-export SRC --target T`` does, as a function.

    import inrgan_export
    bundle = inrgan_export.export("demo:tiny", target="openvino", precision="fp32", out="tiny_ov/")
    print(bundle.manifest.interface.native_size, bundle.manifest["parity"]["passed"])
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .core.bundle import Bundle
from .app.options import ExportOptions


def export(source: str | Path, target: str = "onnx", precision: str = "fp32", out: str | Path | None = None, *,
           force: bool = False, quiet: bool = False, **options: Any) -> Bundle:
    """Export a checkpoint (``.pt``), the authors' ``.pkl`` or ``demo:<preset>`` to a bundle and
    return it, opened and checksum-verified.

    ``options`` are the remaining :class:`~inrgan_export.app.options.ExportOptions` fields
    (``device``, ``max_memory``, ``threads``, ``compress_weights``, ``min_res``/``opt_res``/``max_res``
    as ``(H, W)``, ``max_batch``, ``calib_latents`` (a count or a ``Path`` to a ``.npy``),
    ``calib_method``, ``min_psnr``). Errors are :class:`~inrgan_export.core.errors.InrganError`
    subclasses with the CLI's one-line message and ``exit_code``. A gate that fails after the
    bundle was published (parity: ``ParityError``; TensorRT missing: ``BackendUnavailable``) is
    raised too, with the published bundle's path in ``err.bundle``. ``quiet=True``: no progress
    or tables on stderr (errors are raised, as always)."""
    from .app.pipeline import export_bundle
    from .core import log

    source = str(source)
    if out is None:
        stem = source.split(":", 1)[1] if source.startswith("demo:") else Path(source).stem
        out = f"{stem}_{target}"
    was_quiet, log.QUIET = log.QUIET, quiet or log.QUIET
    try:
        result = export_bundle(ExportOptions(source=source, target=target, precision=precision, out=Path(out), force=force,
                                             **options))
    finally:
        log.QUIET = was_quiet
    if result.error is not None:
        result.error.bundle = result.out  # type: ignore[attr-defined]
        raise result.error
    return Bundle.open(result.out)
