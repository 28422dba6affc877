"""`inrgan-export` end to end: real subprocesses, exit codes, one-line errors, outputs."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from inrgan_export import open_bundle

from .conftest import assert_one_line_error, run_cli


def test_demo_list_shows_presets_with_parameter_counts(tmp_path):
    proc = run_cli("demo", "--list", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = {line.split()[0]: line for line in proc.stdout.splitlines()[1:]}
    assert {"demo:tiny", "demo:church", "demo:bedroom", "demo:ffhq256", "demo:ffhq128"} <= set(lines)
    assert "114,344,968" in lines["demo:church"] and "106,502" in lines["demo:church"]


def test_render_png_and_npy_from_bundle_and_checkpoint(tiny_bundle, tmp_path):
    proc = run_cli("render", tiny_bundle, "--seed", "3", "--size", "24x40", "--backend", "onnxruntime", "-o", tmp_path / "a.png", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with Image.open(tmp_path / "a.png") as im:
        assert im.size == (40, 24) and im.mode == "RGB"
        png = np.asarray(im)
    proc = run_cli("render", tiny_bundle, "--seed", "3", "--size", "24x40", "-o", tmp_path / "a.npy", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    raw = np.load(tmp_path / "a.npy")
    assert raw.shape == (1, 3, 24, 40) and raw.dtype == np.float32
    z = np.random.RandomState(3).randn(1, 16).astype(np.float32)
    with open_bundle(tiny_bundle) as g:
        assert np.array_equal(raw, g.generate(z, (24, 40)))
    # display mapping: clip to [-1, 1], x*127.5 + 127.5, round half to even
    expected = np.rint(np.clip(raw[0].astype(np.float64), -1, 1) * 127.5 + 127.5).astype(np.uint8).transpose(1, 2, 0)
    assert np.array_equal(png, expected)
    proc = run_cli("render", "demo:tiny", "--seed", "3", "--size", "24x40", "-o", tmp_path / "t.npy", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert np.abs(np.load(tmp_path / "t.npy") - raw).max() <= 1e-5


def test_render_several_seeds_windows_and_latent_files(tiny_bundle, tmp_path):
    proc = run_cli("render", tiny_bundle, "--seed", "0-2,9", "--size", "8", "--window", "0.25,0.25,0.75,0.75", "-o", tmp_path / "s.png", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.glob("s-*.png")) == [f"s-seed000{i}.png" for i in (0, 1, 2, 9)]
    np.save(tmp_path / "z.npy", np.random.RandomState(0).randn(2, 16).astype(np.float32))
    proc = run_cli("render", tiny_bundle, "--latent", tmp_path / "z.npy", "--size", "64x96", "-o", tmp_path / "z.npy.out.npy", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert np.load(tmp_path / "z.npy.out.npy").shape == (2, 3, 64, 96)


def test_negative_window_values_work_without_equals(tiny_bundle, tmp_path):
    """An extrapolation window left of and above the image, written as documented."""
    proc = run_cli("render", tiny_bundle, "--seed", "1", "--size", "12x10", "--window", "-0.25,-0.5,1.25,1.0",
                   "-o", tmp_path / "a.npy", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    from inrgan_export import open_bundle
    from inrgan_export.core.latents import latents_from_seeds

    with open_bundle(tiny_bundle) as g:
        expected = g.generate(latents_from_seeds([1], 16), (12, 10), (-0.25, -0.5, 1.25, 1.0))
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), expected)
    with open_bundle(tiny_bundle) as g:  # and it is not the full window
        assert not np.array_equal(expected, g.generate(latents_from_seeds([1], 16), (12, 10)))


def test_a_subcommand_name_wins_over_a_file_of_that_name(tmp_path):
    (tmp_path / "render").write_text("not a checkpoint")
    proc = run_cli("render", "demo:tiny", "--size", "4", "-o", tmp_path / "r.png", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "r.png").exists()


@pytest.mark.parametrize(
    "args,code,needles",
    [
        (["render", "demo:tiny", "--size", "0x5", "-o", "x.png"], 2, ["0x5", "1.."]),
        (["render", "demo:tiny", "--window", "1,1,0,0", "-o", "x.png"], 2, ["1,1,0,0", "x1 > x0"]),
        (["render", "demo:nope", "-o", "x.png"], 2, ["nope", "church"]),
        (["render", "demo:tiny", "--seed", "a-b", "-o", "x.png"], 2, ["a-b"]),
        (["render", "demo:tiny", "-o", "x.gif"], 2, [".png or .npy"]),
        (["render", "demo:tiny", "--backend", "onnxruntime", "-o", "x.png"], 2, ["export"]),
        (["export", "demo:tiny", "--target", "onxx"], 2, ["onxx", "did you mean onnx"]),
        (["export", "demo:tiny", "--target", "onnx", "--precision", "fp16"], 2, ["fp16", "supported: fp32, int8"]),
        (["export", "demo:tiny", "--target", "onnx", "--max-memory", "lots"], 2, ["lots"]),
        (["demo:tiny", "--target", "onnx", "-o", "no/such/dir/out"], 2, ["does not exist"]),
        (["convert", "missing.pt", "-o", "x.pt"], 2, ["missing.pt"]),
    ],
)
def test_bad_input_gives_one_line_errors(args, code, needles, tmp_path):
    proc = run_cli(*args, cwd=tmp_path)
    assert_one_line_error(proc, code, *needles)
    assert not any(tmp_path.iterdir())  # nothing written


def test_bad_latents_are_refused(tiny_bundle, tmp_path):
    np.save(tmp_path / "w.npy", np.zeros((1, 5), np.float32))
    assert_one_line_error(run_cli("render", tiny_bundle, "--latent", tmp_path / "w.npy", "-o", tmp_path / "o.png", cwd=tmp_path), 2, "[1, 5]", "z_dim=16")
    z = np.zeros((1, 16), np.float32)
    z[0, 2] = np.nan
    np.save(tmp_path / "n.npy", z)
    assert_one_line_error(run_cli("render", tiny_bundle, "--latent", tmp_path / "n.npy", "-o", tmp_path / "o.png", cwd=tmp_path), 2, "NaN")
    assert not (tmp_path / "o.png").exists()


def test_missing_backend_device_exits_3(tiny_bundle, tmp_path):
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this machine has ONNX Runtime's CUDA provider, so CUDA is not missing here")
    proc = run_cli("render", tiny_bundle, "--device", "CUDA", "-o", tmp_path / "o.png", cwd=tmp_path)
    assert_one_line_error(proc, 3, "CUDAExecutionProvider")


def test_existing_output_needs_force_and_is_left_intact(tiny_bundle, tmp_path):
    out = tmp_path / "existing"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert_one_line_error(run_cli("demo:tiny", "--target", "onnx", "-o", out, cwd=tmp_path), 2, str(out), "--force")
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing"]  # no temporary left behind


def test_debug_shows_a_traceback(tmp_path):
    proc = run_cli("render", "demo:nope", "-o", "x.png", "--debug", cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" in proc.stderr
