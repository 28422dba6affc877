"""OpenVINO backend: a bundle's IR (``<graph>.xml``/``.bin``), or its ONNX when it has no IR.

Inference precision is always set explicitly (``INFERENCE_PRECISION_HINT``) and read back
from the compiled model: OpenVINO's CPU plugin otherwise picks bf16 on CPUs that have it.
Compiled models are cached (OpenVINO's ``CACHE_DIR``) in a user cache directory keyed by the
bundle's hash, the OpenVINO version and the device — never inside the bundle, whose files
are checksummed — so the second open of a bundle skips compilation.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..core.bundle import MANIFEST, Bundle
from ..core.errors import BackendUnavailable, BundleError, UnsupportedOption
from .base import Generator, check_graph_signature, hypernet_extras

#: our precision names → OpenVINO inference precision hints, and the device capability each needs
#: (int8 bundles carry FakeQuantize from their Q/DQ graph; what is not quantized runs f32)
PRECISION_HINTS = {"fp32": "f32", "bf16": "bf16", "fp16": "f16", "int8": "f32"}
CAPABILITY = {"fp32": "FP32", "bf16": "BF16", "fp16": "FP16", "int8": "INT8"}


def import_openvino():
    try:
        import openvino as ov
    except ImportError:
        raise BackendUnavailable("backend openvino needs the 'openvino' extra (openvino is not installed): pip install 'inrgan-export[openvino]'") from None
    return ov


def device_precisions(core: Any, device: str) -> list[str]:
    """Our precisions that ``device`` runs natively (from its OPTIMIZATION_CAPABILITIES)."""
    try:
        caps = set(core.get_property(device, "OPTIMIZATION_CAPABILITIES"))
    except RuntimeError:
        caps = {"FP32"}
    return [p for p, cap in CAPABILITY.items() if cap in caps]


def check_device(core: Any, device: str) -> None:
    if device.split(":")[0] in ("AUTO", "MULTI", "HETERO"):
        return
    if device not in core.available_devices:
        raise BackendUnavailable(
            f"OpenVINO device {device} is not available here; available: {', '.join(core.available_devices) or 'none'}"
        )


def check_precision(core: Any, device: str, precision: str) -> None:
    if device.split(":")[0] in ("AUTO", "MULTI", "HETERO"):
        if precision != "fp32":
            raise UnsupportedOption(f"precision {precision} needs an explicit device (CPU, GPU, NPU), not {device}")
        return
    supported = device_precisions(core, device)
    if precision not in supported:
        raise UnsupportedOption(
            f"precision {precision} is not supported by OpenVINO on {device} here; supported: {', '.join(supported)}"
        )


def cache_root() -> Path:
    from ..core.cache import user_cache_dir

    return user_cache_dir("openvino")


def bundle_hash(bundle: Bundle) -> str:
    """Hash of the manifest, which holds the SHA-256 of every file of the bundle."""
    return hashlib.sha256((bundle.path / MANIFEST).read_bytes()).hexdigest()


def cache_dir_for(bundle: Bundle, ov_version: str, device: str) -> Path:
    version = re.sub(r"[^A-Za-z0-9.]+", "_", ov_version.split("-")[0])
    return cache_root() / f"{bundle_hash(bundle)[:16]}-ov{version}-{re.sub(r'[^A-Za-z0-9]+', '_', device)}"


#: OpenVINO's CPU plugin (2026.4.1) returns wrong values once one tensor of a run reaches
#: 2 GiB (seen on demo:church at 256² batch 2 and the released church configuration at 363²);
#: runs are kept under half that by the planner, whose tiling is exact. The C++ runtime keeps
#: the same cap per block (runtimes/cpp/src/generator.cpp).
OPENVINO_RUN_BYTES = 1 << 30


class OpenVINOGenerator(Generator):
    backend = "openvino"

    def __init__(
        self,
        bundle: Bundle,
        device: str | None = None,
        max_memory: int | None = None,
        threads: int | None = None,
        cache: bool = True,
    ) -> None:
        super().__init__(bundle.manifest.interface, max_memory)
        self.max_memory = min(self.max_memory, OPENVINO_RUN_BYTES)
        self.bundle = bundle
        section = bundle.manifest.get("openvino") or {}
        self.device = (device or section.get("device") or "CPU").upper()
        self.precision = section.get("precision", "fp32")
        self.threads = threads
        self.cache = cache
        self.compiled: dict[str, Any] = {}
        self.requests: dict[str, Any] = {}
        self.core: Any = None
        self.cache_dir: Path | None = None

    @classmethod
    def for_benchmark(cls, bundle: Bundle, precision: str, threads: int | None, max_memory: int | None) -> "OpenVINOGenerator":
        """The bundle's ONNX graphs compiled by OpenVINO at ``precision`` (no cache: timings
        include nothing stale)."""
        supported = device_precisions(import_openvino().Core(), "CPU")
        if precision not in supported:
            raise UnsupportedOption(f"OpenVINO's CPU plugin here runs {', '.join(supported)}, not {precision}")
        section = {**(bundle.manifest.get("openvino") or {}), "precision": precision, "device": "CPU"}
        return cls(Bundle(bundle.path, bundle.manifest.merged({"openvino": section})), max_memory=max_memory, threads=threads,
                   cache=False)

    # --------------------------------------------------------------- lifecycle
    def activate_impl(self) -> None:
        ov = import_openvino()
        self.core = ov.Core()
        check_device(self.core, self.device)
        if self.precision not in PRECISION_HINTS:
            raise UnsupportedOption(f"bundle precision {self.precision!r} has no OpenVINO inference precision")
        check_precision(self.core, self.device, self.precision)
        # a bundle still being built has no manifest file yet: nothing worth caching
        if self.cache and (self.bundle.path / MANIFEST).is_file():
            self.cache_dir = cache_dir_for(self.bundle, ov.__version__, self.device)
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            self.core.set_property({"CACHE_DIR": str(self.cache_dir)})
        self.compile("hypernet")
        self.compile("inr")

    def deactivate_impl(self) -> None:
        self.requests.clear()
        self.compiled.clear()
        self.core = None

    def config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {"INFERENCE_PRECISION_HINT": PRECISION_HINTS[self.precision], "PERFORMANCE_HINT": "LATENCY"}
        if self.threads and self.device == "CPU":
            cfg["INFERENCE_NUM_THREADS"] = self.threads
        return cfg

    def graph_path(self, name: str) -> Path:
        """The IR (its weights checked too: OpenVINO reads ``<stem>.bin`` next to the .xml) or the ONNX."""
        entry = self.bundle.manifest["graphs"][name]
        if "openvino" not in entry:
            return self.bundle.graph_file(name, "onnx")
        xml = self.bundle.graph_file(name, "openvino")
        weights = str(Path(self.bundle.manifest.graph_file(name, "openvino")).with_suffix(".bin"))
        self.bundle.listed_file(weights, f"graphs[{name!r}].openvino_weights")
        return xml

    def compile(self, name: str) -> Any:
        if name not in self.compiled:
            path = self.graph_path(name)
            try:  # OpenVINO's own reader checks the file (ONNX, or IR XML and weights); its errors are exceptions
                compiled = self.core.compile_model(str(path), self.device, self.config())
            except Exception as e:  # noqa: BLE001 - OpenVINO raises RuntimeError and its own types
                text = str(e).strip()
                line = (text.splitlines()[0] if text else type(e).__name__)[:300]
                raise BundleError(f"OpenVINO cannot load {path.name}: {line} (a damaged graph; re-export the bundle)") from None
            known = {*self.interface.hypernet_inputs, *self.interface.layout.input_names(), self.interface.theta_name,
                     self.interface.output_name}
            check_graph_signature(self.interface, name, [(_name(p, known), _dims(p)) for p in compiled.inputs],
                                  [(_name(p, known), _dims(p)) for p in compiled.outputs], path.name)
            got = inference_precision(compiled)
            want = PRECISION_HINTS[self.precision]
            if got is not None and got != want:
                raise BackendUnavailable(
                    f"OpenVINO on {self.device} compiled {name} with inference precision {got}, not {want}; "
                    f"this device cannot run this {self.precision} bundle"
                )
            self.compiled[name] = compiled
            self.requests[name] = compiled.create_infer_request()
        return self.compiled[name]

    def compiled_precision(self, name: str = "inr") -> str | None:
        self.activate()
        return inference_precision(self.compile(name))

    # --------------------------------------------------------------- inference
    def _infer(self, name: str, feeds: dict[str, np.ndarray]) -> np.ndarray:
        self.compile(name)
        request = self.requests[name]
        request.infer(feeds)
        return np.array(request.get_output_tensor(0).data, copy=True)

    def hypernet_impl(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        return self._infer("hypernet", feeds)

    def inr_impl(self, theta: np.ndarray, grid: dict[str, np.ndarray]) -> np.ndarray:
        return self._infer("inr", {self.interface.theta_name: theta, **grid})

    def fused_impl(self, z: np.ndarray, grid: dict[str, np.ndarray]) -> np.ndarray:
        extras = hypernet_extras(self.interface.hypernet_inputs[1:], z.shape[0])  # sg2: truncation_psi = 1
        return self._infer("generator", {self.interface.hypernet_inputs[0]: z, **extras, **grid})


def _name(port: Any, known: set[str]) -> str:
    """A port's name: the one of ``known`` among its tensor names (a port may carry several,
    e.g. a joined graph's output), else any of them."""
    names = port.get_names()
    return next((n for n in sorted(names) if n in known), port.get_any_name())


