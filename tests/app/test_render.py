"""The render command's outputs (inrgan_export.app.render): never lost, never half written,
finite, and sized against the memory budget and the disk before any work (issue 20)."""
from __future__ import annotations

import json
import shutil
import subprocess
import time

import numpy as np
import pytest
from PIL import Image

from inrgan_export.core.bundle import MANIFEST
from inrgan_export.load.sources import sha256_file

from ..conftest import assert_one_line_error, run_cli


def test_render_refuses_to_overwrite_without_force(tiny_bundle, tmp_path):
    out = tmp_path / "mine.png"
    out.write_bytes(b"my picture")
    assert_one_line_error(run_cli("render", tiny_bundle, "-o", out, cwd=tmp_path), 2, str(out), "--force")
    assert out.read_bytes() == b"my picture"
    proc = run_cli("render", tiny_bundle, "-o", out, "--force", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with Image.open(out) as im:
        assert im.size == (16, 16)


def test_a_multi_image_render_publishes_all_or_nothing(tiny_bundle, tmp_path):
    (tmp_path / "s-seed0002.png").mkdir()  # one of the four names is taken by a directory
    assert_one_line_error(run_cli("render", tiny_bundle, "--seed", "0-3", "-o", tmp_path / "s.png", cwd=tmp_path), 2,
                          "s-seed0002.png", "directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s-seed0002.png"]
    # a name taken between the check and the publishing: what was published is taken back
    from inrgan_export.core.errors import OutputError
    from inrgan_export.core.imageio import publish_all, temp_path

    outs = [tmp_path / f"p{i}.png" for i in range(3)]
    pairs = []
    for o in outs:
        t = temp_path(o)
        t.write_bytes(b"new")
        pairs.append((t, o))
    outs[2].write_bytes(b"someone else's")
    with pytest.raises(OutputError, match="p2.png.*none of the 3"):
        publish_all(pairs, force=False)
    assert not outs[0].exists() and not outs[1].exists() and outs[2].read_bytes() == b"someone else's"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def poison(bundle, value):
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(bundle / "inr.onnx"))
    for init in model.graph.initializer:
        arr = numpy_helper.to_array(init)
        if arr.dtype == np.float32 and arr.size > 1:
            init.CopyFrom(numpy_helper.from_array(np.full_like(arr, value), init.name))
    onnx.save(model, str(bundle / "inr.onnx"))
    m = json.loads((bundle / MANIFEST).read_text())
    m["files"]["inr.onnx"] = {"sha256": sha256_file(bundle / "inr.onnx"), "bytes": (bundle / "inr.onnx").stat().st_size}
    (bundle / MANIFEST).write_text(json.dumps(m))


