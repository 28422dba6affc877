"""Shared fixtures. The suite tests the installed package (see pyproject: importlib mode)
and runs the real CLI in subprocesses from a temporary working directory."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# `python -m pytest` puts the working directory first on sys.path; from the repository root the
# source tree would shadow the installed package (which alone has inrgan_export.calibration)
_ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT]

DATA = Path(__file__).parent / "data"
AUTHORS = DATA / "authors"

#: one small test generator per registered family (tests/test_registry.py checks coverage)
FAMILY_FIXTURES = {"paper": "demo:tiny", "sg2": "demo:sg2-tiny"}


def cli_command() -> list[str]:
    script = Path(sys.executable).with_name("inrgan-export")
    return [str(script)] if script.exists() else [sys.executable, "-m", "inrgan_export"]


def run_cli(*args: str | os.PathLike, cwd: Path | None = None, timeout: int = 600,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``inrgan-export ARGS`` for real; returns the completed process (text output)."""
    full_env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    return subprocess.run(
        [*cli_command(), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout, env=full_env
    )


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Compiled-model and calibration caches of the suite live in a temporary directory."""
    path = tmp_path_factory.mktemp("user-cache")
    old = os.environ.get("INRGAN_EXPORT_CACHE")
    os.environ["INRGAN_EXPORT_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("INRGAN_EXPORT_CACHE", None)
    else:
        os.environ["INRGAN_EXPORT_CACHE"] = old


def assert_one_line_error(proc: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    """Exit ``code``, a single `inrgan-export: error:` line on stderr naming every needle, no traceback."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("inrgan-export: error:")]
    assert len(errors) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


@pytest.fixture(scope="session")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("work")


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """demo:tiny exported through the real CLI with --json (the bundle other tests read)."""
    out = tmp_path_factory.mktemp("bundles") / "tiny_onnx"
    proc = run_cli("demo:tiny", "--target", "onnx", "-o", out, "--json", cwd=out.parent)
    assert proc.returncode == 0, proc.stderr
    return out, proc


@pytest.fixture(scope="session")
def tiny_bundle(tiny_export) -> Path:
    return tiny_export[0]


@pytest.fixture(scope="session")
def tiny_ort_mobile(tmp_path_factory) -> Path:
    """demo:tiny exported for ONNX Runtime Mobile (.ort graphs) through the real CLI."""
    out = tmp_path_factory.mktemp("bundles") / "tiny_ort"
    proc = run_cli("demo:tiny", "--target", "ort-mobile", "-o", out, cwd=out.parent)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    from inrgan_export.load.sources import demo_checkpoint

    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    demo_checkpoint("tiny").save(path)
    return path


@pytest.fixture(scope="session")
def authors_checkpoints(tmp_path_factory) -> dict[str, Path]:
    """The authors'-format fixtures converted with the real CLI."""
    out = tmp_path_factory.mktemp("converted")
    paths = {}
    for name in ("tiny2", "tiny3"):
        dst = out / f"{name}.pt"
        proc = run_cli("convert", AUTHORS / f"{name}_gen_ema.pt", "--config", AUTHORS / f"{name}.yml", "-o", dst, cwd=out)
        assert proc.returncode == 0, proc.stderr
        paths[name] = dst
    return paths
