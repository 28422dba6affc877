"""Every script in ``benchmarks/``: a working ``--help``, package imports that resolve, the shared
harness (``inrgan_export.measure.harness`` and ``.timing``) and nothing from ``tests/``; the
cheap ones also run for real on their smallest input (tiny presets, 16² renders, one round)
as subprocesses, and their JSON must carry the machine description.

Run for real (``RUNS``): bench_inr_cpu (its flags and the ``speedups`` JSON that outside tools
read), bench_ort_mobile_inr, ort_mobile_usability, profile_openvino_small and bench_cold_start
(``--this-checkout-only``) on the v1 bundle fixture, pickle_load_time, hostile_catalogue
(one attack class), fit_photos (2 steps instead of 3000), photos_figures (4 bank latents per
split, without demo:church), and the chain export_inr_graph (``--cache``) → int8_plan_only
(4 calibration latents) → int8_granularity (one config, 2 latents).

``--help``, the import check and the harness's unit tests (tests/test_bench_harness.py) only
(``HELP_ONLY``, each with its reason and measured cost): the scripts whose smallest input
costs more than this file's budget leaves (it is kept under about 90 s on 2 cores; 55 s
measured) — ExecuTorch lowering, a Ray cluster, uncacheable sg2 traces, whole CLI exports,
a calibrated INT8 bundle, dozens of CLI runs.
"""
from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
BUNDLE_V1 = Path(__file__).parent / "data" / "bundle_v1"

#: modules of benchmarks/ that scripts import (no command line of their own)
MODULES = {"hostile_inputs", "sg2_pickle_writer", "scaled_generators"}

HELP_ONLY = {
    "bench_executorch": "lowers an ExecuTorch program (about 20 s for demo:tiny) besides two other runtimes",
    "bench_export_job": "a whole CLI export under GNU time (about 30 s cold for demo:tiny)",
    "bench_render_many": "starts a local Ray cluster and Ray Data workers (about 20 s at the smallest input)",
    "bench_serve": "starts a Ray Serve application (about 16 s at the smallest input)",
    "bench_sg2_theta": "traces two sg2 INR variants, neither cacheable (about 60 s for demo:sg2-tiny on a loaded 2-core machine)",
    "bench_ort_mobile": "needs an ort-mobile bundle export; its timing and record are bench_ort_mobile_inr's",
    "bf16_sg2_probe": "traces an sg2 INR and compiles three OpenVINO BF16 models",
    "executorch_int8_trial": "quantizes and lowers ExecuTorch programs (minutes for demo:tiny)",
    "misuse_catalogue": "runs 31 CLI cases after a demo:tiny export (about 40 s)",
    "ort_int8_platform_probe": "needs an INT8 ort-mobile bundle (a calibrated export)",
    "photos_precision": "exports the photo presets through the CLI",
    "parity_scaled_outputs": "exports both families' x16 generators to four targets (minutes); "
                             "tests/verify/test_verify_gates.py runs the same exports and gates",
}


def scripts() -> list[str]:
    return sorted(p.stem for p in BENCHMARKS.glob("*.py") if p.stem not in MODULES)


def _machine_ok(machine: dict) -> None:
    """The harness's machine description: CPU, ISA flags, CPU count, load, versions."""
    assert isinstance(machine, dict), machine
    assert machine["logical_cpus"] == os.cpu_count()
    assert isinstance(machine["isa_flags"], list) and machine["cpu_model"]
    assert len(machine["load_average"]) == 3 and machine["versions"]["inrgan_export"]


# ------------------------------------------------------------------ structure
def harness_violations(source: str) -> list[str]:
    """What keeps a benchmark script off the shared harness, read from its source."""
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module.endswith("environment") and any(a.name == "machine_info" for a in node.names):
                found.append("machine_info imported outside the harness")
        if any(n == "tests" or n.startswith("tests.") or n == "conftest" for n in names):
            found.append(f"imports from tests/: {names}")
    if "cpuinfo" in source or "model name" in source:
        found.append("reads the CPU description itself")
    if "__main__" in source and "inrgan_export.measure.harness" not in source:
        found.append("does not use inrgan_export.measure.harness")
    return found


