"""``inrgan-export doctor``: a real subprocess, its figures checked against what is installed."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path

from ..conftest import run_cli


def test_doctor_json_says_what_is_installed(tmp_path):
    cache = tmp_path / "cache"
    (cache / "graphs").mkdir(parents=True)
    (cache / "graphs" / "g.onnx").write_bytes(b"x" * 12345)
    tools = tmp_path / "bin"
    tools.mkdir()
    for name in ("chromium", "inrgan-render"):
        (tools / name).write_text("#!/bin/sh\nexit 0\n")
        (tools / name).chmod(stat.S_IRWXU)
    env = {"INRGAN_EXPORT_CACHE": str(cache), "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}"}
    proc = run_cli("doctor", "--json", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert d["base"]["onnxruntime"] == metadata.version("onnxruntime") and d["base"]["numpy"] == metadata.version("numpy")
    for extra, e in d["extras"].items():
        assert e["installed"] == all(find_spec(m) is not None for m in e["modules"]), extra
        assert (e["install"] is None) == e["installed"]
    if find_spec("torch") is not None:
        assert d["extras"]["export"]["modules"]["torch"] == metadata.version("torch")
    flags = next(line.split(":", 1)[1].split() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("flags"))
    features = d["cpu"]["features"]
    assert features["VNNI"] == ("avx512_vnni" in flags or "avx_vnni" in flags)
    assert features["AMX"] == ("amx_tile" in flags or "amx_int8" in flags or "amx_bf16" in flags)
    assert features["BF16"] == ("avx512_bf16" in flags or "amx_bf16" in flags)
    assert d["cache"] == {"folder": str(cache), "exists": True, "files": 1, "bytes": 12345}
    assert d["browser"] == str(tools / "chromium") and d["cpp_runtime"] == str(tools / "inrgan-render")
    bare = json.loads(run_cli("doctor", "--json", cwd=tmp_path,
                              env={"INRGAN_EXPORT_CACHE": str(tmp_path / "none"), "PATH": "/nonexistent"}).stdout)
    assert bare["browser"] is None and bare["cpp_runtime"] is None and bare["cache"]["exists"] is False


def test_doctor_text_is_one_screen_and_needs_no_torch(tmp_path):
    code = ("import sys; from inrgan_export.cli import main; rc = main(['doctor']); "
            "assert 'torch' not in sys.modules, 'torch imported'; sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) <= 24
    assert any(line.startswith("[export]") for line in lines) and any(line.startswith("cpu ") for line in lines)
    assert f"onnxruntime {metadata.version('onnxruntime')}" in proc.stdout
