"""``inrgan-export doctor``: what this install can do (extras, runtimes, CPU, cache); torch-free."""
from __future__ import annotations

import argparse

from . import args as a

HELP = "what this install can do: extras and versions, runtimes, CPU ISA flags, browser, C++ runtime, cache"


def add_arguments(d: argparse.ArgumentParser) -> None:
    a.json_flag(d)


def run(args: argparse.Namespace) -> int:
    from ..app.doctor import doctor, format_doctor

    report = doctor()
    if args.json:
        a.emit_json({"command": "doctor", **report})
    else:
        print(format_doctor(report))
    return 0
