"""Runtimes: one `Generator` interface, one implementation per backend, one registry.

``open_bundle(path, backend=...)`` opens an exported bundle. The PyTorch reference
(``inrgan_export.load.sources.open_checkpoint``) runs checkpoints and sits above this layer,
since it needs the families' models. Adding a backend is one module here plus one line in
:data:`BACKENDS`; ``bench``, ``verify`` and the CLI iterate the registry. (The C++ runtime
keeps its own list, ``runtimes/cpp``.)
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from ..core.bundle import Bundle
from ..core.errors import ParityError, UsageError
from .base import Generator, Interface, default_max_memory, failed_gate, parse_bytes


@dataclass(frozen=True)
class BackendSpec:
    name: str
    #: "module:Class" under inrgan_export.backends, imported on use so that a missing library
    #: only matters when that backend is asked for; "" for the PyTorch reference
    impl: str
    #: what it runs: "bundles", or "checkpoints" (the reference)
    runs: str = "bundles"
    #: part of `bench`'s default set
    benched_by_default: bool = True

    def load(self) -> type[Generator]:
        if not self.impl:
            raise UsageError(f"backend {self.name} runs checkpoints, not bundles; pass the checkpoint (or demo:<preset>) instead")
        module, cls = self.impl.split(":")
        return getattr(importlib.import_module(f"{__name__}.{module}"), cls)


BACKENDS: dict[str, BackendSpec] = {
    spec.name: spec
    for spec in (
        BackendSpec("torch", "", runs="checkpoints"),
        BackendSpec("onnxruntime", "onnxruntime_backend:OnnxRuntimeGenerator"),
        BackendSpec("openvino", "openvino_backend:OpenVINOGenerator"),
        BackendSpec("tensorrt", "tensorrt_backend:TensorRTGenerator", benched_by_default=False),
        # needs torch on the host (ExecuTorch's Python runtime); the mobile extra
        BackendSpec("executorch", "executorch_backend:ExecuTorchGenerator", benched_by_default=False),
    )
}


def backend_spec(name: str) -> BackendSpec:
    if name not in BACKENDS:
        raise UsageError(f"unknown backend {name!r}; valid: {', '.join(BACKENDS)}")
    return BACKENDS[name]


def open_bundle(
    path: str | Path,
    backend: str | None = None,
    device: str = "CPU",
    max_memory: int | None = None,
    threads: int | None = None,
    verify_checksums: bool = True,
    allow_failed_parity: bool = False,
) -> Generator:
    """Open a bundle with one backend; the default is the backend the bundle was built for.

    A backend whose recorded gate failed (parity for its path, or the INT8 gate) is refused
    with a ParityError (exit 4) unless ``allow_failed_parity``: its images are known to be
    wrong. ``verify`` and ``inspect`` do not go through here and still open such bundles."""
    bundle = Bundle.open(path, verify_checksums=verify_checksums)
    name = backend or bundle.manifest.default_backend
    spec = backend_spec(name)
    why = failed_gate(bundle.manifest, name)
    if why is not None and not allow_failed_parity:
        raise ParityError(f"bundle {path} refuses backend {name}: {why}; run `inrgan-export verify {path}` for the "
                          "report, or pass --allow-failed-parity (allow_failed_parity=True) to use it anyway")
    impl = spec.load()
    return impl(bundle, device=device, max_memory=max_memory, threads=threads)


__all__ = ["BACKENDS", "BackendSpec", "Generator", "Interface", "backend_spec", "default_max_memory", "open_bundle",
           "parse_bytes"]
