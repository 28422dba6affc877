"""Catalogue of hostile inputs: exit code, error line, wall time and peak RSS of the CLI on
each attack class of issue 19 (benchmarks/hostile_inputs.py builds the files).

Each file is fed to the real CLI in a child process with an address-space limit
(``RLIMIT_AS``) and a wall-clock backstop; the child's peak RSS comes from ``wait4``.
Run it once on the code before a change (``--label before``) and once after
(``--label after``); both runs go into one JSON file and a Markdown table is regenerated
from it::

    python benchmarks/hostile_catalogue.py --label before --cli /path/to/old/venv/bin/inrgan-export
    python benchmarks/hostile_catalogue.py --label after

Wall times are informative only (a shared, noisy machine); the exit code and the RSS are
what the issue's acceptance is about.
"""
from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hostile_inputs import CLASSES, SG2_TINY  # benchmarks/hostile_inputs.py, beside this script

from inrgan_export.measure.harness import command_line, machine_description, parser

RESULTS = Path(__file__).resolve().parent / "results"


def run_limited(cmd: list[str], cwd: Path, timeout: float, as_bytes: int) -> dict:
    """Run ``cmd`` with RLIMIT_AS; exit code (or 'timeout'), stderr's error line, peak RSS."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (as_bytes, as_bytes))
        os.setsid()

    t0 = time.monotonic()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err, preexec_fn=limit)
        status = None
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - t0 > timeout:
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                status = None
                break
            time.sleep(0.05)
        proc.returncode = 0  # reaped by wait4
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    message = next((ln for ln in lines if ln.startswith("inrgan-export:")), lines[-1] if lines else "")
    if status is None:
        code: int | str = f"killed after {timeout:.0f} s"
    elif os.WIFSIGNALED(status):
        code = f"signal {os.WTERMSIG(status)}"
    else:
        code = os.WEXITSTATUS(status)
    return {
        "exit": code,
        "message": message[:300],
        "stderr_lines": len(lines),
        "traceback": "Traceback" in text,
        "wall_s": round(time.monotonic() - t0, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


#: classes whose file is loaded in the same process before the legitimate fixture (the ones
#: that end by themselves on the unchanged code too)
IN_PROCESS = ("BUILD", "self-referencing", "deep list", "stride")

_SAME_PROCESS = r"""
import json, sys, torch
from inrgan_export.families.sg2.pickle_import import load_network_pickle
tiny, hostile = sys.argv[1], sys.argv[2:]
ref = load_network_pickle(tiny).state_dict
out = {}
for path in hostile:
    try:
        load_network_pickle(path)
        first = "loaded"
    except Exception as e:
        first = type(e).__name__
    try:
        again = load_network_pickle(tiny).state_dict
        same = "identical" if again.keys() == ref.keys() and all(torch.equal(again[k], ref[k]) for k in ref) else "DIFFERENT"
    except Exception as e:
        same = "fails: " + (str(e).splitlines() or [type(e).__name__])[0][-160:]
    out[path] = {"hostile_load": first, "legitimate_load_after": same}
print(json.dumps(out))
"""


def same_process(pythonpath: str, paths: dict[str, Path]) -> dict[str, dict]:
    """Load each hostile pickle, then the legitimate fixture, in one process: is it unchanged?"""
    env = dict(os.environ, PYTHONPATH=pythonpath) if pythonpath else dict(os.environ)
    proc = subprocess.run([sys.executable, "-c", _SAME_PROCESS, str(SG2_TINY), *map(str, paths.values())],
                          capture_output=True, text=True, env=env, timeout=600, cwd=tempfile.gettempdir())  # not the checkout
    got = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else {}
    return {name: got.get(str(path), {"error": proc.stderr[-300:]}) for name, path in paths.items()}


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--label", required=True, help="before | after")
    ap.add_argument("--cli", default=str(Path(sys.executable).with_name("inrgan-export")), help="the inrgan-export executable to run")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--as-gb", type=float, default=8.0, help="RLIMIT_AS of the child, GiB")
    ap.add_argument("--pythonpath", default="", help="PYTHONPATH of the same-process check (the code under test)")
    ap.add_argument("--only", default="", help="substring: run only matching classes")
    ap.add_argument("--out", default=str(RESULTS / "hostile_inputs.json"))
    ap.add_argument("--code", default="", help="what code the CLI runs (recorded)")
    args = ap.parse_args()

    out = Path(args.out)
    doc = json.loads(out.read_text()) if out.exists() else {"classes": {}, "runs": {}}
    run = doc["runs"].setdefault(args.label, {"commands": []})
    run.update({
        "cli": args.cli, "timeout_s": args.timeout, **({"code": args.code} if args.code else {}), "rlimit_as_gib": args.as_gb,
        "machine": machine_description(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    })
    run["commands"].append(command_line())
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        built: dict[str, Path] = {}
        for name, (build, cli_args) in CLASSES.items():
            if args.only and args.only not in name:
                continue
            path = build(d)
            built[name] = path
            size = sum(p.stat().st_size for p in ([path] if path.is_file() else path.rglob("*")))
            res = run_limited([args.cli, *cli_args(path, d)], d, args.timeout, int(args.as_gb * 2**30))
            doc["classes"].setdefault(name, {})["file_bytes"] = size
            doc["classes"][name][args.label] = res
            print(f"{name:<52} {str(res['exit']):<18} {res['peak_rss_mb']:>8} MB {res['wall_s']:>7} s  {res['message'][:110]}", flush=True)
        chosen = {n: p for n, p in built.items() if any(k in n for k in IN_PROCESS)}
        if chosen:
            for name, res in same_process(args.pythonpath, chosen).items():
                doc["classes"][name][args.label]["same_process"] = res
                print(f"{name:<52} same process: {res}", flush=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    write_markdown(doc, out.with_suffix(".md"))


def _machine_text(machine) -> str:
    """A run's machine for the table: the description (or an older run's text) in a few words."""
    if isinstance(machine, str):
        return machine
    return f"{machine.get('machine')} {machine.get('cpu_model')}, {machine.get('logical_cpus')} cores, shared and noisy"


def write_markdown(doc: dict, path: Path) -> None:
    lines = ["# Hostile inputs: before and after issue 19", "",
             "Generated by `benchmarks/hostile_catalogue.py` from `hostile_inputs.json`; files built by "
             "`benchmarks/hostile_inputs.py`. Each run: the real CLI in a child process under RLIMIT_AS, peak RSS "
             "from wait4. Wall times on a shared, noisy 2-core machine: informative only.", ""]
    for label, run in doc["runs"].items():
        cmds = "; ".join(f"`{c}`" for c in run["commands"])
        code = f" code: {run['code']};" if run.get("code") else ""
        lines.append(f"- **{label}** ({run['date']};{code} RLIMIT_AS {run['rlimit_as_gib']} GiB, backstop {run['timeout_s']} s; "
                     f"{_machine_text(run['machine'])}): {cmds}")
    lines += ["", "| input class | file | run | exit | peak RSS | wall | message | legitimate load afterwards, same process |",
              "|---|---|---|---|---|---|---|---|"]
    for name, entry in doc["classes"].items():
        for label in doc["runs"]:
            if label in entry:
                r = entry[label]
                msg = r["message"].replace("|", "\\|")
                after = r.get("same_process", {}).get("legitimate_load_after", "").replace("|", "\\|")
                lines.append(f"| {name} | {entry['file_bytes'] / 1024:.0f} KiB | {label} | {r['exit']} | "
                             f"{r['peak_rss_mb']:.0f} MB | {r['wall_s']} s | {msg} | {after} |")
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
