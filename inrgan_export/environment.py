"""Versions of the libraries that made an artifact, for the manifest and benchmark records.
Each library is imported only if installed, so this is safe in a runtime-only install."""
from __future__ import annotations

import importlib
import platform

_LIBRARIES = ("numpy", "torch", "onnx", "onnxruntime", "openvino")


def library_versions() -> dict[str, str]:
    from . import __version__

    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = importlib.import_module(name).__version__
        except ImportError:
            continue
    versions["inrgan_export"] = __version__
    return versions
