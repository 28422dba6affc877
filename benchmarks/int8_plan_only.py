"""The INT8 plan of an INR graph as ``export --precision int8`` builds it for a CPU target
(calibration, sensitivity sweep, selection, held-out gate; no bundle, no parity report).

    python benchmarks/int8_plan_only.py PRESET FP32_DIR OUT_INR.onnx
"""
import json, sys, time
from pathlib import Path
from inrgan_export import open_checkpoint
from inrgan_export.calibration.data import CalibrationSpec
from inrgan_export.calibration.plan import build_plan
preset, fp32_dir, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
t = time.time()
ref = open_checkpoint(f"demo:{preset}", threads=2)
man = json.loads((fp32_dir / "manifest.json").read_text())
plan = build_plan(fp32_dir / "inr.onnx", out, man, ref, CalibrationSpec(), threads=2, reduce_range_activations=True)
d = plan.to_manifest()
print(json.dumps({"int8_layers": d["int8_layers"], "sweep_psnr_db": d["sweep_psnr_db"], "full_plan_sweep_psnr_db": d["full_plan_sweep_psnr_db"],
                  "selection": {k: d["selection"][k] for k in ("median_psnr_db", "worst_psnr_db", "passed", "attempts")},
                  "gates": {k: d["gates"][k] for k in ("median_psnr_db", "worst_psnr_db", "passed", "per_grid")},
                  "seconds": d["seconds"]}, indent=1))
print(f"INT8 plan: {len(d['int8_layers'])} of {len(d['sweep_psnr_db'])} layers in INT8; held-out gate median {d['gates']['median_psnr_db']} dB, worst {d['gates']['worst_psnr_db']} dB; {time.time()-t:.0f} s")