def test_non_finite_images_are_refused_naming_the_first_pixel(tiny_bundle, tmp_path):
    b = tmp_path / "nan"
    shutil.copytree(tiny_bundle, b)
    poison(b, float("nan"))
    for out in ("n.png", "n.npy"):
        assert_one_line_error(run_cli("render", b, "-o", tmp_path / out, cwd=tmp_path), 2,
                              "image seed0000", "non-finite value (nan) at pixel y=0, x=0, channel 0", "--allow-nonfinite")
        assert not (tmp_path / out).exists()
    proc = run_cli("render", b, "-o", tmp_path / "n.npy", "--allow-nonfinite", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert np.isnan(np.load(tmp_path / "n.npy")).all()


@pytest.mark.parametrize("window", ["-1e39,0,1e39,1", "-3e38,0,3e38,1"])
def test_windows_that_overflow_float32_are_refused(tiny_bundle, tmp_path, window):
    proc = run_cli("render", tiny_bundle, f"--window={window}", "-o", tmp_path / "w.png", cwd=tmp_path)
    assert_one_line_error(proc, 2, "overflows float32")
    # the largest span that float32 holds still renders
    proc = run_cli("render", tiny_bundle, "--window=-1.5e38,0,1.5e38,1", "--allow-nonfinite", "-o", tmp_path / "ok.npy", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_seed_ranges_are_counted_before_they_are_expanded(tiny_bundle, tmp_path):
    t = time.perf_counter()
    proc = run_cli("render", tiny_bundle, "--seed", "0-4294967295", "-o", tmp_path / "s.png", cwd=tmp_path)
    assert_one_line_error(proc, 2, "4294967296 seeds", "at most 4096")
    assert time.perf_counter() - t < 30
    from inrgan_export.core.errors import UsageError
    from inrgan_export.core.latents import parse_seeds

    assert len(parse_seeds("0-4095")) == 4096
    with pytest.raises(UsageError, match="4097 seeds"):
        parse_seeds("5,0-4095")


def test_streamed_render_under_a_small_budget_matches_the_in_memory_one(tiny_bundle, tmp_path):
    """1M of budget cannot hold a 2x3x256x384 float32 output (2.4 MB), its grid and the PNG
    encoding: tiles go to memory-mapped files and the PNG is written band by band."""
    from inrgan_export import open_bundle
    from inrgan_export.core.display import DisplayMapping
    from inrgan_export.core.imageio import to_uint8
    from inrgan_export.core.latents import latents_from_seeds

    args = ("--seed", "4,7", "--size", "256x384", "--window", "-0.25,0,1.25,1")
    proc = run_cli("render", tiny_bundle, *args, "-o", tmp_path / "mem.npy", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "streamed to disk" not in proc.stderr
    proc = run_cli("render", tiny_bundle, *args, "--max-memory", "1M", "-o", tmp_path / "st.npy", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "streamed to disk" in proc.stderr and "tiles" in proc.stderr
    streamed = np.load(tmp_path / "st.npy")
    # the same images: tiled GEMMs round differently in the last bits only
    np.testing.assert_allclose(streamed, np.load(tmp_path / "mem.npy"), rtol=0, atol=1e-6)
    with open_bundle(tiny_bundle, max_memory=1 << 20) as g:  # the same tiles, one image at a time: exact
        theta = g.hypernet(latents_from_seeds([4, 7], 16))
        for i in range(2):
            np.testing.assert_array_equal(streamed[i : i + 1], g.render(theta[i : i + 1], (256, 384), (-0.25, 0, 1.25, 1)))
    proc = run_cli("render", tiny_bundle, *args, "--max-memory", "1M", "-o", tmp_path / "st.png", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "streamed to disk" in proc.stderr
    expected = to_uint8(streamed, DisplayMapping())
    for i, seed in enumerate(("seed0004", "seed0007")):
        with Image.open(tmp_path / f"st-{seed}.png") as a:
            assert a.size == (384, 256) and a.mode == "RGB"
            np.testing.assert_array_equal(np.asarray(a), expected[i])  # the hand-written PNG decodes exactly
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no scratch left


def test_65536_squared_is_refused_at_once_naming_the_largest_size(tiny_bundle, tmp_path):
    for out in ("huge.png", "huge.npy"):
        t = time.perf_counter()
        proc = run_cli("render", tiny_bundle, "--size", "65536x65536", "-o", tmp_path / out, cwd=tmp_path)
        line = assert_one_line_error(proc, 2, "65536x65536", "--max-memory", "the largest size within the budget is")
        assert time.perf_counter() - t < 30
        side = int(line.rsplit(" ", 1)[1].split("x")[0])
        assert 1000 < side < 65536
    proc = run_cli("render", tiny_bundle, "--size", "65536x65536", "--max-memory", "1M", "-o", tmp_path / "h.npy", cwd=tmp_path)
    line = assert_one_line_error(proc, 2, "largest size within the budget is")
    side = int(line.rsplit(" ", 1)[1].split("x")[0])
    assert 100 < side < 400  # 1 MiB holds the coordinate grid of about 360x360 (8 bytes a pixel)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def mount_tmpfs(path, opts):
    path.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {proc.stderr.strip()}")
    return path


def test_disk_full_and_read_only_outputs_exit_2(tiny_bundle, tmp_path):
    full = mount_tmpfs(tmp_path / "full", "size=1m")
    try:
        proc = run_cli("render", tiny_bundle, "--size", "1024x1024", "-o", full / "x.npy", cwd=tmp_path)
        assert_one_line_error(proc, 2, "on disk", "are free", "the largest size that fits is")
        assert list(full.iterdir()) == []
        # the disk filling up while writing (past the up-front check): one line, nothing left
        from inrgan_export.core.display import DisplayMapping
        from inrgan_export.core.errors import OutputError
        from inrgan_export.core.imageio import write_images

        with pytest.raises(OutputError, match="z.npy.*disk is probably full"):
            write_images(full / "z.npy", np.zeros((1, 3, 512, 512), np.float32), ["0"], DisplayMapping())
        with pytest.raises(OutputError, match="z.png.*No space left"):
            noise = np.random.RandomState(0).uniform(-1, 1, (1, 3, 1024, 1024)).astype(np.float32)
            write_images(full / "z.png", noise, ["0"], DisplayMapping())
        assert list(full.iterdir()) == []
    finally:
        subprocess.run(["umount", str(full)])
    ro = mount_tmpfs(tmp_path / "ro", "size=1m,ro")
    try:
        assert_one_line_error(run_cli("render", tiny_bundle, "-o", ro / "x.png", cwd=tmp_path), 2, "not writable")
    finally:
        subprocess.run(["umount", str(ro)])


def test_an_oversized_input_is_exit_2_not_a_crash(tiny_bundle, tmp_path):
    """A .npy header claiming 2**40 latents: MemoryError is bad input (exit 2, one line)."""
    lat = tmp_path / "huge.npy"
    hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 16), }"
    hdr = hdr + " " * (118 - len(hdr)) + "\n"
    lat.write_bytes(b"\x93NUMPY\x01\x00" + len(hdr).to_bytes(2, "little") + hdr.encode())
    proc = run_cli("render", tiny_bundle, "--latent", lat, "-o", tmp_path / "o.png", cwd=tmp_path)
    assert_one_line_error(proc, 2)
    assert not (tmp_path / "o.png").exists()


# ------------------------------------------------------------------ work bounded by the budget (issue 30)
def test_a_latent_file_has_the_seed_limit_pointing_to_render_many(tiny_bundle, tmp_path):
    """Before: --latent had no cap (100k rows peaked at 2 GB, 300k exhausted memory); now the
    header's row count is refused before the data is read."""
    from .test_hostile_loaders import run_limited

    np.save(tmp_path / "rows.npy", np.zeros((100_000, 16), np.float32))
    t = time.monotonic()
    proc, rss = run_limited(["render", tiny_bundle, "--latent", tmp_path / "rows.npy", "--size", "4x4",
                             "-o", tmp_path / "x.npy"], tmp_path)
    assert_one_line_error(proc, 2, "has 100,000 rows", "at most 4096", "render-many")
    assert time.monotonic() - t < 60 and rss < 400, rss
    assert not (tmp_path / "x.npy").exists()
    np.save(tmp_path / "ok.npy", np.zeros((4096, 16), np.float32))  # the limit itself renders
    proc = run_cli("render", tiny_bundle, "--latent", tmp_path / "ok.npy", "--size", "2x2", "-o", tmp_path / "ok_out.npy",
                   cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert np.load(tmp_path / "ok_out.npy").shape == (4096, 3, 2, 2)


def test_the_hypernetwork_runs_latents_in_chunks_within_the_budget(tiny_bundle):
    """Many latents never reach the hypernetwork at once: with a small budget they run in
    chunks that fit it, with the same θ as one run."""
    from inrgan_export import open_bundle

    z = np.random.RandomState(3).randn(300, 16).astype(np.float32)
    with open_bundle(tiny_bundle) as g:
        whole = g.hypernet(z)
    budget = 1 << 20
    with open_bundle(tiny_bundle, max_memory=budget) as g:
        rows: list[int] = []
        impl = g.hypernet_impl
        g.hypernet_impl = lambda feeds: (rows.append(len(next(iter(feeds.values())))), impl(feeds))[1]
        chunked = g.hypernet(z)
    per_row = 16 * (16 + g.interface.theta_dim)
    assert len(rows) > 1 and max(rows) <= budget // per_row and sum(rows) == 300, rows
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=1e-6)
