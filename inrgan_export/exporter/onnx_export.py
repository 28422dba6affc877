"""Export the split graphs to ONNX with dynamic batch and per-block grid sizes.

torch.onnx's dynamo exporter traces each graph once at a small non-square size with
named ``torch.export.Dim`` s (``batch``, ``h<b>``, ``w<b>``); nothing about the render size
is frozen into the graph because every size-dependent quantity comes from the shapes of
the per-grid inputs. Afterwards:

1. onnxslim simplifies the graph;
2. index casts are dropped (:func:`drop_index_casts`);
   each result is kept only if ONNX Runtime gives bit-identical outputs to the exporter's
   graph on the trace inputs;
3. ``onnx.checker`` runs its full check (with shape inference).

The fused ``generator`` graph is not traced again: it is the exported hypernetwork and INR
joined at θ with ``onnx.compose.merge_models``, so it is the same computation by
construction (and still checked by the parity report like every other graph).

Over 400 lines: tracing, caching, fusing and finishing the graphs are one export step sharing
the graph-cache key and the bit-identity checks, in the order listed above.
"""
from __future__ import annotations

import contextlib
import io
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import onnx
import torch
from torch import nn

from ..families import ExportSpec
from ..core.manifest import Manifest
from ..core.grid import MAX_SIDE
from ..load.split import GraphDef, check_example_dims, example_inputs, to_numpy

MAX_BATCH = 4096


@dataclass(frozen=True)
class ExportedGraph:
    name: str
    path: Path
    nodes: int
    simplified: bool
    from_cache: bool = False


def dynamic_shapes(graph: GraphDef) -> tuple:
    """``dynamic_shapes`` for torch.export, one Dim object per name so equal names are tied."""
    dims: dict[str, torch.export.Dim] = {}

    def dim(name: str) -> torch.export.Dim:
        if name not in dims:
            dims[name] = torch.export.Dim(name, min=1, max=MAX_BATCH if name == "batch" else MAX_SIDE)
        return dims[name]

    per_input = [{i: dim(d) for i, d in enumerate(t.shape) if isinstance(d, str)} for t in graph.inputs]
    # the graph wrappers take (first, *rest): torch.export wants the *rest part as one tuple,
    # and no entry for it when it is empty
    return (per_input[0], tuple(per_input[1:])) if len(per_input) > 1 else (per_input[0],)


#: traced graphs larger than this are not kept in the user cache (a 256² preset's hypernetwork
#: is ~430 MB of connector weights; its INR graph, the slow one to trace, is ~10 MB)
GRAPH_CACHE_MAX_BYTES = 64 << 20


def export_graph(graph: GraphDef, model: nn.Module, spec: ExportSpec, path: Path, debug: bool = False,
                 cache: bool = True) -> ExportedGraph:
    """Export one graph; a graph traced before from the same weights, config, code and library
    versions is taken from the user cache instead of tracing again (tracing the INR with its
    symbolic grid dims takes tens of seconds even for a tiny model)."""
    if graph.module is None:
        return fuse_graphs(graph, [path.with_name(f"{name}.onnx") for name in graph.fused_from], spec, path)
    key = graph_cache_key(graph, model, spec) if cache else None
    if key is not None and (hit := _cached_graph(key, graph.name, path)) is not None:
        return hit
    exported = trace_graph(graph, model, spec, path, debug)
    if key is not None and path.stat().st_size <= GRAPH_CACHE_MAX_BYTES:
        _store_graph(key, exported)
    return exported


def graph_cache_key(graph: GraphDef, model: nn.Module, spec: ExportSpec) -> str:
    import dataclasses
    import hashlib
    import json

    from .._version import __version__
    from ..core.cache import code_fingerprint

    versions = {"tool": __version__, "code": code_fingerprint(), "torch": torch.__version__, "onnx": onnx.__version__}
    for lib in ("onnxscript", "onnxslim", "onnxruntime"):
        try:
            versions[lib] = __import__(lib).__version__
        except ImportError:
            versions[lib] = None
    h = hashlib.sha256()
    h.update(json.dumps({"versions": versions, "spec": dataclasses.asdict(spec), "graph": graph.name,
                         "inputs": [t.to_manifest() for t in graph.inputs], "outputs": [t.to_manifest() for t in graph.outputs],
                         "config": model.cfg.to_dict()}, sort_keys=True, default=str).encode())
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _graph_cache_entry(key: str) -> Path:
    from ..core.cache import user_cache_dir

    return user_cache_dir("graphs") / key[:32]


