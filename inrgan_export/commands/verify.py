"""``inrgan-export verify BUNDLE``: re-run a bundle's parity report."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..app.options import VerifyOptions
from . import args as a

HELP = "re-run the parity report of a bundle"


def add_arguments(v: argparse.ArgumentParser) -> None:
    v.add_argument("bundle", type=Path)
    v.add_argument("--reference", default=None, help="recompute references from this checkpoint (default: golden data)")
    v.add_argument("-o", "--out", type=Path, default=None, help="write parity.json/md/png here")
    a.common(v)
    a.json_flag(v)


def run(args: argparse.Namespace) -> int:
    from ..app import pipeline  # the export extra (PyTorch, ONNX, Polygraphy)

    report = pipeline.verify_bundle(VerifyOptions(args.bundle, args.reference, args.out, args.max_memory, args.threads),
                                    raise_on_failure=False)
    if args.json:
        a.emit_json({"command": "verify", "bundle": str(args.bundle), **report.summary()})
    a.say_verdict(a.verdict("verify", report), args.json)
    if not report.passed:
        from ..core.errors import ParityError

        raise ParityError("parity gate failed: " + "; ".join(report.failures()[:3]))
    return 0
