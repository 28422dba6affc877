"""Argument types and flags shared by the commands: each parses one value or raises a
one-line UsageError naming the value and what would be valid (exit 2)."""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from ..backends.base import parse_bytes
from ..core.errors import UsageError
from ..core.grid import Window, parse_size


def size(text: str) -> tuple[int, int]:
    return parse_size(text)


def window(text: str) -> Window:
    return Window.parse(text)


def memory(text: str) -> int:
    return parse_bytes(text)


def psi(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not math.isfinite(v):
        raise UsageError(f"--truncation {text!r} is not a finite number (e.g. 0.7; 1 = no truncation)")
    return v


def calib_latents(text: str) -> int | Path:
    if text.lower().endswith(".npy"):
        path = Path(text)
        if not path.is_file():
            raise UsageError(f"--calib-latents {text}: no such file (a .npy [N, z_dim] of latents, or a count such as 32)")
        return path
    return positive(text)


def psnr(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not (math.isfinite(v) and 0 < v < 200):
        raise UsageError(f"--min-psnr {text!r} must be a number of dB in (0, 200), e.g. 32")
    return v


def sizes(text: str) -> tuple[tuple[int, int], ...]:
    return tuple(parse_size(part) for part in text.split(",") if part.strip())


def names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def batches(text: str) -> tuple[int, ...]:
    return tuple(positive(part) for part in text.split(",") if part.strip())


def positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise UsageError(f"{text!r} is not a positive integer") from None
    if v < 1:
        raise UsageError(f"{text!r} is not a positive integer")
    return v


def count(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        v = -1
    if v < 0:
        raise UsageError(f"{text!r} is not a count (0 or more)")
    return v


def seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not (math.isfinite(v) and v >= 0):
        raise UsageError(f"{text!r} is not a number of seconds (e.g. 0.01, 30)")
    return v


def memory_any(text: str) -> int:
    """A byte count without parse_bytes' 1M floor (a request body limit may be small)."""
    if text.strip().isdigit():
        return positive(text)
    return parse_bytes(text)


def output_flags(p: argparse.ArgumentParser) -> None:
    """-q/-v, on every command (SUPPRESS: a sub-command's default does not undo a global flag)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                   help="no progress; only results, warnings and errors")
    g.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                   help="also show the libraries' own output (PyTorch, ExecuTorch, ONNX Runtime logs and warnings)")


def json_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true",
                   help="print one machine-readable result object on stdout (progress stays on stderr)")


def emit_json(obj: dict) -> None:
    print(json.dumps(obj, indent=2, allow_nan=False, default=str))


def verdict(command: str, report) -> str:
    """The one line a checking command ends with: ``verify: PASS (7 grids, worst 116.0 dB)``."""
    grids = len({r.grid for r in report.rows})
    worst = min((r.psnr_db for r in report.rows), default=math.inf)
    worst_text = f"worst {worst:.1f} dB" if math.isfinite(worst) else "worst inf dB (bit-exact)" if worst > 0 else "worst -inf dB"
    if report.passed:
        return f"{command}: PASS ({grids} grids, {len(report.rows)} checks, {worst_text})"
    failed = sum(not r.passed for r in report.rows)
    return f"{command}: FAIL ({failed} of {len(report.rows)} checks failed on {grids} grids, {worst_text})"


def say_verdict(line: str, json_out: bool) -> None:
    """A verdict is the command's result: on stdout, or on stderr when stdout holds --json; never quieted."""
    import sys

    from ..core.log import stream

    print(line, file=stream() if json_out else sys.stdout, flush=True)


def common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-memory", type=memory, default=None, metavar="BYTES",
                   help="activation budget of one INR run; larger renders are tiled (default: 40%% of RAM, at most 4G)")
    p.add_argument("--threads", type=positive, default=None, help="CPU threads for the backend (default: all cores)")


def default_out(source: str, target: str) -> Path:
    stem = source.split(":", 1)[1] if source.startswith("demo:") else Path(source).stem
    return Path(f"{stem}_{target}")
