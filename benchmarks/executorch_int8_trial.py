#!/usr/bin/env python3
"""Can ``--target executorch`` run the INR in INT8? A trial of the ways the XNNPACK PT2E
quantizer could reach the INR layers, each measured end to end: what the quantizer
annotates, whether the program lowers, which INR multiply-accumulates run INT8 inside the
XNNPACK delegate, PSNR against the FP32 PyTorch INR on held-out latents, and latency against
the FP32 ``.pte`` of the same graph.

    .venv/bin/python benchmarks/executorch_int8_trial.py --presets tiny,sg2-tiny \
        --json benchmarks/results/executorch_int8_trial.json

Every INR layer (paper: FMM layers, connectors, ToRGB; sg2: synthesis layers, ToRGB) is a
product of a per-sample weight W (made from θ) with the pixel features x. The variants:

``fp32``
    the graph as ``--target executorch`` exports it (the baseline every ratio is against).
``fp32-linear``, ``fp32-bmm``
    controls: the layers in the linear / bmm form below, not quantized (what the rewrite alone
    does to delegation and speed).
``a-static-as-exported``
    (a) XNNPACKQuantizer, static, per-channel symmetric weights (``set_global``), on the graph
    as exported. It annotates linear, conv, add, mul, cat and pooling; the layers' matmuls
    are none of those.
``b-linear-static``
    (b) batch 1, each layer written as ``F.linear(x^T, W[0])`` with W the per-sample weight
    (a graph value, not a parameter); XNNPACKQuantizer static per-channel config for linear.
``b-linear-static-per-tensor``
    (b) with per-tensor weight scales (the per-channel program does not run: ExecuTorch's
    portable ``quantize_per_channel`` kernel asserts double scales and gets float ones).
``c-linear-dynamic``
    (c) the same linear form with the dynamic config (``is_dynamic=True``: activations
    quantized per run, weights per-channel).
``c-dynamic-as-exported``
    (c) the dynamic config on the graph as exported.
``d-bmm-annotated``
    (d) each layer written as ``torch.bmm(W, x)`` and annotated by hand: a
    QuantizationAnnotation with symmetric per-tensor INT8 input specs on both operands
    (histogram observer), output left in float.

Calibration follows our other INT8 paths: θ of latents drawn from the prior with seeds
1000000.. (``calibration.data.CALIB_SEED_BASE``); the figures are on held-out latents (seeds
0..N-1), disjoint from them. Programs are exported at batch 1 and the preset's native size
(static shapes: each variant and the FP32 baseline alike). "INT8 in XNNPACK" counts a GEMM
node whose weight operand is dequantized from INT8 inside the same XNNPACK delegate; any
other GEMM (portable kernels, or an FP32 XNNPACK GEMM fed by dequantized values) is not.
Latency: one sample at native size; every round times each program once (``reps`` calls,
enough for about 20 ms), in a rotated order (interleaved); medians and interquartile ranges
of the per-call time and of the per-round ratio to FP32 and to the variant's float control
(its graph form unquantized: what quantization alone changes); ExecuTorch's thread pool set to
``--threads``. Variants whose program does not build or run are reported with the error.
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import math
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from inrgan_export.measure.harness import parser, record, write_json
from inrgan_export.measure.timing import calls_for, interleaved_times
from inrgan_export.load.sources import demo_checkpoint, open_checkpoint
from inrgan_export.core.imageio import psnr
from inrgan_export.core.latents import latents_from_seeds
from inrgan_export.core.manifest import DEFAULT_INT8_MEDIAN_DB, DEFAULT_INT8_WORST_DB
from inrgan_export.load.split import example_inputs, split

from inrgan_export.calibration.data import CALIB_SEED_BASE
from inrgan_export.calibration.plan import gate_verdict

VARIANTS = ("fp32", "fp32-linear", "fp32-bmm", "a-static-as-exported", "b-linear-static", "b-linear-static-per-tensor",
            "c-linear-dynamic", "c-dynamic-as-exported", "d-bmm-annotated")
#: each quantized variant's graph form without quantization
FLOAT_CONTROL = {"b-linear-static": "fp32-linear", "b-linear-static-per-tensor": "fp32-linear",
                 "c-linear-dynamic": "fp32-linear", "d-bmm-annotated": "fp32-bmm"}
GEMM_OPS = ("aten.bmm.default", "aten.mm.default", "aten.addmm.default", "aten.linear.default",
            "aten.matmul.default", "aten.convolution.default", "aten.baddbmm.default")
DQ_OPS = ("dequantize_per_tensor", "dequantize_per_channel", "dequantize_affine")


# ---------------------------------------------------------------- INR layer rewrites
def _inr_layer_gemm(form: str, weight: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """W [1, out, in] · x [1, in, L] → [1, out, L], written in the form a variant needs."""
    if form == "matmul":
        return torch.matmul(weight, x)
    if form == "bmm":
        return torch.bmm(weight, x)
    if form == "linear":  # batch 1: the per-sample weight as a linear's weight
        return F.linear(x[0].transpose(0, 1), weight[0]).transpose(0, 1).unsqueeze(0)
    raise ValueError(form)


@contextlib.contextmanager
def layer_form(form: str):
    """Within the block, every INR layer's product W·x is computed by :func:`_inr_layer_gemm`
    in ``form`` (same arithmetic; the FP32 model is unchanged outside the block)."""
    from inrgan_export.families.paper import model as paper
    from inrgan_export.families.sg2 import model as sg2

    def fmm_forward(self, x, seg):
        weight, bias = self.modulated_weight(seg)
        return _inr_layer_gemm(form, weight, x) + bias

    def paper_rgb_forward(self, x, seg):
        lead = seg.shape[:-1]
        w = (self.weight_std * seg[..., : 3 * self.dim]).reshape(*lead, 3, self.dim)
        b = (self.bias_std * seg[..., 3 * self.dim :]).reshape(*lead, 3, 1)
        out = _inr_layer_gemm(form, w, x) + b
        return torch.tanh(out) if self.activation == "tanh" else out

    def synthesis_forward(self, x, weight):
        return sg2.bias_act(_inr_layer_gemm(form, weight, x), self.bias, self.activation, clamp=self.conv_clamp)

    def sg2_rgb_forward(self, x, weight):
        return sg2.bias_act(_inr_layer_gemm(form, weight, x), self.bias, "linear", clamp=self.conv_clamp)

    patches = [(paper.FMMLinear, fmm_forward), (paper.ToRGB, paper_rgb_forward),
               (sg2.SynthesisLayer, synthesis_forward), (sg2.ToRGBLayer, sg2_rgb_forward)]
    saved = [(cls, cls.forward) for cls, _ in patches]
    try:
        for cls, fn in patches:
            cls.forward = fn
        yield
    finally:
        for cls, fn in saved:
            cls.forward = fn


# ---------------------------------------------------------------- quantizers
def xnnpack_quantizer(dynamic: bool, only_linear: bool, per_channel: bool = True):
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer, get_symmetric_quantization_config)

    class Quantizer(XNNPACKQuantizer):
        def transform_for_annotation(self, model: torch.fx.GraphModule) -> torch.fx.GraphModule:
            return float_scalars_to_attrs(model)

    cfg = get_symmetric_quantization_config(is_per_channel=per_channel, is_dynamic=dynamic)
    q = Quantizer()
    if only_linear:
        q.set_operator_type(torch.ops.aten.linear.default, cfg)
    else:
        q.set_global(cfg)
    # integer index arithmetic (the resampling indices) is not for quantizing
    q.set_filter_function(_float_node)
    return q


def float_scalars_to_attrs(model: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """XNNPACKQuantizer's ``transform_for_annotation`` (scalar operands of add/mul become float
    tensor attributes) for float nodes only. The stock pass also turns the scalars of integer
    index arithmetic into float tensors, which makes the resampling indices float and
    ``index_select`` fail in the prepared model (executorch 1.5.1)."""
    from torchao.quantization.pt2e.utils import get_new_attr_name_with_prefix

    for n in model.graph.nodes:
        if n.op != "call_function" or n.target not in (torch.ops.aten.add.Tensor, torch.ops.aten.mul.Tensor) \
                or not _float_node(n):
            continue
        new_args = []
        for a in n.args:
            if isinstance(a, torch.fx.Node) or not isinstance(a, (int, float)):
                new_args.append(a)
                continue
            name = get_new_attr_name_with_prefix("_tensor_constant_")(model)
            value = torch.tensor(float(a))
            model.register_buffer(name, value)
            with model.graph.inserting_before(n):
                attr = model.graph.create_node("get_attr", name, (), {})
                attr.meta["val"] = n.meta["val"].fake_mode.from_tensor(value, static_shapes=True)
            new_args.append(attr)
        n.args = tuple(new_args)
    model.recompile()
    return model


def _float_node(n: torch.fx.Node) -> bool:
    val = n.meta.get("val")
    return isinstance(val, torch.Tensor) and val.dtype.is_floating_point


def bmm_quantizer():
    """Annotates the INR layers' ``bmm`` (found by :func:`is_layer_node`): symmetric per-tensor
    INT8 on both operands, output in float."""
    from torchao.quantization.pt2e import HistogramObserver
    from torchao.quantization.pt2e.quantizer import QuantizationAnnotation, QuantizationSpec, Quantizer

    spec = QuantizationSpec(dtype=torch.int8, quant_min=-127, quant_max=127, qscheme=torch.per_tensor_symmetric,
                            is_dynamic=False, observer_or_fake_quant_ctr=HistogramObserver.with_args(eps=2**-12))

    class LayerBmmQuantizer(Quantizer):
        def annotate(self, model: torch.fx.GraphModule) -> torch.fx.GraphModule:
            for n in model.graph.nodes:
                if n.op == "call_function" and n.target == torch.ops.aten.bmm.default and is_layer_node(n):
                    w, x = n.args[0], n.args[1]
                    n.meta["quantization_annotation"] = QuantizationAnnotation(
                        input_qspec_map={w: spec, x: spec}, _annotated=True)
            return model

        def validate(self, model: torch.fx.GraphModule) -> None:
            pass

    return LayerBmmQuantizer()


#: the INR layer modules: each computes one product of a per-sample weight with pixel features
LAYER_TYPES = ("FMMLinear", "ToRGB", "SynthesisLayer", "ToRGBLayer")
_ROOT: list[torch.nn.Module] = []  # the INR graph module whose nodes are being classified


def is_layer_node(n: torch.fx.Node) -> bool:
    """A GEMM node that is an INR layer's W·x: traced inside an INR layer module (the node's
    module stack, kept through lowering), and not the FMM modulation product A·B (whose
    contracted length is the FMM rank)."""
    stack = n.meta.get("nn_module_stack") or {}
    if not stack:
        return False
    path, kind = list(stack.values())[-1]
    kind = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    if kind.rsplit(".", 1)[-1] not in LAYER_TYPES:
        return False
    rank = getattr(_ROOT[0].get_submodule(path), "rank", None) if _ROOT else None
    try:
        k = _contracted(n)
    except Exception:  # noqa: BLE001 - not a GEMM
        return False
    return rank is None or k != rank


VARIANT_SPEC: dict[str, tuple[str, Callable[[], Any] | None]] = {
    "fp32": ("matmul", None),
    "fp32-linear": ("linear", None),
    "fp32-bmm": ("bmm", None),
    "a-static-as-exported": ("matmul", lambda: xnnpack_quantizer(dynamic=False, only_linear=False)),
    "b-linear-static": ("linear", lambda: xnnpack_quantizer(dynamic=False, only_linear=True)),
    "b-linear-static-per-tensor": ("linear", lambda: xnnpack_quantizer(dynamic=False, only_linear=True, per_channel=False)),
    "c-linear-dynamic": ("linear", lambda: xnnpack_quantizer(dynamic=True, only_linear=True)),
    "c-dynamic-as-exported": ("matmul", lambda: xnnpack_quantizer(dynamic=True, only_linear=False)),
    "d-bmm-annotated": ("bmm", bmm_quantizer),
}


# ---------------------------------------------------------------- graph accounting
def _target(n: torch.fx.Node) -> str:
    t = str(n.target)
    if t.startswith("<EdgeOpOverload: "):
        t = t[len("<EdgeOpOverload: "):].split(">", 1)[0]
    return t.replace("aten::", "aten.").replace("quantized_decomposed::", "quantized_decomposed.")


def _shape(n) -> tuple[int, ...] | None:
    val = n.meta.get("val") if hasattr(n, "meta") else None
    if val is None and isinstance(n, torch.fx.Node) and n.op == "call_function" and "quantize" in _target(n):
        return _shape(n.args[0])  # q/dq nodes inserted by convert_pt2e carry no shape: their input's
    return tuple(int(d) for d in val.shape) if isinstance(val, torch.Tensor) else None


def _contracted(n: torch.fx.Node) -> int:
    t = _target(n)
    if "linear" in t or "addmm" in t:
        return _shape(n.args[0 if "linear" in t else 1])[-1]
    if "convolution" in t:
        return int(np.prod(_shape(n.args[1])[1:]))
    return _shape(n.args[1 if "baddbmm" in t else 0])[-1]  # bmm, mm, matmul: the first operand's last dim


def gemm_macs(n: torch.fx.Node) -> int:
    """Multiply-accumulates of a GEMM node: output elements × the contracted length."""
    out = _shape(n)
    return 0 if out is None else int(np.prod(out)) * int(_contracted(n))


def _is_dq(n) -> bool:
    return isinstance(n, torch.fx.Node) and n.op == "call_function" and any(d in _target(n) for d in DQ_OPS)


def _weight_arg(n: torch.fx.Node):
    t = _target(n)
    if "linear" in t or "convolution" in t:
        return n.args[1]
    if "addmm" in t:
        return n.args[2]
    return n.args[0]  # bmm/mm/matmul: the per-sample weight is the first operand of the INR layers


def _activation_arg(n: torch.fx.Node):
    t = _target(n)
    if "linear" in t or "convolution" in t:
        return n.args[0]
    if "addmm" in t:
        return n.args[1]
    return n.args[1]


def program_report(edge) -> dict[str, Any]:
    """Where each GEMM of a lowered program runs, and in which precision; ops left outside
    the delegate (ExecuTorch's portable kernels)."""
    from executorch.exir.lowered_backend_module import LoweredBackendModule

    gm = edge.exported_program().graph_module
    rows: list[dict[str, Any]] = []
    portable: dict[str, int] = {}
    delegates = 0
    for n in gm.graph.nodes:
        if n.op != "call_function":
            continue
        t = _target(n)
        if "executorch_call_delegate" in t:
            continue
        if t.startswith("<built-in") or "getitem" in t:
            continue
        portable[_op_name(n)] = portable.get(_op_name(n), 0) + 1
        if any(g in t for g in GEMM_OPS):
            rows.append(_gemm_row(n, "portable"))
    for _, mod in gm.named_children():
        if not isinstance(mod, LoweredBackendModule):
            continue
        delegates += 1
        for n in mod.original_module.graph_module.graph.nodes:
            if n.op == "call_function" and any(g in _target(n) for g in GEMM_OPS):
                rows.append(_gemm_row(n, mod.backend_id))
    layer = [r for r in rows if r["inr_layer"]]
    total = sum(r["macs"] for r in rows)
    layer_total = sum(r["macs"] for r in layer)
    return {
        "delegates": delegates,
        "gemm_nodes": len(rows),
        "gemm_nodes_in_xnnpack": sum(r["where"] != "portable" for r in rows),
        "gemm_macs": total,
        "inr_layer_gemm_macs": layer_total,
        "inr_layer_gemm_macs_in_xnnpack": sum(r["macs"] for r in layer if r["where"] != "portable"),
        "inr_layer_gemm_macs_reading_dequantized_operands": sum(
            r["macs"] for r in layer if r["weight_dequantized"] or r["activation_dequantized"]),
        "portable_ops": dict(sorted(portable.items())),
        "gemms": rows,
    }


def _op_name(n: torch.fx.Node) -> str:
    t = _target(n)
    for g in GEMM_OPS:
        if g in t:
            return g
    return t


def _gemm_row(n: torch.fx.Node, where: str) -> dict[str, Any]:
    w, a = _weight_arg(n), _activation_arg(n)
    w_dq, a_dq = _is_dq(w), _is_dq(a)
    return {
        "op": _op_name(n),
        "where": where,
        "inr_layer": is_layer_node(n),
        "out_shape": list(_shape(n) or ()),
        "macs": gemm_macs(n),
        "weight_dequantized": w_dq,
        "activation_dequantized": a_dq,
    }


def quant_annotations(converted: torch.fx.GraphModule) -> dict[str, Any]:
    """After convert_pt2e: how many quantize ops, and which ops read dequantized values."""
    q = [n for n in converted.graph.nodes if n.op == "call_function" and "quantize_per" in _target(n)
         and not _target(n).split(".")[-2].startswith("de")]
    readers: dict[str, int] = {}
    layer_reads = {"inr_layer_gemms": 0, "inr_layer_gemms_weight_dq": 0, "inr_layer_gemms_activation_dq": 0}
    for n in converted.graph.nodes:
        if n.op != "call_function":
            continue
        if any(g in _target(n) for g in GEMM_OPS) and is_layer_node(n):
            layer_reads["inr_layer_gemms"] += 1
            layer_reads["inr_layer_gemms_weight_dq"] += _is_dq(_weight_arg(n))
            layer_reads["inr_layer_gemms_activation_dq"] += _is_dq(_activation_arg(n))
        if any(_is_dq(a) for a in n.args if isinstance(a, torch.fx.Node)) and not _is_dq(n):
            key = _target(n)
            readers[key] = readers.get(key, 0) + 1
    return {"quantize_nodes": len(q), "ops_reading_dequantized_values": dict(sorted(readers.items())), **layer_reads}


@contextlib.contextmanager
def capture_xnnpack_graphs(into: list):
    """Records every XNNPACK graph the delegate serializes while lowering: what XNNPACK runs,
    node by node, with each value's datatype."""
    from executorch.backends.xnnpack import xnnpack_preprocess as pre

    original = pre.serialize_xnnpack_binary

    def record(graph, *args, **kwargs):
        into.append(graph)
        return original(graph, *args, **kwargs)

    pre.serialize_xnnpack_binary = record
    try:
        yield
    finally:
        pre.serialize_xnnpack_binary = original


def xnnpack_report(graphs: list) -> dict[str, Any]:
    """The GEMMs XNNPACK runs (batch matmul, fully connected, conv), each with its operands'
    datatypes and MACs, and how many datatype conversions (XNNConvert) it runs."""
    from executorch.backends.xnnpack.serialization import xnnpack_graph_schema as S

    gemms: dict[str, dict[str, int]] = {}
    converts: dict[str, int] = {}
    ops: dict[str, int] = {}
    int8_macs = fp_macs = 0
    for g in graphs:
        values = {}
        for v in g.xvalues:
            u = v.xvalue_union
            tv = u.tensor_value if isinstance(u, S.XNNQuantizedTensorValue) else u
            values[tv.id_out] = tv
        for node in g.xnodes:
            u = node.xnode_union
            kind = type(u).__name__
            ops[kind] = ops.get(kind, 0) + 1
            if isinstance(u, S.XNNConvert):
                key = f"{_dt(values[u.input_id])}->{_dt(values[u.output_id])}"
                converts[key] = converts.get(key, 0) + 1
                continue
            if isinstance(u, S.XNNBatchMatrixMultiply):
                a, b, o = values[u.input1_id], values[u.input2_id], values[u.output_id]
                k = a.dims[-1]
            elif isinstance(u, (S.XNNFullyConnected, S.XNNConv2d)):
                a, b, o = values[u.input1_id], values[u.filter_id], values[u.output_id]
                k = int(np.prod(b.dims[1:]))
            else:
                continue
            macs = int(np.prod(o.dims)) * int(k)
            key = f"{kind}({_dt(a)} x {_dt(b)} -> {_dt(o)})"
            row = gemms.setdefault(key, {"nodes": 0, "macs": 0})
            row["nodes"] += 1
            row["macs"] += macs
            if _dt(a) != "fp32" and _dt(b) != "fp32":
                int8_macs += macs
            else:
                fp_macs += macs
    return {"gemms": gemms, "int8_gemm_macs": int8_macs, "float_gemm_macs": fp_macs, "converts": converts, "ops": ops}


def _dt(v) -> str:
    return v.datatype.name.replace("xnn_datatype_", "")


# ---------------------------------------------------------------- the trial
def build(variant: str, graph, args: tuple[torch.Tensor, ...], calib: list[tuple[torch.Tensor, ...]]):
    """(lowered program, annotation report, seconds)"""
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    form, make_quantizer = VARIANT_SPEC[variant]
    t0 = time.perf_counter()
    with layer_form(form):
        exported = torch.export.export(graph.module, args, strict=False)
    annotations = None
    if make_quantizer is not None:
        prepared = prepare_pt2e(exported.module(), make_quantizer())
        with torch.no_grad():
            for feed in calib:
                prepared(*feed)
        converted = convert_pt2e(prepared)
        annotations = quant_annotations(converted)
        exported = torch.export.export(converted, args, strict=False)
    graphs: list = []
    with capture_xnnpack_graphs(graphs):
        edge = to_edge_transform_and_lower(exported, partitioner=[XnnpackPartitioner()])
    report = program_report(edge)
    report["xnnpack"] = xnnpack_report(graphs)
    gemm = report["gemm_macs"]
    report["int8_in_xnnpack_fraction_of_all_gemm_macs"] = round(report["xnnpack"]["int8_gemm_macs"] / gemm, 4) if gemm else None
    report["int8_in_xnnpack_fraction_of_inr_layer_macs"] = (
        round(min(report["xnnpack"]["int8_gemm_macs"], report["inr_layer_gemm_macs"]) / report["inr_layer_gemm_macs"], 4)
        if report["inr_layer_gemm_macs"] else None)
    program = edge.to_executorch()
    return report, program, annotations, time.perf_counter() - t0


def run_preset(name: str, latents: int, calib_latents: int, rounds: int, threads: int, workdir: Path,
               variants: tuple[str, ...] = VARIANTS) -> dict[str, Any]:
    import executorch.kernels.quantized  # noqa: F401 - out variants of the quantize ops left to portable kernels
    from executorch.runtime import Runtime

    ckpt = demo_checkpoint(name)
    model = ckpt.build().eval()
    spec = ckpt.family_spec.export_spec
    graph = next(g for g in split(model, spec) if g.name == "inr")
    _ROOT[:] = [graph.module]
    native = tuple(model.native_size)
    spec1 = dataclasses.replace(spec, example_size=native)
    base = example_inputs(graph, model, spec1, batch=1)  # θ + native grid inputs at batch 1
    grid = list(base[1:])
    reference = open_checkpoint(f"demo:{name}")
    display = reference.interface.display
    extra = [torch.ones(1)] * (len(spec.hypernet_inputs) - 1)

    def thetas(seeds: list[int]) -> list[torch.Tensor]:
        z = torch.from_numpy(latents_from_seeds(seeds, model.z_dim))
        with torch.no_grad():
            return [model.hypernet(z[i : i + 1], *extra) for i in range(len(seeds))]

    calib = [(th, *grid) for th in thetas([CALIB_SEED_BASE + i for i in range(calib_latents)])]
    held = [(th, *grid) for th in thetas(list(range(latents)))]
    with torch.no_grad():
        ref = [graph.module(*feed).numpy() for feed in held]
    feeds_path = workdir / f"{name}_held.npz"
    np.savez(feeds_path, **{f"a{k}": np.stack([feed[k].numpy() for feed in held]) for k in range(len(held[0]))})
    out: dict[str, Any] = {"native_size": list(native), "theta_dim": int(model.theta_dim), "variants": {}}
    methods = {}
    rt = Runtime.get()
    for variant in variants:
        row: dict[str, Any] = {}
        quiet = io.StringIO()
        try:
            with contextlib.redirect_stdout(quiet), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                report, program, annotations, seconds = build(variant, graph, base, calib)
            row["lowered"] = True
            row["build_s"] = round(seconds, 1)
            row["annotations"] = annotations
            row["program"] = report
            path = workdir / f"{name}_{variant}.pte"
            path.write_bytes(program.buffer)
            row["pte_bytes"] = path.stat().st_size
            # run in a child process: a failing kernel aborts the process
            imgs, failure = run_in_child(path, feeds_path, workdir / f"{name}_{variant}.npy")
            row["ran"] = failure is None
            if failure is not None:
                row["run_error"] = failure
            else:
                finite = all(np.isfinite(i).all() for i in imgs)
                per = [psnr(r, i, display) for r, i in zip(ref, imgs)]
                row["max_abs_vs_torch"] = float(max(np.abs(r - i).max() for r, i in zip(ref, imgs)))
                row["gate"] = gate_verdict(per, finite, DEFAULT_INT8_MEDIAN_DB, DEFAULT_INT8_WORST_DB)
                row["psnr_db"] = {"median": _r(np.median(per)), "worst": _r(np.min(per)), "latents": len(per)}
                methods[variant] = (rt.load_program(str(path)).load_method("forward"), held[0])
        except Exception as e:  # noqa: BLE001 - a variant that fails to build is a result
            row["lowered"] = False
            row["error"] = (f"{type(e).__name__}: " + (str(e).strip().splitlines() or [""])[0])[:300]
            row["traceback_tail"] = traceback.format_exc().strip().splitlines()[-3:]
        out["variants"][variant] = row
        _log(name, variant, row)

    # latency: every round times each program once (``reps`` calls), in a rotated order
    names = list(methods)
    fns = {v: (lambda m=methods[v][0], f=methods[v][1]: m.execute(list(f))) for v in names}
    for fn in fns.values():
        fn()  # warm-up
    reps = {v: calls_for(fn, 0.02) for v, fn in fns.items()}
    times = interleaved_times(fns, rounds=rounds, warmup=0, rotate=True, calls=reps)
    fp32 = np.asarray(times["fp32"])
    for v, ts in times.items():
        ts = np.asarray(ts)
        q1, med, q3 = np.percentile(ts, [25, 50, 75])
        ratio = fp32 / ts  # per round: > 1 means faster than FP32
        out["variants"][v]["latency"] = {
            "calls_per_round": reps[v],
            "median_ms": _r(med * 1e3, 3), "q1_ms": _r(q1 * 1e3, 3), "q3_ms": _r(q3 * 1e3, 3),
            "speedup_vs_fp32_median": _r(np.median(ratio), 3),
            "speedup_vs_fp32_iqr": [_r(np.percentile(ratio, 25), 3), _r(np.percentile(ratio, 75), 3)],
            "per_round_ms": [_r(t * 1e3, 4) for t in ts],
        }
        control = FLOAT_CONTROL.get(v)
        if control in times:  # the same graph form in FP32: what quantization alone changes
            c = np.asarray(times[control]) / ts
            out["variants"][v]["latency"]["float_control"] = control
            out["variants"][v]["latency"]["speedup_vs_float_control_median"] = _r(np.median(c), 3)
            out["variants"][v]["latency"]["speedup_vs_float_control_iqr"] = [_r(np.percentile(c, 25), 3),
                                                                            _r(np.percentile(c, 75), 3)]
        print(f"# {name} {v}: {med * 1e3:.3f} ms [{q1 * 1e3:.3f}, {q3 * 1e3:.3f}], x{np.median(ratio):.2f} vs fp32",
              file=sys.stderr)
    return out


def run_in_child(pte: Path, feeds: Path, out: Path) -> tuple[list[np.ndarray] | None, str | None]:
    """Run ``pte`` on every held-out feed in a fresh process: (images, None) or (None, why)."""
    import subprocess

    proc = subprocess.run([sys.executable, __file__, "--run-pte", str(pte), str(feeds), str(out)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [l for l in proc.stderr.splitlines() if "assert" in l or "Error" in l] or proc.stderr.splitlines()[-2:]
        return None, f"exit {proc.returncode}: " + " | ".join(l.strip() for l in lines[-2:])[:400]
    return list(np.load(out)), None


def _child(pte: str, feeds: str, out: str) -> int:
    import executorch.kernels.quantized  # noqa: F401
    from executorch.runtime import Runtime

    data = np.load(feeds)
    arrays = [data[f"a{k}"] for k in range(len(data.files))]
    method = Runtime.get().load_program(pte).load_method("forward")
    imgs = [method.execute([torch.from_numpy(a[i]) for a in arrays])[0].numpy() for i in range(len(arrays[0]))]
    np.save(out, np.stack(imgs))
    return 0


def _r(v, nd: int = 2):
    v = float(v)
    return "inf" if math.isinf(v) else round(v, nd)


def _log(name: str, variant: str, row: dict[str, Any]) -> None:
    if not row["lowered"]:
        print(f"# {name} {variant}: did not lower: {row['error']}", file=sys.stderr)
        return
    p = row["program"]
    if not row.get("ran"):
        print(f"# {name} {variant}: lowered, does not run: {row.get('run_error')}", file=sys.stderr)
    else:
        print(f"# {name} {variant}: PSNR median {row['psnr_db']['median']} worst {row['psnr_db']['worst']} dB", file=sys.stderr)
    print(f"# {name} {variant}: {p['gemm_nodes_in_xnnpack']}/{p['gemm_nodes']} GEMMs in XNNPACK, INT8 share of INR layer "
          f"MACs {p['int8_in_xnnpack_fraction_of_inr_layer_macs']}\n#   annotations {row['annotations']}\n#   XNNPACK {p['xnnpack']['gemms']} "
          f"converts {p['xnnpack']['converts']}\n#   portable {p['portable_ops']}", file=sys.stderr)


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--run-pte":
        return _child(*sys.argv[2:])
    ap = parser(__doc__)
    ap.add_argument("--presets", default="tiny,sg2-tiny")
    ap.add_argument("--latents", type=int, default=16, help="held-out latents (seeds 0..N-1)")
    ap.add_argument("--calib-latents", type=int, default=32, help="calibration latents (seeds 1000000..)")
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated; fp32 is always run")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    variants = ("fp32",) + tuple(v for v in args.variants.split(",") if v != "fp32")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        ap.error(f"unknown variants {unknown}; valid: {', '.join(VARIANTS)}")
    import tempfile

    logging.getLogger("torch").setLevel(logging.ERROR)
    torch.set_num_threads(args.threads)
    from executorch.extension.pybindings import portable_lib

    portable_lib._unsafe_reset_threadpool(args.threads)
    import executorch  # noqa: F401
    from importlib.metadata import version

    result: dict[str, Any] = record(**{
        "versions": {d: version(d) for d in ("torch", "executorch", "torchao")},
        "executorch_threads": portable_lib._threadpool_get_thread_count(),
        "latents": args.latents, "latent_seeds": f"0..{args.latents - 1}",
        "calibration_latents": args.calib_latents,
        "calibration_seeds": f"{CALIB_SEED_BASE}..{CALIB_SEED_BASE + args.calib_latents - 1}",
        "gate": {"median_db": DEFAULT_INT8_MEDIAN_DB, "worst_db": DEFAULT_INT8_WORST_DB},
        "rounds": args.rounds, "variants": list(variants), "presets": {},
    })
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="et-int8-") as tmp:
        for name in args.presets.split(","):
            result["presets"][name] = run_preset(name, args.latents, args.calib_latents, args.rounds, args.threads, Path(tmp),
                                                 variants)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    write_json(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
