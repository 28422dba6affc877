"""benchmarks/gpu/run.sh: its syntax, its arguments, and its CPU dry run on a Python that
has only what the GPU machine has: torch, numpy, onnx, onnxruntime and their dependencies
(no pillow, tqdm, pyyaml, matplotlib, onnxscript, polygraphy, OpenVINO, ...)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu" / "run.sh"
#: the site-packages entries the dry run sees: torch, numpy, onnx, onnxruntime and what they need
PRESENT = re.compile(r"(torch|torchgen|functorch|numpy|onnx|onnxruntime|filelock|typing_extensions|sympy|isympy|mpmath|"
                     r"networkx|jinja2|markupsafe|fsspec|setuptools|pkg_resources|_distutils_hack|distutils-precedence|"
                     r"protobuf|google|ml_dtypes|flatbuffers|packaging|coloredlogs|humanfriendly)([-_.].*)?", re.IGNORECASE)

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def test_script_syntax():
    assert subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True).returncode == 0


def test_unknown_argument_is_refused(tmp_path):
    proc = subprocess.run(["bash", str(SCRIPT), "--bogus"], capture_output=True, text=True, cwd=tmp_path, timeout=30)
    assert proc.returncode == 2 and "unknown argument '--bogus'" in proc.stderr


def without_packages(tmp_path: Path) -> dict[str, str]:
    """An environment whose Python sees only the PRESENT entries of this one's site-packages
    (a directory of links swapped in by sitecustomize), as on the GPU machine."""
    real = sysconfig.get_paths()["purelib"]
    view = tmp_path / "site"
    view.mkdir()
    for entry in Path(real).iterdir():
        if PRESENT.fullmatch(entry.name) and not entry.name.lower().startswith("onnx_ir"):
            (view / entry.name).symlink_to(entry)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(f"import sys\nsys.path[:] = [{str(view)!r} if p == {real!r} else p for p in sys.path]\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return dict(env, PYTHONPATH=str(hook), PYTHON=sys.executable)


def test_dry_run_on_a_machine_without_the_extras(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(["bash", str(SCRIPT), "--dry-run", "-o", str(out)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=240, env=without_packages(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    env = json.loads((out / "environment.json").read_text())
    assert env["libraries"]["torch"] and env["libraries"]["numpy"]
    for name in ("PIL", "tqdm", "yaml", "matplotlib", "onnxscript"):
        assert env["libraries"][name] is None, name  # the dry run really lacked them
    parity = json.loads((out / "parity.json").read_text())
    assert parity["passed"] and parity["device"] == "cpu"
    recs = {(r["family"], r["precision"]): r for r in parity["records"]}
    assert set(recs) == {(f, p) for f in ("paper", "sg2") for p in ("fp32", "fp16", "bf16")}
    assert all(r["size"] == [16, 16] for r in recs.values())
    assert recs[("paper", "fp32")]["identical"] and not recs[("sg2", "bf16")]["identical"]
    assert all(r["psnr_db"] >= 40 for r in recs.values() if r["precision"] != "fp32")
    benches = sorted(out.glob("bench*/results.json"))
    assert len(benches) == 2
    for path in benches:
        res = json.loads(path.read_text())
        assert res["points"] and all(p["backend"] == "torch" and p["inr_median_ms"] > 0 for p in res["points"])
        assert all(r["inr_macs_counted"] is None and r["inr_macs_analytic"] > 0 for r in res["macs"])
        reasons = " ".join(s["reason"] for s in res["skipped"])
        assert "onnxscript" in reasons and "matplotlib" in reasons
    assert {p["precision"] for p in json.loads(benches[0].read_text())["points"]} == {"fp32", "bf16"}
    summary = (out / "summary.txt").read_text()
    assert "missing: onnxscript, PIL, tqdm, yaml, matplotlib, openvino" in summary and "exit 0" in summary
