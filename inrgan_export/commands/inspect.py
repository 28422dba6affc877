"""``inrgan-export inspect BUNDLE``: what a bundle holds."""
from __future__ import annotations

import argparse
from pathlib import Path

from . import args as a

HELP = "what a bundle holds: family, graphs, dims, precisions, size range, parity, files"


def add_arguments(i: argparse.ArgumentParser) -> None:
    i.add_argument("bundle", type=Path)
    i.add_argument("--no-checksums", action="store_true", help="skip the SHA-256 check of every file (faster on big bundles)")
    a.json_flag(i)


def run(args: argparse.Namespace) -> int:
    from ..app.inspect_bundle import format_inspect, inspect_bundle

    info = inspect_bundle(args.bundle, verify_checksums=not args.no_checksums)
    if args.json:
        a.emit_json({"command": "inspect", **info})
    else:
        print(format_inspect(info))
    return 0
