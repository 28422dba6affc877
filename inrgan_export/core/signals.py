"""SIGINT and SIGTERM end a run the same way: the code unwinding removes temporary outputs
and the CLI exits 130. A library may swallow or wrap the ``KeyboardInterrupt`` (PyTorch's
ONNX exporter does), so the signal is also remembered here and checked before anything is
published."""
from __future__ import annotations

import signal

_received: int | None = None


def received() -> int | None:
    """The signal number that interrupted this run, or None."""
    return _received


def _handler(signum, frame):
    global _received
    _received = signum
    raise KeyboardInterrupt


def install() -> dict[int, object]:
    """Route SIGINT and SIGTERM to :func:`_handler`; returns the previous handlers (empty off
    the main thread, where handlers cannot be set)."""
    global _received
    _received = None
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, _handler)
        except ValueError:
            return {}
    return previous


def restore(previous: dict[int, object]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def check() -> None:
    """Raise ``KeyboardInterrupt`` if a signal arrived (even one a library swallowed)."""
    if _received is not None:
        raise KeyboardInterrupt
