#!/usr/bin/env python3
"""ONNX Runtime's mobile usability check (NNAPI, Core ML) of a preset's INR graph, the same
check target ort-mobile records in its manifest, without a full export (no parity run): the
INR graph is exported (or taken from the user cache) and judged.

    .venv/bin/python benchmarks/ort_mobile_usability.py released-church > benchmarks/results/ort_mobile_usability.json
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from inrgan_export.load.sources import demo_checkpoint
from inrgan_export.compile.ort_mobile import check_usability, recommended_providers
from inrgan_export.exporter.onnx_export import export_graph
from inrgan_export.load.split import split


def main(presets: list[str]) -> int:
    out = {"command": " ".join(sys.argv), "presets": {}}
    for preset in presets:
        ckpt = demo_checkpoint(preset)
        model = ckpt.build()
        spec = ckpt.family_spec.export_spec
        inr = next(g for g in split(model, spec) if g.name == "inr")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "inr.onnx"
            export_graph(inr, model, spec, path)
            usability = check_usability(path)
        out["presets"][preset] = {"inr": usability, "execution_providers": recommended_providers(usability)}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["released-church"]))
