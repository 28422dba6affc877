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


class _LineProgress:
    """Progress for logs (no terminal): a line at every 10 % step."""

    def __init__(self, total: int, desc: str) -> None:
        self.total, self.desc, self.done, self.shown = total, desc, 0, -1

    def update(self, n: int = 1) -> None:
        self.done += n
        step = int(10 * self.done / max(self.total, 1))
        if step != self.shown:
            self.shown = step
            info(f"  {self.desc}: {self.done}/{self.total}")

    def __enter__(self) -> "_LineProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def progress(total: int, desc: str):
    """A tqdm bar on a terminal, periodic lines otherwise (and where tqdm is not installed:
    the PyTorch path runs on machines with torch and numpy only)."""
    try:
        from tqdm import tqdm
    except ImportError:
        return _LineProgress(total, desc)  # silent under QUIET too: it prints through info()
    if QUIET:
        return tqdm(total=total, disable=True)
    if sys.stderr.isatty():
        return tqdm(total=total, desc=desc, file=sys.stderr, leave=False, unit="run")
    return _LineProgress(total, desc)
