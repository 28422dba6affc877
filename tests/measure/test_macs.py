"""MAC counting (inrgan_export.measure.macs, .stylegan2): hand-built graphs, analytic = counted."""
from __future__ import annotations

import pytest
from onnx import TensorProto, helper

from inrgan_export.measure.macs import count_graph
from inrgan_export.measure.run import load_model, mac_rows
from inrgan_export.measure.stylegan2 import synthesis_macs


def graph(nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])


def vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def test_batched_matmul_gemm_and_grouped_conv_by_hand():
    m = graph(
        [
            helper.make_node("MatMul", ["a", "b"], ["ab"]),  # [2,5,7] x [2,7,3] -> 2*5*3 outputs x K=7 = 210
            helper.make_node("Relu", ["ab"], ["r"]),  # 30 elementwise FLOPs
            helper.make_node("Gemm", ["c", "d"], ["cd"], transA=1),  # A^T [4,6] x [6,8]: 4*8 x 6 = 192
            helper.make_node("Conv", ["x", "w"], ["y"], group=2, pads=[1, 1, 1, 1]),  # out 1x4x5x5, per out 2*3*3=18 -> 1800
            helper.make_node("Add", ["y", "y"], ["z"]),  # 100 elementwise FLOPs
        ],
        [vi("a", ["n", 5, 7]), vi("b", ["n", 7, 3]), vi("c", [6, 4]), vi("d", [6, 8]), vi("x", [1, 4, 5, 5])],
        [vi("r", None), vi("cd", None), vi("z", None)],
        [helper.make_tensor("w", TensorProto.FLOAT, [4, 2, 3, 3], [0.0] * 72)],
    )
    count = count_graph(m, {"a": [2, 5, 7], "b": [2, 7, 3], "c": [6, 4], "d": [6, 8], "x": [1, 4, 5, 5]})
    assert count.macs_by_op == {"MatMul": 210, "Gemm": 192, "Conv": 1800}
    assert count.macs == 2202
    assert count.elementwise_flops == 130


def test_count_refuses_missing_shapes():
    m = graph([helper.make_node("MatMul", ["a", "b"], ["c"])], [vi("a", [2, 3]), vi("b", [3, 4])], [vi("c", None)])
    with pytest.raises(ValueError, match="'b'"):
        count_graph(m, {"a": [2, 3]})


def test_analytic_equals_counted_on_the_exported_tiny_graphs():
    model = load_model("demo:tiny")
    try:
        rows = mac_rows(model, [(4, 4), (16, 16), (32, 32), (12, 20), (7, 33), (64, 48)])
    finally:
        model.tmp.cleanup()
    for r in rows:
        assert r["inr_macs_counted"] == r["inr_macs_analytic"], r
        assert r["hypernet_macs_counted"] == r["hypernet_macs_analytic"]
        assert r["inr_elementwise_flops_counted"] > 0
    by_size = {(r["height"], r["width"]): r for r in rows}
    assert by_size[(32, 32)]["inr_macs_analytic"] > by_size[(16, 16)]["inr_macs_analytic"] > by_size[(4, 4)]["inr_macs_analytic"]
    assert len({r["stylegan2_baseline_macs"] for r in rows}) == 1  # flat: renders native, then resamples


def test_stylegan2_baseline_is_within_one_percent_of_the_paper():
    assert abs(synthesis_macs(256) / 1e9 - 84.36) / 84.36 < 0.01
    assert abs(synthesis_macs(1024) / 1e9 - 143.18) / 143.18 < 0.01
    with pytest.raises(ValueError, match="powers of two"):
        synthesis_macs(96)
