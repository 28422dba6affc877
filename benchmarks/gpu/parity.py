"""Parity of the torch backend on a device (CUDA) against the CPU FP32 reference.

For each preset: latents from fixed seeds, images from the CPU FP32 reference, then the same
latents through hypernetwork and INR on ``--device`` at each precision. Gates (the bundles'
own, inrgan_export.verify.gate_for): fp32 max |diff| <= the family's parity atol (1e-4),
fp16/bf16 PSNR >= 40 dB, NaN/Inf fails. Writes one JSON record; exit 4 when a gate fails.

    PYTHONPATH=. python benchmarks/gpu/parity.py --device cuda -o OUT/parity.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from inrgan_export.load.sources import open_checkpoint
from inrgan_export.families import get_family
from inrgan_export.core.imageio import psnr
from inrgan_export.core.latents import latents_from_seeds
from inrgan_export.verify import gate_for


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--presets", default="demo:tiny,demo:sg2-tiny")
    ap.add_argument("--precisions", default="fp32,fp16,bf16")
    ap.add_argument("--size", type=int, default=None, help="square output side (default: each preset's native)")
    ap.add_argument("--seeds", default="0,1,2,3")
    ap.add_argument("-o", "--out", required=True)
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    records, failures = [], []
    for preset in args.presets.split(","):
        ref = open_checkpoint(preset)  # CPU FP32: the reference every backend is gated against
        iface = ref.interface
        size = (args.size, args.size) if args.size else tuple(iface.native_size)
        z = latents_from_seeds(seeds, iface.z_dim)
        with ref:
            want = ref.generate(z, size)
        for precision in args.precisions.split(","):
            gen = open_checkpoint(preset, device=args.device, precision=precision)
            with gen:
                t0 = time.perf_counter()
                got = gen.generate(z, size)
                seconds = time.perf_counter() - t0
            atol = get_family(iface.family).export_spec.parity_atol
            gate = gate_for(precision, atol)
            bad = not bool(np.isfinite(got).all())
            diff = np.abs(got.astype(np.float64) - want)
            max_abs = float(np.nanmax(diff)) if not bad else float("inf")
            db = psnr(want, got, iface.display) if not bad else float("-inf")
            ok = gate.passes(max_abs, db, bad)
            rec = {"preset": preset, "family": iface.family, "size": list(size), "latents": len(seeds),
                   "precision": precision, **gen.run_info, "max_abs": max_abs, "mean_abs": float(np.mean(diff)),
                   "psnr_db": db if np.isfinite(db) else None, "identical": bool(max_abs == 0.0), "gate": gate.describe(), "passed": ok, "first_run_s": seconds}
            records.append(rec)
            line = (f"{preset:<22} {precision:<5} on {gen.device:<7} {size[0]}x{size[1]}: max|diff| {max_abs:.3g}, "
                    f"PSNR {db:.1f} dB, gate {gate.describe()}: {'pass' if ok else 'FAIL'}")
            print(line, flush=True)
            if not ok:
                failures.append(line)
    with open(args.out, "w") as f:
        json.dump({"reference": "torch cpu fp32", "device": args.device, "records": records,
                   "passed": not failures, "failures": failures}, f, indent=2, default=float)
        f.write("\n")
    return 4 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
