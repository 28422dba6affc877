"""The sg2 network-pickle writer lives in ``benchmarks/sg2_pickle_writer.py`` (the hostile-input
catalogue builds its files with it too); re-exported here for the tests."""
from __future__ import annotations

from .. import benchmark_modules  # noqa: F401 - puts benchmarks/ on sys.path

from sg2_pickle_writer import (  # noqa: E402
    Global, NewObj, Reduce, _Pickler, dumps, network_pickle, write_network_pickle,
)

__all__ = ["Global", "NewObj", "Reduce", "_Pickler", "dumps", "network_pickle", "write_network_pickle"]