def _cached_graph(key: str, name: str, path: Path) -> ExportedGraph | None:
    import json
    import shutil

    entry = _graph_cache_entry(key)
    try:
        meta = json.loads((entry / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    if meta.get("key") != key or not (entry / f"{name}.onnx").is_file():
        return None
    shutil.copyfile(entry / f"{name}.onnx", path)
    return ExportedGraph(name, path, int(meta["nodes"]), bool(meta["simplified"]), from_cache=True)


def _store_graph(key: str, exported: ExportedGraph) -> None:
    import json
    import os
    import shutil
    import tempfile

    entry = _graph_cache_entry(key)
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=entry.parent, prefix=".partial-"))
        shutil.copyfile(exported.path, tmp / f"{exported.name}.onnx")
        (tmp / "meta.json").write_text(json.dumps({"key": key, "nodes": exported.nodes, "simplified": exported.simplified}))
        if entry.exists():
            shutil.rmtree(entry, ignore_errors=True)
        os.replace(tmp, entry)
    except OSError:  # a cache that cannot be written is only a missed speed-up
        shutil.rmtree(tmp, ignore_errors=True) if "tmp" in locals() else None


def trace_graph(graph: GraphDef, model: nn.Module, spec: ExportSpec, path: Path, debug: bool = False) -> ExportedGraph:
    args = example_inputs(graph, model, spec)
    check_example_dims(graph, args)
    out = io.StringIO()
    logger = logging.getLogger("torch.onnx")
    old_level = logger.level
    logger.setLevel(logging.DEBUG if debug else logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(out):
            if not debug:
                warnings.simplefilter("ignore")
            torch.onnx.export(
                graph.module,
                args,
                str(path),
                input_names=graph.input_names,
                output_names=graph.output_names,
                dynamic_shapes=dynamic_shapes(graph),
                opset_version=spec.opset,
                dynamo=True,
                external_data=False,
            )
    finally:
        logger.setLevel(old_level)
    if debug:
        print(out.getvalue())
    original = onnx.load(str(path))
    feeds = {t.name: to_numpy(a) for t, a in zip(graph.inputs, args)}
    proto, simplified = finish_graph(original, feeds)
    proto.doc_string = f"inrgan-export {graph.name} graph ({spec.family} family)"
    onnx.save(proto, str(path))
    onnx.checker.check_model(str(path), full_check=True)
    return ExportedGraph(graph.name, path, len(proto.graph.node), simplified)


def _weights_entry(graph: GraphDef, exported: dict) -> dict:
    """Where a graph's large weights are: a fused graph's come from its first part's file."""
    path = exported[graph.name].path
    if graph.module is None:
        first = exported[graph.fused_from[0]].path
        return {"external_data": weights_file(first), "weights_shared_with": first.name}
    sibling = path.with_name(weights_file(path))
    return {"external_data": sibling.name} if sibling.is_file() else {}


def fuse_graphs(graph: GraphDef, parts: Sequence[Path], spec: ExportSpec, path: Path) -> ExportedGraph:
    """Join the exported hypernetwork and INR at θ into one graph with the same I/O names."""
    merged = fuse_files(parts[0], parts[1], spec.theta_name, path,
                        f"inrgan-export {graph.name} graph ({spec.family} family): hypernet and inr joined at theta")
    got = [v.name for v in merged.graph.input], [v.name for v in merged.graph.output]
    if got != (graph.input_names, graph.output_names):
        raise RuntimeError(f"fused graph has I/O {got}, expected {(graph.input_names, graph.output_names)}")
    return ExportedGraph(graph.name, path, len(merged.graph.node), False)


#: initializers of at least this many bytes are stored outside the graph file (smaller ones
#: stay inline: shapes, scalars)
EXTERNAL_MIN_BYTES = 1024


def weights_file(graph_path: Path) -> str:
    """The external data file of a graph whose weights are shared: ``hypernet.onnx`` →
    ``hypernet.weights`` (next to it; ONNX resolves it relative to the graph file)."""
    return f"{graph_path.stem}.weights"


def external_weights(path: Path) -> dict[str, list]:
    """{initializer: its external_data entries} of a graph file whose large weights are stored
    in an external data file; the graph is converted in place first when they are inline."""
    stored = onnx.load(str(path), load_external_data=False)
    if not any(t.data_location == onnx.TensorProto.EXTERNAL for t in stored.graph.initializer):
        full = onnx.load(str(path))
        location = path.with_name(weights_file(path))
        location.unlink(missing_ok=True)  # onnx appends to an existing external data file
        onnx.save(full, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location=location.name,
                  size_threshold=EXTERNAL_MIN_BYTES, convert_attribute=False)
        location.chmod(0o644)  # onnx creates it owner-only; it is part of a bundle like the graph
        stored = onnx.load(str(path), load_external_data=False)
    return {t.name: list(t.external_data) for t in stored.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL}


def fuse_files(first_path: Path, second_path: Path, join: str, path: Path, doc: str) -> onnx.ModelProto:
    """``onnx.compose.merge_models`` of two graph files joined at tensor ``join``, with the
    graph inputs and outputs keeping their names; written to ``path`` and fully checked.

    The first graph's weights (the hypernetwork's: nearly all of a model's bytes) are stored
    once: the first graph keeps them in its external data file and the fused graph points at
    the same bytes (same file, offsets and lengths), so a bundle holds each weight once. Both
    graphs must stay in one directory (ONNX resolves external data next to the graph file)."""
    if first_path.parent.resolve() != path.parent.resolve():
        raise ValueError(f"fused graph {path} must sit next to {first_path}, whose weights it shares")
    shared = external_weights(first_path)
    # the first graph's weights are never read: its initializers stay references into its
    # external data file (the fused graph sits next to it), which keeps the fusion's memory at
    # the size of the graph structure rather than two copies of every weight
    first = onnx.load(str(first_path), load_external_data=False)
    second = onnx.load(str(second_path))
    merged = merge_referencing(first, second, join, doc)
    for tensor in merged.graph.initializer:
        entries = shared.get(tensor.name.split("/", 1)[1]) if tensor.name.startswith("hypernet/") else None
        if entries is not None and list(tensor.external_data) != entries:
            raise RuntimeError(f"fused graph: initializer {tensor.name} lost its external data reference")
    renamed = {}
    for value in list(merged.graph.input) + list(merged.graph.output):
        renamed[value.name] = value.name.split("/", 1)[1]
        value.name = renamed[value.name]
    for node in merged.graph.node:
        for k, name in enumerate(node.input):
            node.input[k] = renamed.get(name, name)
        for k, name in enumerate(node.output):
            node.output[k] = renamed.get(name, name)
    onnx.save(merged, str(path))
    onnx.checker.check_model(str(path), full_check=True)
    return merged


def merge_referencing(first: onnx.ModelProto, second: onnx.ModelProto, join: str, doc: str) -> onnx.ModelProto:
    """``onnx.compose.merge_models(first, second, io_map=[(join, join)], prefix1="hypernet/",
    prefix2="inr/")`` without its final in-memory check, which cannot resolve external data
    references (they are relative to the graph file); the caller checks the written file."""
    import onnx.compose

    opsets: dict[str, int] = {}
    for entry in list(first.opset_import) + list(second.opset_import):
        if opsets.setdefault(entry.domain, entry.version) != entry.version:
            raise ValueError(f"cannot fuse graphs with opset {opsets[entry.domain]} and {entry.version} of domain {entry.domain!r}")
    overlap = {f.name for f in first.functions} & {f.name for f in second.functions}
    if overlap:
        raise ValueError(f"cannot fuse graphs that both define the local functions {sorted(overlap)}")
    a = onnx.compose.add_prefix(first, "hypernet/")
    b = onnx.compose.add_prefix(second, "inr/")
    graph = onnx.compose.merge_graphs(a.graph, b.graph, [("hypernet/" + join, "inr/" + join)], doc_string=doc)
    merged = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid(d, v) for d, v in opsets.items()],
                                    ir_version=max(first.ir_version, second.ir_version),
                                    producer_name=first.producer_name, producer_version=first.producer_version)
    merged.functions.MergeFrom(a.functions)
    merged.functions.MergeFrom(b.functions)
    return merged


