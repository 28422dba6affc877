#!/usr/bin/env python3
"""Export only the INR graph of a checkpoint or demo preset, with a manifest.json holding its
theta_layout (input of benchmarks/int8_granularity.py and int8_plan_only.py).

    python benchmarks/export_inr_graph.py demo:released-church OUT_DIR

Prints a record (the export time and the machine) as JSON; --json writes it to a file.
The graph is traced afresh unless --cache lets the export reuse a graph traced before (the
user cache the CLI's exports share).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from inrgan_export.measure.harness import parser, record, write_json


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("source", help="a checkpoint file or demo:PRESET")
    ap.add_argument("out", type=Path, help="directory for inr.onnx and manifest.json")
    ap.add_argument("--cache", action="store_true", help="reuse a cached trace of the same graph")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    from inrgan_export.load.sources import load_source
    from inrgan_export.exporter.onnx_export import export_graph
    from inrgan_export.load.split import split

    args.out.mkdir(parents=True, exist_ok=True)
    ckpt = load_source(args.source)
    model = ckpt.build()
    spec = ckpt.family_spec.export_spec
    graph = next(g for g in split(model, spec) if g.name == "inr")
    t = time.perf_counter()
    export_graph(graph, model, spec, args.out / "inr.onnx", cache=args.cache)
    export_s = time.perf_counter() - t
    layout = [{"name": s.name, "offset": s.offset, "size": s.size, "kind": s.kind} for s in model.theta_segments]
    (args.out / "manifest.json").write_text(json.dumps({"theta_layout": layout}))
    write_json(record(source=args.source, out=str(args.out), export_s=round(export_s, 2), cached_trace_allowed=args.cache,
                      onnx_bytes=(args.out / "inr.onnx").stat().st_size), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
