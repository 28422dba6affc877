"""Fit a small INR-GAN generator to crops of real photographs, as an auto-decoder.

One latent per training crop, optimised jointly with the weights (no discriminator: this
makes a demo generator whose weights have seen images, not a GAN). Crops held out of
training get latents fitted with the weights frozen. The result is one of our ``.pt``
checkpoints with a latent bank (training and held-out latents), the presets
``demo:photos`` (``--family paper``) and ``demo:photos-sg2`` (``--family sg2``).

CPU only and deterministic for a given thread count (seeded crops, initialisation, batches):

    .venv/bin/python benchmarks/fit_photos.py --family paper -o inrgan_export/families/paper/data/photos.pt
    .venv/bin/python benchmarks/fit_photos.py --family sg2 -o inrgan_export/families/sg2/data/photos-sg2.pt

Progress goes to stderr; the loss curve is written next to the checkpoint's log under
``benchmarks/results/`` (``--results``).

Crops: a random square of side 256..min(H, W) of one of the photos in
``benchmarks/data/photos`` (licences in LICENSES.md there), area-resized to 256² (the
high-resolution truth of the 4x super-resolution figure) and box-reduced by 4 to 64² (what
the generator is fitted to).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from inrgan_export.measure.harness import parser, record, write_json

HERE = Path(__file__).resolve().parent
PHOTOS = HERE / "data" / "photos"
PHOTO_NAMES = ("astronaut", "chelsea", "coffee", "rocket")
NATIVE = 64
HIGH = 256  # 4x the native size
DATA_SEED = 22
N_TRAIN = 48
N_HELDOUT = 8


def crops(n: int = N_TRAIN + N_HELDOUT, seed: int = DATA_SEED) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``n`` crops, round-robin over the photos: (low [n,3,64,64], high [n,3,256,256]) in
    [-1, 1] float32, and their names (``photo@x,y+side``)."""
    rng = np.random.RandomState(seed)
    photos = [Image.open(PHOTOS / f"{p}.jpg").convert("RGB") for p in PHOTO_NAMES]
    low, high, names = [], [], []
    for i in range(n):
        k = i % len(photos)
        im = photos[k]
        w, h = im.size
        side = int(rng.randint(HIGH, min(w, h) + 1))
        x = int(rng.randint(0, w - side + 1))
        y = int(rng.randint(0, h - side + 1))
        hi = im.crop((x, y, x + side, y + side)).resize((HIGH, HIGH), Image.BOX)
        lo = hi.reduce(HIGH // NATIVE)  # box filter: the mean of each 4x4 block
        high.append(np.asarray(hi, dtype=np.float32))
        low.append(np.asarray(lo, dtype=np.float32))
        names.append(f"{PHOTO_NAMES[k]}@{x},{y}+{side}")

    def to_model(a: list[np.ndarray]) -> np.ndarray:
        return (np.stack(a).transpose(0, 3, 1, 2) / 127.5 - 1.0).astype(np.float32)

    return to_model(low), to_model(high), names


def build(family: str):
    from inrgan_export.families import get_family

    fam = get_family(family)
    cfg = fam.presets["photos" if family == "paper" else "photos-sg2"].config
    model = fam.build(cfg)
    fam.init_weights(model, torch.Generator().manual_seed(DATA_SEED))
    return fam, cfg, model


def grid_tensors(model, size=(NATIVE, NATIVE), batch: int = 1) -> list[torch.Tensor]:
    arrays = model.layout.build(size).for_batch(batch)
    return [torch.from_numpy(np.ascontiguousarray(arrays[n])) for n in model.layout.input_names()]


def render(model, z: torch.Tensor, size=(NATIVE, NATIVE)) -> torch.Tensor:
    return model(z, *grid_tensors(model, size, z.shape[0]))


def psnr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-image PSNR of images in [-1, 1] (peak-to-peak 2)."""
    mse = ((np.clip(a, -1, 1) - b) ** 2).reshape(len(a), -1).mean(1)
    return 10 * np.log10(4.0 / np.maximum(mse, 1e-12))


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def fit(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    torch.manual_seed(DATA_SEED)
    low, _, names = crops()
    train, held = torch.from_numpy(low[:N_TRAIN]), torch.from_numpy(low[N_TRAIN:])
    fam, cfg, model = build(args.family)
    model.train()
    n_weights = sum(p.numel() for p in model.parameters())
    log(f"{args.family}: {n_weights} weights, {N_TRAIN} training crops, {N_HELDOUT} held out, {args.steps} steps")
    gen = torch.Generator().manual_seed(DATA_SEED + 1)
    z_train = torch.nn.Parameter(torch.randn(N_TRAIN, cfg.z_dim, generator=gen))
    opt = torch.optim.Adam([
        {"params": list(model.parameters()), "lr": args.lr},
        {"params": [z_train], "lr": args.latent_lr},
    ])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / args.steps)) * 0.9 + 0.1)
    grid = grid_tensors(model, batch=args.batch)
    curve: list[tuple[int, float]] = []
    t0 = time.perf_counter()
    for step in range(args.steps):
        idx = torch.randperm(N_TRAIN, generator=gen)[: args.batch]
        out = model(z_train[idx], *grid)
        loss = torch.nn.functional.mse_loss(out, train[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        curve.append((step, loss.item()))
        if step % args.log_every == 0 or step == args.steps - 1:
            el = time.perf_counter() - t0
            log(f"step {step:5d}/{args.steps}  mse {float(loss):.5f}  psnr {10 * math.log10(4 / max(float(loss), 1e-12)):5.2f} dB  {el:6.0f}s")
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)

    # held-out crops: fit latents only, weights frozen
    z_held = torch.nn.Parameter(torch.randn(N_HELDOUT, cfg.z_dim, generator=gen))
    opt_h = torch.optim.Adam([z_held], lr=args.latent_lr)
    grid_h = grid_tensors(model, batch=N_HELDOUT)
    held_curve: list[tuple[int, float]] = []
    for step in range(args.heldout_steps):
        loss = torch.nn.functional.mse_loss(model(z_held, *grid_h), held)
        opt_h.zero_grad(set_to_none=True)
        loss.backward()
        opt_h.step()
        held_curve.append((step, loss.item()))
        if step % args.log_every == 0 or step == args.heldout_steps - 1:
            log(f"held-out step {step:4d}/{args.heldout_steps}  mse {float(loss):.5f}")
    wall = time.perf_counter() - t0

    with torch.no_grad():
        z_all = torch.cat([z_train.detach(), z_held.detach()])
        rec = torch.cat([render(model, z_all[i : i + 8]) for i in range(0, len(z_all), 8)]).numpy()
    p = psnr(rec, low)
    summary = {
        "family": args.family,
        "weights": n_weights,
        "steps": args.steps,
        "heldout_steps": args.heldout_steps,
        "batch": args.batch,
        "threads": args.threads,
        "wall_s": round(wall, 1),
        "psnr_train_median": float(np.median(p[:N_TRAIN])),
        "psnr_heldout_median": float(np.median(p[N_TRAIN:])),
        "psnr_heldout_min": float(p[N_TRAIN:].min()),
    }
    log(json.dumps(summary))

    from inrgan_export.load.sources import Checkpoint

    split = ["train"] * N_TRAIN + ["heldout"] * N_HELDOUT
    ckpt = Checkpoint(
        family=fam.name,
        config=cfg.to_dict(),
        state_dict={k: v.detach().clone() for k, v in model.state_dict().items()},
        provenance={
            "origin": f"benchmarks/fit_photos.py --family {args.family} --steps {args.steps}",
            "description": f"auto-decoder fitted to {N_TRAIN} random {NATIVE}x{NATIVE} crops of four photographs "
            f"(scikit-image 0.26 sample data); {N_HELDOUT} held-out crops got latents with the weights frozen",
            "licence": "weights derived from public-domain (NASA, SpaceX) and CC0 photographs; see "
            "benchmarks/data/photos/LICENSES.md",
        },
        latent_bank={"latents": z_all.contiguous(), "names": names, "split": split},
    )
    out = Path(args.output)
    ckpt.save(out, force=True)
    log(f"wrote {out} ({out.stat().st_size} bytes)")

    res = Path(args.results)
    res.mkdir(parents=True, exist_ok=True)
    stem = f"fit_{args.family}"
    write_json(record(**summary, psnr_native=[round(float(x), 3) for x in p], names=names, split=split), res / f"{stem}.json")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
    s, l = zip(*curve)
    ax[0].semilogy(s, l, lw=0.5)
    ax[0].set(title=f"{args.family}: training MSE (weights + latents)", xlabel="step", ylabel="MSE")
    s, l = zip(*held_curve)
    ax[1].semilogy(s, l)
    ax[1].set(title="held-out latents (weights frozen)", xlabel="step")
    fig.tight_layout()
    fig.savefig(res / f"{stem}_loss.png", dpi=100)
    log(f"wrote {res / stem}.json and {stem}_loss.png")


def main(argv: list[str] | None = None) -> None:
    ap = parser(__doc__)
    ap.add_argument("--family", choices=("paper", "sg2"), required=True)
    ap.add_argument("-o", "--output", required=True, help="the .pt checkpoint to write")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--heldout-steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--latent-lr", type=float, default=1e-2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--results", default=str(HERE / "results"))
    fit(ap.parse_args(argv))


if __name__ == "__main__":
    main()
