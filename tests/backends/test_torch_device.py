"""The torch backend's device, precision and compile options.

No GPU is needed: the device decision is a pure function of the facts torch reports
(:func:`resolve_device`), tested here with the facts of machines we do not have; the CLI
is run for real on this one. What runs only on CUDA (the model on the GPU, autocast there,
torch.compile with CUDA graphs) is exercised by benchmarks/gpu/run.sh on a GPU machine.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from inrgan_export.load.sources import open_checkpoint
from inrgan_export.core.errors import BackendUnavailable, UnsupportedOption, UsageError
from inrgan_export.core.imageio import psnr
from inrgan_export.core.latents import latents_from_seeds
from inrgan_export.load.torch_backend import CudaFacts, check_run_options, cuda_facts, resolve_device

from ..conftest import FAMILY_FIXTURES, assert_one_line_error, run_cli

NO_BUILD = CudaFacts("2.13.0+cpu", False, None, ())
NO_GPU = CudaFacts("2.11.0+cu130", True, "13.0", ())
ONE_H100 = CudaFacts("2.11.0+cu130", True, "13.0", ("NVIDIA H100 80GB HBM3",))
TWO = CudaFacts("2.11.0+cu130", True, "13.0", ("NVIDIA H200", "NVIDIA L4"))
HAS_CUDA_HERE = bool(cuda_facts().devices)


@pytest.mark.parametrize("requested, facts, want", [
    ("cpu", NO_BUILD, "cpu"), ("CPU", NO_BUILD, "cpu"), (None, NO_BUILD, "cpu"), (" Cpu ", TWO, "cpu"),
    ("cuda", ONE_H100, "cuda:0"), ("CUDA:0", ONE_H100, "cuda:0"), ("cuda:1", TWO, "cuda:1"),
])
def test_resolve_device_accepts_what_exists(requested, facts, want):
    assert resolve_device(requested, facts) == want


@pytest.mark.parametrize("requested, facts, error, needles", [
    ("cuda", NO_BUILD, BackendUnavailable, ["CPU-only build", "2.13.0+cpu", "devices here: cpu"]),
    ("cuda:0", NO_BUILD, BackendUnavailable, ["CPU-only build"]),
    ("cuda", NO_GPU, UsageError, ["no CUDA device", "CUDA 13.0", "devices here: cpu"]),
    ("cuda:1", ONE_H100, UsageError, ["1 CUDA device", "cpu, cuda:0 (NVIDIA H100 80GB HBM3)"]),
    ("cuda:2", TWO, UsageError, ["cuda:0 (NVIDIA H200), cuda:1 (NVIDIA L4)"]),
    ("gpu", TWO, UsageError, ["'gpu'", "valid: cpu, cuda, cuda:N"]),
    ("cuda:x", ONE_H100, UsageError, ["'cuda:x'"]),
    ("mps", NO_BUILD, UsageError, ["'mps'", "devices here: cpu"]),
])
def test_resolve_device_refuses_what_does_not(requested, facts, error, needles):
    with pytest.raises(error) as info:
        resolve_device(requested, facts)
    message = str(info.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, (needle, message)
    assert info.value.exit_code == (3 if error is BackendUnavailable else 2)


def test_facts_are_this_torch():
    facts = cuda_facts()
    assert facts.built == torch.backends.cuda.is_built() and facts.torch_version == torch.__version__
    assert len(facts.devices) == (torch.cuda.device_count() if torch.cuda.is_available() else 0)


def test_run_options():
    check_run_options("cpu", "bf16", False)
    check_run_options("cuda:0", "fp16", True)
    with pytest.raises(UnsupportedOption, match="--compile needs a CUDA device"):
        check_run_options("cpu", "fp32", True)
    with pytest.raises(UnsupportedOption, match="valid: fp32, fp16, bf16"):
        check_run_options("cuda:0", "int8", False)


@pytest.mark.skipif(HAS_CUDA_HERE, reason="this machine has a CUDA device; the refusal is tested where there is none")
@pytest.mark.parametrize("device, out", [("cuda", "img.png"), ("cuda:1", "img.npy")])
def test_render_on_absent_cuda_is_refused_and_writes_nothing(tmp_path, device, out):
    # before: rendered on the CPU, wrote the images and exited 0
    proc = run_cli("render", "demo:tiny", "--backend", "torch", "--device", device, "-o", out, cwd=tmp_path)
    code = 2 if torch.backends.cuda.is_built() else 3
    assert_one_line_error(proc, code, f"--device {device}", "devices here: cpu")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(HAS_CUDA_HERE, reason="this machine has a CUDA device; the refusal is tested where there is none")
def test_bench_on_absent_cuda_is_refused_and_writes_nothing(tmp_path):
    proc = run_cli("bench", "demo:tiny", "--backends", "torch", "--device", "cuda", "--sizes", "8", "--quick",
                   "-o", tmp_path / "b", cwd=tmp_path)
    assert_one_line_error(proc, 2 if torch.backends.cuda.is_built() else 3, "--device cuda", "devices here: cpu")
    assert list(tmp_path.iterdir()) == []


def test_compile_on_cpu_is_refused(tmp_path):
    proc = run_cli("render", "demo:tiny", "--compile", "-o", "a.png", cwd=tmp_path)
    assert_one_line_error(proc, 2, "--compile needs a CUDA device")
    assert list(tmp_path.iterdir()) == []


def test_precision_and_compile_are_refused_for_a_bundle(tmp_path):
    from inrgan_export.app.render import open_source

    (tmp_path / "manifest.json").write_text("{}")  # refused before the bundle is read
    for kwargs in ({"precision": "bf16"}, {"compile": True}):
        with pytest.raises(UsageError, match="apply to the torch backend"):
            open_source(str(tmp_path), None, "CPU", None, None, **kwargs)


@pytest.mark.parametrize("preset", sorted(FAMILY_FIXTURES.values()))
def test_cpu_fp32_is_the_reference_bit_for_bit(preset):
    """--device cpu is the model called directly, as the backend did before it took a device."""
    gen = open_checkpoint(preset, device="cpu")
    z = latents_from_seeds([0, 1, 2], gen.interface.z_dim)
    size = (12, 20)
    with gen:
        got = gen.generate(z, size)
    feeds = gen.grid(size).for_batch(3, 0)
    with torch.no_grad():
        theta = gen.model.hypernet(torch.from_numpy(z), *[torch.ones(3)] * (len(gen.interface.hypernet_inputs) - 1))
        want = gen.model.inr(theta, *[torch.from_numpy(feeds[n]) for n in gen.interface.layout.input_names()]).numpy()
    assert got.dtype == np.float32 and np.array_equal(got, want)
    assert gen.run_info["device"] == "cpu" and gen.run_info["precision"] == "fp32" and not gen.run_info["autocast"]


def test_cli_cpu_output_unchanged_bit_for_bit(tmp_path):
    """The default and --device CPU --precision fp32 write identical bytes; a PNG of that path carries no run text."""
    runs = [("r0.npy", []), ("r1.npy", ["--device", "CPU", "--precision", "fp32"]), ("p.png", ["--device", "cpu"])]
    for out, extra in runs:
        proc = run_cli("render", "demo:sg2-tiny", "--seed", "3", *extra, "-o", out, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "r0.npy").read_bytes() == (tmp_path / "r1.npy").read_bytes()
    assert b"tEXt" not in (tmp_path / "p.png").read_bytes()


@pytest.mark.parametrize("preset", sorted(FAMILY_FIXTURES.values()))
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_autocast_differs_from_fp32_within_the_image_gate(preset, precision):
    """Autocast is really applied (the images change) and stays within the bundles' 40 dB gate."""
    ref = open_checkpoint(preset)
    gen = open_checkpoint(preset, precision=precision)
    z = latents_from_seeds([0, 1], ref.interface.z_dim)
    with ref, gen:
        want, got = ref.generate(z, (16, 16)), gen.generate(z, (16, 16))
    assert got.dtype == np.float32 and np.isfinite(got).all()
    assert not np.array_equal(got, want)
    assert psnr(want, got, ref.interface.display) >= 40.0
    assert gen.run_info["precision"] == precision and gen.run_info["autocast"]


