#!/usr/bin/env python3
"""Where the released (sg2) family loses precision under BF16, and what keeping parts in FP32
buys — the profile behind BENCHMARKS.md's "released family BF16 stays below 40 dB".

Two measurements on a preset's INR (4 latents, worst per-image PSNR against PyTorch FP32):
1. PyTorch emulation: every ``matmul`` inside one module kind (the coordinate fuser, the
   modulated synthesis layers, ToRGB) gets BF16-rounded inputs, and optionally a BF16-rounded
   output (as OpenVINO's BF16 mode stores activations) — which part costs the decibels.
2. OpenVINO BF16 with the Sin/Cos subgraphs of the Fourier features (and their producers up
   to ``--depth`` nodes back), or every node, marked to keep their original precision through
   the IR attribute ``precise`` (the CPU plugin's way to exempt nodes from BF16 enforcement).

    .venv/bin/python benchmarks/bf16_sg2_probe.py --preset released-church --size 128 \\
        --out benchmarks/results/bf16_sg2_probe.json
"""
from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
import torch

from inrgan_export.measure.harness import parser, record, write_json
from inrgan_export.load.sources import demo_checkpoint
from inrgan_export.core.imageio import psnr
from inrgan_export.exporter.onnx_export import export_graph
from inrgan_export.load.split import split


def worst(ref: np.ndarray, out: np.ndarray, display) -> float:
    return float(min(psnr(ref[i : i + 1], out[i : i + 1], display) for i in range(ref.shape[0])))


def emulate(model, theta, args, scope: tuple[type, ...], round_output: bool) -> np.ndarray:
    """The INR with BF16-rounded matmul inputs (and output) inside modules of ``scope``."""
    def bf(x):
        return x.to(torch.bfloat16).to(torch.float32)

    original = torch.matmul
    active = {"on": 0}

    def matmul(a, b):
        if not active["on"]:
            return original(a, b)
        out = original(bf(a), bf(b))
        return bf(out) if round_output else out

    hooks = []
    for mod in model.modules():
        if isinstance(mod, scope):
            hooks.append(mod.register_forward_pre_hook(lambda m, a: active.__setitem__("on", active["on"] + 1)))
            hooks.append(mod.register_forward_hook(lambda m, a, o: active.__setitem__("on", active["on"] - 1)))
    operator = torch.Tensor.__matmul__
    torch.matmul = matmul
    torch.Tensor.__matmul__ = lambda a, b: matmul(a, b)  # the fuser writes basis @ coords
    try:
        with torch.no_grad():
            return model.inr(theta, *args).numpy()
    finally:
        torch.matmul = original
        torch.Tensor.__matmul__ = operator
        for h in hooks:
            h.remove()


def openvino_marked(onnx_path: Path, feeds: dict, kinds: set[str], depth: int, work: Path) -> tuple[np.ndarray, int]:
    import openvino as ov

    core = ov.Core()
    model = core.read_model(str(onnx_path))
    keep: set[str] = set()

    def up(node, d):
        if d == 0 or node.get_type_name() in ("Parameter", "Constant"):
            return
        keep.add(node.get_friendly_name())
        for i in node.inputs():
            up(i.get_source_output().get_node(), d - 1)

    for op in model.get_ordered_ops():
        if op.get_type_name() in kinds:
            up(op, depth)
    xml = work / "m.xml"
    ov.save_model(model, str(xml), compress_to_fp16=False)

    def mark(match):
        layer = match.group(0)
        name = re.search(r'name="([^"]*)"', layer).group(1)
        if name not in keep:
            return layer
        if "<rt_info>" in layer:
            return layer.replace("<rt_info>", '<rt_info>\n<attribute name="precise" version="0" />', 1)
        head = layer.index(">") + 1
        return layer[:head] + '\n<rt_info>\n<attribute name="precise" version="0" />\n</rt_info>' + layer[head:]

    marked = work / "marked.xml"
    marked.write_text(re.sub(r"<layer [^>]*>.*?</layer>", mark, xml.read_text(), flags=re.S))
    (work / "marked.bin").write_bytes((work / "m.bin").read_bytes())
    compiled = core.compile_model(str(marked), "CPU", {"INFERENCE_PRECISION_HINT": "bf16", "INFERENCE_NUM_THREADS": 2})
    request = compiled.create_infer_request()
    request.infer(feeds)
    return np.array(request.get_output_tensor(0).data, copy=True), len(keep)


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("--preset", default="released-church")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--depth", type=int, default=6)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    torch.set_num_threads(2)
    ckpt = demo_checkpoint(a.preset)
    model, family = ckpt.build(), ckpt.family_spec
    if family.name != "sg2":
        raise SystemExit(f"--preset {a.preset}: a {family.name}-family preset; this probe is for the sg2 family")
    from inrgan_export.families.sg2 import model as sg2

    z = torch.from_numpy(np.random.RandomState(0).randn(4, model.z_dim).astype(np.float32))
    grid = model.layout.build((a.size, a.size), None, batch=1).for_batch(4)
    args = [torch.from_numpy(grid[s.name]) for s in model.layout.input_specs()]
    with torch.no_grad():
        theta = model.hypernet(z)
        ref = model.inr(theta, *args).numpy()
    display = family.display
    rows: dict[str, float] = {}
    parts = {"coordinate fuser": (sg2.CoordFuser,), "synthesis layers": (sg2.SynthesisLayer,), "ToRGB": (sg2.ToRGBLayer,),
             "all three": (sg2.CoordFuser, sg2.SynthesisLayer, sg2.ToRGBLayer)}
    for label, scope in parts.items():
        for round_output in (False, True):
            key = f"torch, bf16 matmul inputs{' and output' if round_output else ''}: {label}"
            rows[key] = worst(ref, emulate(model, theta, args, scope, round_output), display)
            print(f"{key:<70} worst {rows[key]:6.2f} dB", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        graph = next(g for g in split(model, family.export_spec) if g.name == "inr")
        export_graph(graph, model, family.export_spec, work / "inr.onnx")
        feeds = {family.export_spec.theta_name: theta.numpy(), **grid}
        for label, kinds, depth in (("nothing marked", set(), 0), ("Sin/Cos and producers", {"Sin", "Cos"}, a.depth),
                                    ("every node", {"Result"}, 10_000)):
            out, n = openvino_marked(work / "inr.onnx", feeds, kinds, depth, work)
            key = f"openvino bf16, kept in original precision: {label} ({n} nodes)"
            rows[key] = worst(ref, out, display)
            print(f"{key:<70} worst {rows[key]:6.2f} dB", flush=True)
    if a.out:
        write_json(record(preset=a.preset, size=a.size, latents=4, worst_psnr_db=rows), a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
