"""Time of ``read_pickle`` on the sg2 fixture: the C unpickler (code before issue 19, given
with --pythonpath) against the pure-Python one that intercepts BUILD. One warm-up, seven
runs, median and min-max, each side in its own process in one invocation.

    python benchmarks/pickle_load_time.py --before /tmp/i19_before
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "data" / "sg2" / "tiny.pkl"
CODE = r"""
import statistics, sys, time
from inrgan_export.families.sg2.pickle_import import read_pickle
read_pickle(sys.argv[1])
ts = []
for _ in range(7):
    t = time.perf_counter(); read_pickle(sys.argv[1]); ts.append(time.perf_counter() - t)
print(f"median {statistics.median(ts):.3f} s, min {min(ts):.3f} s, max {max(ts):.3f} s")
"""

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", required=True, help="PYTHONPATH holding the code before the change")
    args = ap.parse_args()
    for label, pythonpath in (("before (C unpickler)", args.before), ("after (pure-Python unpickler)", "")):
        env = dict(os.environ, PYTHONPATH=pythonpath) if pythonpath else dict(os.environ)
        out = subprocess.run([sys.executable, "-c", CODE, str(FIXTURE)], capture_output=True, text=True, env=env,
                             cwd=tempfile.gettempdir(), check=True).stdout.strip()
        print(f"{label:<32} {out}")
