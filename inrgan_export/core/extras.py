"""Optional parts of the install. The base install is the runtime (numpy, onnxruntime,
pillow); everything that needs PyTorch or another large library sits behind an extra, and an
action whose extra is missing stops with exit 3 and the ``pip install`` that brings it."""
from __future__ import annotations

from .errors import BackendUnavailable

#: extra → top-level modules it brings
EXTRAS: dict[str, tuple[str, ...]] = {
    "export": ("torch", "onnx", "onnxscript", "onnxslim", "polygraphy", "yaml", "matplotlib"),
    "openvino": ("openvino",),
    "tensorrt": ("tensorrt", "cuda"),
    "cluster": ("ray",),
    "mobile": ("executorch", "torch"),  # ExecuTorch's exporter and Python runtime need torch
    "video": ("av",),
}


def install_hint(extra: str) -> str:
    return f"pip install 'inrgan-export[{extra}]'"


def missing_extra(err: ModuleNotFoundError, action: str = "this command") -> BackendUnavailable | None:
    """The one-line exit-3 error for a module that one of our extras brings; None for any other
    missing module (a real bug, reported as such)."""
    root = (err.name or "").split(".")[0]
    for extra, modules in EXTRAS.items():
        if root in modules:
            return BackendUnavailable(f"{action} needs the '{extra}' extra ({root} is not installed): {install_hint(extra)}")
    return None
