"""GPU peaks for the roofline fraction of ``bench --device cuda``, and the authors' published
V100 throughput to set our figures beside.

Peaks are dense (no structured sparsity) TFLOP/s from each vendor datasheet. Where a
datasheet prints only the "with sparsity" figure (H100, H200, L4 tensor rows), the dense
one is half of it, as the datasheets' footnotes say. FP32 is the non-tensor peak: PyTorch
runs FP32 matmuls without TF32 unless ``torch.backends.cuda.matmul.allow_tf32`` (or
``torch.set_float32_matmul_precision('high')``) is set, in which case the TF32 row applies.
"""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class GpuPeak:
    name: str
    #: matched against torch.cuda.get_device_name (case-insensitive search), first match wins
    pattern: str
    fp32: float  # TFLOP/s, CUDA cores
    tf32: float | None  # tensor cores, dense
    fp16: float | None  # tensor cores, dense (FP16 inputs, FP32 or FP16 accumulate as the datasheet states)
    bf16: float | None
    source: str

    def peak(self, precision: str, tf32_enabled: bool = False) -> tuple[float | None, str]:
        """(TFLOP/s, which row) for a bench precision."""
        if precision == "fp32":
            return (self.tf32, "tf32 tensor") if tf32_enabled and self.tf32 else (self.fp32, "fp32 (no tensor cores)")
        value = {"fp16": self.fp16, "bf16": self.bf16}.get(precision)
        return value, f"{precision} tensor"


V100_SHEET = "NVIDIA Tesla V100 datasheet (images.nvidia.com/content/technologies/volta/pdf/volta-v100-datasheet-update-us-1165301-r5.pdf)"
A100_SHEET = "NVIDIA A100 datasheet (nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/nvidia-a100-datasheet-nvidia-us-2188504-web.pdf)"
H100_SHEET = "NVIDIA H100 Tensor Core GPU datasheet (resources.nvidia.com/en-us-tensor-core/nvidia-tensor-core-gpu-datasheet); tensor rows = sparsity figure / 2"
H200_SHEET = "NVIDIA H200 Tensor Core GPU product page and datasheet (nvidia.com/en-us/data-center/h200/); tensor rows = sparsity figure / 2"
L4_SHEET = "NVIDIA L4 Tensor Core GPU datasheet (nvidia.com/en-us/data-center/l4/); tensor rows = sparsity figure / 2"
T4_SHEET = "NVIDIA T4 Tensor Core GPU datasheet (nvidia.com/content/dam/en-zz/Solutions/Data-Center/tesla-t4/t4-tensor-core-datasheet-951643.pdf)"

#: most specific patterns first
GPU_PEAKS: tuple[GpuPeak, ...] = (
    GpuPeak("H200 NVL", r"h200 nvl", 60.0, 417.5, 835.5, 835.5, H200_SHEET),
    GpuPeak("H200 SXM", r"h200", 67.0, 494.5, 989.5, 989.5, H200_SHEET),
    GpuPeak("H100 NVL", r"h100 nvl", 60.0, 417.5, 835.5, 835.5, H100_SHEET),
    GpuPeak("H100 PCIe", r"h100.*pcie", 51.0, 378.0, 756.5, 756.5, H100_SHEET),
    GpuPeak("H100 SXM", r"h100", 67.0, 494.5, 989.5, 989.5, H100_SHEET),
    GpuPeak("A100", r"a100", 19.5, 156.0, 312.0, 312.0, A100_SHEET),
    GpuPeak("V100S PCIe", r"v100s", 16.4, None, 130.0, None, V100_SHEET),
    GpuPeak("V100 PCIe", r"v100.*pcie", 14.0, None, 112.0, None, V100_SHEET),
    GpuPeak("V100 SXM2", r"v100", 15.7, None, 125.0, None, V100_SHEET),
    GpuPeak("L4", r"\bl4\b", 30.3, 60.0, 121.0, 121.0, L4_SHEET),
    GpuPeak("T4", r"\bt4\b", 8.1, None, 65.0, None, T4_SHEET),
)


def gpu_peak(device_name: str) -> GpuPeak | None:
    """The table's entry for a CUDA device name (e.g. ``NVIDIA H100 80GB HBM3``), or None."""
    for entry in GPU_PEAKS:
        if re.search(entry.pattern, device_name, re.IGNORECASE):
            return entry
    return None


#: the authors' published throughput (universome/inr-gan README, "Performance" and
#: "Profiling"): a V100 32 GB, CUDA 10.1, their StyleGAN2-ADA-based INR-GAN at 256x256 — a
#: different GPU and a different model from our presets (the released configs/inr-gan.yml)
AUTHORS_V100 = (
    {"model": "INR-GAN (default)", "precision": "fp32", "size": 256, "batch": 50, "images_per_s": 266.45},
    {"model": "INR-GAN, LSUN Churches (no extra convs)", "precision": "fp32", "size": 256, "batch": 50,
     "images_per_s": 301.69},
    {"model": "INR-GAN (default), mixed precision", "precision": "mixed", "size": 256, "batch": 100,
     "images_per_s": 465.60},
)
AUTHORS_SOURCE = ("github.com/universome/inr-gan README (Performance table: #imgs/sec on V100 32gb; Profiling: "
                  "mixed precision)")
