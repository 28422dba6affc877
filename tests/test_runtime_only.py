"""A runtime-only install (numpy, onnxruntime, pillow, tqdm and the package with --no-deps)
renders a bundle through the CLI and through ``open_bundle`` without PyTorch, and an action
that needs the ``export`` extra exits 3 naming the ``pip install`` that brings it."""
from __future__ import annotations

import os
import subprocess
import sys
import venv
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest

from .conftest import DATA, assert_one_line_error

ROOT = Path(__file__).resolve().parents[1]
V1 = DATA / "bundle_v1"
#: the runtime's dependencies (pyproject's [project] dependencies), pinned to the versions of
#: this environment so that pip takes them from its cache
RUNTIME_DEPS = ("numpy", "onnxruntime", "pillow", "tqdm")


def _run(args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600, **kw)


@pytest.fixture(scope="module")
def runtime_venv(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runtime-only")
    wheels = root / "wheels"
    proc = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", wheels, ROOT])
    assert proc.returncode == 0, proc.stderr
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    pins = [f"{name}=={version(name)}" for name in RUNTIME_DEPS]
    proc = _run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", *pins])
    assert proc.returncode == 0, proc.stderr
    (wheel,) = wheels.glob("inrgan_export-*.whl")
    proc = _run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps", wheel])
    assert proc.returncode == 0, proc.stderr
    return env_dir


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def test_runtime_only_install_has_no_torch(runtime_venv):
    proc = _run([runtime_venv / "bin" / "python", "-m", "pip", "list", "--format=freeze"], env=_clean_env())
    installed = {line.split("==")[0].lower() for line in proc.stdout.splitlines()}
    assert "inrgan-export" in installed and "onnxruntime" in installed
    assert not installed & {"torch", "onnx", "openvino", "polygraphy", "onnxscript"}, installed


def test_cli_renders_a_bundle_without_torch(runtime_venv, tmp_path):
    out = tmp_path / "img.png"
    proc = _run([runtime_venv / "bin" / "inrgan-export", "render", V1, "--seed", "0", "--size", "16x16", "-o", out],
                cwd=tmp_path, env=_clean_env())
    assert proc.returncode == 0, proc.stderr
    from PIL import Image

    from inrgan_export.core.display import DisplayMapping
    from inrgan_export.core.imageio import to_uint8

    expected = to_uint8(np.load(V1 / "expected.npz")["seed0_16x16"], DisplayMapping())[0]
    assert np.array_equal(np.asarray(Image.open(out)), expected)


def test_open_bundle_renders_without_importing_torch(runtime_venv, tmp_path):
    script = f"""
import sys, numpy as np
from inrgan_export import open_bundle
z = np.random.RandomState(0).randn(1, 16).astype(np.float32)
with open_bundle({str(V1)!r}, backend="onnxruntime") as g:
    img = g.render(g.hypernet(z), (24, 20), window=(-0.25, -0.25, 1.25, 1.25))
np.save({str(tmp_path / 'out.npy')!r}, img)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "onnx", "polygraphy", "onnxscript", "openvino"))
print("heavy:", ",".join(heavy))
"""
    proc = _run([runtime_venv / "bin" / "python", "-c", script], cwd=tmp_path, env=_clean_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "heavy:", proc.stdout
    expected = np.load(V1 / "expected.npz")["seed0_24x20_extrapolate"]
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), expected)


def test_actions_of_a_missing_extra_exit_3_naming_the_install(runtime_venv, tmp_path):
    cli = runtime_venv / "bin" / "inrgan-export"
    proc = _run([cli, "demo:tiny", "--target", "onnx", "-o", tmp_path / "b"], cwd=tmp_path, env=_clean_env())
    assert_one_line_error(proc, 3, "'export' extra", "pip install 'inrgan-export[export]'")
    assert not (tmp_path / "b").exists()
    proc = _run([cli, "render", V1, "--backend", "openvino", "-o", tmp_path / "x.png"], cwd=tmp_path, env=_clean_env())
    assert_one_line_error(proc, 3, "pip install 'inrgan-export[openvino]'")
    proc = _run([cli, "render", "demo:tiny", "-o", tmp_path / "x.png"], cwd=tmp_path, env=_clean_env())
    assert_one_line_error(proc, 3, "pip install 'inrgan-export[export]'")
    assert not list(tmp_path.glob("x*.png"))


def test_full_install_render_imports_no_torch(tmp_path):
    """In the full environment too, rendering a bundle never imports the export stack."""
    script = f"""
import sys
from inrgan_export.cli import main
rc = main(["render", {str(V1)!r}, "--seed", "0-1", "--size", "16x16", "-o", {str(tmp_path / 'r.png')!r}])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "onnx", "polygraphy", "onnxscript"))
print(rc, ",".join(heavy))
"""
    proc = _run([sys.executable, "-c", script], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["0"], proc.stdout
    assert len(list(tmp_path.glob("r-seed*.png"))) == 2


def test_ort_mobile_bundle_renders_without_torch(runtime_venv, tiny_ort_mobile, tmp_path):
    """The .ort graphs of target ort-mobile open through open_bundle and the CLI's render in the
    runtime-only install, and give the ONNX graphs' images."""
    script = f"""
import sys, numpy as np
from inrgan_export import open_bundle
z = np.random.RandomState(0).randn(2, 16).astype(np.float32)
with open_bundle({str(tiny_ort_mobile)!r}) as g:
    kind = g.graph_kind
    img = g.generate(z, (24, 20), window=(-0.25, -0.25, 1.25, 1.25))
np.save({str(tmp_path / 'out.npy')!r}, img)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "onnx", "polygraphy", "onnxscript", "openvino"))
print(kind, "heavy:", ",".join(heavy))
"""
    proc = _run([runtime_venv / "bin" / "python", "-c", script], cwd=tmp_path, env=_clean_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["ort", "heavy:"], proc.stdout
    from inrgan_export.core.bundle import Bundle
    from inrgan_export.backends.onnxruntime_backend import OnnxRuntimeGenerator

    z = np.random.RandomState(0).randn(2, 16).astype(np.float32)
    with OnnxRuntimeGenerator(Bundle.open(tiny_ort_mobile), graph_kind="onnx") as onnx_gen:
        expected = onnx_gen.generate(z, (24, 20), window=(-0.25, -0.25, 1.25, 1.25))
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=1e-5)
    out = tmp_path / "ort.png"
    proc = _run([runtime_venv / "bin" / "inrgan-export", "render", tiny_ort_mobile, "--seed", "0", "--size", "16x16", "-o", out],
                cwd=tmp_path, env=_clean_env())
    assert proc.returncode == 0, proc.stderr
    assert out.is_file()
