#!/usr/bin/env python3
"""INT8 granularity study on an INR graph: Q/DQ (or, for per-sample scales, the same rounding
written as float ops) inserted by hand on every layer's operands, run in ONNX Runtime against
FP32 PyTorch on the first N selection latents (seeds 2000000+) at half native size.

    python benchmarks/int8_granularity.py PRESET FP32_DIR [N] [CONFIGS_JSON] [--sweep] [--greedy] [--kernels]

FP32_DIR holds inr.onnx and a manifest.json with theta_layout (benchmarks/export_inr_graph.py).
A config: ``w``: tensor (calibrated percentile range) | tensormax (max over calibration) |
row (static per-row max over calibration) | rowdyn (each sample's row max) | tensordyn |
none; ``wbits``; ``a``: symN (symmetric, scale r/(2^(N-1)-1), int8 container) | asymN |
none; ``ascale``, ``amax``. ``--sweep``: one layer at a time; ``--greedy``: move the layer
with the lowest single-layer PSNR back to float until worst >= 33 and median >= 38 dB (the
gate plus the selection margin) on these latents; ``--kernels``: which MatMuls ONNX Runtime
and OpenVINO run as integer kernels. Calibration statistics are kept in $INT8_STUDY_DIR
(default /tmp); --calib-latents sets their count (32 by default). --json writes every
config's figures and the machine description.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from inrgan_export.measure.harness import parser, record, write_json

DEFAULT_CONFIGS = [
    {"w": "tensor", "a": "sym7"}, {"w": "row", "a": "sym7"}, {"w": "tensor", "a": "none"}, {"w": "row", "a": "none"},
    {"w": "tensormax", "a": "none"}, {"w": "row", "a": "sym8"}, {"w": "row", "a": "asym8"}, {"w": "row", "a": "asym7"},
]


def calibration_stats(ref, model, fp32: Path, layers, cache: Path, latents: int) -> dict:
    """Percentile ranges, per-row weight maxima and activation min/max over the calibration
    latents, through an output-augmented graph; cached in ``cache``."""
    if cache.exists():
        return dict(np.load(cache, allow_pickle=True))["stats"].item()
    import onnx
    import onnxruntime as ort
    from onnx import helper

    from inrgan_export.calibration.data import CalibrationSpec, InrFeeds
    from inrgan_export.calibration.ranges import calibrate

    iface = ref.interface
    spec = CalibrationSpec(latents=latents)
    feeds = InrFeeds(ref.hypernet, iface.layout, iface.theta_name, iface.z_dim, spec, tuple(iface.native_size))
    t = time.perf_counter()
    ranges_sym = calibrate(fp32, feeds, spec)
    feeds.rewind()
    aug = onnx.ModelProto()
    aug.CopyFrom(model)
    names = sorted({l.weight for l in layers})
    acts = sorted({l.activation for l in layers})
    for n in names + acts:
        aug.graph.output.append(helper.make_empty_tensor_value_info(n))
    s = ort.InferenceSession(aug.SerializeToString(), providers=["CPUExecutionProvider"])
    rows = {n: [] for n in names}
    amin = {n: np.inf for n in acts}
    amax = {n: -np.inf for n in acts}
    ins = {i.name for i in s.get_inputs()}
    while (f := feeds.get_next()) is not None:
        out = s.run(names + acts, {k: v for k, v in f.items() if k in ins})
        for n, v in zip(names, out[:len(names)]):
            rows[n].append(np.abs(v).max(axis=2))  # [N, out]
        for n, v in zip(acts, out[len(names):]):
            amin[n] = min(amin[n], float(v.min()))
            amax[n] = max(amax[n], float(v.max()))
    stats = {"ranges": ranges_sym, "rows": {n: np.concatenate(v) for n, v in rows.items()}, "amin": amin, "amax": amax}
    np.savez(cache, stats=np.array(stats, dtype=object))
    print(f"calibrated in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    return stats


def _const(name, arr):
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray(arr), name)


def _qdq(m, tensor, scale, zp, axis=None, tag=""):
    from onnx import helper

    sname, zname = f"{tensor}_s{tag}", f"{tensor}_z{tag}"
    m.graph.initializer.extend([_const(sname, scale.astype(np.float32)), _const(zname, zp)])
    q, dq = f"{tensor}_q{tag}", f"{tensor}_dq{tag}"
    kw = {} if axis is None else {"axis": axis}
    nodes = [helper.make_node("QuantizeLinear", [tensor, sname, zname], [q], name=q + "n", **kw),
             helper.make_node("DequantizeLinear", [q, sname, zname], [dq], name=dq + "n", **kw)]
    return nodes, dq


def _weight_qdq(m, l, cfg, stats):
    from onnx import helper

    if cfg["w"] == "row":
        r = stats["rows"][l.weight]
        r = np.percentile(r, cfg.get("wpct", 100), axis=0) if cfg.get("wpct", 100) < 100 else r.max(axis=0)
        sc = np.maximum(r, 1e-8) * cfg.get("wmargin", 1.0) / (2 ** (cfg.get("wbits", 8) - 1) - 1)
        return _qdq(m, l.weight, sc, np.zeros(sc.shape, np.int8), axis=1)
    if cfg["w"] == "tensor":
        lo, hi = stats["ranges"][l.weight]
        return _qdq(m, l.weight, np.array(max(abs(lo), abs(hi)) / 127), np.array(0, np.int8))
    if cfg["w"] in ("rowdyn", "tensordyn"):
        axes = [2] if cfg["w"] == "rowdyn" else [1, 2]
        t = l.weight
        ab, mx, sc, dv, rd, cl, dq = (f"{t}_{k}" for k in ("ab", "mx", "sc", "dv", "rd", "cl", "fq"))
        m.graph.initializer.extend([_const(f"{t}_axes", np.array(axes, np.int64)), _const(f"{t}_127", np.array(127, np.float32)),
                                    _const(f"{t}_m127", np.array(-127, np.float32))])
        nodes = [helper.make_node("Abs", [t], [ab]), helper.make_node("ReduceMax", [ab, f"{t}_axes"], [mx], keepdims=1),
                 helper.make_node("Div", [mx, f"{t}_127"], [sc]), helper.make_node("Div", [t, sc], [dv]),
                 helper.make_node("Round", [dv], [rd]), helper.make_node("Clip", [rd, f"{t}_m127", f"{t}_127"], [cl]),
                 helper.make_node("Mul", [cl, sc], [dq])]
        return nodes, dq
    if cfg["w"] == "tensormax":
        return _qdq(m, l.weight, np.array(stats["rows"][l.weight].max() / 127), np.array(0, np.int8))
    raise SystemExit(f"int8_granularity: unknown weight mode {cfg['w']!r}; valid: tensor, tensormax, row, rowdyn, tensordyn, none")


def _activation_qdq(m, l, cfg, stats):
    if cfg["a"].startswith("sym"):
        bits = int(cfg["a"][3:])
        lo, hi = stats["ranges"][l.activation]
        r = max(abs(lo), abs(hi))
        if cfg.get("amax"):
            r = max(abs(stats["amin"][l.activation]), abs(stats["amax"][l.activation]))
        r *= cfg.get("ascale", 1.0)
        return _qdq(m, l.activation, np.array(r / (2 ** (bits - 1) - 1)), np.array(0, np.int8))
    bits = int(cfg["a"][4:])  # asymN
    lo, hi = min(stats["amin"][l.activation], 0.0), max(stats["amax"][l.activation], 0.0)
    if cfg.get("apct"):
        _, hi2 = stats["ranges"][l.activation]
        hi = min(hi, hi2)
        lo = max(lo, -hi2)
    sc = (hi - lo) / (2 ** bits - 1)
    return _qdq(m, l.activation, np.array(sc), np.array(int(round(-lo / sc)), np.uint8))


def build(model, layers, stats, plan: set[str], cfg: dict):
    """A copy of ``model`` with Q/DQ on the operands of the layers in ``plan``."""
    import onnx

    from inrgan_export.exporter.onnx_graph import toposort as _toposort

    m = onnx.ModelProto()
    m.CopyFrom(model)
    done: dict[str, str] = {}
    new = []
    for l in layers:
        if l.name not in plan:
            continue
        node = next(n for n in m.graph.node if n.name == l.node)
        if cfg["w"] == "none":
            done[l.weight] = l.weight
        if l.weight not in done:
            nodes, done[l.weight] = _weight_qdq(m, l, cfg, stats)
            new += nodes
        if l.activation not in done and cfg["a"] != "none":
            nodes, done[l.activation] = _activation_qdq(m, l, cfg, stats)
            new += nodes
        node.input[0] = done[l.weight]
        if l.activation in done:
            node.input[1] = done[l.activation]
    m.graph.node.extend(new)
    _toposort(m)
    return m


def _feeds(names, theta, grid_half):
    return {k: (np.ascontiguousarray(np.broadcast_to(v[:1], (theta.shape[0],) + v.shape[1:])) if k.startswith("coords_") else v)
            for k, v in grid_half.items() if k in names}


def run(m, theta, grid_half, refimg, display) -> tuple[float, float]:
    """(worst, median) PSNR of the graph ``m`` against the FP32 reference images."""
    import onnxruntime as ort

    from inrgan_export.core.imageio import psnr

    s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    out = s.run(None, {"theta": theta, **_feeds({i.name for i in s.get_inputs()}, theta, grid_half)})[0]
    p = [psnr(refimg[i:i + 1], out[i:i + 1], display) for i in range(len(theta))]
    return float(min(p)), float(np.median(p))


def kernels(model, layers, stats, cfgs, theta, grid_half, work: Path, preset: str) -> list[dict]:
    """Which MatMuls ONNX Runtime (optimised graph's op counts) and OpenVINO run as integer kernels."""
    import onnx
    import onnxruntime as ort
    import openvino as ov

    from inrgan_export.backends.openvino_backend import matmul_kernels

    names = {l.name for l in layers}
    rows = []
    for cfg in cfgs:
        m = build(model, layers, stats, names, cfg)
        path = str(work / f"int8_study_{preset}.onnx")
        onnx.save(m, path)
        so = ort.SessionOptions()
        so.optimized_model_filepath = path + ".opt.onnx"
        ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        ops: dict[str, int] = {}
        for n in onnx.load(path + ".opt.onnx").graph.node:
            ops[n.op_type] = ops.get(n.op_type, 0) + 1
        c = ov.Core().compile_model(path, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        o = c({"theta": theta, **_feeds({i.get_any_name() for i in c.inputs}, theta, grid_half)})[0]
        row = {"config": cfg, "onnxruntime_ops": {k: v for k, v in ops.items() if "Int" in k or "QLinear" in k
                                                  or k in ("MatMul", "DequantizeLinear", "QuantizeLinear")},
               "openvino_kernels": matmul_kernels(c), "finite": bool(np.isfinite(o).all())}
        print(json.dumps(row, default=str), flush=True)
        rows.append(row)
    return rows


def study(model, layers, stats, cfgs, args, evaluate) -> list[dict]:
    names = [l.name for l in layers]
    rows = []
    for cfg in cfgs:
        t = time.perf_counter()
        full = evaluate(build(model, layers, stats, set(names), cfg))
        row: dict = {"config": cfg, "layers": len(names), "worst_psnr_db": full[0], "median_psnr_db": full[1]}
        line = f"{json.dumps(cfg):45s} all {len(names)}: worst {full[0]:.2f} median {full[1]:.2f}"
        if args.sweep:
            per = {n: evaluate(build(model, layers, stats, {n}, cfg))[0] for n in names}
            row["per_layer_worst_psnr_db"] = per
            line += " | per-layer worst: " + " ".join(f"{n}={v:.1f}" for n, v in per.items())
            if args.greedy:
                plan, cur = list(names), full
                while plan and (cur[0] < 33 or cur[1] < 38):
                    plan.remove(min(plan, key=lambda n: per[n]))
                    cur = evaluate(build(model, layers, stats, set(plan), cfg))
                row["greedy"] = {"kept": plan, "worst_psnr_db": cur[0], "median_psnr_db": cur[1]}
                line += f" || greedy keeps {len(plan)}/{len(names)}: worst {cur[0]:.2f} median {cur[1]:.2f}"
        row["seconds"] = round(time.perf_counter() - t, 1)
        print(line, f"({row['seconds']:.1f}s)", flush=True)
        rows.append(row)
    return rows


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("preset", help="demo preset name, e.g. released-church")
    ap.add_argument("fp32_dir", type=Path, help="inr.onnx + manifest.json from benchmarks/export_inr_graph.py")
    ap.add_argument("n", nargs="?", type=int, default=8, help="selection latents the PSNR is taken on (default 8)")
    ap.add_argument("configs", nargs="?", type=json.loads, default=DEFAULT_CONFIGS, help="a JSON list of configs")
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--greedy", action="store_true")
    ap.add_argument("--kernels", action="store_true")
    ap.add_argument("--calib-latents", type=int, default=32)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    import onnx

    from inrgan_export import open_checkpoint
    from inrgan_export.calibration.data import SELECTION_SEED_BASE
    from inrgan_export.calibration.graph import find_layers
    from inrgan_export.core.latents import latents_from_seeds

    ref = open_checkpoint(f"demo:{args.preset}", threads=2)
    iface = ref.interface
    man = json.loads((args.fp32_dir / "manifest.json").read_text())
    fp32 = args.fp32_dir / "inr.onnx"
    model = onnx.load(str(fp32))
    layers = find_layers(model, man["theta_layout"])
    work = Path(os.environ.get("INT8_STUDY_DIR", "/tmp"))
    stats = calibration_stats(ref, model, fp32, layers, work / f"int8_study_{args.preset}_{args.calib_latents}_stats.npz",
                              args.calib_latents)
    native = tuple(iface.native_size)
    half = (max(1, native[0] // 2), max(1, native[1] // 2))
    grid_half = iface.layout.build(half, None, batch=1).arrays
    theta = ref.hypernet(latents_from_seeds([SELECTION_SEED_BASE + i for i in range(args.n)], iface.z_dim))
    refimg = ref.render(theta, half)
    if args.kernels:
        rows = kernels(model, layers, stats, args.configs, theta, grid_half, work, args.preset)
    else:
        rows = study(model, layers, stats, args.configs, args, lambda m: run(m, theta, grid_half, refimg, iface.display))
    if args.json:
        write_json(record(preset=args.preset, latents=args.n, size=list(half), calibration_latents=args.calib_latents,
                          configs=rows), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
