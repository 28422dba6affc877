"""``inrgan-export doctor``: what this install can do, on one screen — the extras and their
versions, the runtimes, the CPU's ISA flags that decide BF16/INT8 speed, a browser and the C++
runtime, and the cache. Nothing heavy is imported (PyTorch never): modules are found with
``importlib.util.find_spec`` and versions read from the installed distributions' metadata."""
from __future__ import annotations

import importlib.util
import os
import platform
import shutil
from importlib import metadata
from pathlib import Path
from typing import Any

from .._version import __version__
from ..core.cache import user_cache_dir
from ..core.environment import isa_flags
from ..core.extras import EXTRAS, install_hint

#: the runtime's own dependencies (the base install)
BASE = ("numpy", "onnxruntime", "PIL", "tqdm")
#: ISA features → the /proc/cpuinfo flags that provide them
FEATURES = {"BF16": ("avx512_bf16", "amx_bf16"), "VNNI": ("avx512_vnni", "avx_vnni"), "AMX": ("amx_tile", "amx_int8", "amx_bf16"),
            "AVX-512": ("avx512f",), "AVX2": ("avx2",)}
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CPP_TOOL = "inrgan-render"


def module_version(module: str) -> str | None:
    """The installed version of the distribution that provides ``module``; None if not installed."""
    if importlib.util.find_spec(module) is None:
        return None
    for dist in metadata.packages_distributions().get(module, []):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return "installed"


def extras() -> dict[str, Any]:
    out = {}
    for extra, modules in EXTRAS.items():
        found = {m: module_version(m) for m in modules}
        missing = [m for m, v in found.items() if v is None]
        out[extra] = {"installed": not missing, "modules": found, "missing": missing,
                      "install": None if not missing else install_hint(extra)}
    return out


def cpu() -> dict[str, Any]:
    flags = isa_flags()
    info: dict[str, Any] = {"machine": platform.machine(), "logical_cpus": os.cpu_count(), "isa_flags": flags}
    if flags is not None:
        info["features"] = {name: any(f in flags for f in need) for name, need in FEATURES.items()}
    return info


def onnxruntime_providers() -> list[str] | None:
    try:
        import onnxruntime
    except ImportError:
        return None
    return list(onnxruntime.get_available_providers())


def cpp_runtime() -> str | None:
    """``inrgan-render`` on PATH, or in ``$INRGAN_CPP_BUILD`` (a build folder of runtimes/cpp)."""
    build = os.environ.get("INRGAN_CPP_BUILD")
    if build:
        for candidate in (Path(build) / CPP_TOOL, Path(build) / "tools" / CPP_TOOL):
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    return shutil.which(CPP_TOOL)


def cache() -> dict[str, Any]:
    root = user_cache_dir("x").parent
    files, size = 0, 0
    for folder, _, names in os.walk(root):
        for name in names:
            try:
                size += os.stat(os.path.join(folder, name)).st_size
                files += 1
            except OSError:
                continue
    return {"folder": str(root), "exists": root.is_dir(), "files": files, "bytes": size}


def doctor() -> dict[str, Any]:
    return {
        "inrgan_export": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "base": {m: module_version(m) for m in BASE},
        "extras": extras(),
        "onnxruntime_providers": onnxruntime_providers(),
        "cpu": cpu(),
        "browser": next((p for p in map(shutil.which, BROWSERS) if p), None),
        "cpp_runtime": cpp_runtime(),
        "cache": cache(),
    }


def format_doctor(d: dict[str, Any]) -> str:
    from ..core.log import human_bytes

    def v(x: str | None) -> str:
        return x if x is not None else "missing"

    lines = [f"inrgan-export {d['inrgan_export']}  python {d['python']}  {d['platform']}",
             "base        " + "  ".join(f"{m} {v(x)}" for m, x in d["base"].items())]
    for extra, e in d["extras"].items():
        mods = "  ".join(f"{m} {v(x)}" for m, x in e["modules"].items())
        state = "ok     " if e["installed"] else "missing"
        lines.append(f"[{extra}]".ljust(12) + f"{state} {mods}" + ("" if e["installed"] else f"  → {e['install']}"))
    lines.append("onnxruntime " + ", ".join(d["onnxruntime_providers"] or ["(not installed)"]))
    c = d["cpu"]
    features = c.get("features")
    lines.append(f"cpu         {c['machine']}, {c['logical_cpus']} logical CPUs; "
                 + ("ISA flags unknown (no /proc/cpuinfo)" if features is None else
                    "  ".join(f"{k} {'yes' if ok else 'no'}" for k, ok in features.items())))
    lines.append(f"browser     {d['browser'] or 'not found (chromium, google-chrome)'}")
    lines.append(f"C++ runtime {d['cpp_runtime'] or 'inrgan-render not found (build runtimes/cpp; see its README)'}")
    k = d["cache"]
    lines.append(f"cache       {k['folder']}  " + (f"{k['files']} files, {human_bytes(k['bytes'])}" if k["exists"] else "(empty)"))
    return "\n".join(lines)
