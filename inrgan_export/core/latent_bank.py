"""Latent banks: named latents that travel with a generator (torch-free).

A generator fitted as an auto-decoder (``demo:photos``) only makes sense at its fitted
latents, not at random seeds; the bank keeps them with the weights, in the checkpoint and in
every bundle exported from it (``latents.npy`` plus the manifest's ``latent_bank`` entry), so
``render SRC --latent-bank 3`` picks the same latent from either.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .errors import InputValueError, UsageError

BANK_FILE = "latents.npy"
SPLITS = ("train", "heldout")
MAX_BANK = 65536


def validate_bank(bank: Any) -> dict[str, Any]:
    """``{"latents": float32 [N, z], "names": [N] str, "split": [N] in SPLITS}``; raises
    ValueError naming what is wrong."""
    if not isinstance(bank, Mapping):
        raise ValueError(f"expected a mapping, got {type(bank).__name__}")
    lat = bank.get("latents")
    if hasattr(lat, "detach"):  # a torch tensor from a checkpoint
        lat = lat.detach().cpu().numpy()
    if not isinstance(lat, np.ndarray) or lat.ndim != 2 or not 0 < lat.shape[0] <= MAX_BANK or lat.shape[1] < 1:
        raise ValueError(f"latents must be a [N, z_dim] array with 1 <= N <= {MAX_BANK}")
    if lat.dtype.kind != "f" or not np.isfinite(lat).all():
        raise ValueError("latents must be finite floats")
    n = lat.shape[0]
    names, split = bank.get("names"), bank.get("split")
    if not isinstance(names, (list, tuple)) or len(names) != n or not all(isinstance(s, str) for s in names):
        raise ValueError(f"names must be a list of {n} strings")
    if not isinstance(split, (list, tuple)) or len(split) != n or not all(s in SPLITS for s in split):
        raise ValueError(f"split must be a list of {n} values in {SPLITS}")
    return {"latents": np.ascontiguousarray(lat, dtype=np.float32), "names": list(names), "split": list(split)}


def manifest_entry(bank: Mapping[str, Any]) -> dict[str, Any]:
    """The bundle manifest's ``latent_bank`` field (the latents themselves are ``latents.npy``)."""
    split = list(bank["split"])
    return {
        "file": BANK_FILE,
        "count": len(split),
        "z_dim": int(bank["latents"].shape[1]),
        "names": list(bank["names"]),
        "split": split,
        "counts": {s: split.count(s) for s in SPLITS},
    }


def select(bank: Mapping[str, Any] | None, spec: str, source: str) -> tuple[np.ndarray, list[int]]:
    """Rows of the bank named by ``spec`` (``3``, ``0-7``, ``1,5``, or ``train``/``heldout``).

    Raises one-line errors (exit 2): no bank in ``source``, bad syntax, index out of range."""
    if bank is None:
        raise UsageError(f"{source} has no latent bank; --latent-bank needs a fitted preset (e.g. demo:photos) or a bundle exported from one")
    n = len(bank["split"])
    spec = spec.strip()
    if spec in SPLITS:
        rows = [i for i, s in enumerate(bank["split"]) if s == spec]
    else:
        from .latents import parse_seeds

        try:
            rows = parse_seeds(spec)
        except Exception:  # noqa: BLE001 - parse_seeds names the syntax; restate it for a bank
            raise UsageError(f"--latent-bank {spec!r} is not an index list; expected e.g. 3, 0-7, 1,5, train or heldout") from None
    bad = [i for i in rows if not 0 <= i < n]
    if bad:
        raise InputValueError(f"--latent-bank index {bad[0]} is out of range; {source} has {n} latents (0-{n - 1})")
    return bank["latents"][rows], rows


def read_bundle_bank(directory, manifest: Mapping[str, Any]) -> dict[str, Any] | None:
    """The bank of a bundle (its manifest's ``latent_bank`` and ``latents.npy``, read without
    unpickling), or None when the bundle has none."""
    from pathlib import Path

    from .errors import BundleError

    entry = manifest.get("latent_bank")
    if entry is None:
        return None
    if not isinstance(entry, Mapping) or entry.get("file") != BANK_FILE:
        raise BundleError(f"bundle {directory}: field 'latent_bank' must name the file {BANK_FILE!r}")
    path = Path(directory) / BANK_FILE
    try:
        latents = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise BundleError(f"bundle {directory}: cannot read {BANK_FILE}: {e}") from None
    try:
        return validate_bank({"latents": latents, "names": entry.get("names"), "split": entry.get("split")})
    except ValueError as e:
        raise BundleError(f"bundle {directory}: invalid latent bank: {e}") from None
