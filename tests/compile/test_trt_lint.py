"""TensorRT-readiness lint: our graphs pass, a hand-made graph fails every rule by name."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper

from inrgan_export.compile.trt_lint import lint_model, load_table, majors, ops_for


def test_table_names_its_sources_and_covers_our_ops():
    table = load_table()
    assert majors() == [10, 11]
    for major, entry in table["majors"].items():
        assert "operators.md" in entry["document"] and entry["opset"][0] <= 18 <= entry["opset"][1]
    assert "10.15" in table["majors"]["10"]["document"]
    for op in ("Gather", "MatMul", "Sin", "Cos", "Sigmoid", "Tanh", "Concat", "Reshape", "Slice", "Expand", "Relu"):
        assert set(ops_for(10)[op]["types"]) >= {"FP32", "FP16", "BF16"}, op
    assert ops_for(10)["GridSample"]["types"] == ["FP32", "FP16"]
    assert "Swish" in ops_for(11) and "Swish" not in ops_for(10)


def test_package_data_is_installed():
    from importlib import resources

    assert resources.files("inrgan_export.compile").joinpath("data", "tensorrt_onnx_ops.json").is_file()


def _profiles_for(model: onnx.ModelProto) -> list[dict]:
    """A profile that covers every input of a graph exported with named dims."""
    shapes = {}
    for inp in model.graph.input:
        dims = [d.dim_value if d.HasField("dim_value") else 4 for d in inp.type.tensor_type.shape.dim]
        lo = [d.dim_value if d.HasField("dim_value") else 1 for d in inp.type.tensor_type.shape.dim]
        shapes[inp.name] = {"min": lo, "opt": dims, "max": [d * 2 if d == 4 else d for d in dims]}
    return [shapes]


@pytest.mark.parametrize("graph", ["hypernet.onnx", "inr.onnx", "generator.onnx"])
def test_exported_graphs_pass_with_profiles(tiny_bundle, graph):
    model = onnx.load(str(tiny_bundle / graph))
    for major in majors():
        report = lint_model(model, graph, major, _profiles_for(model))
        assert report.passed, [i.text() for i in report.issues]


def test_dynamic_inputs_without_profile_fail_by_name(tiny_bundle):
    model = onnx.load(str(tiny_bundle / "inr.onnx"))
    report = lint_model(model, "inr.onnx", 10, None)
    named = {i.node for i in report.issues if i.rule == "dynamic-input"}
    assert {"theta", "coords_0", "up0to1_y"} <= named
    # a profile that forgets one input, and one whose rank is wrong
    prof = _profiles_for(model)[0]
    missing = {k: v for k, v in prof.items() if k != "coords_1"}
    bad_rank = dict(prof, up0to1_x={"min": [1, 1], "opt": [2, 2], "max": [4, 4]})
    issues = lint_model(model, "inr.onnx", 10, [missing]).issues + lint_model(model, "inr.onnx", 10, [bad_rank]).issues
    assert {(i.node, i.rule) for i in issues} == {("coords_1", "dynamic-input"), ("up0to1_x", "dynamic-input")}


def _init(name: str, values, dtype=np.int64) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def failing_graph(opset: int = 26) -> onnx.ModelProto:
    """One node per rule the lint enforces, each of which TensorRT's parser would refuse."""
    nodes = [
        # int64-data-path: int32 indices widened to INT64 before a Gather (the exporter's habit)
        h.make_node("Cast", ["idx"], ["idx64"], to=T.INT64, name="widen_indices"),
        h.make_node("Gather", ["x", "idx64"], ["gathered"], axis=1, name="gather_feats"),
        # constant-input: Slice axes computed at run time
        h.make_node("Shape", ["x"], ["x_shape"], name="shape_x"),
        h.make_node("Slice", ["x", "starts", "ends", "dyn_axes"], ["sliced"], name="slice_dynamic_axes"),
        # slice-steps: a zero step
        h.make_node("Slice", ["x", "starts", "ends", "axes", "zero_steps"], ["sliced0"], name="slice_zero_step"),
        # resize-form: cubic interpolation and tf_crop_and_resize
        h.make_node("Resize", ["img", "", "scales"], ["resized"], mode="cubic",
                    coordinate_transformation_mode="tf_crop_and_resize", name="resize_cubic"),
        # op-support: an operator TensorRT does not parse
        h.make_node("Unique", ["x"], ["uniq"], name="unique_op"),
        # op-types: GridSample in BF16 (the table lists FP32, FP16)
        h.make_node("Cast", ["img"], ["img_bf16"], to=T.BFLOAT16, name="to_bf16"),
        h.make_node("Cast", ["grid"], ["grid_bf16"], to=T.BFLOAT16, name="grid_to_bf16"),
        h.make_node("GridSample", ["img_bf16", "grid_bf16"], ["sampled"], name="gridsample_bf16"),
        # input-rank: GridSample of a 3-D input
        h.make_node("GridSample", ["img3", "grid3"], ["sampled3"], name="gridsample_3d"),
        # custom-domain
        h.make_node("FusedMatMul", ["x", "x"], ["fused"], domain="com.microsoft", name="ms_fused"),
    ]
    graph = h.make_graph(
        nodes, "lint_fails",
        [
            h.make_tensor_value_info("x", T.FLOAT, ["n", 8]),
            h.make_tensor_value_info("idx", T.INT32, [3]),
            h.make_tensor_value_info("img", T.FLOAT, [1, 3, 4, 4]),
            h.make_tensor_value_info("grid", T.FLOAT, [1, 4, 4, 2]),
            h.make_tensor_value_info("img3", T.FLOAT, [1, 3, 4]),
            h.make_tensor_value_info("grid3", T.FLOAT, [1, 4, 2]),
            h.make_tensor_value_info("dyn_axes", T.INT64, [1]),  # also an INT64 input
        ],
        [h.make_tensor_value_info(n, T.FLOAT, None) for n in ("gathered", "sliced", "sliced0", "resized", "uniq", "fused")]
        + [h.make_tensor_value_info("sampled", T.BFLOAT16, None), h.make_tensor_value_info("sampled3", T.FLOAT, None)],
        initializer=[_init("starts", [0]), _init("ends", [4]), _init("axes", [1]), _init("zero_steps", [0]),
                     _init("scales", [1, 1, 2, 2], np.float32)],
    )
    return h.make_model(graph, opset_imports=[h.make_opsetid("", opset), h.make_opsetid("com.microsoft", 1)])


