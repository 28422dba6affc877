"""``render --interpolate`` and ``render --animate`` through the real CLI (inrgan_export.motion)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageSequence

from inrgan_export.core.imageio import to_uint8
from inrgan_export.core.latents import latent_from_seed
from inrgan_export.backends import open_bundle
from inrgan_export.app.animation import HELD_BYTES_PER_PIXEL, zoom_windows
from inrgan_export.app.interpolation import interpolate

from ..conftest import assert_one_line_error, run_cli
from ..test_hostile_loaders import run_limited

SIZE = (32, 32)


def test_strip_and_stack_pass_through_the_keyframes(tiny_bundle, tmp_path):
    assert run_cli("render", tiny_bundle, "--seed", "2", "--size", "32", "-o", "b.npy", cwd=tmp_path).returncode == 0
    proc = run_cli("render", tiny_bundle, "--interpolate", "1,2,3", "--steps", "3", "--size", "32", "-o", "walk.npy", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "5 frames through 3 keyframes in theta space (lerp)" in proc.stderr
    stack = np.load(tmp_path / "walk.npy")
    assert stack.shape == (5, 3, *SIZE) and stack.dtype == np.float32
    np.testing.assert_array_equal(stack[2], np.load(tmp_path / "b.npy")[0])  # the middle keyframe, bit for bit
    with open_bundle(tiny_bundle) as g:
        z = [latent_from_seed(s, g.interface.z_dim) for s in (1, 2, 3)]
        ta, tb = g.hypernet(z[0]), g.hypernet(z[1])
        np.testing.assert_allclose(stack[0], g.render(ta, SIZE)[0], atol=1e-6, rtol=0)
        np.testing.assert_allclose(stack[4], g.generate(z[2], SIZE)[0], atol=1e-6, rtol=0)
        mid = g.render(((ta.astype(np.float64) + tb) / 2).astype(np.float32), SIZE)[0]
        np.testing.assert_allclose(stack[1], mid, atol=1e-6, rtol=0)
        display = g.interface.display
    proc = run_cli("render", tiny_bundle, "--interpolate", "1,2,3", "--steps", "3", "--size", "32", "-o", "walk.png", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    strip = np.asarray(Image.open(tmp_path / "walk.png"))
    assert strip.shape == (32, 5 * 32, 3)
    np.testing.assert_array_equal(strip, np.concatenate(list(to_uint8(stack, display)), axis=1))


def test_extrapolated_t_and_layer_mixing_match_the_api(tiny_bundle, tmp_path):
    proc = run_cli("render", tiny_bundle, "--interpolate", "1,2", "--t", "-0.5,1,1.5", "--extrapolate-t",
                   "--mix-layers", "b0,b1.layer0", "--size", "32", "-o", "x.npy", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    got = np.load(tmp_path / "x.npy")
    with open_bundle(tiny_bundle) as g:
        za, zb = (latent_from_seed(s, g.interface.z_dim) for s in (1, 2))
        want = np.concatenate(list(interpolate(g, za, zb, ts=[-0.5, 1, 1.5], extrapolate=True, layers=["b0", "b1.layer0"],
                                               size=SIZE)))
        full_b = g.generate(zb, SIZE)
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)
    assert np.abs(got[1] - full_b[0]).max() > 1e-3  # only some segments came from b


@pytest.mark.parametrize("animate, suffix", [("zoom", ".webp"), ("pan", ".gif"), ("interp", ".apng")])
def test_animations_have_exactly_the_frames_asked_for(tiny_bundle, tmp_path, animate, suffix):
    out = tmp_path / f"a{suffix}"
    proc = run_cli("render", tiny_bundle, "--seed", "3", "--animate", animate, "--frames", "12", "--size", "32", "-o", out,
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "• rendering 12 frames" in proc.stderr  # progress on stderr (count lines come at most once per 10 s)
    im = Image.open(out)
    assert im.n_frames == 12  # GIF and WebP merge identical neighbours: every default frame differs
    assert im.size == (32, 32)
    if suffix == ".webp":  # lossless: the first and last frames are the renders of the first and last windows
        frames = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)]
        windows = zoom_windows(12)
        assert all(w1.x1 - w1.x0 < w0.x1 - w0.x0 for w0, w1 in zip(windows, windows[1:]))
        with open_bundle(tiny_bundle) as g:
            theta = g.hypernet(latent_from_seed(3, g.interface.z_dim))
            for k in (0, 11):
                want = to_uint8(g.render(theta, SIZE, windows[k]), g.interface.display)[0]
                assert np.abs(frames[k].astype(int) - want).max() <= 1
        assert np.abs(frames[0].astype(int) - frames[11]).max() > 10


def test_a_2000_frame_webp_streams_in_bounded_memory(tiny_bundle, tmp_path):
    """Holding 2000 frames of 96x96 would take 55 MB (RGB); the streamed WebP's peak RSS stays
    within a few MB of a 20-frame run's."""
    common = ["render", tiny_bundle, "--seed", "0", "--animate", "zoom", "--size", "96", "--max-memory", "16M"]
    small, rss_small = run_limited([*common, "--frames", "20", "-o", "small.webp"], tmp_path)
    assert small.returncode == 0, small.stderr
    big, rss_big = run_limited([*common, "--frames", "2000", "-o", "big.webp"], tmp_path)
    assert big.returncode == 0, big.stderr
    assert Image.open(tmp_path / "big.webp").n_frames == 2000
    held = 2000 * 96 * 96 * 3 / 2**20
    assert rss_big - rss_small < held / 2, (rss_small, rss_big, held)
    # the same request as a GIF (Pillow holds every frame) is refused before any work
    gif = run_cli(*common, "--frames", "2000", "-o", "big.gif", cwd=tmp_path)
    need = 2000 * 96 * 96 * HELD_BYTES_PER_PIXEL / 2**20
    assert_one_line_error(gif, 2, "GIF of 2000 frames at 96x96 holds", f"{need:.1f} MB", "--max-memory", ".webp")
    assert not (tmp_path / "big.gif").exists()


