"""Seeds and latent files (inrgan_export.core.latents)."""
from __future__ import annotations

import numpy as np
import pytest

from inrgan_export.core.errors import InputValueError, ShapeError, UsageError
from inrgan_export.core.latents import latent_from_seed, load_latents, parse_seeds

# numpy.random.RandomState(s).randn(1, 8): MT19937 + numpy's legacy polar Gaussian. These are
# the golden vectors the C++ runtime reproduces bit for bit.
GOLDEN = {
    0: [1.764052345967664, 0.4001572083672233, 0.9787379841057392, 2.240893199201458,
        1.8675579901499675, -0.977277879876411, 0.9500884175255894, -0.1513572082976979],
    3: [1.7886284734303186, 0.43650985051198943, 0.09649746807200862, -1.8634927033644908,
        -0.27738820251439905, -0.35475897926898675, -0.08274148148245977, -0.6270006768238473],
}


@pytest.mark.parametrize("seed", sorted(GOLDEN))
def test_seed_latents_are_numpy_randomstate_gaussians(seed):
    z = latent_from_seed(seed, 8)
    assert z.shape == (1, 8) and z.dtype == np.float32
    assert np.array_equal(z[0], np.array(GOLDEN[seed], dtype=np.float64).astype(np.float32))


def test_parse_seeds():
    assert parse_seeds("3") == [3]
    assert parse_seeds("0-7") == list(range(8))
    assert parse_seeds("1,5,9") == [1, 5, 9]
    assert parse_seeds("0-2,9") == [0, 1, 2, 9]
    for bad in ("x", "5-2", "1,,2", "-1", str(2**32)):
        with pytest.raises(UsageError):
            parse_seeds(bad)


def test_load_latents(tmp_path):
    good = tmp_path / "z.npy"
    np.save(good, np.ones((3, 16), dtype=np.float32))
    assert load_latents(good, 16).shape == (3, 16)
    np.save(tmp_path / "w.npy", np.ones((2, 7), dtype=np.float32))
    with pytest.raises(ShapeError, match=r"\[2, 7\].*\[N, 16\]"):
        load_latents(tmp_path / "w.npy", 16)
    bad = np.ones((2, 16), dtype=np.float32)
    bad[1, 3] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(InputValueError, match="row 1"):
        load_latents(tmp_path / "nan.npy", 16)
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(UsageError, match="not a plain .npy"):
        load_latents(tmp_path / "obj.npy", 16)


def test_parse_seeds_counts_ranges_before_expanding_them():
    import time

    t = time.monotonic()
    with pytest.raises(UsageError, match="at most 4096"):
        parse_seeds("0-4294967295")  # 2**32 seeds: refused without listing them
    assert time.monotonic() - t < 1.0
    assert len(parse_seeds("0-4095")) == 4096
    with pytest.raises(UsageError, match="at most 4096"):
        parse_seeds("0-4095,7")
    assert parse_seeds("0-9", limit=10) == list(range(10))
    with pytest.raises(UsageError, match="at most 10"):
        parse_seeds("0-4,5-10", limit=10)
