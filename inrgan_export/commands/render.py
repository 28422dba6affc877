"""``inrgan-export render``: images from a checkpoint, demo:<preset> or bundle."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..app.options import RenderOptions
from ..core.grid import Window
from . import args as a

HELP = "render images from a checkpoint, demo:<preset> or bundle"


def add_arguments(r: argparse.ArgumentParser) -> None:
    r.add_argument("source")
    g = r.add_mutually_exclusive_group()
    g.add_argument("--seed", default=None, help="3, 0-7 or 1,5,9: seed s is numpy RandomState(s).randn(1, z_dim)")
    g.add_argument("--latent", type=Path, default=None, help=".npy of float32 latents [N, z_dim]")
    g.add_argument("--latent-bank", default=None, metavar="ROWS",
                   help="rows of the source's fitted latent bank (demo:photos and its bundles): 3, 0-7, train or heldout")
    r.add_argument("--contact-sheet", action="store_true",
                   help="write one labelled PNG of the first latent: 1/2 native, native, 4x, a zoom and an extrapolation")
    r.add_argument("--size", type=a.size, default=None, help="HxW or N (default: native size)")
    r.add_argument("--window", type=a.window, default=Window(), help="X0,Y0,X1,Y1 in native-image units (default 0,0,1,1)")
    r.add_argument("--backend", default=None, help="torch (checkpoints) or a bundle backend: onnxruntime")
    r.add_argument("--device", default="CPU",
                   help="backend device: torch: cpu, cuda, cuda:N (refused in one line when absent); bundles: CPU")
    r.add_argument("--precision", default=None, choices=["fp32", "fp16", "bf16"],
                   help="torch backend: fp32 (default) or fp16/bf16 autocast (recorded in the PNG's text)")
    r.add_argument("--compile", action="store_true",
                   help="torch backend on CUDA: torch.compile with CUDA graphs, one graph per size (refused on CPU)")
    r.add_argument("--truncation", type=a.psi, default=None, metavar="PSI",
                   help="truncation ψ for generators that take it (sg2 family; default 1 = none)")
    r.add_argument("--allow-failed-parity", action="store_true",
                   help="render through a bundle backend whose recorded parity or INT8 gate failed (refused otherwise)")
    r.add_argument("-o", "--out", type=Path, required=True, help="OUT.png (one file per image) or OUT.npy (raw [N,3,H,W])")
    r.add_argument("--force", action="store_true", help="replace existing output files")
    r.add_argument("--allow-nonfinite", action="store_true",
                   help="write images that hold NaN or Inf (default: refused, naming the first bad pixel)")
    a.common(r)
    from ..app.motion import add_motion_arguments  # render --interpolate / --animate

    add_motion_arguments(r)


#: what a seed list longer than render's limit should use instead
MORE_SEEDS = "; `inrgan-export render-many BUNDLE --seeds A-B -o DIR` renders more (resumable, in parallel)"


def run(args: argparse.Namespace) -> int:
    from ..core.latents import parse_seeds

    opts_r = RenderOptions(
        source=args.source,
        out=args.out,
        seeds=tuple(parse_seeds(args.seed, beyond=MORE_SEEDS)) if args.seed is not None else None,
        latent=args.latent,
        size=args.size,
        window=args.window,
        backend=args.backend,
        device=args.device,
        max_memory=args.max_memory,
        threads=args.threads,
        truncation=args.truncation,
        latent_bank=args.latent_bank,
        contact_sheet=args.contact_sheet,
        force=args.force,
        allow_nonfinite=args.allow_nonfinite,
        allow_failed_parity=args.allow_failed_parity,
        precision=args.precision,
        compile=args.compile,
    )
    from ..app.motion import motion_options, render_motion
    from ..app.render import render

    motion = motion_options(args)
    render_motion(opts_r, motion) if motion is not None else render(opts_r)
    return 0
