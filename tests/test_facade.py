"""The top-level facade: real signatures (not ``*args, **kwargs``) and the base error type."""
from __future__ import annotations

import inspect

import inrgan_export


def test_facade_functions_show_their_real_parameters():
    assert list(inspect.signature(inrgan_export.export).parameters)[:4] == ["source", "target", "precision", "out"]
    assert "quiet" in inspect.signature(inrgan_export.export).parameters
    assert "backend" in inspect.signature(inrgan_export.open_bundle).parameters
    assert "verify_checksums" in inspect.signature(inrgan_export.inspect).parameters


def test_the_base_error_is_at_the_top_level():
    from inrgan_export.core.errors import BackendUnavailable, ParityError, UsageError

    assert all(issubclass(e, inrgan_export.InrganError) for e in (UsageError, ParityError, BackendUnavailable))
    assert set(inrgan_export.__all__) <= set(dir(inrgan_export))