def drop_index_casts(proto: onnx.ModelProto) -> int:
    """Remove ``Cast(to=INT64)`` of an int32 tensor whose only consumers are Gather indices.

    The exporter widens our int32 resampling indices (and the flat index computed from
    them) to int64 before each Gather; Gather takes int32 indices as they are, and TensorRT
    prefers no INT64 tensors on the data path."""
    inferred = onnx.shape_inference.infer_shapes(proto)
    types = {v.name: v.type.tensor_type.elem_type for v in (*inferred.graph.input, *inferred.graph.value_info)}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in proto.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    outputs = {o.name for o in proto.graph.output}
    removed = []
    for node in proto.graph.node:
        if node.op_type != "Cast" or types.get(node.input[0]) != onnx.TensorProto.INT32:
            continue
        to = next((a.i for a in node.attribute if a.name == "to"), None)
        users = consumers.get(node.output[0], [])
        if to != onnx.TensorProto.INT64 or not users or node.output[0] in outputs:
            continue
        if any(u.op_type != "Gather" or list(u.input).index(node.output[0]) != 1 for u in users):
            continue
        for u in users:
            u.input[1] = node.input[0]
        removed.append(node)
    for node in removed:
        proto.graph.node.remove(node)
    gone = {n.output[0] for n in removed}
    keep = [v for v in proto.graph.value_info if v.name not in gone]
    del proto.graph.value_info[:]
    proto.graph.value_info.extend(keep)
    return len(removed)