def _dims(port: Any) -> list[Any]:
    """A port's shape: ints for static dims, None for dynamic ones."""
    return [d.get_length() if d.is_static else None for d in port.get_partial_shape()]


def matmul_kernels(compiled: Any) -> dict[str, int]:
    """How many MatMuls of a compiled model run with each kernel, as '<runtime precision> <kernel>'
    (from the runtime model: e.g. 'i8 jit_gemm_i8', 'f32 brgemm_avx2_f32'). Which kernel runs an
    INT8 MatMul decides whether INT8 is faster than f32 at all on a CPU."""
    counts: dict[str, int] = {}
    for op in compiled.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        if "layerType" not in info or info["layerType"].astype(str) != "MatMul":
            continue
        key = f"{info['runtimePrecision'].astype(str)} {info['primitiveType'].astype(str)}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def inference_precision(compiled: Any) -> str | None:
    """The inference precision a compiled model reports ('f32', 'bf16', 'f16')."""
    try:
        value = compiled.get_property("INFERENCE_PRECISION_HINT")
    except RuntimeError:
        return None
    text = str(value).lower()
    for name, short in (("float32", "f32"), ("bfloat16", "bf16"), ("float16", "f16"), ("f32", "f32"), ("bf16", "bf16"), ("f16", "f16")):
        if name in text:
            return short
    return text
