"""Latents: ``--seed`` lists and ``--latent`` files.

Seed ``s`` means ``numpy.random.RandomState(s).randn(1, z_dim)`` (MT19937 with numpy's
legacy Gaussian transform), as in the authors' ``generate.py``, cast to float32. The C++
runtime reproduces it bit for bit; tests pin it with golden vectors.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import InputValueError, ShapeError, UsageError

MAX_SEED = 2**32 - 1
MAX_SEEDS = 4096


def parse_seeds(text: str, limit: int = MAX_SEEDS) -> list[int]:
    """``"3"``, ``"0-7"``, ``"1,5,9"`` or combinations such as ``"0-3,9"``; at most ``limit``
    seeds, counted before a range is expanded (``0-4294967295`` is refused at once)."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part[1:]:
                lo_s, hi_s = part.split("-", 1)
                lo, hi = int(lo_s), int(hi_s)
                if hi < lo:
                    raise ValueError
                span = range(lo, hi + 1)
            else:
                span = range(int(part), int(part) + 1)
        except ValueError:
            raise UsageError(f"seed list {text!r} is not N, A-B or N,M,... (e.g. 3, 0-7, 1,5,9)") from None
        if len(seeds) + len(span) > limit:
            raise UsageError(f"seed list {text!r} names more than {limit} seeds")
        seeds.extend(span)
    bad = [s for s in seeds if not 0 <= s <= MAX_SEED]
    if bad:
        raise UsageError(f"seed {bad[0]} is out of range: seeds are integers in 0..{MAX_SEED}")
    return seeds


def latent_from_seed(seed: int, z_dim: int) -> np.ndarray:
    return np.random.RandomState(seed).randn(1, z_dim).astype(np.float32)


def latents_from_seeds(seeds: list[int], z_dim: int) -> np.ndarray:
    return np.concatenate([latent_from_seed(s, z_dim) for s in seeds], axis=0)


def load_latents(path: str | Path, z_dim: int) -> np.ndarray:
    """A ``.npy`` of float latents [N, z_dim] (or one [z_dim] vector); never unpickles."""
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise UsageError(f"latent file {path} does not exist") from None
    except (ValueError, OSError) as e:
        raise UsageError(f"latent file {path} is not a plain .npy array: {str(e).splitlines()[0][:120]}") from None
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != z_dim or arr.shape[0] < 1:
        raise ShapeError(f"latent file {path} has shape {list(arr.shape)}; this generator takes [N, {z_dim}] (z_dim={z_dim})")
    if not np.issubdtype(arr.dtype, np.floating):
        raise InputValueError(f"latent file {path} has dtype {arr.dtype}; expected float32")
    bad = ~np.isfinite(arr)
    if bad.any():
        row = int(np.nonzero(bad.any(axis=1))[0][0])
        raise InputValueError(f"latent file {path}: row {row} contains NaN or Inf; every value must be finite")
    return np.ascontiguousarray(arr, dtype=np.float32)


#: the latents every parity check and golden file uses (seed s = --seed s)
BANK_SEEDS = tuple(range(8))


def latent_bank(z_dim: int) -> np.ndarray:
    return latents_from_seeds(list(BANK_SEEDS), z_dim)
