"""The C++ runtime's ONNX Runtime backend (runtimes/cpp/src/onnxruntime_backend.cpp) against
the Python runtime, on ort-mobile bundles (.ort graphs) of both families and on an ONNX bundle:
renders equal within the export's parity gate at native, 1/2, 2x, non-square, zoom and
extrapolation grids. The build is INRGAN_CPP_BUILD (ctest, also the sanitizer build) or
runtimes/cpp/build/release, built here when missing (see test_cpp_runtime.py)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from inrgan_export import open_bundle

from ..conftest import run_cli
from .test_cpp_runtime import TOLERANCE, _cases, bundle, cpp_build, one_line_error, render_cpp, window_text  # noqa: F401

CASES = ["native", "half", "double", "non-square", "window", "extrapolate"]


@pytest.fixture(scope="module")
def built(cpp_build):  # noqa: F811
    version = subprocess.run([str(cpp_build / "inrgan-render"), "--version"], capture_output=True, text=True).stdout
    if "onnxruntime built" not in version:
        pytest.skip(f"this C++ build has no ONNX Runtime backend ({version.strip()}); see the CMake status line")
    return cpp_build


def _ort_export(preset: str, name: str, tmp_path_factory) -> Path:
    """An ort-mobile bundle of ``preset``: in INRGAN_TEST_ORT_DIR (ci.sh: shared by the release
    and sanitizer runs, exported by the first), else a fresh one."""
    given = os.environ.get("INRGAN_TEST_ORT_DIR")
    out = (Path(given) if given else tmp_path_factory.mktemp("cpp-ort")) / name
    if not (out / "manifest.json").is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        proc = run_cli(preset, "--target", "ort-mobile", "-o", out, "--force", cwd=out.parent)
        assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def paper_ort(tmp_path_factory):
    return _ort_export("demo:tiny", "tiny_ort", tmp_path_factory)


@pytest.fixture(scope="module")
def sg2_ort(tmp_path_factory):
    return _ort_export("demo:sg2-tiny", "sg2_ort", tmp_path_factory)


def _render(built, bundle, *args):
    proc = render_cpp(built, bundle, *args, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.parametrize("family", ["paper", "sg2"])
@pytest.mark.parametrize("case", CASES)
def test_ort_bundle_renders_as_python(built, paper_ort, sg2_ort, tmp_path, family, case):
    path = {"paper": paper_ort, "sg2": sg2_ort}[family]
    with open_bundle(path) as g:  # Python: ONNX Runtime on the same .ort graphs
        size, window = _cases(list(g.interface.native_size))[case]
        z = np.random.RandomState(5).randn(2, g.interface.z_dim).astype(np.float32)
        want = g.generate(z, size, window)
    np.save(tmp_path / "z.npy", z)
    _render(built, path, "--backend", "onnxruntime", "--threads", "2", "--latent", tmp_path / "z.npy",
            "--size", f"{size[0]}x{size[1]}", "--window", window_text(window), "-o", tmp_path / "cpp.npy")
    got = np.load(tmp_path / "cpp.npy")
    assert got.shape == want.shape and np.isfinite(got).all()
    assert float(np.abs(got - want).max()) <= TOLERANCE


def test_onnx_bundle_runs_its_onnx_graphs(built, bundle, tmp_path):  # noqa: F811
    with open_bundle(bundle) as g:
        z = np.random.RandomState(6).randn(1, g.interface.z_dim).astype(np.float32)
        want = g.generate(z, (12, 20))
    np.save(tmp_path / "z.npy", z)
    _render(built, bundle, "--backend", "onnxruntime", "--latent", tmp_path / "z.npy", "--size", "12x20",
            "-o", tmp_path / "cpp.npy")
    assert float(np.abs(np.load(tmp_path / "cpp.npy") - want).max()) <= TOLERANCE


def test_other_devices_are_unavailable(built, paper_ort, tmp_path):
    proc = render_cpp(built, paper_ort, "--backend", "onnxruntime", "--device", "GPU", "--seed", "0", "-o",
                      tmp_path / "x.png", check=False)
    one_line_error(proc, 3, "runs on device CPU only", "GPU")
    assert not (tmp_path / "x.png").exists()
