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
MAX_NPY_HEADER = 10_000  # numpy's own default limit on a header it parses


def parse_seeds(text: str, limit: int = MAX_SEEDS, beyond: str = "") -> list[int]:
    """``"3"``, ``"0-7"``, ``"1,5,9"`` or combinations such as ``"0-3,9"``; at most ``limit``
    seeds, counted before a range is expanded (``0-4294967295`` is refused at once); ``beyond``
    says what to use for more."""
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
        if len(seeds) + len(span) > limit:  # counted before it is expanded
            raise UsageError(f"seed list {text!r} names {len(seeds) + len(span)} seeds; at most {limit} per run{beyond}")
        seeds.extend(span)
    bad = [s for s in seeds if not 0 <= s <= MAX_SEED]
    if bad:
        raise UsageError(f"seed {bad[0]} is out of range: seeds are integers in 0..{MAX_SEED}")
    return seeds


def latent_from_seed(seed: int, z_dim: int) -> np.ndarray:
    return np.random.RandomState(seed).randn(1, z_dim).astype(np.float32)


def latents_from_seeds(seeds: list[int], z_dim: int) -> np.ndarray:
    return np.concatenate([latent_from_seed(s, z_dim) for s in seeds], axis=0)


def check_npy_header(path: str | Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from a ``.npy`` header, checked against the file before any data is
    read: the declared array must be a plain numeric one whose bytes the file holds (a header
    may claim any shape; numpy would allocate it first)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            return npy_header_of(f, size, f"latent file {path}")
    except FileNotFoundError:
        raise UsageError(f"latent file {path} does not exist") from None


def npy_header_of(f, size: int, what: str) -> tuple[tuple[int, ...], np.dtype]:
    """:func:`check_npy_header` on an open binary file of ``size`` bytes (a file, or a request
    body in memory); ``what`` names it in the one-line error."""
    from numpy.lib import format as npy

    try:
        version = npy.read_magic(f)
        width = 2 if version == (1, 0) else 4
        hlen = int.from_bytes(f.read(width), "little")
        if hlen > min(MAX_NPY_HEADER, size - f.tell()):  # numpy would read (allocate) it before checking
            raise ValueError(f"its header declares {hlen:,} bytes (at most {MAX_NPY_HEADER:,}, and within the file)")
        f.seek(-width, 1)
        if version == (1, 0):
            shape, _, dtype = npy.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = npy.read_array_header_2_0(f)
        else:
            raise ValueError(f"format version {version[0]}.{version[1]} (this tool reads 1.0 and 2.0)")
        offset = f.tell()
    except Exception as e:  # noqa: BLE001 - numpy's header parser fails in many ways on a damaged (bounded) header
        raise UsageError(f"{what} is not a plain .npy array: {str(e).splitlines()[0][:120] if str(e).strip() else type(e).__name__}") from None
    if dtype.hasobject:
        raise UsageError(f"{what} is not a plain .npy array: it holds Python objects (dtype {dtype}); expected float32")
    count = 1
    for n in shape:
        count *= n
    declared = count * dtype.itemsize
    if declared > size - offset:
        raise ShapeError(
            f"{what} declares shape {list(shape)} of {dtype} ({declared:,} bytes) but holds {size - offset:,} bytes of data"
        )
    return tuple(shape), dtype


def load_latents(path: str | Path, z_dim: int, max_rows: int | None = None) -> np.ndarray:
    """A ``.npy`` of float latents [N, z_dim] (or one [z_dim] vector); never unpickles, and
    reads the data only after its header was checked against the file size (and, with
    ``max_rows``, its row count against that limit)."""
    shape, _ = check_npy_header(path)
    if max_rows is not None and len(shape) == 2 and shape[0] > max_rows:
        raise UsageError(f"latent file {path} has {shape[0]:,} rows; render takes at most {max_rows} latents per run "
                         "(as --seed): split the file, or render large sets with render-many")
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
    with np.errstate(over="ignore"):  # a float64 beyond float32's range becomes Inf: refused below
        out = np.ascontiguousarray(arr, dtype=np.float32)
    bad = ~np.isfinite(out)
    if bad.any():
        row = int(np.nonzero(bad.any(axis=1))[0][0])
        raise InputValueError(f"latent file {path}: row {row} contains NaN or Inf (as float32); every value must be finite")
    return out


#: the latents every parity check and golden file uses (seed s = --seed s)
BANK_SEEDS = tuple(range(8))


def latent_bank(z_dim: int) -> np.ndarray:
    return latents_from_seeds(list(BANK_SEEDS), z_dim)
