"""``inrgan-export demo --list``: the built-in demo generators. The list is read from a table
shipped with the package (``data/demo_presets.json``), so that it works without PyTorch; a test
rebuilds the table from the family registry and fails when the two differ."""
from __future__ import annotations

import argparse
import json
from importlib import resources

HELP = "built-in demo generators"
TABLE = "demo_presets.json"


def add_arguments(d: argparse.ArgumentParser) -> None:
    d.add_argument("--list", action="store_true", help="list demo presets with parameter counts")


def run(args: argparse.Namespace) -> int:
    print_demo_list()
    return 0


def load_table() -> list[dict]:
    return json.loads(resources.files(__package__).joinpath("data", TABLE).read_text(encoding="utf-8"))


def print_demo_list() -> None:
    rows = load_table()
    width = max(len("demo:" + r["name"]) for r in rows)
    print(f"{'name':<{width}}  {'family':<6}  {'native':>6}  {'params':>13}  {'theta':>9}  {'weights':<7}  source")
    for r in rows:
        print(f"{'demo:' + r['name']:<{width}}  {r['family']:<6}  {str(r['native']) + '²':>6}  {r['params']:>13,}  "
              f"{r['theta']:>9,}  {r['weights']:<7}  {r['source']}")
    print("weights: seeded = random weights from a fixed seed (renders show structure, not photographs); "
          "fitted = trained on photographs (benchmarks/fit_photos.py), shipped with the package")


def build_table() -> list[dict]:
    """The table from the family registry (needs PyTorch): what ``data/demo_presets.json`` holds."""
    from ..families import all_presets

    rows = []
    for name, (fam, preset) in sorted(all_presets().items()):
        params, theta = fam.count_parameters(preset.config)
        rows.append({"name": name, "family": fam.name, "native": preset.config.native_size, "params": params,
                     "theta": theta, "weights": "fitted" if preset.weights else "seeded", "source": preset.source})
    return rows


if __name__ == "__main__":  # regenerate the table: python -m inrgan_export.commands.demo > .../data/demo_presets.json
    print(json.dumps(build_table(), indent=1, ensure_ascii=False))
