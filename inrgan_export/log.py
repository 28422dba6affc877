"""Progress output on stderr: one line per pipeline step with its time and output size,
and tqdm bars for loops (shown on terminals)."""
from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import Iterator

QUIET = False


def info(msg: str) -> None:
    if not QUIET:
        print(msg, file=sys.stderr, flush=True)


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} GB"


@contextlib.contextmanager
def step(label: str, output: Path | None = None) -> Iterator[None]:
    """``label ... done in 1.2 s (3.4 MB)``."""
    info(f"• {label} ...")
    t = time.perf_counter()
    yield
    size = f", {human_bytes(output.stat().st_size)}" if output is not None and output.exists() else ""
    info(f"  done in {time.perf_counter() - t:.1f} s{size}")


def progress(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, file=sys.stderr, disable=None if not QUIET else True, leave=False, unit="run")
