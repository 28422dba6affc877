"""The runtime API (inrgan_export.backends): validation, grid reuse, tiling, backends agree."""
from __future__ import annotations

import numpy as np
import pytest

from inrgan_export import open_bundle, open_checkpoint
from inrgan_export.core.errors import BackendUnavailable, InputValueError, ShapeError, UsageError
from inrgan_export.backends.base import parse_bytes


@pytest.fixture(scope="module")
def z4():
    return np.random.RandomState(1).randn(4, 16).astype(np.float32)


def test_api_hypernet_render_generate(tiny_bundle, z4):
    with open_bundle(tiny_bundle) as g:
        assert g.backend == "onnxruntime"
        theta = g.hypernet(z4)
        assert theta.shape == (4, g.interface.theta_dim)
        for size in [(16, 16), (7, 33), (40, 24), (1, 1)]:
            img = g.render(theta, size)
            assert img.shape == (4, 3, *size) and np.isfinite(img).all()
        crop = g.render(theta, (16, 16), window=(0.4, 0.4, 0.6, 0.6))
        assert not np.allclose(crop, g.render(theta, (16, 16)))
        assert np.array_equal(g.generate(z4, (12, 20)), g.render(theta, (12, 20)))


def test_grid_inputs_are_computed_once_per_size_and_window(tiny_bundle):
    with open_bundle(tiny_bundle) as g:
        a = g.grid((32, 32))
        assert g.grid((32, 32)) is a
        assert g.grid((32, 32), (0, 0, 0.5, 0.5)) is not a


def test_torch_and_onnxruntime_backends_agree(tiny_bundle, z4):
    ref = open_checkpoint("demo:tiny")
    with open_bundle(tiny_bundle) as g:
        for size, window in [((16, 16), None), ((30, 50), (-0.5, 0.0, 1.5, 1.0))]:
            a = ref.generate(z4, size, window)
            b = g.generate(z4, size, window)
            assert np.abs(a - b).max() <= 1e-5


@pytest.mark.parametrize("size", [(37, 29), (64, 64), (100, 3)])
def test_tiled_render_equals_untiled(tiny_bundle, size, z4):
    with open_bundle(tiny_bundle) as whole, open_bundle(tiny_bundle, max_memory=parse_bytes("1M")) as tiled:
        theta = whole.hypernet(z4[:2])
        per_sample = sum(b * h * w for b, (h, w) in zip(whole.interface.bytes_per_pixel, whole.grid(size).block_shapes))
        tiled.max_memory = max(per_sample // 5, 1)  # force several tiles
        a = whole.render(theta, size)
        b = tiled.render(theta, size)
        assert whole.last_plan.pieces == 1 and tiled.last_plan.pieces > 1
        assert np.abs(a - b).max() <= 1e-5


def test_tiling_is_exact_for_bilinear_models(authors_checkpoints):
    ref = open_checkpoint(str(authors_checkpoints["tiny3"]))
    z = np.random.RandomState(2).randn(2, ref.interface.z_dim).astype(np.float32)
    theta = ref.hypernet(z)
    for size in [(45, 50), (96, 96)]:
        whole = ref.render(theta, size)
        ref.max_memory = 20_000  # bytes: far below one sample
        tiled = ref.render(theta, size)
        assert ref.last_plan.pieces > 4
        ref.max_memory = 1 << 30
        # the same arithmetic per pixel; only BLAS's reduction order may differ with the width
        assert np.abs(whole - tiled).max() <= 1e-5


def test_batches_are_chunked_when_over_budget(tiny_bundle, z4):
    with open_bundle(tiny_bundle) as g:
        full = g.generate(z4, (32, 32))
        per_sample = g.plan(g.grid((32, 32)), 1).estimate_bytes
        g.max_memory = per_sample * 2
        chunked = g.generate(z4, (32, 32))
        assert g.last_plan.batch_chunk == 2
        assert np.abs(full - chunked).max() <= 1e-5


def test_inputs_are_validated_with_one_line_errors(tiny_bundle):
    with open_bundle(tiny_bundle) as g:
        with pytest.raises(ShapeError, match=r"\[N, 16\].*z_dim=16"):
            g.hypernet(np.zeros((1, 7), np.float32))
        z = np.zeros((2, 16), np.float32)
        z[1, 0] = np.nan
        with pytest.raises(InputValueError, match="row 1.*NaN"):
            g.hypernet(z)
        theta = g.hypernet(np.zeros((1, 16), np.float32))
        with pytest.raises(ShapeError, match="theta"):
            g.render(theta[:, :-1], (16, 16))
        with pytest.raises(ShapeError, match="0x5"):
            g.render(theta, (0, 5))
        with pytest.raises(UsageError, match="window"):
            g.render(theta, (8, 8), (1, 1, 0, 0))


def test_backend_selection_errors(tiny_bundle):
    with pytest.raises(UsageError, match="unknown backend 'tflite'.*onnxruntime"):
        open_bundle(tiny_bundle, backend="tflite")
    with pytest.raises(UsageError, match="checkpoints, not bundles"):
        open_bundle(tiny_bundle, backend="torch")
    g = open_bundle(tiny_bundle, device="CUDA")
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        with pytest.raises(BackendUnavailable, match="CUDAExecutionProvider"):
            g.activate()
