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


def open_bundle(*args, **kwargs):
    """Open an exported bundle with one backend (see :func:`inrgan_export.backends.open_bundle`)."""
    from .backends import open_bundle as _open

    return _open(*args, **kwargs)


def open_checkpoint(*args, **kwargs):
    """Run a checkpoint or ``demo:<preset>`` with the PyTorch reference backend."""
    from .load.sources import open_checkpoint as _open

    return _open(*args, **kwargs)


def export(*args, **kwargs):
    """Export a checkpoint, ``.pkl`` or ``demo:<preset>`` to a bundle (see :func:`inrgan_export.api.export`)."""
    from .api import export as _export

    return _export(*args, **kwargs)


def inspect(*args, **kwargs):
    """What a bundle holds, as a dict (see :func:`inrgan_export.app.inspect_bundle.inspect_bundle`)."""
    from .app.inspect_bundle import inspect_bundle

    return inspect_bundle(*args, **kwargs)


def interpolate(*args, **kwargs):
    """θ (or images) between two latents (see :func:`inrgan_export.app.interpolation.interpolate`)."""
    from .app.interpolation import interpolate as _interpolate

    return _interpolate(*args, **kwargs)


__all__ = ["export", "inspect", "interpolate", "open_bundle", "open_checkpoint", "__version__"]
