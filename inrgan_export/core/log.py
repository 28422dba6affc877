"""Progress output on stderr: one line per pipeline step with its time and output size,
tqdm bars for loops on terminals and sparse lines in logs. The output policy: ``QUIET``
(``-q``) silences progress; the libraries' own output (Python warnings and loggers, native
libraries writing to file descriptor 2) is captured during a command unless ``VERBOSE`` (``-v``)."""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Callable, Iterator, Sequence

QUIET = False
VERBOSE = False
#: the terminal's stderr while descriptor 2 is captured (None: not captured, use sys.stderr)
_stream: IO[str] | None = None
#: at most one progress line per this many seconds when stderr is not a terminal
LINE_INTERVAL_S = 10.0
#: lines of captured library output replayed when a command ends in an unexpected error
REPLAY_LINES = 40


def stream() -> IO[str]:
    """Where our own progress and messages go: the real stderr, also while foreign output is captured."""
    return _stream if _stream is not None else sys.stderr


def info(msg: str) -> None:
    if not QUIET:
        print(msg, file=stream(), flush=True)
        _said()


@contextlib.contextmanager
def foreign_output_captured(unexpected: tuple[type[BaseException], ...] = (Exception,),
                            expected: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Run a command with descriptor 2 (Python's sys.stderr, the libraries' loggers and warnings,
    native code such as ExecuTorch's ``[cpuinfo_utils.cpp]`` lines) sent to a temporary file while
    our own output keeps the terminal. Nothing is captured with ``VERBOSE``. An ``unexpected``
    error that is not ``expected`` replays the captured tail: it may say what went wrong."""
    global _stream
    if VERBOSE or _stream is not None:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    capture = tempfile.TemporaryFile()
    replay = False
    try:
        os.dup2(capture.fileno(), 2)
        _stream = os.fdopen(os.dup(saved), "w", buffering=1, encoding="utf-8", errors="backslashreplace")
        yield
    except unexpected as e:
        replay = not isinstance(e, expected)
        raise
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        if _stream is not None:
            _stream.close()
        _stream = None
        if replay:
            capture.seek(0)
            tail = capture.read().decode("utf-8", "backslashreplace").splitlines()[-REPLAY_LINES:]
            if tail:
                print("\n".join(["(the libraries' output before the error:)", *tail]), file=sys.stderr, flush=True)
        capture.close()


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} GB"


#: time of the last line :func:`info` wrote (a long step's heartbeat stays quiet after one)
_last_line = time.monotonic()


def _said() -> None:
    global _last_line
    _last_line = time.monotonic()


@contextlib.contextmanager
def step(label: str, output: Path | Callable[[], Sequence[Path]] | None = None) -> Iterator[None]:
    """``label ... done in 1.2 s (3.4 MB)``; ``output`` is the file written, or a function that
    lists the files (their sizes are summed). A step that says nothing for :data:`LINE_INTERVAL_S`
    gets a ``still running`` line (the ExecuTorch lowering runs a minute without a word)."""
    info(f"• {label} ...")
    t = time.perf_counter()
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(label, t, stop), daemon=True)
    beat.start()
    try:
        yield
    finally:
        stop.set()
        beat.join()
    files = ([output] if isinstance(output, Path) else list(output())) if output is not None else []
    files = [f for f in files if f.exists()]
    size = ""
    if files:
        total = human_bytes(sum(f.stat().st_size for f in files))
        size = f", {total}" if len(files) == 1 else f", {len(files)} files, {total}"
    info(f"  done in {time.perf_counter() - t:.1f} s{size}")


def _heartbeat(label: str, start: float, stop: threading.Event) -> None:
    while not stop.wait(min(1.0, LINE_INTERVAL_S / 4)):
        if time.monotonic() - _last_line >= LINE_INTERVAL_S:
            info(f"  … {label.split(' (')[0]}: still running, {time.perf_counter() - start:.0f} s")


class _LineProgress:
    """Progress for logs (no terminal): a line when :data:`LINE_INTERVAL_S` passed since the
    last one (a step's own ``done in`` line closes it), so a log gets at most one per 10 s."""

    def __init__(self, total: int, desc: str) -> None:
        self.total, self.desc, self.done = total, desc, 0

    def update(self, n: int = 1) -> None:
        self.done += n
        if time.monotonic() - _last_line >= LINE_INTERVAL_S:  # since any line: a step's heartbeat too
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
    if stream().isatty():
        class _Bar(tqdm):  # a moving bar counts as said: no heartbeat line under it
            def update(self, n: float | None = 1) -> bool | None:
                _said()
                return super().update(n)

        return _Bar(total=total, desc=desc, file=stream(), leave=False, unit="run")
    return _LineProgress(total, desc)
