"""TensorRT-readiness lint: what TensorRT's ONNX parser will refuse, found without TensorRT.

Rules (each failure names the graph, the node and the rule):

``opset``             the default-domain opset is inside the targeted major version's range
``custom-domain``     no operator from another domain (TensorRT would need a plugin)
``op-support``        every op type is in the table and marked supported
``op-types``          the element type an op works on is one the table lists for it
``constant-input``    inputs the table requires to be build-time constants are initializers
                      or Constant outputs (Slice axes/steps, Squeeze/Unsqueeze axes, ...)
``slice-steps``       constant Slice steps are non-zero
``resize-form``       Resize/Upsample attributes are in the supported forms
``input-rank``        inputs with a required rank have it (GridSample: 4-D)
``dynamic-input``     every input with a dynamic dim has an optimization profile, of its rank,
                      whose fixed dims agree with the graph
``int64-data-path``   no INT64 tensor whose value depends on input values; INT64 shape
                      tensors (computed from Shape/Size and constants only: Reshape shapes,
                      Resize sizes, Slice bounds) are INT64 by the ONNX spec and fine

The op table is data (``data/tensorrt_onnx_ops.json``) with the document and TensorRT
version each major version's entries were taken from.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable, Mapping, Sequence

import onnx
from onnx import TensorProto, helper

TABLE_FILE = "tensorrt_onnx_ops.json"

#: ONNX element type → the table's type names
TYPE_NAMES = {
    TensorProto.FLOAT: "FP32", TensorProto.FLOAT16: "FP16", TensorProto.BFLOAT16: "BF16",
    TensorProto.INT32: "INT32", TensorProto.INT64: "INT64", TensorProto.BOOL: "BOOL",
    TensorProto.UINT8: "UINT8", TensorProto.INT8: "INT8", TensorProto.DOUBLE: "DOUBLE",
    TensorProto.FLOAT8E4M3FN: "FP8", TensorProto.INT4: "INT4",
}
SHAPE_SOURCES = {"Shape", "Size"}


@lru_cache(maxsize=1)
def load_table() -> dict[str, Any]:
    text = resources.files("inrgan_export.compile").joinpath("data", TABLE_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def majors() -> list[int]:
    return sorted(int(m) for m in load_table()["majors"])


def ops_for(major: int) -> dict[str, dict[str, Any]]:
    table = load_table()
    entry = table["majors"].get(str(major))
    if entry is None:
        raise ValueError(f"no operator table for TensorRT {major}; tables: {', '.join(map(str, majors()))}")
    ops = dict(table["ops"])
    ops.update(entry.get("changes", {}))
    return ops


@dataclass(frozen=True)
class LintIssue:
    graph: str
    node: str
    op: str
    rule: str
    message: str

    def text(self) -> str:
        return f"{self.graph}: node {self.node!r} ({self.op}): rule {self.rule}: {self.message}"

    def to_manifest(self) -> dict[str, str]:
        return {"graph": self.graph, "node": self.node, "op": self.op, "rule": self.rule, "message": self.message}


@dataclass
class LintReport:
    graph: str
    major: int
    issues: list[LintIssue] = field(default_factory=list)
    nodes: int = 0

    @property
    def passed(self) -> bool:
        return not self.issues

    def add(self, node: str, op: str, rule: str, message: str) -> None:
        self.issues.append(LintIssue(self.graph, node, op, rule, message))

    def to_manifest(self) -> dict[str, Any]:
        return {"graph": self.graph, "tensorrt_major": self.major, "nodes": self.nodes, "passed": self.passed,
                "issues": [i.to_manifest() for i in self.issues]}


def _attr(node: onnx.NodeProto, name: str, default: Any = None) -> Any:
    for a in node.attribute:
        if a.name == name:
            v = helper.get_attribute_value(a)
            return v.decode() if isinstance(v, bytes) else v
    return default


def lint_model(
    model: onnx.ModelProto,
    graph: str,
    major: int,
    profiles: Sequence[Mapping[str, Any]] | None = None,
) -> LintReport:
    """Lint one graph for TensorRT ``major``. ``profiles``: per profile, ``{input name: shapes}``
    with ``min``/``opt``/``max`` lists (the manifest's ``profiles[i].shapes[graph]``)."""
    table = load_table()
    ops = ops_for(major)
    report = LintReport(graph, major, nodes=len(model.graph.node))
    g = model.graph
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 - lint what we can without inferred types
        inferred = model
    types: dict[str, int] = {v.name: v.type.tensor_type.elem_type
                             for v in (*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output)}
    ranks: dict[str, int] = {v.name: len(v.type.tensor_type.shape.dim)
                             for v in (*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output)
                             if v.type.tensor_type.HasField("shape")}
    constants = {t.name for t in g.initializer}
    const_values = {t.name: onnx.numpy_helper.to_array(t) for t in g.initializer}
    for t in g.initializer:
        types[t.name] = t.data_type
    for node in g.node:
        if node.op_type == "Constant":
            constants.update(node.output)
            value = _attr(node, "value")
            if isinstance(value, TensorProto):
                const_values[node.output[0]] = onnx.numpy_helper.to_array(value)
                types[node.output[0]] = value.data_type

    # opset
    lo, hi = table["majors"][str(major)]["opset"]
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            if not lo <= imp.version <= hi:
                report.add("<model>", "opset_import", "opset",
                           f"opset {imp.version} is outside TensorRT {major}'s range {lo}..{hi}")
    # nodes
    for node in g.node:
        name = node.name or (node.output[0] if node.output else "?")
        if node.domain not in ("", "ai.onnx"):
            report.add(name, node.op_type, "custom-domain",
                       f"operator domain {node.domain!r} is not ONNX's; TensorRT would need a plugin for it")
            continue
        entry = ops.get(node.op_type)
        if entry is None or not entry.get("supported", False):
            why = "not in the table" if entry is None else "marked unsupported"
            report.add(name, node.op_type, "op-support", f"{node.op_type} is {why} for TensorRT {major}")
            continue
        data = node.input[0] if node.input and node.input[0] else None
        if data is not None and data in types and entry.get("types"):
            tname = TYPE_NAMES.get(types[data], TensorProto.DataType.Name(types[data]) if types[data] else "UNDEFINED")
            if types[data] and tname not in entry["types"]:
                report.add(name, node.op_type, "op-types",
                           f"input {data!r} is {tname}; TensorRT {major} takes {node.op_type} in {', '.join(entry['types'])}")
        for idx, what in table["constant_inputs"].get(node.op_type, {}).items():
            k = int(idx)
            if k < len(node.input) and node.input[k] and node.input[k] not in constants:
                report.add(name, node.op_type, "constant-input",
                           f"input {k} ({what}) is {node.input[k]!r}, computed at run time; TensorRT needs it as an initializer")
        if node.op_type == "Slice" and len(node.input) > 4 and node.input[4] in const_values:
            if (const_values[node.input[4]] == 0).any():
                report.add(name, node.op_type, "slice-steps", "a Slice step is 0")
        if node.op_type in ("Resize", "Upsample"):
            _lint_resize(node, name, table["resize"], report)
        for idx, allowed in table["rank"].get(node.op_type, {}).items():
            k = int(idx) if not isinstance(idx, int) else idx
            if k < len(node.input) and node.input[k] in ranks and ranks[node.input[k]] not in allowed:
                report.add(name, node.op_type, "input-rank",
                           f"input {node.input[k]!r} has rank {ranks[node.input[k]]}; TensorRT {major} needs {allowed}")
    _lint_dynamic_inputs(g, profiles, report)
    _lint_int64(g, types, report)
    return report


def _lint_resize(node: onnx.NodeProto, name: str, forms: Mapping[str, list], report: LintReport) -> None:
    checks = {
        "mode": _attr(node, "mode", "nearest"),
        "coordinate_transformation_mode": _attr(node, "coordinate_transformation_mode", "half_pixel"),
        "keep_aspect_ratio_policy": _attr(node, "keep_aspect_ratio_policy", "stretch"),
        "antialias": _attr(node, "antialias", 0),
    }
    if checks["mode"] == "nearest":
        checks["nearest_mode"] = _attr(node, "nearest_mode", "round_prefer_floor")
    for key, value in checks.items():
        if key in forms and value not in forms[key]:
            report.add(name, node.op_type, "resize-form",
                       f"{key}={value!r} is not supported; supported: {', '.join(map(str, forms[key]))}")


def _lint_dynamic_inputs(g: onnx.GraphProto, profiles: Sequence[Mapping[str, Any]] | None, report: LintReport) -> None:
    initializer_names = {t.name for t in g.initializer}
    for inp in g.input:
        if inp.name in initializer_names:
            continue
        dims = inp.type.tensor_type.shape.dim
        dynamic = [k for k, d in enumerate(dims) if not d.HasField("dim_value")]
        if not dynamic:
            continue
        if not profiles:
            report.add(inp.name, "<input>", "dynamic-input",
                       f"input {inp.name!r} has dynamic dims {_dims(dims)} and no optimization profile defines them")
            continue
        for p, prof in enumerate(profiles):
            shapes = prof.get(inp.name)
            if shapes is None:
                report.add(inp.name, "<input>", "dynamic-input",
                           f"input {inp.name!r} has dynamic dims {_dims(dims)} and profile {p} has no shapes for it")
                continue
            for which in ("min", "opt", "max"):
                shape = list(shapes[which])
                if len(shape) != len(dims):
                    report.add(inp.name, "<input>", "dynamic-input",
                               f"profile {p} {which} shape {shape} has rank {len(shape)}; input {inp.name!r} has rank {len(dims)}")
                    break
                bad = [k for k, d in enumerate(dims) if d.HasField("dim_value") and d.dim_value != shape[k]]
                if bad:
                    report.add(inp.name, "<input>", "dynamic-input",
                               f"profile {p} {which} shape {shape} disagrees with the graph's fixed dim {bad[0]} ({dims[bad[0]].dim_value})")
                    break
            if all(len(shapes[w]) == len(dims) for w in ("min", "opt", "max")):
                if not all(a <= b <= c for a, b, c in zip(shapes["min"], shapes["opt"], shapes["max"])):
                    report.add(inp.name, "<input>", "dynamic-input",
                               f"profile {p} shapes of {inp.name!r} are not ordered min <= opt <= max")


def _dims(dims: Iterable[onnx.TensorShapeProto.Dimension]) -> str:
    return "[" + ", ".join(d.dim_param or (str(d.dim_value) if d.HasField("dim_value") else "?") for d in dims) + "]"


def _lint_int64(g: onnx.GraphProto, types: Mapping[str, int], report: LintReport) -> None:
    """INT64 tensors whose values depend on input values are on the data path."""
    initializer_names = {t.name for t in g.initializer}
    value_dependent = {i.name for i in g.input if i.name not in initializer_names}
    for inp in g.input:
        if inp.name not in initializer_names and types.get(inp.name) == TensorProto.INT64:
            report.add(inp.name, "<input>", "int64-data-path",
                       f"input {inp.name!r} is INT64; TensorRT works in INT32 on the data path (feed int32)")
    for node in g.node:
        if node.op_type in SHAPE_SOURCES:
            continue  # reads shapes only: its output is a shape tensor
        if any(i in value_dependent for i in node.input if i):
            value_dependent.update(o for o in node.output if o)
            for o in node.output:
                if o and types.get(o) == TensorProto.INT64:
                    report.add(node.name or o, node.op_type, "int64-data-path",
                               f"output {o!r} is INT64 and computed from input values (not a shape tensor); use INT32")


def table_source() -> dict[str, Any]:
    t = load_table()
    return {m: {"document": e["document"], "opset": e["opset"]} for m, e in t["majors"].items()}
