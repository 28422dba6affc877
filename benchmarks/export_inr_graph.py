"""Export only the INR graph of a checkpoint or demo preset, with a manifest.json holding its
theta_layout (input of benchmarks/int8_granularity.py and int8_plan_only.py).

    python benchmarks/export_inr_graph.py demo:released-church OUT_DIR
"""
import sys, json, time
from pathlib import Path
from inrgan_export.load.sources import load_source
from inrgan_export.load.split import split
from inrgan_export.exporter.onnx_export import export_graph
src, out = sys.argv[1], Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
ckpt = load_source(src); model = ckpt.build()
spec = ckpt.family_spec.export_spec
g = next(g for g in split(model, spec) if g.name == "inr")
t = time.time()
export_graph(g, model, spec, out / "inr.onnx", cache=False)
print("traced in", time.time() - t)
layout = [{"name": s.name, "offset": s.offset, "size": s.size, "kind": s.kind} for s in model.theta_segments]
(out / "manifest.json").write_text(json.dumps({"theta_layout": layout}))