@pytest.mark.parametrize("args, needles", [
    (["--interpolate", "1,2", "--t", "1.5"], ["t = 1.5 is outside [0, 1]", "--extrapolate-t"]),
    (["--interpolate", "1,2", "--steps", "0"], ["--steps 0 must be an integer in 1..4096"]),
    (["--interpolate", "1,2", "--steps", "5000"], ["--steps 5000 must be an integer in 1..4096"]),
    (["--interpolate", "1,2", "--mix-layers", "b0.layr0"], ["θ layer 'b0.layr0'", "did you mean b0.layer0?"]),
    (["--interpolate", "4,4"], ["are the same latent"]),
    (["--interpolate", "1,narrow.npy:0"], ["narrow.npy has shape [1, 3]", "[N, "]),
    (["--interpolate", "1,2", "--space", "latent", "--mix-layers", "b0"], ["needs space theta"]),
    (["--seed", "0", "--animate", "zoom", "--frames", "0"], ["--frames 0 must be an integer in 1..100000"]),
    (["--seed", "0", "--steps", "4"], ["--steps needs --interpolate A,B or --animate"]),
    (["--seed", "1,2", "--animate", "zoom"], ["moves the view of one latent; 2 were given"]),
    (["--latent", "narrow.npy", "--animate", "interp"], ["narrow.npy has shape [1, 3]"]),
])
def test_bad_motion_input_is_one_line_exit_2_and_writes_nothing(tiny_bundle, tmp_path, args, needles):
    np.save(tmp_path / "narrow.npy", np.zeros((1, 3), np.float32))
    proc = run_cli("render", tiny_bundle, *args, "--size", "32", "-o", "out.webp", cwd=tmp_path)
    assert_one_line_error(proc, 2, *needles)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["narrow.npy"]


def test_mp4_is_the_video_extra(tiny_bundle, tmp_path):
    """Without PyAV: exit 3 naming the extra, nothing written; with it: every frame."""
    fake = tmp_path / "no-av" / "av"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'av'\", name='av')\n")
    args = ["render", tiny_bundle, "--seed", "3", "--animate", "pan", "--frames", "10", "--size", "32", "-o", "p.mp4"]
    proc = run_cli(*args, cwd=tmp_path, env={"PYTHONPATH": str(fake.parent)})
    assert_one_line_error(proc, 3, "'video' extra", "pip install 'inrgan-export[video]'")
    assert not (tmp_path / "p.mp4").exists()
    av = pytest.importorskip("av", reason="PyAV is not installed (the optional 'video' extra: pip install 'inrgan-export[video]')")
    proc = run_cli(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with av.open(str(tmp_path / "p.mp4")) as c:
        frames = list(c.decode(video=0))
    assert len(frames) == 10 and (frames[0].height, frames[0].width) == SIZE