def test_hand_made_graph_fails_each_rule_naming_the_node():
    report = lint_model(failing_graph(), "bad.onnx", 10, None)
    found = {(i.node, i.rule) for i in report.issues}
    expected = {
        ("<model>", "opset"),
        ("widen_indices", "int64-data-path"),
        ("dyn_axes", "int64-data-path"),
        ("slice_dynamic_axes", "constant-input"),
        ("slice_zero_step", "slice-steps"),
        ("resize_cubic", "resize-form"),
        ("unique_op", "op-support"),
        ("gridsample_bf16", "op-types"),
        ("gridsample_3d", "input-rank"),
        ("ms_fused", "custom-domain"),
        ("x", "dynamic-input"),
    }
    assert expected <= found, sorted(expected - found)
    assert not report.passed
    texts = [i.text() for i in report.issues]
    resize = [t for t in texts if "resize_cubic" in t]
    assert any("mode='cubic'" in t for t in resize) and any("tf_crop_and_resize" in t for t in resize)
    assert any("opset 26 is outside TensorRT 10's range 9..24" in t for t in texts)
    # Gather of an INT64 index is the data path; the Shape -> INT64 tensor is not reported
    assert not any("x_shape" in t for t in texts)


def test_int64_shape_tensors_are_fine():
    """Shape arithmetic in INT64 (Reshape shapes computed from Shape) is not the data path."""
    nodes = [
        h.make_node("Shape", ["x"], ["s"], name="shape"),
        h.make_node("Gather", ["s", "zero"], ["n"], axis=0, name="take_batch"),
        h.make_node("Unsqueeze", ["n", "axes0"], ["n1"], name="unsq"),
        h.make_node("Concat", ["n1", "minus1"], ["new_shape"], axis=0, name="cat_shape"),
        h.make_node("Reshape", ["x", "new_shape"], ["y"], name="reshape"),
    ]
    graph = h.make_graph(nodes, "ok", [h.make_tensor_value_info("x", T.FLOAT, ["n", 2, 3])],
                         [h.make_tensor_value_info("y", T.FLOAT, None)],
                         initializer=[_init("zero", 0), _init("axes0", [0]), _init("minus1", [-1])])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 18)])
    prof = [{"x": {"min": [1, 2, 3], "opt": [2, 2, 3], "max": [4, 2, 3]}}]
    report = lint_model(model, "ok.onnx", 10, prof)
    assert report.passed, [i.text() for i in report.issues]
    # a profile that contradicts a fixed dim is caught
    bad = [{"x": {"min": [1, 2, 3], "opt": [2, 5, 3], "max": [4, 2, 3]}}]
    issues = lint_model(model, "ok.onnx", 10, bad).issues
    assert {i.rule for i in issues} == {"dynamic-input"}
    assert any("disagrees with the graph's fixed dim 1 (2)" in i.message for i in issues)


def test_opset_inside_range_for_both_majors():
    graph = h.make_graph([h.make_node("Relu", ["x"], ["y"], name="r")], "g",
                         [h.make_tensor_value_info("x", T.FLOAT, [1])], [h.make_tensor_value_info("y", T.FLOAT, [1])])
    for opset, ok in ((18, True), (24, True), (25, False), (8, False)):
        model = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])
        for major in majors():
            assert lint_model(model, "g", major).passed is ok, (opset, major)
