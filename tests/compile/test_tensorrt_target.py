"""Target tensorrt through the real CLI.

Here (no TensorRT, no GPU) the export writes the TensorRT-ready bundle — precision-typed
ONNX, profiles, lint, build_engines.sh — checks it with ONNX Runtime and exits 3. The tests
marked ``tensorrt`` build and run engines; they run where TensorRT >= 10, cuda-python and a
GPU exist and skip with the reason otherwise (TensorRT is never stood in for)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest

from ..conftest import assert_one_line_error, run_cli
from ..core.test_manifest import assert_valid_manifest

# non-square, and narrower than the parity grids (4x4 .. 32x32, batch 4): a second profile
RANGE = ["--min-res", "8x12", "--opt-res", "16x24", "--max-res", "48x64", "--max-batch", "2"]


def manifest_of(path: Path) -> dict:
    return json.loads((path / "manifest.json").read_text())


@pytest.fixture(scope="module")
def fp16_bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("trt") / "tiny_trt"
    proc = run_cli("demo:tiny", "--target", "tensorrt", "--precision", "fp16", *RANGE, "-o", out, cwd=out.parent)
    return out, proc


def test_export_without_tensorrt_exits_3_after_writing_the_bundle(fp16_bundle):
    out, proc = fp16_bundle
    line = assert_one_line_error(proc, 3, "TensorRT not found", "build_engines.sh", "inr.fp16.onnx", "generator.fp16.onnx")
    assert str(out.name) in line
    for name in ("hypernet.onnx", "inr.onnx", "generator.onnx", "inr.fp16.onnx", "generator.fp16.onnx",
                 "build_engines.sh", "manifest.json", "golden.npz", "parity.json"):
        assert (out / name).is_file(), name
    assert not list(out.glob("*.engine"))
    m = manifest_of(out)
    engines = m["tensorrt"]["engines"]
    assert engines["built"] is False and "build_engines.sh" in engines["message"]
    assert engines["files"] == {"hypernet": "hypernet.engine", "inr": "inr.engine", "generator": "generator.engine"}
    assert m["default_backend"] == "tensorrt" and m["onnxruntime_graph"] == "onnxruntime_onnx"
    assert m["tensorrt"]["lint"]["passed"] and m["tensorrt"]["lint"]["tensorrt_majors"] == [10, 11]


def test_profiles_in_the_manifest(fp16_bundle):
    from inrgan_export.backends.trt_profiles import dim_ranges, ResolutionRange
    from inrgan_export.core.grid import SizeRule

    out, _ = fp16_bundle
    m = manifest_of(out)
    t = m["tensorrt"]
    assert t["size_range"] == {"name": "render", "min_res": [8, 12], "opt_res": [16, 24], "max_res": [48, 64],
                               "max_batch": 2, "opt_batch": 1}
    names = [p["name"] for p in t["profiles"]]
    assert names == ["render", "parity"] and t["parity_profile"] == 1
    parity = t["profiles"][1]
    assert (parity["min_res"], parity["max_res"], parity["max_batch"]) == ([4, 4], [32, 32], 4)
    rule = SizeRule.from_manifest(m["interface"]["grid"]["size_rule"])
    dims = dim_ranges(rule, ResolutionRange((8, 12), (16, 24), (48, 64), 2))
    inr = t["profiles"][0]["shapes"]["inr"]
    for b in range(3):
        hh, ww = dims[f"h{b}"], dims[f"w{b}"]  # (min, opt, max) each
        assert inr[f"coords_{b}"] == {"min": [1, 2, hh[0], ww[0]], "opt": [1, 2, hh[1], ww[1]],
                                      "max": [2, 2, hh[2], ww[2]]}
    assert inr["up1to2_y"] == {"min": [dims["h2"][0]], "opt": [dims["h2"][1]], "max": [dims["h2"][2]]}
    assert inr["up0to2_x"]["max"] == [64]
    assert t["profiles"][0]["shapes"]["hypernet"]["z"] == {"min": [1, 16], "opt": [1, 16], "max": [2, 16]}


def test_build_script(fp16_bundle, tmp_path):
    out, _ = fp16_bundle
    m = manifest_of(out)
    script = (out / "build_engines.sh").read_text()
    assert os.access(out / "build_engines.sh", os.X_OK)
    assert subprocess.run(["bash", "-n", str(out / "build_engines.sh")]).returncode == 0
    lines = [line for line in script.splitlines() if line.startswith('"$TRTEXEC"')]
    assert len(lines) == 3  # one line per graph
    from inrgan_export.backends.trt_profiles import Profile, trtexec_shapes

    profiles = [Profile.from_manifest(p) for p in m["tensorrt"]["profiles"]]
    for line, graph, onnx_file in zip(lines, ("hypernet", "inr", "generator"),
                                      ("hypernet.onnx", "inr.fp16.onnx", "generator.fp16.onnx")):
        assert f"--onnx={onnx_file} " in line and f"--saveEngine={graph}.engine " in line
        for flag in ("--stronglyTyped", "--noTF32", "--skipInference", '--timingCacheFile="$CACHE"'):
            assert flag in line
        assert "--profile=0 " in line and "--profile=1 " in line
        for k, prof in enumerate(profiles):
            chunk = line.split(f"--profile={k} ")[1]
            for which, flag in (("min", "--minShapes"), ("opt", "--optShapes"), ("max", "--maxShapes")):
                assert f"{flag}={trtexec_shapes(prof.graphs[graph], which)}" in chunk.split(" --profile=")[0]
    assert re.search(r'CACHE="timing-cache/trt\$\{TRT_VERSION:-unknown\}_\$\{GPU\}\.cache"', script)
    assert "profile 0 (render): 8x12 .. 48x64, opt 16x24, batch 1..2" in script
    # without trtexec the script stops with one line and exit 3 (a real run, no stand-in)
    env = dict(os.environ, PATH=str(tmp_path))
    proc = subprocess.run([shutil.which("bash"), str(out / "build_engines.sh")], capture_output=True, text=True, env=env)
    assert proc.returncode == 3 and "trtexec not found" in proc.stderr
    assert not list(out.glob("*.engine")) and not (out / "timing-cache").exists()


def test_graphs_load_and_passed_parity_in_onnxruntime(fp16_bundle):
    out, _ = fp16_bundle
    m = manifest_of(out)
    for name in ("inr.fp16.onnx", "generator.fp16.onnx"):
        onnx.checker.check_model(str(out / name), full_check=True)
    assert m["parity"]["passed"]
    rows = json.loads((out / "parity.json").read_text())["rows"]
    fp16 = [r for r in rows if r["precision"] == "fp16"]
    assert {r["path"] for r in fp16} == {"onnxruntime split", "onnxruntime fused"}
    assert {r["grid"] for r in fp16} == {"native", "half", "quarter", "double", "non-square", "zoom", "extrapolate"}
    assert all(r["passed"] and not r["nan_inf"] and r["psnr_db"] >= 40.0 for r in fp16)
    assert m["parity"]["gates"]["onnxruntime split"]["min_psnr_db"] == 40.0


def test_verify_reruns_parity_and_lint(fp16_bundle):
    out, _ = fp16_bundle
    proc = run_cli("verify", out, cwd=out.parent)
    assert proc.returncode == 0, proc.stderr
    assert "onnxruntime fused" in proc.stderr and "✗" not in proc.stderr


def test_render_backends(fp16_bundle):
    out, _ = fp16_bundle
    for extra in (["--backend", "tensorrt"], []):  # the bundle's default backend is tensorrt
        proc = run_cli("render", out, "--seed", "0", "--size", "16x24", *extra, "-o", out.parent / "x.png", cwd=out.parent)
        assert_one_line_error(proc, 3, "TensorRT engines of bundle", "are not built", "build_engines.sh")
    npy = out.parent / "ort.npy"
    proc = run_cli("render", out, "--seed", "0-1", "--size", "20x36", "--backend", "onnxruntime", "-o", npy, cwd=out.parent)
    assert proc.returncode == 0, proc.stderr
    img = np.load(npy)
    assert img.shape == (2, 3, 20, 36) and np.isfinite(img).all()
    # it ran the precision-typed graphs: equal to inr.fp16.onnx, close to (not equal to) FP32
    from inrgan_export.backends import open_bundle
    from inrgan_export.core.latents import latents_from_seeds

    z = latents_from_seeds([0, 1], 16)
    with open_bundle(out, backend="onnxruntime") as g:
        assert g.graph_kind == "onnxruntime_onnx"
        assert np.array_equal(g.generate(z, (20, 36)), img)
    from inrgan_export.core.bundle import Bundle
    from inrgan_export.backends.onnxruntime_backend import OnnxRuntimeGenerator

    with OnnxRuntimeGenerator(Bundle.open(out), graph_kind="onnx") as g:
        fp32 = g.generate(z, (20, 36))
    assert 0 < np.abs(fp32 - img).max() < 2e-2


def test_sizes_outside_the_profiles_are_refused_by_the_tensorrt_backend(fp16_bundle):
    from inrgan_export.core.errors import ShapeError
    from inrgan_export.backends import open_bundle

    out, _ = fp16_bundle
    gen = open_bundle(out, backend="tensorrt")  # lazy: nothing of TensorRT is loaded before activation
    gen.grid((48, 64))  # render profile
    gen.grid((4, 4))  # parity profile
    for size in ((100, 100), (48, 65), (40, 8)):
        with pytest.raises(ShapeError) as e:
            gen.grid(size)
        msg = str(e.value)
        assert "\n" not in msg and "8x12 .. 48x64 (render)" in msg and "4x4 .. 32x32 (parity)" in msg


def test_int8_bundle_carries_the_qdq_plan_for_trtexec(tmp_path):
    """INT8 is explicit quantization: the gated Q/DQ graph is what TensorRT builds (8-bit
    activations), checked on CPU by ONNX Runtime; without TensorRT the bundle ends in exit 3."""
    out = tmp_path / "t8"
    proc = run_cli("demo:tiny", "--target", "tensorrt", "--precision", "int8", "--calib-latents", "8", "-o", out, cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    m = json.loads((out / "manifest.json").read_text())
    assert m["precision"] == m["onnx_precision"] == "int8" and m["int8"]["gates"]["passed"]
    assert m["int8"]["calibration"]["activation_bits"] == 8  # no 16-bit pair saturation on TensorRT
    inr = onnx.load(str(out / m["graphs"]["inr"]["tensorrt_onnx"]))
    assert sum(n.op_type == "QuantizeLinear" for n in inr.graph.node) > 0
    script = (out / "build_engines.sh").read_text()
    assert "--stronglyTyped" in script and "--int8" not in script and "--onnx=inr.onnx" in script
    report = json.loads((out / "parity.json").read_text())
    assert report["passed"] and {r["precision"] for r in report["rows"]} == {"int8"}


def test_a_failed_int8_gate_exits_4_not_3_and_its_bundle_is_refused_at_render(tmp_path):
    """Without TensorRT the export would end in exit 3; a failed INT8 gate says the artifacts
    are wrong, which wins (exit 4). The published bundle records the failed gate, and render
    refuses it unless --allow-failed-parity."""
    out = tmp_path / "t8"
    proc = run_cli("demo:tiny", "--target", "tensorrt", "--precision", "int8", "--calib-latents", "8",
                   "--min-psnr", "150", "-o", out, cwd=tmp_path)
    assert_one_line_error(proc, 4, "gate failed")
    gates = json.loads((out / "manifest.json").read_text())["int8"]["gates"]
    assert gates["passed"] is False and gates["latent_seeds"] == "0..63"
    png = tmp_path / "r.png"
    assert_one_line_error(run_cli("render", out, "--backend", "onnxruntime", "--seed", "0", "-o", png, cwd=tmp_path), 4,
                          "INT8 gate failed", "--allow-failed-parity")
    assert not png.exists()
    proc = run_cli("render", out, "--backend", "onnxruntime", "--seed", "0", "--allow-failed-parity", "-o", png, cwd=tmp_path)
    assert proc.returncode == 0 and png.is_file(), proc.stderr


def test_bad_ranges_and_devices_exit_2_before_any_work(tmp_path):
    proc = run_cli("demo:tiny", "--target", "tensorrt", "--min-res", "64x64", "--max-res", "32x48", "-o", tmp_path / "b",
                   cwd=tmp_path)
    assert_one_line_error(proc, 2, "--min-res 64x64", "--max-res 32x48")
    proc = run_cli("demo:tiny", "--target", "tensorrt", "--device", "NPU", "-o", tmp_path / "c", cwd=tmp_path)
    assert_one_line_error(proc, 2, "'NPU'", "CUDA")
    assert not any(tmp_path.iterdir())


def test_verify_lints_the_tensorrt_graphs(fp16_bundle, tmp_path):
    """A TensorRT graph that TensorRT would refuse fails verify, naming the node and rule."""
    from onnx import TensorProto, helper

    from inrgan_export.core.bundle import write_manifest

    out, _ = fp16_bundle
    bad = tmp_path / "bad"
    shutil.copytree(out, bad)
    model = onnx.load(str(bad / "inr.fp16.onnx"))
    gather = next(n for n in model.graph.node if n.op_type == "Gather")
    model.graph.node.append(helper.make_node("Cast", [gather.input[1]], ["idx_int64"], to=TensorProto.INT64, name="widen"))
    gather.input[1] = "idx_int64"
    nodes = list(model.graph.node)
    nodes.insert(nodes.index(gather), nodes.pop())
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    onnx.save(model, str(bad / "inr.fp16.onnx"))
    m = manifest_of(bad)
    m.pop("files")
    write_manifest(bad, m)
    proc = run_cli("verify", bad, cwd=tmp_path)
    assert_one_line_error(proc, 2, "lint", "inr.fp16.onnx", "'widen'", "int64-data-path")


def test_authors_fixture_fp16_passes_the_psnr_gate(authors_checkpoints, tmp_path):
    out = tmp_path / "tiny2_trt"
    proc = run_cli(authors_checkpoints["tiny2"], "--target", "tensorrt", "--precision", "fp16", "-o", out, cwd=tmp_path)
    assert_one_line_error(proc, 3, "TensorRT not found")
    m = manifest_of(out)
    assert m["parity"]["passed"], m["parity"]["failures"]
    assert len(m["tensorrt"]["profiles"]) == 1 and m["tensorrt"]["parity_profile"] == 0  # the default range covers parity
    rows = [r for r in json.loads((out / "parity.json").read_text())["rows"] if r["precision"] == "fp16"]
    from inrgan_export.core.grid import parity_grids

    n = m["interface"]["native_size"][0]
    feeds = sum(len(g.batches) for g in parity_grids(n))
    fused_feeds = sum(len(g.batches) for g in parity_grids(n) if g.fused and g.size[0] * g.size[1] <= n * n)
    paths = {r["path"] for r in rows}
    assert len(paths) == 2 and min(r["psnr_db"] for r in rows) >= 40.0
    for path in paths:  # every feed split; Polygraphy's untiled runner: the fused grids up to native size
        assert sum(r["path"] == path for r in rows) == (fused_feeds if "polygraphy" in path else feeds)
    plan = m["tensorrt"]["precision_plan"]
    assert plan["fp32_by_rule"].get("fourier", 0) > 0 and plan["fp32_by_rule"]["output-activation"] == 1


# ------------------------------------------------------------------ with TensorRT and a GPU
def require_tensorrt_gpu() -> None:
    try:
        import tensorrt  # noqa: F401
    except ImportError as e:
        pytest.skip(f"TensorRT not installed: {e}")
    from inrgan_export.compile.tensorrt import _tensorrt_and_gpu
    from inrgan_export.core.errors import BackendUnavailable

    try:
        _tensorrt_and_gpu(0)
    except BackendUnavailable as e:
        pytest.skip(f"TensorRT installed but not usable here: {e}")


@pytest.mark.tensorrt
@pytest.mark.parametrize("precision", ["fp16", "fp32"])
def test_engines_build_run_and_pass_parity(tmp_path, precision):
    require_tensorrt_gpu()
    out = tmp_path / f"trt_{precision}"
    proc = run_cli("demo:tiny", "--target", "tensorrt", "--precision", precision, *RANGE, "-o", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    m = manifest_of(out)
    engines = m["tensorrt"]["engines"]
    assert engines["built"] and engines["strongly_typed"] and engines["tf32"] is False
    for g in ("hypernet", "inr", "generator"):
        assert (out / f"{g}.engine").is_file() and m["graphs"][g]["engine"] == f"{g}.engine"
    assert (out / "timing.cache").is_file() and json.loads((out / "timing.cache.json").read_text())["tensorrt"]
    rows = json.loads((out / "parity.json").read_text())["rows"]
    assert {r["path"] for r in rows if r["backend"] == "tensorrt"} == {"tensorrt split", "tensorrt fused"}
    assert m["parity"]["passed"], m["parity"]["failures"]
    # rebuilding over it reuses the timing cache (same TensorRT, same GPU)
    proc = run_cli("demo:tiny", "--target", "tensorrt", "--precision", precision, *RANGE, "-o", out, "--force", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert manifest_of(out)["tensorrt"]["engines"]["timing_cache"]["loaded_from"]
    # render inside and outside the range
    proc = run_cli("render", out, "--seed", "0", "--size", "16x24", "--backend", "tensorrt", "-o", tmp_path / "t.npy")
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("render", out, "--seed", "0", "--size", "100x100", "--backend", "tensorrt", "-o", tmp_path / "u.npy")
    assert_one_line_error(proc, 2, "100x100", "8x12 .. 48x64")


@pytest.mark.tensorrt
def test_polygraphy_trt_runner_on_the_fused_engine(tmp_path):
    require_tensorrt_gpu()
    from inrgan_export.verify import tensorrt_runner

    out = tmp_path / "trt"
    proc = run_cli("demo:tiny", "--target", "tensorrt", "--precision", "fp16", "-o", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    runner = tensorrt_runner(out, manifest_of(out), "tensorrt fused (polygraphy)")
    assert runner is not None
    from inrgan_export.core.bundle import Bundle
    from inrgan_export.verify import latent_bank

    b = Bundle.open(out)
    feeds = {"z": latent_bank(16)[:4], **b.layout.build((16, 16)).for_batch(4)}
    with runner:
        rgb = runner.infer(feeds)["rgb"]
    assert rgb.shape == (4, 3, 16, 16) and np.isfinite(rgb).all()


def test_tensorrt_manifest_matches_the_schema(fp16_bundle):
    out, _ = fp16_bundle
    assert assert_valid_manifest(out)["tensorrt"]["precision"] == "fp16"
