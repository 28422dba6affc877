"""``inrgan-export render-many``: seeds x sizes x windows of a bundle on a Ray cluster."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..app.options import RenderManyOptions
from . import args as a

HELP = "render seeds x sizes x windows of a bundle on a Ray cluster (resumable)"


def add_arguments(m: argparse.ArgumentParser) -> None:
    m.add_argument("bundle", type=Path)
    m.add_argument("--seeds", required=True, help="as render's --seed (0-9999, 1,5,9), up to 1,000,000 seeds")
    m.add_argument("--sizes", type=a.sizes, required=True, help="HxW or N list, e.g. 64x64,256x256")
    m.add_argument("--windows", default="0,0,1,1", help="X0,Y0,X1,Y1 windows separated by ';' (default 0,0,1,1)")
    m.add_argument("--truncation", type=a.psi, default=None, metavar="PSI", help="truncation ψ (sg2 family)")
    m.add_argument("--backend", default=None, help="bundle backend (default: the bundle's own)")
    m.add_argument("--format", choices=["png", "npy"], default="png", help="png or npy (raw float32 [1,3,H,W]) per image")
    m.add_argument("-o", "--out", type=Path, required=True, help="output directory (a rerun skips complete outputs)")
    m.add_argument("--address", default=None, help="existing cluster: auto, HOST:PORT or ray://HOST:PORT (default: start a local one)")
    m.add_argument("--workers", type=a.positive, default=None, help="actor workers (default: cluster CPUs / --threads)")
    m.add_argument("--threads", type=a.positive, default=1, help="backend threads (and CPUs reserved) per worker (default 1)")
    m.add_argument("--batch", type=a.positive, default=8, help="seeds per worker batch (default 8)")
    m.add_argument("--cpus", type=a.positive, default=None, help="CPUs of the local cluster (default: all)")
    m.add_argument("--max-memory", type=a.memory, default=None, metavar="BYTES", help="activation budget per worker render")
    m.add_argument("--wait", action="store_true", help="another render-many writing into -o: wait for it (default: refuse)")


def run(args: argparse.Namespace) -> int:
    """The driver needs the runtime layer only, not the export pipeline."""
    from ..cluster.render_many import parse_render_many_seeds, parse_windows, render_many

    opts_m = RenderManyOptions(
        bundle=args.bundle,
        out=args.out,
        seeds=parse_render_many_seeds(args.seeds),
        sizes=args.sizes,
        windows=parse_windows(args.windows),
        truncation=args.truncation,
        backend=args.backend,
        image_format=args.format,
        address=args.address,
        workers=args.workers,
        threads=args.threads,
        batch=args.batch,
        cpus=args.cpus,
        max_memory=args.max_memory,
        wait=args.wait,
    )
    result = render_many(opts_m)
    print(f"render-many: {result.rendered} rendered, {result.skipped} already complete, "
          f"{result.total} outputs in {args.out} ({result.seconds:.1f} s)")
    return 0
