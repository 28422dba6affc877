"""Cold start of ``inrgan-export render BUNDLE --seed 0 --size 64x64`` in a fresh process:
a runtime-only install (numpy, onnxruntime, pillow, tqdm + the package, no torch) against the
full install, with the code before the torch-free runtime (a git revision, default c554442)
and with this checkout. Each round runs every variant once, in a rotating order; medians and
IQR over the rounds, and the size of each environment's site-packages.

    python benchmarks/bench_cold_start.py --bundle church_onnx/ --rounds 9 \
        --out benchmarks/results/cold_start_render.json

Needs the full environment (.venv, from ./setup.sh) and a bundle the old code can read
(manifest version 1). Builds the runtime-only venv and the old code's package under --work.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import venv
from importlib.metadata import version
from pathlib import Path

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--old-rev", default="c554442")
    ap.add_argument("--work", type=Path, default=Path("/tmp/inrgan-cold-start"))
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    variants = build(args.work, args.old_rev)
    names = list(variants)
    times: dict[str, list[float]] = {n: [] for n in names}
    args.work = args.work.resolve()
    out_dir = args.work / "renders"
    out_dir.mkdir(exist_ok=True)
    for r in range(args.rounds + 1):  # round 0: warm-up (page cache), not counted
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            v = variants[name]
            png = out_dir / f"{names.index(name)}.png"
            png.unlink(missing_ok=True)
            t = time.perf_counter()
            # cwd outside the checkout: `python -m` puts the working directory first on sys.path
            sh([*v["cmd"], "render", args.bundle.resolve(), "--seed", "0", "--size", "64x64", "-o", png],
               env=v["env"], cwd=args.work)
            dt = time.perf_counter() - t
            if r:
                times[name].append(dt)
        print(f"round {r}/{args.rounds}" + (" (warm-up)" if r == 0 else ""), file=sys.stderr)
    same = len({(out_dir / f"{i}.png").read_bytes() for i in range(len(names))}) == 1
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    flags = next((line.split(":", 1)[1].split() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("flags")), [])
    result = {
        "command": "python " + " ".join(sys.argv),
        "machine": {"cpu": cpu, "logical_cpus": os.cpu_count(),
                    "isa_flags": [f for f in ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16") if f in flags],
                    "note": "shared machine, other jobs running: compare medians within this run only"},
        "bundle": str(args.bundle),
        "rounds": args.rounds,
        "identical_png_from_every_variant": same,
        "variants": {},
    }
    base = statistics.median(times[names[0]])
    for name in names:
        ts = sorted(times[name])
        q = statistics.quantiles(ts, n=4) if len(ts) >= 2 else [ts[0]] * 3
        result["variants"][name] = {
            "median_s": round(statistics.median(ts), 3), "q1_s": round(q[0], 3), "q3_s": round(q[2], 3),
            "min_s": round(ts[0], 3), "max_s": round(ts[-1], 3),
            "speedup_vs_first": round(base / statistics.median(ts), 2),
            "site_packages_MB": round(variants[name]["site_packages_bytes"] / 2**20, 1),
        }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
