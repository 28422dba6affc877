"""``inrgan-export convert``: the authors' checkpoint or network pickle into our ``.pt`` format."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..app.options import ConvertOptions

HELP = "import an authors' checkpoint into our .pt format"


def add_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("source", type=Path, help="the authors' gen_ema.pt (state dict) or released network pickle (.pkl)")
    c.add_argument("--config", type=Path, default=None, help="the experiment's config.yml or the authors' inr-gan.yml (not for .pkl)")
    c.add_argument("--dataset", default=None, help="dataset section of inr-gan.yml to merge (e.g. lsun_church_outdoor)")
    c.add_argument("-o", "--out", type=Path, required=True)
    c.add_argument("--force", action="store_true")


def run(args: argparse.Namespace) -> int:
    from ..app import pipeline  # the export extra (PyTorch)

    pipeline.convert(ConvertOptions(args.source, args.out, args.config, args.dataset, args.force))
    print(f"wrote {args.out}")
    return 0
