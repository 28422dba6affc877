"""Modules that live in ``benchmarks/`` and serve the tests too (the sg2 network-pickle writer,
the hostile-input builders): the benchmark scripts import them as top-level modules from their
own folder, so the tests put that folder on ``sys.path`` the same way."""
from __future__ import annotations

import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"

if str(BENCHMARKS) not in sys.path:
    sys.path.append(str(BENCHMARKS))
