#!/usr/bin/env python3
"""Time of ``read_pickle`` on the sg2 fixture: the C unpickler (code before issue 19, given
with --before as a PYTHONPATH) against the pure-Python one that intercepts BUILD (this
install). Each side in its own process in one invocation, alternating for --rounds rounds;
every child process reads the file once untimed (warm-up) then --repeats times; medians and
IQR of the per-call times.

    python benchmarks/pickle_load_time.py --before /tmp/i19_before --json benchmarks/results/pickle_load_time.json

Without --before only this install is timed.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from inrgan_export.measure.harness import parser, record, write_json
from inrgan_export.measure.timing import summarize

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "data" / "sg2" / "tiny.pkl"  # a data file, not code
#: runs in the child, against whichever code its PYTHONPATH holds (the old code has no harness)
CODE = r"""
import json, sys, time
from inrgan_export.families.sg2.pickle_import import read_pickle
read_pickle(sys.argv[1])
ts = []
for _ in range(int(sys.argv[2])):
    t = time.perf_counter(); read_pickle(sys.argv[1]); ts.append(time.perf_counter() - t)
print(json.dumps(ts))
"""


def child_times(pythonpath: str, fixture: Path, repeats: int) -> list[float]:
    env = dict(os.environ, PYTHONPATH=pythonpath) if pythonpath else dict(os.environ)
    out = subprocess.run([sys.executable, "-c", CODE, str(fixture), str(repeats)], capture_output=True, text=True, env=env,
                         cwd=tempfile.gettempdir(), check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("--before", default=None, help="PYTHONPATH holding the code before the change")
    ap.add_argument("--fixture", type=Path, default=FIXTURE, help="the network pickle to read")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    sides = {"after (pure-Python unpickler)": ""}
    if args.before:
        sides = {"before (C unpickler)": args.before, **sides}
    times: dict[str, list[float]] = {label: [] for label in sides}
    for _ in range(args.rounds):
        for label, pythonpath in sides.items():
            times[label] += child_times(pythonpath, args.fixture, args.repeats)
    doc = record(fixture=str(args.fixture), rounds=args.rounds, repeats=args.repeats, sides={})
    for label, ts in times.items():
        t = summarize(ts)
        doc["sides"][label] = {**t.to_json(), "seconds": ts}
        print(f"{label:<32} median {t.median_s:.3f} s, IQR {t.q1_s:.3f}..{t.q3_s:.3f} s (n={t.runs})", file=sys.stderr)
    write_json(doc, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
