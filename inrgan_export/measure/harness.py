"""What every script in ``benchmarks/`` shares besides the timing (``timing.py``): the one
description of the machine a figure was measured on, the record each script writes (command,
machine, then its own fields) and its command-line conventions.

Kept free of torch and of the export layers, so a script's ``--help`` stays fast and a
script that only drives the CLI in child processes imports nothing heavy."""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from ..core.environment import machine_info

#: the caveat every record carries: ratios measured side by side are the figures to use
SHARED_MACHINE_NOTE = "shared machine, other jobs running: compare figures measured side by side in one run"


def machine_description() -> dict:
    """CPU model, ISA flags, CPU counts, GPUs, library versions and the load average when the
    figure was taken: the one machine description of every benchmark record."""
    info = machine_info()
    try:
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:  # not available on this platform
        pass
    info["note"] = SHARED_MACHINE_NOTE
    return info


def machine_line(info: dict | None = None) -> str:
    """The machine description as one line, for a script's printed header."""
    info = info or machine_description()
    load = " ".join(f"{x:.1f}" for x in info.get("load_average", []))
    return (f"cpu: {info.get('cpu_model', info.get('machine', '?'))}; isa flags: {' '.join(info.get('isa_flags') or []) or '-'}; "
            f"{info.get('affinity_cpus', info.get('logical_cpus'))} CPUs; load average {load or '?'} (shared machine: noisy)")


def command_line(argv: list[str] | None = None) -> str:
    """How the script was run, as a shell line (``python benchmarks/NAME.py ARGS``)."""
    argv = sys.argv if argv is None else argv
    return shlex.join(["python", *argv])


def record(**fields) -> dict:
    """A benchmark record: the command, the machine description, then the script's fields."""
    return {"command": command_line(), "machine": machine_description(), **fields}


def write_json(doc: dict, path: Path | None, *, echo: bool = False) -> str:
    """Write ``doc`` as JSON to ``path`` (parents created), or print it when ``path`` is None
    (also when ``echo``); returns the text."""
    text = json.dumps(doc, indent=2, default=str)
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    if path is None or echo:
        print(text)
    return text


def parser(doc: str | None) -> argparse.ArgumentParser:
    """The argument parser of a benchmark script: its module docstring as the help text."""
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def int_list(text: str) -> list[int]:
    """argparse type of ``--sizes 64,128``-style options: positive integers, comma-separated."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected positive integers separated by commas, e.g. 64,128")
    return values
