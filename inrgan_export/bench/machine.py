"""What a measurement ran on: CPU model, cores, ISA flags, GPU, library versions."""
from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

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
    from ..environment import library_versions

    info["versions"] = library_versions()
    try:
        import openvino

        info["versions"]["openvino"] = openvino.__version__
    except ImportError:
        pass
    return info
