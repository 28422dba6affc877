"""Figures of the photo-fitted presets (``demo:photos``, ``demo:photos-sg2``).

* reconstruction PSNR at native 64² of every bank latent against its crop (training and
  held-out separately);
* 4x super-resolution PSNR against the real 256² crop: the generator rendered at 256², next
  to bicubic upsampling of its own native render and of the real 64² crop;
* edge content (mean Sobel gradient magnitude of the display-mapped luma, 0..255 scale) of the
  256² renders of bank latents 0-3 (one crop of each photo), against ``demo:church`` (seeded weights) rendered at 256² (its
  native size: the same number of pixels) and against the real crop.

    .venv/bin/python benchmarks/photos_figures.py --threads 1 -o benchmarks/results/photos_figures.json

PSNR is on the [-1, 1] scale with outputs clipped to it (peak-to-peak 2), as the display
mapping does. Everything runs on the PyTorch reference (the exported graphs match it to
< 1e-4).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fit_photos import HIGH, N_TRAIN, NATIVE, crops, psnr  # noqa: E402

from inrgan_export import open_checkpoint  # noqa: E402
from inrgan_export.measure.harness import parser, record, write_json  # noqa: E402
from inrgan_export.load.sources import load_source  # noqa: E402


def luma255(img: np.ndarray) -> np.ndarray:
    """[3, H, W] in [-1, 1] → luma on the 0..255 display scale."""
    x = (np.clip(img, -1, 1) + 1) * 127.5
    return 0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]


def sobel_energy(img: np.ndarray) -> float:
    """Mean Sobel gradient magnitude over the interior of the image."""
    y = luma255(img)
    gx = (y[:-2, 2:] + 2 * y[1:-1, 2:] + y[2:, 2:]) - (y[:-2, :-2] + 2 * y[1:-1, :-2] + y[2:, :-2])
    gy = (y[2:, :-2] + 2 * y[2:, 1:-1] + y[2:, 2:]) - (y[:-2, :-2] + 2 * y[:-2, 1:-1] + y[:-2, 2:])
    return float(np.mean(np.hypot(gx, gy)))


def bicubic(x: np.ndarray, size: int) -> np.ndarray:
    return torch.nn.functional.interpolate(torch.from_numpy(x), size=(size, size), mode="bicubic", align_corners=False).numpy()


EDGE_LATENTS = (0, 1, 2, 3)  # one crop of each photo; the README's contact sheet uses 2


def stats(v: np.ndarray) -> dict:
    return {"median": round(float(np.median(v)), 2), "min": round(float(v.min()), 2), "max": round(float(v.max()), 2)}


def preset_figures(name: str, low: np.ndarray, high: np.ndarray, per_split: int | None = None) -> dict:
    bank = load_source(name).latent_bank
    z, split = bank["latents"], np.array(bank["split"])
    if per_split is not None:  # the first latents of each split (a quick run; train latents 0-3 stay first)
        keep = np.concatenate([np.flatnonzero(split == part)[:per_split] for part in ("train", "heldout")])
        z, split, low, high = z[keep], split[keep], low[keep], high[keep]
    with open_checkpoint(name) as g:
        theta = g.hypernet(z)
        native = np.concatenate([g.render(theta[i : i + 8], (NATIVE, NATIVE)) for i in range(0, len(z), 8)])
        sr = np.concatenate([g.render(theta[i : i + 4], (HIGH, HIGH)) for i in range(0, len(z), 4)])
    rec = psnr(native, low)
    sr_psnr = psnr(sr, high)
    bic_render = psnr(bicubic(np.clip(native, -1, 1), HIGH), high)
    bic_crop = psnr(bicubic(low, HIGH), high)
    out = {"latents": {"train": int((split == "train").sum()), "heldout": int((split == "heldout").sum())}}
    for part in ("train", "heldout"):
        m = split == part
        out[part] = {
            "native_psnr_db": stats(rec[m]),
            "sr4x_psnr_db": stats(sr_psnr[m]),
            "bicubic_of_native_render_psnr_db": stats(bic_render[m]),
            "bicubic_of_real_64_crop_psnr_db": stats(bic_crop[m]),
        }
    for i in EDGE_LATENTS:
        out[f"edge_content_4x_bank{i}"] = round(sobel_energy(sr[i]), 3)
        out[f"edge_content_real_crop{i}"] = round(sobel_energy(high[i]), 3)
    return out


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--latents-per-split", type=int, default=None,
                    help=f"only the first N training and N held-out bank latents (N >= {len(EDGE_LATENTS)}; default: all)")
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--skip-church", action="store_true", help="leave out demo:church (its 256² render is the slow part)")
    args = ap.parse_args()
    if args.latents_per_split is not None and args.latents_per_split < len(EDGE_LATENTS):
        ap.error(f"--latents-per-split {args.latents_per_split}: at least {len(EDGE_LATENTS)} (the edge-content latents)")
    torch.set_num_threads(args.threads)
    low, high, names = crops()
    result = record(threads=args.threads, latents_per_split=args.latents_per_split,
                    edge_latents={i: names[i] for i in EDGE_LATENTS})
    for name in ("demo:photos", "demo:photos-sg2"):
        print(f"{name} ...", file=sys.stderr, flush=True)
        result[name] = preset_figures(name, low, high, args.latents_per_split)
    if not args.skip_church:
        print("demo:church at 256x256 ...", file=sys.stderr, flush=True)
        z = np.random.RandomState(3).randn(1, 512).astype(np.float32)
        with open_checkpoint("demo:church") as g:
            church = g.generate(z, (256, 256))
        ref = sobel_energy(church[0])
        result["demo:church"] = {"edge_content_256_seed3": round(ref, 3)}
        for name in ("demo:photos", "demo:photos-sg2"):
            result[name]["edge_ratio_vs_church"] = {f"bank{i}": round(result[name][f"edge_content_4x_bank{i}"] / ref, 1) for i in EDGE_LATENTS}
    write_json(result, args.out, echo=True)


if __name__ == "__main__":
    main()
