#!/usr/bin/env python3
"""Wall time, peak RSS and bundle size of one export job, e.g. the README's main job
(`inrgan-export demo:church --target onnx -o demo_onnx/`), measured by GNU time.

    flock /tmp/heavy.lock .venv/bin/python benchmarks/bench_export_job.py --threads 2 \\
        --raw benchmarks/results/export_church_onnx.txt -- demo:church --target onnx

Runs `/usr/bin/time -v inrgan-export ARGS -o TMPDIR` (the CLI of the active environment) with
OMP/MKL thread counts set to --threads, prints wall time, peak RSS, bundle size per file and
the CPU's description, and writes all of it plus GNU time's raw report to --raw, and the
figures with the machine description to --json. The bundle is deleted afterwards unless
--keep DIR is given.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from inrgan_export.measure.harness import machine_description, machine_line, parser, record, write_json


def gnu_time_field(report: str, name: str) -> str:
    m = re.search(rf"^\s*{re.escape(name)}: (.+)$", report, re.M)
    if m is None:
        raise SystemExit(f"GNU time printed no {name!r} line; is /usr/bin/time GNU time?")
    return m.group(1).strip()


def seconds(clock: str) -> float:
    """GNU time's elapsed '[h:]m:ss.ss' in seconds."""
    parts = [float(p) for p in clock.split(":")]
    total = 0.0
    for p in parts:
        total = total * 60 + p
    return total


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--raw", type=Path, default=None, help="write the report and GNU time's raw output here")
    ap.add_argument("--json", type=Path, default=None, help="write the figures and the machine description here")
    ap.add_argument("--keep", type=Path, default=None, help="keep the bundle in this directory")
    ap.add_argument("args", nargs=argparse.REMAINDER, help="-- then the export's arguments (without -o)")
    ns = ap.parse_args()
    args = [a for a in ns.args if a != "--"]
    if not args:
        ap.error("give the export's arguments after --, e.g. -- demo:church --target onnx")
    cli = Path(sys.executable).with_name("inrgan-export")
    tmp = Path(tempfile.mkdtemp(prefix="inrgan-export-job-"))
    out = ns.keep or tmp / "bundle"
    env = dict(os.environ, OMP_NUM_THREADS=str(ns.threads), MKL_NUM_THREADS=str(ns.threads))
    cmd = ["/usr/bin/time", "-v", str(cli), *args, "--threads", str(ns.threads), "-o", str(out)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        report = proc.stderr
        wall = seconds(gnu_time_field(report, "Elapsed (wall clock) time (h:mm:ss or m:ss)"))
        rss_kb = int(gnu_time_field(report, "Maximum resident set size (kbytes)"))
        cpu = float(gnu_time_field(report, "User time (seconds)")) + float(gnu_time_field(report, "System time (seconds)"))
        files = {p.name: p.stat().st_size for p in sorted(out.iterdir())} if out.is_dir() else {}
    finally:
        if ns.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    mi = machine_description()
    lines = [
        f"# command: {' '.join(cmd[2:-2])} -o BUNDLE (under /usr/bin/time -v; OMP/MKL threads {ns.threads})",
        f"# {machine_line(mi)}",
        f"exit status: {proc.returncode}",
        f"wall time: {wall:.1f} s",
        f"CPU time (user + sys): {cpu:.1f} s (on an idle machine with {ns.threads} cores, wall ≈ CPU / {ns.threads} at best)",
        f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}",
        f"peak RSS: {rss_kb / 1024 / 1024:.2f} GiB ({rss_kb} kB)",
        f"bundle: {sum(files.values()) / 1e6:.1f} MB in {len(files)} files",
        *[f"  {name}: {size / 1e6:.1f} MB" for name, size in files.items()],
    ]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if ns.raw is not None:
        ns.raw.parent.mkdir(parents=True, exist_ok=True)
        ns.raw.write_text(text + "\n## stdout\n" + proc.stdout + "\n## stderr (the export's log, then GNU time)\n" + report)
    if ns.json is not None:
        write_json({**record(export_args=args, threads=ns.threads, exit_status=proc.returncode, wall_s=round(wall, 2),
                             cpu_s=round(cpu, 2), peak_rss_bytes=rss_kb * 1024, bundle_bytes=files), "machine": mi}, ns.json)
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main())
