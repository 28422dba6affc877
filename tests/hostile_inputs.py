"""The hostile-input builders live in ``benchmarks/hostile_inputs.py`` (the catalogue script
``benchmarks/hostile_catalogue.py`` runs the same files through the CLI); re-exported here for
the tests."""
from __future__ import annotations

from . import benchmark_modules  # noqa: F401 - puts benchmarks/ on sys.path

from hostile_inputs import *  # noqa: E402,F401,F403
from hostile_inputs import _build_on  # noqa: E402,F401
