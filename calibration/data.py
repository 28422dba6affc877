"""Calibration data from the generator's own prior: latents (seeded, disjoint from every
latent bank used by gates and parity reports) and coordinate grids across the deployment's
resolution range, including a non-square size and windows."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from ..core.grid import Window
from ..core.latents import latents_from_seeds, load_latents

#: calibration latents are seeds CALIB_SEED_BASE + i; the layer selection (sensitivity sweep
#: and the choice of float layers) uses seeds SELECTION_SEED_BASE + i; the held-out INT8 gate
#: uses seeds 0..GATE_LATENTS-1 and parity reports 0..7: the three sets never overlap, so the
#: gate's figures are not those the plan was tuned on
CALIB_SEED_BASE = 1_000_000
SELECTION_SEED_BASE = 2_000_000
GATE_LATENTS = 64
SELECTION_LATENTS = 64
METHODS = ("max", "percentile", "entropy")


@dataclass(frozen=True)
class CalibrationSpec:
    latents: int = 32
    method: str = "percentile"
    percentile: float = 99.999
    seed: int = CALIB_SEED_BASE
    #: (H, W) range of the deployment; None: ¼ native .. native
    min_res: tuple[int, int] | None = None
    max_res: tuple[int, int] | None = None
    #: cap on a calibration grid's pixels (activation statistics do not depend on density,
    #: and histogram calibrators keep every tensor of a run in memory)
    max_pixels: int = 128 * 128
    batch: int = 4
    #: the user's own latents (``--calib-latents FILE.npy``) instead of seeds from the prior
    latent_file: Path | None = None
    latent_sha256: str | None = None

    @classmethod
    def from_file(cls, path: Path, **fields: Any) -> "CalibrationSpec":
        """Calibrate on the latents of a plain ``.npy`` [N, z_dim] (rows counted from its header;
        the width is checked against the model when they are read)."""
        from ..core.errors import UsageError
        from ..core.hashing import sha256_file

        try:
            rows = np.load(path, mmap_mode="r", allow_pickle=False).shape
        except (OSError, ValueError) as e:
            raise UsageError(f"--calib-latents {path}: not a readable plain .npy array ({str(e).splitlines()[0][:100]})") from None
        count = rows[0] if len(rows) == 2 else (1 if len(rows) == 1 else 0)
        if count < 1:
            raise UsageError(f"--calib-latents {path}: has shape {list(rows)}; expected [N, z_dim] with N >= 1")
        return cls(latents=int(count), latent_file=Path(path), latent_sha256=sha256_file(path), **fields)

    def seeds(self) -> list[int]:
        return [self.seed + i for i in range(self.latents)]

    def latent_array(self, z_dim: int) -> np.ndarray:
        if self.latent_file is not None:
            return load_latents(self.latent_file, z_dim)
        return latents_from_seeds(self.seeds(), z_dim)

    def source(self) -> str:
        if self.latent_file is not None:
            return f"{self.latents} latents from {self.latent_file.name} (sha256 {self.latent_sha256[:12]}...)"
        return f"seeds {self.seed}..{self.seed + self.latents - 1} from the prior"

    def key_fields(self) -> dict[str, Any]:
        return {"latents": self.latents, "method": self.method, "percentile": self.percentile, "seed": self.seed,
                "min_res": self.min_res, "max_res": self.max_res, "max_pixels": self.max_pixels,
                "latent_sha256": self.latent_sha256}


def calibration_grids(spec: CalibrationSpec, native: tuple[int, int]) -> list[tuple[tuple[int, int], Window]]:
    """Sizes from the low end to the high end of the range (each capped to ``max_pixels``),
    a non-square size, a zoom window and an extrapolating window."""
    lo = spec.min_res or (max(1, native[0] // 4), max(1, native[1] // 4))
    hi = spec.max_res or native

    def cap(h: int, w: int) -> tuple[int, int]:
        scale = min(1.0, (spec.max_pixels / max(h * w, 1)) ** 0.5)
        return max(1, round(h * scale)), max(1, round(w * scale))

    mid = ((lo[0] + hi[0]) // 2, (lo[1] + hi[1]) // 2)
    sizes = [cap(*lo), cap(*mid), cap(*hi)]
    non_square = cap(max(1, (3 * mid[0]) // 4), max(1, (5 * mid[1]) // 4))
    out = [(s, Window()) for s in dict.fromkeys(sizes)]
    out.append((non_square, Window()))
    out.append((cap(*mid), Window(0.2, 0.3, 0.7, 0.8)))
    out.append((cap(*mid), Window(-0.25, -0.25, 1.25, 1.25)))
    return out


class InrFeeds:
    """An ONNX Runtime ``CalibrationDataReader``: INR feeds (θ of calibration latents + per-grid
    inputs) in batches, advancing a progress bar."""

    def __init__(self, hypernet, layout, theta_name: str, z_dim: int, spec: CalibrationSpec, native: tuple[int, int], progress=None) -> None:
        self.items = list(_feeds(hypernet, layout, theta_name, z_dim, spec, native))
        self.progress = progress
        self.rewind()

    def rewind(self) -> None:
        self._it: Iterator[dict[str, np.ndarray]] = iter(self.items)

    def get_next(self) -> dict[str, np.ndarray] | None:
        item = next(self._it, None)
        if item is not None and self.progress is not None:
            self.progress.update(1)
        return item

    def __len__(self) -> int:
        return len(self.items)


def _feeds(hypernet, layout, theta_name, z_dim, spec, native) -> Iterator[dict[str, np.ndarray]]:
    z = spec.latent_array(z_dim)
    theta = hypernet(z)
    grids = calibration_grids(spec, native)
    # each latent visits one grid per batch, cycling, so every grid sees many latents
    for start in range(0, len(z), spec.batch):
        th = theta[start : start + spec.batch]
        size, window = grids[(start // spec.batch) % len(grids)]
        inputs = layout.build(size, window, batch=1).for_batch(th.shape[0])
        yield {theta_name: th, **inputs}


def describe(spec: CalibrationSpec, native: tuple[int, int]) -> list[str]:
    return [f"{h}x{w}" + ("" if win.is_full() else f" window {win.text()}") for (h, w), win in calibration_grids(spec, native)]


def seeds_disjoint(a: Sequence[int], b: Sequence[int]) -> bool:
    return not set(a) & set(b)
