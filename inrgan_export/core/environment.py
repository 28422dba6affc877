"""What an artifact or a measurement was made with: library versions (for the manifest) and
the machine (CPU model, ISA flags, GPUs) for benchmark records and ISA-dependent choices.
Each library is imported only if installed, so this is safe in a runtime-only install."""
from __future__ import annotations

import importlib
import os
import platform
import subprocess
from pathlib import Path

_LIBRARIES = ("numpy", "torch", "onnx", "onnxruntime", "openvino")


def library_versions() -> dict[str, str]:
    from .._version import __version__

    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = importlib.import_module(name).__version__
        except ImportError:
            continue
    versions["inrgan_export"] = __version__
    return versions


FLAGS_OF_INTEREST = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "avx512_fp16", "amx_bf16", "amx_int8", "amx_tile")


def isa_flags() -> list[str] | None:
    """The flags of FLAGS_OF_INTEREST this CPU has (None where /proc/cpuinfo is missing)."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return None
    text = cpuinfo.read_text(errors="replace")
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return [f for f in FLAGS_OF_INTEREST if f in flags]


def machine_info() -> dict:
    info: dict = {"platform": platform.platform(), "machine": platform.machine(), "logical_cpus": os.cpu_count()}
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        text = cpuinfo.read_text(errors="replace")
        for line in text.splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
        info["isa_flags"] = isa_flags()
    try:
        info["affinity_cpus"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10,
        )
        if out.returncode == 0 and out.stdout.strip():
            info["gpus"] = [line.strip() for line in out.stdout.strip().splitlines()]
    except (OSError, subprocess.TimeoutExpired):
        pass
    info["versions"] = library_versions()
    return info
