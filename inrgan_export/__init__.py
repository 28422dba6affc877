"""inrgan-export: turn trained INR-GAN generators into deployable artifacts.

Python API::

    from inrgan_export import open_bundle
    with open_bundle("church_onnx/") as g:
        theta = g.hypernet(z)
        img = g.render(theta, (256, 256))
"""
from __future__ import annotations

__version__ = "0.1.0"


def open_bundle(*args, **kwargs):
    """Open an exported bundle with one backend (see :func:`inrgan_export.runtime.open_bundle`)."""
    from .runtime import open_bundle as _open

    return _open(*args, **kwargs)


def open_checkpoint(*args, **kwargs):
    """Run a checkpoint or ``demo:<preset>`` with the PyTorch reference backend."""
    from .runtime import open_checkpoint as _open

    return _open(*args, **kwargs)


__all__ = ["open_bundle", "open_checkpoint", "__version__"]
