"""The GPU datasheet table, the roofline fraction and the report's GPU section."""
from __future__ import annotations

import pytest

from inrgan_export.measure.gpu import AUTHORS_V100, GPU_PEAKS, gpu_peak
from inrgan_export.measure.run import datasheet_fraction, gpu_lines


@pytest.mark.parametrize("device_name, entry", [
    ("NVIDIA H100 80GB HBM3", "H100 SXM"), ("NVIDIA H100 PCIe", "H100 PCIe"), ("NVIDIA H100 NVL", "H100 NVL"),
    ("NVIDIA H200", "H200 SXM"), ("NVIDIA H200 NVL", "H200 NVL"), ("NVIDIA A100-SXM4-80GB", "A100"),
    ("NVIDIA A100 80GB PCIe", "A100"), ("Tesla V100-SXM2-32GB", "V100 SXM2"), ("Tesla V100-PCIE-32GB", "V100 PCIe"),
    ("Tesla V100S-PCIE-32GB", "V100S PCIe"), ("NVIDIA L4", "L4"), ("Tesla T4", "T4"),
    ("NVIDIA L40S", None), ("NVIDIA GeForce RTX 4090", None),
])
def test_device_names_find_their_datasheet(device_name, entry):
    found = gpu_peak(device_name)
    assert (found.name if found else None) == entry


def test_every_entry_cites_a_datasheet_and_tensor_cores_beat_fp32():
    for e in GPU_PEAKS:
        assert "datasheet" in e.source and "nvidia.com" in e.source, e.name
        assert e.fp16 > e.fp32 > 0 and (e.bf16 is None or e.bf16 == e.fp16), e.name
    assert gpu_peak("NVIDIA H100 80GB HBM3").peak("bf16") == (989.5, "bf16 tensor")


def test_fp32_uses_the_tf32_row_only_when_tf32_is_on_and_v100_has_no_bf16():
    h100 = gpu_peak("NVIDIA H100 80GB HBM3")
    assert h100.peak("fp32") == (67.0, "fp32 (no tensor cores)")
    assert h100.peak("fp32", tf32_enabled=True) == (494.5, "tf32 tensor")
    assert gpu_peak("Tesla V100-SXM2-16GB").peak("bf16")[0] is None


def test_datasheet_fraction():
    from dataclasses import asdict

    gpu = {"datasheet": asdict(gpu_peak("NVIDIA A100-SXM4-80GB")), "tf32_matmul": False}
    assert datasheet_fraction(gpu, "fp16", 156_000.0)["percent_of_datasheet_peak"] == pytest.approx(50.0)
    assert datasheet_fraction(gpu, "fp32", 19_500.0)["percent_of_datasheet_peak"] == pytest.approx(100.0)
    assert datasheet_fraction({"datasheet": None, "tf32_matmul": False}, "fp16", 1.0)["percent_of_datasheet_peak"] is None


def test_report_sets_the_authors_figures_beside_the_same_size_and_batch():
    """The report's GPU section on a results record of the bench's shape (its numbers are
    made up here: this checks the table, not a GPU)."""
    point = {"device": "cuda:0", "precision": "fp16", "compile": False, "batch": 100, "height": 256, "width": 256,
             "inr_median_ms": 10.0, "images_per_s": 10000.0, "generate_images_per_s": 9000.0, "inr_gmacs_per_s": 1.0,
             "percent_of_datasheet_peak": 12.5, "percent_of_sgemm_peak": 20.0, "first_call_s": 0.5}
    results = {"gpu": {"name": "NVIDIA H100 80GB HBM3", "device": "cuda:0", "capability": "9.0", "torch": "2.11",
                       "cuda": "13.0", "tf32_matmul": False, "datasheet": {"name": "H100 SXM", "source": "x datasheet"}},
               "points": [point], "authors_v100": {"source": "README", "note": "a different GPU", "figures": list(AUTHORS_V100)}}
    text = "\n".join(gpu_lines(results))
    assert "| fp16 | no | 100 | 256x256 | 10.00 | 10000.0 | 9000.0 | 1 | 12.5 | 20.0 | 0.50 |" in text
    assert "| INR-GAN (default), mixed precision | mixed | 256² | 100 | 465.60 | fp16: 9000.0 |" in text
    assert "| INR-GAN (default) | fp32 | 256² | 50 | 266.45 | not measured" in text


def test_bench_refuses_compile_on_cpu_before_any_work(tmp_path):
    from pathlib import Path

    from inrgan_export.measure.run import BenchOptions, check_options
    from inrgan_export.core.errors import UnsupportedOption

    with pytest.raises(UnsupportedOption, match="--compile needs a CUDA device"):
        check_options(BenchOptions(source="demo:tiny", out=Path(tmp_path / "b"), backends=("torch",), compile=True))
    assert not (tmp_path / "b").exists()