def finish_graph(original: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> tuple[onnx.ModelProto, bool]:
    """onnxslim, then :func:`drop_index_casts`; each result is kept only if ONNX Runtime
    gives bit-identical outputs to the exporter's graph on the trace inputs."""
    reference = run_onnx(original, feeds)

    def same(candidate: onnx.ModelProto) -> bool:
        return all(np.array_equal(a, b) for a, b in zip(reference, run_onnx(candidate, feeds)))

    slim = _slim(original)
    if slim is not None:
        drop_index_casts(slim)
        if same(slim):
            return slim, True
    plain = onnx.ModelProto()
    plain.CopyFrom(original)
    if drop_index_casts(plain) and same(plain):
        return plain, False
    return original, False


def _slim(proto: onnx.ModelProto) -> onnx.ModelProto | None:
    try:
        import onnxslim
    except ImportError:  # optional: a graph that is not simplified is still correct
        return None
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return onnxslim.slim(copy)


def run_onnx(proto: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> Sequence[np.ndarray]:
    from ..backends.onnxruntime_backend import ort_session

    sess = ort_session(proto.SerializeToString())
    names = {i.name for i in sess.get_inputs()}
    return sess.run(None, {k: v for k, v in feeds.items() if k in names})


def build_manifest(
    ckpt,
    model,
    graphs: list[GraphDef],
    exported: dict,
    target: str,
    precision: str,
    backend: str,
    reference,
) -> Manifest:
    """The manifest of an export before any target adds its section: the model's interface,
    its graphs as exported, θ's layout, versions and provenance. ``reference`` is the
    PyTorch reference generator (its interface is the bundle's)."""
    import datetime as _dt

    from .._version import __version__
    from ..core.environment import library_versions

    family = ckpt.family_spec
    spec = family.export_spec
    return Manifest.new(
        family=family.name,
        target=target,
        precision=precision,
        default_backend=backend,
        interface=reference.interface,
        created=_dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        tool=f"inrgan-export {__version__}",
        config=ckpt.config,
        graphs={
            g.name: {
                "onnx": exported[g.name].path.name,
                "inputs": [t.to_manifest() for t in g.inputs],
                "outputs": [t.to_manifest() for t in g.outputs],
                "nodes": exported[g.name].nodes,
                "simplified_with_onnxslim": exported[g.name].simplified,
                **_weights_entry(g, exported),
            }
            for g in graphs
            if g.name in exported
        },
        theta_layout=[
            {"name": s.name, "offset": s.offset, "size": s.size, "kind": s.kind,
             "parts": [{"name": n, "shape": list(shape)} for n, shape in s.parts]}
            for s in model.theta_segments
        ],
        opset=spec.opset,
        versions=library_versions(),
        provenance={
            **ckpt.provenance,
            "licence_note": family.licence_note,
        },
    )
