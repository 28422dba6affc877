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
(default /tmp)."""
import json, os, sys, time
from pathlib import Path
import numpy as np, onnx
from onnx import helper, numpy_helper, TensorProto
import onnxruntime as ort
from inrgan_export import open_checkpoint
from inrgan_export.calibration.graph import find_layers
from inrgan_export.calibration.data import CalibrationSpec, InrFeeds, SELECTION_SEED_BASE
from inrgan_export.calibration.ranges import calibrate
from inrgan_export.core.latents import latents_from_seeds
from inrgan_export.core.imageio import psnr

preset, bundle = sys.argv[1], Path(sys.argv[2])
nsweep = int(sys.argv[3]) if len(sys.argv) > 3 else 8
ref = open_checkpoint(f"demo:{preset}", threads=2)
iface = ref.interface
man = json.loads((bundle / "manifest.json").read_text())
fp32 = bundle / "inr.onnx"
model = onnx.load(str(fp32))
layers = find_layers(model, man["theta_layout"])
native = tuple(iface.native_size)
spec = CalibrationSpec(latents=32)
work = Path(os.environ.get("INT8_STUDY_DIR", "/tmp"))
cache = work / f"int8_study_{preset}_stats.npz"
if cache.exists():
    d = dict(np.load(cache, allow_pickle=True)); stats = d["stats"].item()
else:
    feeds = InrFeeds(ref.hypernet, iface.layout, iface.theta_name, iface.z_dim, spec, native)
    t = time.time(); ranges_sym = calibrate(fp32, feeds, spec); feeds.rewind()
    spec_mx = CalibrationSpec(latents=32, method="max")
    # per-row / per-tensor stats of weights, activation min/max, via an output-augmented graph
    aug = onnx.ModelProto(); aug.CopyFrom(model)
    names = sorted({l.weight for l in layers})
    acts = sorted({l.activation for l in layers})
    for n in names + acts:
        aug.graph.output.append(helper.make_empty_tensor_value_info(n))
    s = ort.InferenceSession(aug.SerializeToString(), providers=["CPUExecutionProvider"])
    rows = {n: [] for n in names}; amin = {n: np.inf for n in acts}; amax = {n: -np.inf for n in acts}
    ins = {i.name for i in s.get_inputs()}
    while (f := feeds.get_next()) is not None:
        out = s.run(names + acts, {k: v for k, v in f.items() if k in ins})
        for n, v in zip(names, out[:len(names)]):
            rows[n].append(np.abs(v).max(axis=2))  # [N, out]
        for n, v in zip(acts, out[len(names):]):
            amin[n] = min(amin[n], float(v.min())); amax[n] = max(amax[n], float(v.max()))
    stats = {"ranges": ranges_sym, "rows": {n: np.concatenate(v) for n, v in rows.items()}, "amin": amin, "amax": amax}
    np.savez(cache, stats=np.array(stats, dtype=object))
    print("calibrated in", time.time() - t)

half = (max(1, native[0] // 2), max(1, native[1] // 2))
grid_half = iface.layout.build(half, None, batch=1).arrays
seeds = [SELECTION_SEED_BASE + i for i in range(nsweep)]
theta = ref.hypernet(latents_from_seeds(seeds, iface.z_dim))
refimg = ref.render(theta, half)

def const(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)

def qdq(m, tensor, scale, zp, axis=None, tag=""):
    sname, zname = f"{tensor}_s{tag}", f"{tensor}_z{tag}"
    m.graph.initializer.extend([const(sname, scale.astype(np.float32)), const(zname, zp)])
    q, dq = f"{tensor}_q{tag}", f"{tensor}_dq{tag}"
    kw = {} if axis is None else {"axis": axis}
    nodes = [helper.make_node("QuantizeLinear", [tensor, sname, zname], [q], name=q + "n", **kw),
             helper.make_node("DequantizeLinear", [q, sname, zname], [dq], name=dq + "n", **kw)]
    return nodes, dq

def build(plan, cfg):
    m = onnx.ModelProto(); m.CopyFrom(model)
    done = {}
    new = []
    for l in layers:
        if l.name not in plan: continue
        node = next(n for n in m.graph.node if n.name == l.node)
        # weight
        if cfg["w"] == "none":
            done[l.weight] = l.weight
        if l.weight not in done:
            if cfg["w"] == "row":
                r = stats["rows"][l.weight]
                r = np.percentile(r, cfg.get("wpct", 100), axis=0) if cfg.get("wpct", 100) < 100 else r.max(axis=0)
                sc = np.maximum(r, 1e-8) * cfg.get("wmargin", 1.0) / (2 ** (cfg.get("wbits", 8) - 1) - 1)
                nodes, dq = qdq(m, l.weight, sc, np.zeros(sc.shape, np.int8), axis=1)
            elif cfg["w"] == "tensor":
                lo, hi = stats["ranges"][l.weight]; r = max(abs(lo), abs(hi))
                nodes, dq = qdq(m, l.weight, np.array(r / 127), np.array(0, np.int8))
            elif cfg["w"] in ("rowdyn", "tensordyn"):
                axes = [2] if cfg["w"] == "rowdyn" else [1, 2]
                t = l.weight
                ab, mx, sc, dv, rd, cl, dq = (f"{t}_{k}" for k in ("ab", "mx", "sc", "dv", "rd", "cl", "fq"))
                m.graph.initializer.extend([const(f"{t}_axes", np.array(axes, np.int64)), const(f"{t}_127", np.array(127, np.float32)),
                                            const(f"{t}_m127", np.array(-127, np.float32))])
                nodes = [helper.make_node("Abs", [t], [ab]), helper.make_node("ReduceMax", [ab, f"{t}_axes"], [mx], keepdims=1),
                         helper.make_node("Div", [mx, f"{t}_127"], [sc]), helper.make_node("Div", [t, sc], [dv]),
                         helper.make_node("Round", [dv], [rd]), helper.make_node("Clip", [rd, f"{t}_m127", f"{t}_127"], [cl]),
                         helper.make_node("Mul", [cl, sc], [dq])]
            elif cfg["w"] == "tensormax":
                r = stats["rows"][l.weight].max()
                nodes, dq = qdq(m, l.weight, np.array(r / 127), np.array(0, np.int8))
            new += nodes; done[l.weight] = dq
        if l.activation not in done and cfg["a"] != "none":
            if cfg["a"].startswith("sym"):
                bits = int(cfg["a"][3:])
                lo, hi = stats["ranges"][l.activation]; r = max(abs(lo), abs(hi))
                if cfg.get("amax"): r = max(abs(stats["amin"][l.activation]), abs(stats["amax"][l.activation]))
                r *= cfg.get("ascale", 1.0)
                q = 2 ** (bits - 1) - 1
                nodes, dq = qdq(m, l.activation, np.array(r / q), np.array(0, np.int8))
            elif cfg["a"].startswith("asym"):
                bits = int(cfg["a"][4:])
                lo, hi = min(stats["amin"][l.activation], 0.0), max(stats["amax"][l.activation], 0.0)
                if cfg.get("apct"):
                    lo2, hi2 = stats["ranges"][l.activation]; hi = min(hi, hi2); lo = max(lo, -hi2)
                levels = 2 ** bits - 1
                sc = (hi - lo) / levels
                zp = int(round(-lo / sc))
                nodes, dq = qdq(m, l.activation, np.array(sc), np.array(zp, np.uint8))
            new += nodes; done[l.activation] = dq
        node.input[0] = done[l.weight]
        if l.activation in done: node.input[1] = done[l.activation]
    m.graph.node.extend(new)
    # topo sort
    from inrgan_export.exporter.onnx_graph import toposort as _toposort
    _toposort(m)
    return m

def run(m):
    s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    ins = {i.name for i in s.get_inputs()}
    feeds = {k: (np.ascontiguousarray(np.broadcast_to(v[:1], (theta.shape[0],) + v.shape[1:])) if k.startswith("coords_") else v) for k, v in grid_half.items() if k in ins}
    out = s.run(None, {"theta": theta, **feeds})[0]
    return min(psnr(refimg[i:i+1], out[i:i+1], iface.display) for i in range(len(theta))), float(np.median([psnr(refimg[i:i+1], out[i:i+1], iface.display) for i in range(len(theta))]))

names = [l.name for l in layers]
cfgs = json.loads(sys.argv[4]) if len(sys.argv) > 4 else [
    {"w": "tensor", "a": "sym7"}, {"w": "row", "a": "sym7"}, {"w": "tensor", "a": "none"}, {"w": "row", "a": "none"},
    {"w": "tensormax", "a": "none"}, {"w": "row", "a": "sym8"}, {"w": "row", "a": "asym8"}, {"w": "row", "a": "asym7"},
]
sweep = "--sweep" in sys.argv
if "--kernels" in sys.argv:
    import openvino as ov
    from inrgan_export.backends.openvino_backend import matmul_kernels
    for cfg in cfgs:
        m = build(set(names), cfg); path = str(work / f"int8_study_{preset}.onnx"); onnx.save(m, path)
        so = ort.SessionOptions(); so.optimized_model_filepath = path + ".opt.onnx"
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        ops = {}
        for n in onnx.load(path + ".opt.onnx").graph.node: ops[n.op_type] = ops.get(n.op_type, 0) + 1
        c = ov.Core().compile_model(path, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        ins = {i.get_any_name() for i in c.inputs}
        feeds = {k: (np.ascontiguousarray(np.broadcast_to(v[:1], (theta.shape[0],) + v.shape[1:])) if k.startswith("coords_") else v) for k, v in grid_half.items() if k in ins}
        o = c({"theta": theta, **feeds})[0]
        print(json.dumps(cfg), "ORT ops:", {k: v for k, v in ops.items() if "Int" in k or "QLinear" in k or k in ("MatMul", "DequantizeLinear", "QuantizeLinear")}, "| OV:", matmul_kernels(c), "finite", np.isfinite(o).all())
    sys.exit()
for cfg in cfgs:
    t = time.time()
    full = run(build(set(names), cfg))
    line = f"{json.dumps(cfg):45s} all {len(names)}: worst {full[0]:.2f} median {full[1]:.2f}"
    if sweep:
        per = {n: run(build({n}, cfg))[0] for n in names}
        line += " | per-layer worst: " + " ".join(f"{n}={v:.1f}" for n, v in per.items())
        if "--greedy" in sys.argv:
            plan = list(names); cur = full
            while plan and (cur[0] < 33 or cur[1] < 38):
                plan.remove(min(plan, key=lambda n: per[n])); cur = run(build(set(plan), cfg))
            line += f" || greedy keeps {len(plan)}/{len(names)}: worst {cur[0]:.2f} median {cur[1]:.2f}"
    print(line, f"({time.time()-t:.1f}s)", flush=True)
