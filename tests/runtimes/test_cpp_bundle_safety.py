"""The C++ runtime runs only what it verified and checks a render's size up front (issue 20),
as the Python runtime does: a graph file not listed in 'files' and a symlink out of the bundle
are refused, and 65536x65536 is a one-line refusal naming the largest size, not bad_alloc.
Uses the v1 bundle of tests/data (the C++ runtime reads manifest version 1)."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from .test_cpp_runtime import cpp_build, one_line_error, render_cpp  # noqa: F401  (cpp_build: fixture)

V1 = Path(__file__).parent.parent / "data" / "bundle_v1"


@pytest.fixture
def v1(tmp_path) -> Path:
    return Path(shutil.copytree(V1, tmp_path / "b", symlinks=True))


def test_a_graph_not_listed_in_files_is_refused(cpp_build, v1, tmp_path):  # noqa: F811
    render_cpp(cpp_build, v1, "--seed", "1", "-o", tmp_path / "ok.npy")  # the untouched bundle renders
    m = json.loads((v1 / "manifest.json").read_text())
    m["files"].pop("inr.onnx")
    (v1 / "manifest.json").write_text(json.dumps(m))
    with open(v1 / "inr.onnx", "ab") as f:
        f.write(b"\0")  # modified after the export: it must not run
    proc = render_cpp(cpp_build, v1, "--seed", "1", "-o", tmp_path / "out.npy", check=False)
    one_line_error(proc, 2, "'inr.onnx'", "not listed in field 'files'")
    assert not (tmp_path / "out.npy").exists()


def test_a_symlink_out_of_the_bundle_is_refused(cpp_build, v1, tmp_path):  # noqa: F811
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(v1 / "inr.onnx", outside / "inr.onnx")  # same bytes: the checksum alone would pass
    (v1 / "inr.onnx").unlink()
    (v1 / "inr.onnx").symlink_to(outside / "inr.onnx")
    proc = render_cpp(cpp_build, v1, "--seed", "1", "-o", tmp_path / "out.npy", check=False)
    line = one_line_error(proc, 2, "'inr.onnx'", "leaves the bundle")
    assert str(outside) not in line


def test_65536_squared_is_refused_at_once(cpp_build, v1, tmp_path):  # noqa: F811
    t = time.perf_counter()
    proc = render_cpp(cpp_build, v1, "--seed", "1", "--size", "65536x65536", "-o", tmp_path / "h.npy", check=False)
    line = one_line_error(proc, 2, "65536x65536", "--max-memory", "the largest size within the budget is")
    assert time.perf_counter() - t < 30 and "bad_alloc" not in proc.stderr
    side = int(line.rsplit(" ", 1)[1].split("x")[0])
    assert 100 < side < 65536
    proc = render_cpp(cpp_build, v1, "--seed", "1", "--size", "300x300", "--max-memory", "1M", "-o", tmp_path / "s.npy", check=False)
    line = one_line_error(proc, 2, "the largest size within the budget is")
    assert int(line.rsplit(" ", 1)[1].split("x")[0]) < 300
    render_cpp(cpp_build, v1, "--seed", "1", "--size", "100x100", "--max-memory", "1M", "-o", tmp_path / "s.npy")
