"""Cold start of ``inrgan-export render BUNDLE --seed 0 --size 64x64`` in a fresh process:
a runtime-only install (numpy, onnxruntime, pillow, tqdm + the package, no torch) against the
full install, with the code before the torch-free runtime (a git revision, default c554442)
and with this checkout. Each round runs every variant once, in a rotating order; medians and
IQR over the rounds, and the size of each environment's site-packages.

    python benchmarks/bench_cold_start.py --bundle church_onnx/ --rounds 9 \
        --out benchmarks/results/cold_start_render.json

Needs the full environment (.venv, from ./setup.sh) and a bundle the old code can read
(manifest version 1). Builds the runtime-only venv and the old code's package under --work.
--this-checkout-only builds nothing and times the active environment's CLI alone (a quick
check of the script, not a comparison).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from importlib.metadata import version
from pathlib import Path

from inrgan_export.measure.harness import parser, record, write_json
from inrgan_export.measure.timing import interleaved_times, spread

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_DEPS = ("numpy", "onnxruntime", "pillow", "tqdm")


def sh(args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True, **kw)


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def site_packages(env: Path) -> Path:
    return next(env.glob("lib/python*/site-packages"))


def build(work: Path, old_rev: str) -> dict[str, dict]:
    work.mkdir(parents=True, exist_ok=True)
    wheels = work / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    sh([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", wheels, ROOT])
    rt = work / "runtime-venv"
    if not (rt / "bin" / "python").exists():
        venv.EnvBuilder(with_pip=True).create(rt)
        sh([rt / "bin" / "python", "-m", "pip", "install", "-q", *[f"{n}=={version(n)}" for n in RUNTIME_DEPS]])
    sh([rt / "bin" / "python", "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", *wheels.glob("*.whl")])
    old_src, old_pkg = work / "old-src", work / "old-pkg"
    shutil.rmtree(old_src, ignore_errors=True)
    shutil.rmtree(old_pkg, ignore_errors=True)
    old_src.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", old_rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(old_src)], input=archive, check=True)
    sh([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", old_pkg, old_src])
    full_env = Path(sys.prefix)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {
        f"full install, code at {old_rev}": {"cmd": [sys.executable, "-m", "inrgan_export"], "env": {**env, "PYTHONPATH": str(old_pkg)},
                                             "site_packages_bytes": dir_bytes(site_packages(full_env))},
        "full install, this checkout": {"cmd": [sys.executable, "-m", "inrgan_export"], "env": env,
                                        "site_packages_bytes": dir_bytes(site_packages(full_env))},
        "runtime-only install, this checkout": {"cmd": [rt / "bin" / "python", "-m", "inrgan_export"], "env": env,
                                                "site_packages_bytes": dir_bytes(site_packages(rt))},
    }


def this_checkout() -> dict[str, dict]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {"full install, this checkout": {"cmd": [sys.executable, "-m", "inrgan_export"], "env": env,
                                            "site_packages_bytes": dir_bytes(site_packages(Path(sys.prefix)))}}


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("--bundle", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--old-rev", default="c554442")
    ap.add_argument("--work", type=Path, default=Path("/tmp/inrgan-cold-start"))
    ap.add_argument("--this-checkout-only", action="store_true", help="build nothing; time the active environment only")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    args.work = args.work.resolve()
    args.work.mkdir(parents=True, exist_ok=True)
    variants = this_checkout() if args.this_checkout_only else build(args.work, args.old_rev)
    names = list(variants)
    out_dir = args.work / "renders"
    out_dir.mkdir(exist_ok=True)

    def render(i: int, v: dict):
        png = out_dir / f"{i}.png"
        png.unlink(missing_ok=True)
        # cwd outside the checkout: `python -m` puts the working directory first on sys.path
        sh([*v["cmd"], "render", args.bundle.resolve(), "--seed", "0", "--size", "64x64", "-o", png], env=v["env"], cwd=args.work)

    fns = {name: (lambda i=i, v=variants[name]: render(i, v)) for i, name in enumerate(names)}
    # one warm-up run each (page cache), then every variant once per round in a rotating order
    times = interleaved_times(fns, rounds=args.rounds, warmup=1, rotate=True)
    same = len({(out_dir / f"{i}.png").read_bytes() for i in range(len(names))}) == 1
    result = record(bundle=str(args.bundle), rounds=args.rounds, identical_png_from_every_variant=same, variants={})
    base = spread(times[names[0]])["median"]
    for name in names:
        s = spread(times[name])
        result["variants"][name] = {
            "median_s": round(s["median"], 3), "q1_s": round(s["q1"], 3), "q3_s": round(s["q3"], 3),
            "min_s": round(s["min"], 3), "max_s": round(s["max"], 3),
            "speedup_vs_first": round(base / s["median"], 2),
            "site_packages_MB": round(variants[name]["site_packages_bytes"] / 2**20, 1),
        }
    write_json(result, args.out, echo=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
