"""Parity of exported graphs against the PyTorch reference.

Every comparison runs the same latent bank (seeds 0..3, batch 4, and seed 0 alone, batch 1)
on the same grids: native size, ½ and ¼ of it, 2×, a non-square size, a zoom window inside
the image and a window reaching 25 % beyond it. Each exported path is checked — the split
path (hypernetwork, then INR) and the fused generator graph — and every failure is
collected before the verdict, with its max difference and the tolerance applied.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from .errors import BundleError, ParityError
from .families import DisplayMapping
from .grid import Window
from .imageio import panel, psnr
from .latents import latents_from_seeds

BANK_SEEDS = tuple(range(8))
PARITY_BATCH = 4
GOLDEN = "golden.npz"


@dataclass(frozen=True)
class ParityGrid:
    label: str
    size: tuple[int, int]
    window: Window = Window()
    golden: bool = True  # small enough to keep reference outputs in the bundle

    @property
    def key(self) -> str:
        return self.label.replace(" ", "_")

    def describe(self) -> str:
        win = "" if self.window.is_full() else f" window {self.window.text()}"
        return f"{self.size[0]}x{self.size[1]}{win}"


def parity_grids(native: int) -> list[ParityGrid]:
    n = native
    return [
        ParityGrid("native", (n, n)),
        ParityGrid("half", (max(1, n // 2),) * 2),
        ParityGrid("quarter", (max(1, n // 4),) * 2),
        ParityGrid("double", (2 * n, 2 * n), golden=False),
        ParityGrid("non-square", (max(1, round(0.75 * n)), max(1, round(1.25 * n)))),
        ParityGrid("zoom", (n, n), Window(0.25, 0.25, 0.75, 0.75)),
        ParityGrid("extrapolate", (n, n), Window(-0.25, -0.25, 1.25, 1.25)),
    ]


@dataclass
class ParityRow:
    grid: str
    size: str
    window: str
    path: str
    batch: int
    max_abs: float
    mean_abs: float
    psnr_db: float
    nan_inf: bool
    tolerance: float
    passed: bool

    def to_json(self) -> dict:
        d = asdict(self)
        d["psnr_db"] = _json_float(self.psnr_db)
        return d


@dataclass
class ParityReport:
    reference: str
    tolerance: float
    rows: list[ParityRow] = field(default_factory=list)
    theta: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.rows) and self.theta.get("passed", True)

    def failures(self) -> list[str]:
        out = [
            f"{r.grid} {r.size}{'' if r.window == '0,0,1,1' else ' window ' + r.window} ({r.path}, batch {r.batch}): "
            + ("NaN/Inf in output" if r.nan_inf else f"max abs {r.max_abs:.3g} > {r.tolerance:g}")
            for r in self.rows
            if not r.passed
        ]
        if self.theta and not self.theta.get("passed", True):
            out.append(f"theta ({self.theta['path']}): max abs {self.theta['max_abs']:.3g} > {self.theta['tolerance']:.3g}")
        return out

    def summary(self) -> dict:
        worst = max((r.max_abs for r in self.rows), default=0.0)
        return {
            "passed": self.passed,
            "worst_max_abs": worst,
            "tolerance": self.tolerance,
            "checks": len(self.rows),
            "failures": self.failures(),
        }

    def to_json(self) -> dict:
        return {
            "reference": self.reference,
            "gate": {"max_abs": self.tolerance, "nan_inf": "fails", "images": "raw outputs, range [-1, 1]"},
            "passed": self.passed,
            "theta": self.theta,
            "rows": [r.to_json() for r in self.rows],
        }

    def markdown(self) -> str:
        lines = [
            "# Parity report",
            "",
            f"Reference: {self.reference}. Gate: max |exported − reference| ≤ {self.tolerance:g} on raw images "
            "in [-1, 1]; NaN/Inf anywhere fails. PSNR is on the display-mapped images (0..255, before rounding).",
            "",
            f"Verdict: **{'PASS' if self.passed else 'FAIL'}**",
            "",
            "| grid | size | window | path | batch | max abs | mean abs | PSNR dB | result |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            lines.append(
                f"| {r.grid} | {r.size} | {r.window} | {r.path} | {r.batch} | {r.max_abs:.3g} | {r.mean_abs:.3g} | "
                f"{_fmt_psnr(r.psnr_db)} | {'✓' if r.passed else '✗'} |"
            )
        if self.theta:
            t = self.theta
            lines += ["", f"θ ({t['path']}): max abs {t['max_abs']:.3g} (tolerance {t['tolerance']:.3g}) {'✓' if t['passed'] else '✗'}"]
        return "\n".join(lines) + "\n"

    def table(self) -> str:
        """A compact text table for the terminal."""
        head = f"{'grid':<12} {'size':<10} {'window':<22} {'path':<20} {'b':>2} {'max abs':>9} {'PSNR':>7}  ok"
        out = [head]
        for r in self.rows:
            out.append(
                f"{r.grid:<12} {r.size:<10} {r.window:<22} {r.path:<20} {r.batch:>2} {r.max_abs:>9.2e} "
                f"{_fmt_psnr(r.psnr_db):>7}  {'✓' if r.passed else '✗'}"
            )
        return "\n".join(out)


def _fmt_psnr(v: float) -> str:
    return "inf" if math.isinf(v) else f"{v:.1f}"


def _json_float(v: float):
    return "inf" if math.isinf(v) else float(v)


def compare(ref: np.ndarray, out: np.ndarray, display: DisplayMapping, tol: float) -> tuple[float, float, float, bool, bool]:
    bad = not np.isfinite(out).all()
    if out.shape != ref.shape:
        return math.inf, math.inf, 0.0, bad, False
    diff = np.abs(out.astype(np.float64) - ref.astype(np.float64))
    if bad:
        diff = np.where(np.isfinite(diff), diff, 0.0)
    max_abs, mean_abs = float(diff.max()), float(diff.mean())
    p = psnr(ref, np.nan_to_num(out), display)
    return max_abs, mean_abs, p, bad, (not bad) and max_abs <= tol


#: a reference is a function (grid) -> images [PARITY_BATCH, 3, H, W] for the bank's first latents
Reference = Callable[[ParityGrid], np.ndarray]
#: a candidate path is a function (z, grid) -> images
Candidate = Callable[[np.ndarray, ParityGrid], np.ndarray]


def run_parity(
    reference: Reference,
    reference_name: str,
    candidates: Mapping[str, Candidate],
    grids: Sequence[ParityGrid],
    z_bank: np.ndarray,
    display: DisplayMapping,
    tol: float,
    progress=None,
) -> tuple[ParityReport, dict[str, np.ndarray]]:
    """Compare every candidate path with the reference on every grid, batch 4 and batch 1.
    Returns the report and the reference images (for golden data)."""
    report = ParityReport(reference=reference_name, tolerance=tol)
    refs: dict[str, np.ndarray] = {}
    z4 = z_bank[:PARITY_BATCH]
    for grid in grids:
        ref = reference(grid)
        refs[grid.key] = ref
        for name, run in candidates.items():
            for batch, z in ((PARITY_BATCH, z4), (1, z4[:1])):
                out = run(z, grid)
                stats = compare(ref[: z.shape[0]], out, display, tol)
                report.rows.append(ParityRow(grid.label, f"{grid.size[0]}x{grid.size[1]}", grid.window.text(), name, batch, *stats[:4], tol, stats[4]))
                if progress is not None:
                    progress.update(1)
    return report, refs


def theta_check(reference: np.ndarray, candidate: np.ndarray, path: str, rel_tol: float = 1e-4) -> dict:
    scale = max(1.0, float(np.abs(reference).max()))
    finite = bool(np.isfinite(candidate).all())
    max_abs = float(np.abs(candidate.astype(np.float64) - reference).max()) if finite else math.inf
    tol = rel_tol * scale
    return {"path": path, "max_abs": _json_float(max_abs), "tolerance": tol, "passed": finite and max_abs <= tol}


def write_report(report: ParityReport, directory: Path, png_images: Sequence[np.ndarray] | None, display: DisplayMapping) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    jpath = directory / "parity.json"
    jpath.write_text(json.dumps(report.to_json(), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    mpath = directory / "parity.md"
    mpath.write_text(report.markdown(), encoding="utf-8")
    paths = [jpath, mpath]
    if png_images is not None:
        ref, out = png_images
        diff = np.abs(out.astype(np.float64) - ref)
        peak = float(diff.max())
        amp = 1.0 / peak if peak > 0 else 1.0
        diff_img = (np.clip(diff * amp, 0, 1) * 2 - 1).astype(np.float32)
        titles = ["reference (torch)", "exported", f"|diff| x{amp:.2g}" if peak > 0 else "|diff| = 0"]
        paths.append(panel([ref, out, diff_img], titles, directory / "parity.png", display))
    return paths


# ------------------------------------------------------------------ golden data
def save_golden(path: Path, z_bank: np.ndarray, theta: np.ndarray, refs: Mapping[str, np.ndarray], grids: Sequence[ParityGrid]) -> None:
    arrays = {"z": z_bank.astype(np.float32), "theta": theta.astype(np.float32)}
    for g in grids:
        if g.golden:
            arrays[f"ref_{g.key}"] = refs[g.key].astype(np.float32)
    np.savez_compressed(path, **arrays)


def golden_manifest(grids: Sequence[ParityGrid]) -> dict:
    return {
        "file": GOLDEN,
        "latent_seeds": list(BANK_SEEDS),
        "reference_batch": PARITY_BATCH,
        "grids": [
            {"key": g.key, "label": g.label, "size": list(g.size), "window": [g.window.x0, g.window.y0, g.window.x1, g.window.y1]}
            for g in grids
            if g.golden
        ],
    }


def load_golden(bundle_path: Path, manifest: Mapping) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], list[ParityGrid]]:
    g = manifest.get("golden")
    if not g:
        raise BundleError(f"bundle {bundle_path} has no golden reference data (field 'golden'); verify it with --reference CKPT")
    with np.load(bundle_path / g["file"], allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    grids = [ParityGrid(e["label"], tuple(e["size"]), Window(*e["window"])) for e in g["grids"]]  # type: ignore[arg-type]
    refs = {gr.key: arrays[f"ref_{gr.key}"] for gr in grids}
    return arrays["z"], arrays["theta"], refs, grids


def latent_bank(z_dim: int) -> np.ndarray:
    return latents_from_seeds(list(BANK_SEEDS), z_dim)
