"""PNG plots of a bench run (matplotlib, headless Agg backend)."""
from __future__ import annotations

from pathlib import Path
from typing import Any


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finish(fig, ax, path: Path, ylabel: str, title: str, xlabel: str = "output resolution (√pixels)", logy: bool = True) -> Path:
    """The styling every plot shares: log2 x axis, grid, legend, saved as PNG."""
    plt = _plt()
    ax.set_xscale("log", base=2)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def macs_plot(results: dict[str, Any], path: Path) -> Path:
    """The paper's Figure 9: GMACs against output resolution (log-log) for the INR (analytic
    line, counted markers), the convolutional baseline (flat: it renders at native size) and
    the hypernetwork (a once-per-latent cost)."""
    plt = _plt()
    rows = sorted(results["macs"], key=lambda r: r["pixels"])
    side = [r["pixels"] ** 0.5 for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    ax.plot(side, [r["inr_macs_analytic"] / 1e9 for r in rows], "-", color="C0", label="INR (analytic)")
    if rows[0]["inr_macs_counted"] is not None:  # None: no ONNX export on this machine
        ax.plot(side, [r["inr_macs_counted"] / 1e9 for r in rows], "o", color="C0", mfc="none", label="INR (counted from ONNX)")
    if rows[0]["stylegan2_baseline_macs"]:
        ax.plot(side, [r["stylegan2_baseline_macs"] / 1e9 for r in rows], "s--", color="C3",
                label=f"StyleGAN2 (renders {results['native'][0]}², then resamples)")
    ax.plot(side, [(r["hypernet_macs_counted"] or r["hypernet_macs_analytic"]) / 1e9 for r in rows], ":", color="C2",
            label="hypernetwork (once per latent)")
    ax.axvline(results["native"][0], color="0.7", lw=0.8)
    return _finish(fig, ax, path, "GMACs per image", f"MACs vs resolution — {results['source']}")


def latency_plot(results: dict[str, Any], path: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    groups: dict[tuple, list[dict]] = {}
    for p in results["points"]:
        groups.setdefault((p["backend"], p["precision"], p["batch"]), []).append(p)
    for (backend, precision, batch), pts in sorted(groups.items()):
        pts = sorted(pts, key=lambda p: p["height"] * p["width"])
        x = [(p["height"] * p["width"]) ** 0.5 for p in pts]
        y = [p["inr_median_ms"] for p in pts]
        err = [p["inr_iqr_ms"] / 2 for p in pts]
        ax.errorbar(x, y, yerr=err, marker="o", capsize=2, label=f"{backend} {precision} (batch {batch})")
    return _finish(fig, ax, path, "INR latency per call (ms, median ± IQR/2)", "Latency vs resolution")


def throughput_plot(results: dict[str, Any], path: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    native = tuple(results["native"])
    groups: dict[tuple, list[dict]] = {}
    for p in results["points"]:
        groups.setdefault((p["backend"], p["precision"], p["height"], p["width"]), []).append(p)
    for (backend, precision, h, w), pts in sorted(groups.items()):
        if (h, w) != native and len(groups) > 6:
            continue
        pts = sorted(pts, key=lambda p: p["batch"])
        ax.plot([p["batch"] for p in pts], [p["images_per_s"] for p in pts], marker="o", label=f"{backend} {precision} {h}x{w}")
    return _finish(fig, ax, path, "images per second (INR)", "Throughput vs batch", xlabel="batch", logy=False)
