"""Runtimes: one `Generator` interface, one implementation per backend.

``open_bundle(path, backend=...)`` opens an exported bundle; ``open_checkpoint(src)`` runs a
checkpoint (or ``demo:<preset>``) with the PyTorch reference backend.
"""
from __future__ import annotations

from pathlib import Path

from ..bundle import Bundle
from ..errors import UsageError
from .base import Generator, Interface, default_max_memory, parse_bytes

#: backend name → (module, class); imported lazily so a missing backend library only
#: matters when that backend is asked for.
BACKENDS = {
    "torch": None,  # needs a checkpoint, not a bundle
    "onnxruntime": ("onnxruntime_backend", "OnnxRuntimeGenerator"),
    "tensorrt": ("tensorrt_backend", "TensorRTGenerator"),
    "openvino": ("openvino_backend", "OpenVINOGenerator"),
}


def open_bundle(
    path: str | Path,
    backend: str | None = None,
    device: str = "CPU",
    max_memory: int | None = None,
    threads: int | None = None,
    verify_checksums: bool = True,
) -> Generator:
    """Open a bundle with one backend; the default is the backend the bundle was built for."""
    bundle = Bundle.open(path, verify_checksums=verify_checksums)
    backend = backend or bundle.manifest.get("default_backend", "onnxruntime")
    if backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r}; valid: {', '.join(BACKENDS)}")
    if BACKENDS[backend] is None:
        raise UsageError(f"backend {backend} runs checkpoints, not bundles; pass the checkpoint (or demo:<preset>) instead")
    module, cls = BACKENDS[backend]
    import importlib

    impl = getattr(importlib.import_module(f"{__name__}.{module}"), cls)
    return impl(bundle, device=device, max_memory=max_memory, threads=threads)


def open_checkpoint(src: str, max_memory: int | None = None, threads: int | None = None) -> Generator:
    """The PyTorch reference for a checkpoint path or ``demo:<preset>``."""
    from ..checkpoint import load_source
    from .torch_backend import TorchGenerator

    ckpt = load_source(src)
    return TorchGenerator(ckpt.build(), ckpt.family_spec, max_memory=max_memory, threads=threads)


__all__ = ["Generator", "Interface", "open_bundle", "open_checkpoint", "default_max_memory", "parse_bytes", "BACKENDS"]
