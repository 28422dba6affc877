"""``inrgan-export demo --list``: the built-in demo generators."""
from __future__ import annotations

import argparse

HELP = "built-in demo generators"


def add_arguments(d: argparse.ArgumentParser) -> None:
    d.add_argument("--list", action="store_true", help="list demo presets with parameter counts")


def run(args: argparse.Namespace) -> int:
    print_demo_list()
    return 0


def print_demo_list() -> None:
    from ..families import all_presets

    print(f"{'name':<12} {'family':<8} {'native':>7} {'params':>13} {'theta':>9}  source")
    for name, (fam, preset) in sorted(all_presets().items(), key=lambda kv: kv[0]):
        params, theta = fam.count_parameters(preset.config)
        native = preset.config.native_size
        print(f"demo:{name:<7} {fam.name:<8} {native:>6}² {params:>13,} {theta:>9,}  {preset.source}")