def unresolved_imports(source: str) -> list[str]:
    """``inrgan_export`` imports of a script, at any depth (also inside functions), that fail."""
    import importlib

    missing = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "inrgan_export":
            try:
                mod = importlib.import_module(node.module)
            except ImportError as e:
                missing.append(f"{node.module}: {e}")
                continue
            for alias in node.names:
                if not hasattr(mod, alias.name):
                    try:
                        importlib.import_module(f"{node.module}.{alias.name}")
                    except ImportError:
                        missing.append(f"{node.module}.{alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "inrgan_export":
                    try:
                        importlib.import_module(alias.name)
                    except ImportError as e:
                        missing.append(f"{alias.name}: {e}")
    return missing


def test_every_script_is_run_or_says_why_not():
    assert set(scripts()) == set(RUNS) | set(CHAINED) | set(HELP_ONLY), \
        "a benchmark script neither runs here nor says why (HELP_ONLY)"
    assert not (set(RUNS) | set(CHAINED)) & set(HELP_ONLY)


@pytest.mark.parametrize("name", scripts())
def test_script_uses_the_harness_and_nothing_from_tests(name):
    assert harness_violations((BENCHMARKS / f"{name}.py").read_text()) == []


def test_every_package_import_of_the_scripts_resolves(tmp_path):
    """Also the imports inside functions (bench_render_many's ``inrgan_export.measure.machine``
    failed only when run). Checked in a child process outside the checkout, as the scripts run:
    against the installed package, not the source tree."""
    import inspect

    driver = inspect.getsource(unresolved_imports) + (
        "import ast, json, sys\n"
        "print(json.dumps({p: unresolved_imports(open(p).read()) for p in sys.argv[1:]}))\n")
    paths = [str(BENCHMARKS / f"{n}.py") for n in scripts() + sorted(MODULES)]
    proc = subprocess.run([sys.executable, "-c", driver, *paths], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {p: [] for p in paths}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_benchmark_modules_import_nothing_from_tests(name):
    assert harness_violations((BENCHMARKS / f"{name}.py").read_text()) == []


def test_structure_checks_catch_each_hole():
    """Must-fail cases: each check flags the pattern it exists for."""
    assert harness_violations("from tests.hostile_inputs import CLASSES\n")
    assert harness_violations("import tests.hostile_inputs\n")
    assert harness_violations("from inrgan_export.core.environment import machine_info\n")
    assert harness_violations("cpu = open('/proc/cpuinfo').read()\n")
    assert harness_violations("if __name__ == '__main__':\n    pass\n")
    assert harness_violations("from inrgan_export.measure.harness import record\nif __name__ == '__main__':\n    pass\n") == []
    # bench_render_many's import before this harness: a module that had moved away
    assert unresolved_imports("def main():\n    from inrgan_export.measure.machine import machine_info\n")
    assert unresolved_imports("from inrgan_export.measure.timing import no_such_function\n")
    assert unresolved_imports("from inrgan_export.measure.timing import interleaved\n") == []


# ------------------------------------------------------------------ --help
_HELP_DRIVER = r"""
import contextlib, io, json, runpy, sys
out = {}
for path in sys.argv[1:]:
    sys.argv = [path, "--help"]
    sys.path.insert(0, path.rsplit("/", 1)[0])
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            runpy.run_path(path, run_name="__main__")
        code = "returned without exiting"
    except SystemExit as e:
        code = e.code or 0
    except BaseException as e:
        code = f"{type(e).__name__}: {e}"
    out[path] = [code, buf.getvalue()]
print(json.dumps(out))
"""


def test_every_script_has_help(tmp_path):
    """All scripts' --help in one interpreter (torch is imported once: the whole check takes
    seconds); each must exit 0 having printed its usage and its description."""
    paths = [str(BENCHMARKS / f"{n}.py") for n in scripts()]
    proc = subprocess.run([sys.executable, "-c", _HELP_DRIVER, *paths], capture_output=True, text=True, cwd=tmp_path,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    for path in paths:
        code, text = got[path]
        assert code == 0, (path, code)
        assert text.startswith(f"usage: {Path(path).name}"), (path, text[:200])
        assert len(text.splitlines()) > 3, (path, text)


# ------------------------------------------------------------------ real runs
def _run(name: str, *args, cwd: Path, timeout: int = 240) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, str(BENCHMARKS / f"{name}.py"), *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=timeout, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    assert proc.returncode == 0, (name, proc.stdout[-2000:], proc.stderr[-4000:])
    return proc


@pytest.fixture()
def bundle_v1(tmp_path) -> Path:
    dst = tmp_path / "bundle_v1"
    shutil.copytree(BUNDLE_V1, dst)
    return dst


def run_bench_inr_cpu(tmp: Path) -> None:
    out = tmp / "inr.json"
    _run("bench_inr_cpu", "--preset", "tiny", "--sizes", "16", "--rounds", "1", "--threads", "1", "--openvino", "fp32",
         "--json", out, cwd=tmp)
    doc = json.loads(out.read_text())
    _machine_ok(doc["machine"])
    assert doc["sizes"] == [16] and doc["rounds"] == 1 and doc["command"].startswith("python ")
    r = doc["speedups"]["openvino fp32 vs onnxruntime fp32 @16"]  # the key outside tools read
    assert r["q1"] <= r["median"] <= r["q3"] and r["median"] > 0
    assert set(doc["paths"]) == {"onnxruntime fp32 @16", "openvino fp32 @16"}
    for row in doc["paths"].values():
        assert row["runs"] == 1 and row["median_s"] > 0 and row["worst_psnr_db"] > 60  # fp32 matches PyTorch
    assert all(len(ts) == 1 for ts in doc["raw_seconds"].values())


def run_bench_ort_mobile_inr(tmp: Path) -> None:
    out = tmp / "ort.json"
    _run("bench_ort_mobile_inr", "--preset", "tiny", "--sizes", "16", "--rounds", "1", "--threads", "1", "--json", out, cwd=tmp)
    doc = json.loads(out.read_text())
    _machine_ok(doc["machine"])
    (row,) = doc["sizes"]
    assert row["size"] == 16 and set(row["latency_s"]) == {"ort", "onnx", "openvino_fp32"}
    assert row["ratio_to_ort"]["ort"] == 1.0 and row["ort_vs_onnx_max_abs"] < 1e-4
    assert doc["file_bytes"]["ort"] > 0 and doc["file_bytes"]["onnx"] > 0


def run_ort_mobile_usability(tmp: Path) -> None:
    out = tmp / "usability.json"
    _run("ort_mobile_usability", "tiny", "--json", out, cwd=tmp)
    doc = json.loads(out.read_text())
    _machine_ok(doc["machine"])
    assert set(doc["presets"]) == {"tiny"} and doc["presets"]["tiny"]["inr"]


def run_profile_openvino_small(tmp: Path, bundle: Path) -> None:
    out = tmp / "profile.json"
    _run("profile_openvino_small", "--bundle", bundle, "--size", "16", "--rounds", "1", "--threads", "1", "--json", out, cwd=tmp)
    doc = json.loads(out.read_text())
    _machine_ok(doc["machine"])
    assert set(doc["paths"]) == {f"openvino {p} {s}" for p in ("f32", "bf16") for s in ("dynamic", "static")} | {"onnxruntime fp32"}
    assert all(t["runs"] == 1 and t["warmup"] == 2 for t in doc["paths"].values())
    assert doc["kernels"]["openvino f32 dynamic"]["nodes"] > 0


def run_bench_cold_start(tmp: Path, bundle: Path) -> None:
    out = tmp / "cold.json"
    _run("bench_cold_start", "--bundle", bundle, "--rounds", "1", "--this-checkout-only", "--work", tmp / "cold", "--out", out,
         cwd=tmp)
    doc = json.loads(out.read_text())
    _machine_ok(doc["machine"])
    (variant,) = doc["variants"].values()
    assert doc["identical_png_from_every_variant"] is True and variant["speedup_vs_first"] == 1.0
    assert 0 < variant["min_s"] <= variant["median_s"] <= variant["max_s"]
    assert (tmp / "cold" / "renders" / "0.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def run_pickle_load_time(tmp: Path) -> None:
    out = tmp / "pickle.json"
    _run("pickle_load_time", "--repeats", "2", "--json", out, cwd=tmp)
    doc = json.loads(out.read_text())
    _machine_ok(doc["machine"])
    (side,) = doc["sides"].values()
    assert side["runs"] == 2 and len(side["seconds"]) == 2 and side["q1_s"] <= side["median_s"] <= side["q3_s"]


def run_hostile_catalogue(tmp: Path) -> None:
    out = tmp / "hostile.json"
    _run("hostile_catalogue", "--label", "smoke", "--only", ".npy", "--out", out, cwd=tmp)
    doc = json.loads(out.read_text())
    _machine_ok(doc["runs"]["smoke"]["machine"])
    (entry,) = doc["classes"].values()
    assert entry["smoke"]["exit"] == 2 and entry["smoke"]["message"].startswith("inrgan-export: error:")
    assert "smoke" in out.with_suffix(".md").read_text()


def run_fit_photos(tmp: Path) -> None:
    # the smallest fit: two training steps and one held-out step (the preset takes 3000 + 300)
    _run("fit_photos", "--family", "paper", "--steps", "2", "--heldout-steps", "1", "--log-every", "1",
         "-o", tmp / "photos.pt", "--results", tmp / "results", cwd=tmp)
    doc = json.loads((tmp / "results" / "fit_paper.json").read_text())
    _machine_ok(doc["machine"])
    assert doc["steps"] == 2 and doc["heldout_steps"] == 1 and len(doc["psnr_native"]) == 56
    assert doc["split"].count("train") == 48 and doc["split"].count("heldout") == 8
    assert (tmp / "photos.pt").stat().st_size > 0 and (tmp / "results" / "fit_paper_loss.png").is_file()


def run_photos_figures(tmp: Path) -> None:
    out = tmp / "figures.json"
    _run("photos_figures", "--latents-per-split", "4", "--skip-church", "-o", out, cwd=tmp)
    doc = json.loads(out.read_text())
    _machine_ok(doc["machine"])
    for preset in ("demo:photos", "demo:photos-sg2"):
        fig = doc[preset]
        assert fig["latents"] == {"train": 4, "heldout": 4}
        for part in ("train", "heldout"):
            p = fig[part]["native_psnr_db"]
            assert p["min"] <= p["median"] <= p["max"]
        assert all(fig[f"edge_content_4x_bank{i}"] > 0 for i in range(4))
    assert "demo:church" not in doc


def run_interpolation_figure(tmp: Path) -> None:
    out = tmp / "interp"
    _run("interpolation_figure", "--steps", "3", "--size", "16", "--zoom-frames", "3", "-o", out, cwd=tmp)
    doc = json.loads((tmp / "interp.json").read_text())
    _machine_ok(doc["machine"])
    for preset in ("photos", "photos-sg2"):
        assert (tmp / f"interp_{preset}.png").stat().st_size > 0
        rows = doc["presets"][preset]
        assert len(rows) == 3 and all(len(v) == 3 and min(v) > 0 for v in rows.values())
    assert (tmp / "interp_zoom_photos.webp").stat().st_size > 0


def run_int8_chain(tmp: Path) -> None:
    """export_inr_graph (a cached trace) feeds int8_plan_only and int8_granularity, as documented."""
    fp32 = tmp / "fp32"
    _run("export_inr_graph", "demo:tiny", fp32, "--cache", "--json", tmp / "export.json", cwd=tmp)
    doc = json.loads((tmp / "export.json").read_text())
    _machine_ok(doc["machine"])
    layout = json.loads((fp32 / "manifest.json").read_text())["theta_layout"]
    assert doc["onnx_bytes"] == (fp32 / "inr.onnx").stat().st_size and layout[0]["offset"] == 0

    _run("int8_plan_only", "tiny", fp32, tmp / "int8.onnx", "--latents", "4", "--json", tmp / "plan.json", cwd=tmp)
    plan = json.loads((tmp / "plan.json").read_text())
    _machine_ok(plan["machine"])
    assert set(plan["int8_layers"]) <= set(plan["sweep_psnr_db"]) and plan["gates"]["passed"] in (True, False)
    assert (tmp / "int8.onnx").stat().st_size > 0

    config = json.dumps([{"w": "row", "a": "sym8"}])
    proc = subprocess.run([sys.executable, str(BENCHMARKS / "int8_granularity.py"), "tiny", str(fp32), "2", config,
                           "--calib-latents", "4", "--sweep", "--json", str(tmp / "gran.json")], capture_output=True, text=True,
                          cwd=tmp, timeout=240, env=dict(os.environ, INT8_STUDY_DIR=str(tmp)))
    assert proc.returncode == 0, proc.stderr[-4000:]
    gran = json.loads((tmp / "gran.json").read_text())
    _machine_ok(gran["machine"])
    (row,) = gran["configs"]
    assert row["config"] == {"w": "row", "a": "sym8"} and row["layers"] == len(plan["sweep_psnr_db"])
    assert set(row["per_layer_worst_psnr_db"]) == set(plan["sweep_psnr_db"]) and row["worst_psnr_db"] <= row["median_psnr_db"]


RUNS = {
    "bench_inr_cpu": run_bench_inr_cpu,
    "bench_ort_mobile_inr": run_bench_ort_mobile_inr,
    "ort_mobile_usability": run_ort_mobile_usability,
    "profile_openvino_small": run_profile_openvino_small,
    "bench_cold_start": run_bench_cold_start,
    "pickle_load_time": run_pickle_load_time,
    "hostile_catalogue": run_hostile_catalogue,
    "fit_photos": run_fit_photos,
    "photos_figures": run_photos_figures,
    "export_inr_graph": run_int8_chain,
    "interpolation_figure": run_interpolation_figure,
}
#: scripts run inside another script's smoke run (a chain of inputs)
CHAINED = {"int8_plan_only": "export_inr_graph", "int8_granularity": "export_inr_graph"}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_script_runs_on_its_smallest_input(name, tmp_path, bundle_v1):
    run = RUNS[name]
    if name in ("profile_openvino_small", "bench_cold_start"):
        run(tmp_path, bundle_v1)
    else:
        run(tmp_path)