def test_precision_is_recorded_in_the_png(tmp_path):
    from PIL import Image

    proc = run_cli("render", "demo:tiny", "--precision", "bf16", "-o", "a.png", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with Image.open(tmp_path / "a.png") as im:
        run = json.loads(im.text["inrgan-export:run"])
    assert run["precision"] == "bf16" and run["device"] == "cpu" and run["backend"] == "torch"
    # the streamed writer (an output over the memory budget) records it too
    proc = run_cli("render", "demo:tiny", "--precision", "fp16", "--size", "256", "--max-memory", "2M", "-o", "b.png",
                   cwd=tmp_path)
    assert proc.returncode == 0 and "streamed to disk" in proc.stderr, proc.stderr
    with Image.open(tmp_path / "b.png") as im:
        assert json.loads(im.text["inrgan-export:run"])["precision"] == "fp16" and im.size == (256, 256)


@pytest.mark.parametrize("preset", sorted(FAMILY_FIXTURES.values()))
def test_staged_inputs_match_the_reference(preset):
    """The GPU path's input staging (shared grids copied once, expanded to the batch on the
    device, tiles copied per call), run on the CPU: same images as the reference path."""
    ref = open_checkpoint(preset)
    staged = open_checkpoint(preset)
    staged.staged = True
    z = latents_from_seeds([0, 1, 2], ref.interface.z_dim)
    with ref, staged:
        theta = ref.hypernet(z)
        for _ in range(2):
            assert np.array_equal(staged.render(theta, (16, 24)), ref.render(theta, (16, 24)))
        assert len(staged._grids_on_device) == len(staged.grid((16, 24)).arrays)  # copied once, reused
        tiled = open_checkpoint(preset, max_memory=1 << 20)
        tiled.staged = True
        with tiled:
            big = (160, 160)
            got = tiled.render(theta[:1], big)
            assert tiled.last_plan.pieces > 1
        assert np.allclose(got, ref.render(theta[:1], big), atol=1e-6, rtol=0)


def test_first_call_time_is_recorded_once_per_shape():
    gen = open_checkpoint("demo:tiny")
    z = latents_from_seeds([0], gen.interface.z_dim)
    with gen:
        theta = gen.hypernet(z)
        gen.render(theta, (8, 8))
        gen.render(theta, (8, 8))
        gen.render(theta, (16, 8))
    assert len(gen.first_call_s) == 2 and all(s > 0 for s in gen.first_call_s.values())
