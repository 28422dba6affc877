"""inrgan-export: turn trained INR-GAN generators into deployable artifacts.

Python API::

    import inrgan_export
    bundle = inrgan_export.export("demo:church", target="onnx", out="church_onnx/")   # the export extra
    with inrgan_export.open_bundle("church_onnx/") as g:                              # runtime only
        theta = g.hypernet(z)
        img = g.render(theta, (256, 256))
    info = inrgan_export.inspect("church_onnx/")
"""
from __future__ import annotations

from ._version import __version__


from .core.errors import InrganError


def __getattr__(name: str):
    """The facade's functions, imported on first use (the runtime install has no PyTorch), so
    that ``help()`` and ``inspect.signature`` show their real parameters and docstrings."""
    if name == "open_bundle":  # runtime only
        from .backends import open_bundle

        return open_bundle
    if name == "open_checkpoint":  # the export extra
        from .load.sources import open_checkpoint

        return open_checkpoint
    if name == "export":  # the export extra
        from .api import export

        return export
    if name == "inspect":  # runtime only
        from .app.inspect_bundle import inspect_bundle

        return inspect_bundle
    if name == "interpolate":  # θ (or images) between two latents
        from .app.interpolation import interpolate

        return interpolate
    raise AttributeError(f"module 'inrgan_export' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = ["InrganError", "export", "inspect", "interpolate", "open_bundle", "open_checkpoint", "__version__"]
