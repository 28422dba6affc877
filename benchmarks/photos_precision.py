"""Reduced-precision exports of the photo-fitted presets next to the same architectures with
seeded (never trained) weights.

For each source and TARGET:PRECISION: ``inrgan-export export`` (the real CLI, its own INT8
calibration and gate), then the bundle's images of the evaluation latents against the PyTorch
FP32 reference at native 64²: median and worst PSNR (display scale, 0..255), and for INT8 how
many of the plan's MatMul layers stayed INT8. Evaluation latents: the 8 held-out bank latents
of a fitted preset; seeds 0-7 for seeded weights (they were fitted on nothing).

    .venv/bin/python benchmarks/photos_precision.py --work /tmp/prec --jobs onnx:int8 -o benchmarks/results/photos_precision.json
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from inrgan_export import open_bundle, open_checkpoint
from inrgan_export.measure.harness import parser, record, write_json
from inrgan_export.measure.timing import measure
from inrgan_export.load.sources import Checkpoint, load_source
from inrgan_export.core.imageio import psnr
from inrgan_export.core.latents import latents_from_seeds

FITTED = {"demo:photos": "photos", "demo:photos-sg2": "photos-sg2"}


def seeded_twin(name: str, work: Path) -> Path:
    """The fitted preset's architecture with the seeded demo initialisation, as a .pt."""
    from inrgan_export.load.sources import DEMO_SEED
    from inrgan_export.families import all_presets

    fam, preset = all_presets()[FITTED[name]]
    model = fam.build(preset.config)
    fam.init_weights(model, torch.Generator().manual_seed(DEMO_SEED))
    path = work / f"seeded-{FITTED[name]}.pt"
    Checkpoint(fam.name, preset.config.to_dict(), {k: v.detach() for k, v in model.state_dict().items()},
               {"origin": f"seeded twin of {name}"}).save(path, force=True)
    return path


def evaluate(src: str, bundle: Path, z: np.ndarray, rounds: int = 5) -> dict:
    """PSNR against the reference at native size, and the INR's time for the 8 latents at 4x
    (256², after one warm-up; median and IQR of ``rounds``)."""
    with open_checkpoint(src) as ref, open_bundle(bundle) as g:
        size = tuple(ref.interface.native_size)
        a = ref.render(ref.hypernet(z), size)
        theta = g.hypernet(z)
        b = g.render(theta, size)
        display = ref.interface.display
        big = (4 * size[0], 4 * size[1])
        t = measure(lambda: g.render(theta, big), repeats=rounds, warmup=1)
    p = np.array([psnr(a[i : i + 1], b[i : i + 1], display) for i in range(len(z))])
    return {"psnr_median_db": round(float(np.median(p)), 2), "psnr_worst_db": round(float(p.min()), 2),
            "inr_256_batch8_s": {"median": round(t.median_s, 4), "q1": round(t.q1_s, 4), "q3": round(t.q3_s, 4), "runs": t.runs}}


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--work", type=Path, required=True, help="where bundles are written")
    ap.add_argument("--jobs", default="onnx:int8", help="comma list of TARGET:PRECISION")
    ap.add_argument("--sources", default="demo:photos,demo:photos-sg2")
    ap.add_argument("--seeded", action="store_true", help="also the seeded twins of the sources")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5, help="timed renders at 4x native per bundle, after one warm-up")
    ap.add_argument("-o", "--out", type=Path, required=True)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    cli = str(Path(sys.executable).with_name("inrgan-export"))
    for name in args.sources.split(","):
        bank = load_source(name).latent_bank
        held = bank["latents"][[i for i, s in enumerate(bank["split"]) if s == "heldout"]]
        cases = [(name, name, held, "heldout bank latents")]
        if args.seeded:
            twin = seeded_twin(name, args.work)
            cases.append((f"seeded twin of {name}", str(twin), latents_from_seeds(list(range(8)), held.shape[1]), "seeds 0-7"))
        for label, src, z, zdesc in cases:
            for job in args.jobs.split(","):
                target, precision = job.split(":")
                out = args.work / f"{Path(src).stem.replace(':', '_')}_{target}_{precision}"
                cmd = [cli, "export", src, "--target", target, "--precision", precision, "--threads", str(args.threads), "-o", str(out), "--force"]
                print(" ".join(cmd), file=sys.stderr, flush=True)
                t0 = time.perf_counter()
                proc = subprocess.run(cmd, capture_output=True, text=True)
                entry = {"command": " ".join(["inrgan-export", *cmd[1:]]), "exit": proc.returncode,
                         "export_wall_s": round(time.perf_counter() - t0, 1), "latents": zdesc}
                if proc.returncode not in (0, 4):
                    entry["error"] = proc.stderr.strip().splitlines()[-1:]
                else:
                    entry.update(evaluate(src, out, z, args.rounds))
                    manifest = json.loads((out / "manifest.json").read_text())
                    int8 = manifest.get("int8")
                    if int8:
                        matmuls = [f for f in int8["float_layers"] if "always floating point" not in f.get("reason", "")]
                        entry["int8_layers"] = f"{len(int8['int8_layers'])} of {len(int8['int8_layers']) + len(matmuls)}"
                        entry["gates"] = int8.get("gates")
                    entry["parity_passed"] = (manifest.get("parity") or {}).get("passed")
                results.setdefault(label, {})[job] = entry
                print(json.dumps({label: {job: entry}}), file=sys.stderr, flush=True)
                write_json({**results, **record()}, args.out)  # the latest run's command and machine


if __name__ == "__main__":
    main()
