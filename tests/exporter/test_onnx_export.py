"""ONNX export (inrgan_export.exporter.onnx_export, .split) through the real CLI."""
from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from inrgan_export.backends import open_bundle

from ..conftest import AUTHORS, run_cli


def dims(value_info) -> list:
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def test_graphs_have_dynamic_batch_and_per_block_grid_dims(tiny_bundle):
    manifest = json.loads((tiny_bundle / "manifest.json").read_text())
    for name in ("hypernet", "inr", "generator"):
        model = onnx.load(str(tiny_bundle / f"{name}.onnx"))
        onnx.checker.check_model(model, full_check=True)
        assert model.opset_import[0].version >= 17
        entry = manifest["graphs"][name]
        assert [i.name for i in model.graph.input] == [t["name"] for t in entry["inputs"]]
        assert [dims(i) for i in model.graph.input] == [t["shape"] for t in entry["inputs"]]
        assert [dims(o) for o in model.graph.output] == [t["shape"] for t in entry["outputs"]]
    inr = onnx.load(str(tiny_bundle / "inr.onnx"))
    shapes = {i.name: dims(i) for i in inr.graph.input}
    assert shapes["theta"] == ["batch", manifest["interface"]["theta_dim"]]
    assert shapes["coords_0"] == ["batch", 2, "h0", "w0"] and shapes["coords_2"] == ["batch", 2, "h2", "w2"]
    assert shapes["up0to2_y"] == ["h2"]  # the ToRGB skip edge jumps block 1
    assert dims(inr.graph.output[0]) == ["batch", 3, "h2", "w2"]
    # no scalar shape inputs: every size comes from a grid tensor's shape
    assert all(len(s) >= 1 and s[0] in ("batch", "h1", "h2", "w1", "w2") for s in shapes.values())


def test_resampling_indices_stay_int32_up_to_gather(tiny_bundle):
    inr = onnx.load(str(tiny_bundle / "inr.onnx"))
    index_inputs = {i.name for i in inr.graph.input if i.type.tensor_type.elem_type == onnx.TensorProto.INT32}
    assert index_inputs == {"up0to1_y", "up0to1_x", "up0to2_y", "up0to2_x", "up1to2_y", "up1to2_x"}
    inferred = onnx.shape_inference.infer_shapes(inr)
    types = {v.name: v.type.tensor_type.elem_type for v in (*inferred.graph.input, *inferred.graph.value_info)}
    gathers = [n for n in inr.graph.node if n.op_type == "Gather"]
    assert len(gathers) == 3  # one flat gather per resampling edge
    assert all(types[n.input[1]] == onnx.TensorProto.INT32 for n in gathers)


def test_fused_graph_equals_split_graphs(tiny_bundle):
    with open_bundle(tiny_bundle) as g:
        z = np.random.RandomState(5).randn(3, 16).astype(np.float32)
        split = g.generate(z, (20, 12), (0.1, -0.2, 0.9, 1.3))
        fused = g.generate_fused(z, (20, 12), (0.1, -0.2, 0.9, 1.3))
    assert np.array_equal(split, fused)


def test_bundle_stores_each_hypernetwork_weight_once(tiny_bundle):
    """hypernet.onnx and generator.onnx both point at hypernet.weights (same offsets): the
    fused graph repeats no weight bytes, and the weights file holds every hypernet weight."""
    from onnx import numpy_helper

    def external(path):
        m = onnx.load(str(path), load_external_data=False)
        return {t.name.split("/", 1)[-1]: {e.key: e.value for e in t.external_data}
                for t in m.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL}

    hyper, fused = external(tiny_bundle / "hypernet.onnx"), external(tiny_bundle / "generator.onnx")
    assert hyper and fused == hyper and {e["location"] for e in hyper.values()} == {"hypernet.weights"}
    full = onnx.load(str(tiny_bundle / "hypernet.onnx"))
    weight_bytes = sum(numpy_helper.to_array(t).nbytes for t in full.graph.initializer if t.name in hyper)
    assert (tiny_bundle / "hypernet.weights").stat().st_size == weight_bytes
    # the fused graph file itself is about the INR's size, not the hypernet's weights
    assert (tiny_bundle / "generator.onnx").stat().st_size < (tiny_bundle / "inr.onnx").stat().st_size + weight_bytes // 4
    m = json.loads((tiny_bundle / "manifest.json").read_text())
    assert m["graphs"]["generator"]["external_data"] == m["graphs"]["hypernet"]["external_data"] == "hypernet.weights"
    assert "hypernet.weights" in m["files"]  # covered by the bundle's checksums


@pytest.mark.parametrize("name", ["tiny2", "tiny3"])
def test_exported_graphs_reproduce_the_authors_outputs(name, authors_checkpoints, tmp_path):
    out = tmp_path / f"{name}_onnx"
    proc = run_cli("export", authors_checkpoints[name], "--target", "onnx", "-o", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    ref = dict(np.load(AUTHORS / f"{name}_reference.npz"))
    so = ort.SessionOptions()
    hyper = ort.InferenceSession(str(out / "hypernet.onnx"), so, providers=["CPUExecutionProvider"])
    theta = hyper.run(None, {"z": ref["z"]})[0]
    assert np.abs(theta - ref["theta"]).max() <= 1e-4
    with open_bundle(out) as g:
        for key in sorted(k for k in ref if k.startswith("img_")):
            s = int(key[4:])
            for path in (g.render(theta, (s, s)), g.generate_fused(ref["z"], (s, s))):
                err = np.abs(path - ref[key]).max()
                assert err <= 1e-4, (name, s, err)
