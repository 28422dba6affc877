"""Typed errors: each carries the CLI exit code and a one-line message.

Exit codes (the CLI contract): 0 ok, 2 bad input or usage, 3 requested backend not
available here, 4 parity gate failed, 1 anything else.
"""
from __future__ import annotations


class InrganError(Exception):
    """Base class. ``str(err)`` is the one-line message the CLI prints."""

    exit_code = 1


class UsageError(InrganError):
    """Bad command-line usage or option value."""

    exit_code = 2


class CheckpointError(InrganError):
    """A checkpoint that is corrupt, foreign, or does not match its declared architecture."""

    exit_code = 2


class ConfigError(InrganError):
    """A model config that names an unknown or unsupported setting."""

    exit_code = 2


class ShapeError(InrganError):
    """An input of the wrong shape or size (latent width, render size, window)."""

    exit_code = 2


class InputValueError(InrganError):
    """An input with invalid values (NaN/Inf latents)."""

    exit_code = 2


class BundleError(InrganError):
    """A bundle directory that is missing files, fails its checksums or has an unknown manifest."""

    exit_code = 2


class OutputError(InrganError):
    """An output location that exists (without --force) or cannot be written."""

    exit_code = 2


class UnsupportedOption(InrganError):
    """A target/precision/device combination that this tool or machine cannot run."""

    exit_code = 2


class BackendUnavailable(InrganError):
    """The requested runtime backend is not installed or not usable on this machine."""

    exit_code = 3


class ParityError(InrganError):
    """An exported graph disagrees with the PyTorch reference beyond the gate."""

    exit_code = 4
