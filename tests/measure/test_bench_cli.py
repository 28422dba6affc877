"""`inrgan-export bench --quick` end to end: every output file, real PNGs, consistent numbers."""
from __future__ import annotations

import csv
import json

from PIL import Image

from ..conftest import assert_one_line_error, run_cli


def test_quick_bench_writes_every_file(tmp_path):
    out = tmp_path / "bench_tiny"
    proc = run_cli("bench", "demo:tiny", "--sizes", "8,16,12x20", "--backends", "torch,onnxruntime,openvino",
                   "--precisions", "fp32,bf16", "--batch", "1,2", "--quick", "-o", out, "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)  # --json: one object on stdout, progress on stderr
    assert printed["command"] == "bench" and printed["out"] == str(out)
    assert printed["points"] == json.loads((out / "results.json").read_text())["points"]
    for name in ("results.json", "results.csv", "report.md", "macs_vs_resolution.png", "latency_vs_resolution.png",
                 "throughput_vs_batch.png"):
        assert (out / name).is_file(), name
    for png in out.glob("*.png"):
        with Image.open(png) as im:
            assert im.format == "PNG" and im.width > 200 and im.height > 200
    res = json.loads((out / "results.json").read_text())
    assert res["macs_worst_disagreement_percent"] < 1.0
    assert res["sgemm_peak_gflops"] > 0 and res["machine"]["cpu_model"]
    points = res["points"]
    assert {(p["backend"], p["batch"]) for p in points} >= {("torch", 1), ("onnxruntime", 2), ("openvino", 1)}
    assert {(p["height"], p["width"]) for p in points} == {(8, 8), (16, 16), (12, 20)}
    assert all(p["inr_median_ms"] > 0 and p["hypernet_median_ms"] > 0 for p in points)
    # bf16 is either measured or skipped with a reason (onnxruntime runs fp32 only; torch runs bf16 autocast)
    skipped = {(s["backend"], s["precision"]) for s in res["skipped"]}
    assert ("onnxruntime", "bf16") in skipped and ("torch", "bf16") not in skipped
    assert {p["precision"] for p in points if p["backend"] == "torch"} == {"fp32", "bf16"}
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(points)
    report = (out / "report.md").read_text()
    assert "Table 1" in report and "38.76" in report and "demo:church" in report


def test_macs_only_on_a_bundle_and_bad_options(tiny_bundle, tmp_path):
    proc = run_cli("bench", tiny_bundle, "--macs-only", "--sizes", "16,32", "-o", tmp_path / "m", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    res = json.loads((tmp_path / "m" / "results.json").read_text())
    assert res["points"] == [] and len(res["macs"]) == 2
    assert not (tmp_path / "m" / "latency_vs_resolution.png").exists()
    assert_one_line_error(run_cli("bench", "demo:tiny", "--sizes", "0", "-o", tmp_path / "x", cwd=tmp_path), 2, "size 0", "1..65536")
    assert_one_line_error(run_cli("bench", "demo:tiny", "--batch", "0", "-o", tmp_path / "x", cwd=tmp_path), 2, "'0'", "positive")
