"""ONNX Runtime backend over a bundle's ``hypernet.onnx`` / ``inr.onnx`` / ``generator.onnx``."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..core.bundle import Bundle
from ..core.errors import BackendUnavailable, BundleError, InrganError, UnsupportedOption, UsageError
from .base import Generator, check_graph_signature, hypernet_extras


def first_line(e: BaseException) -> str:
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:300]

#: the per-graph file kind of graphs in ONNX Runtime's own format (target ort-mobile)
ORT_GRAPH_KIND = "ort"
DEVICE_PROVIDERS = {"CPU": ["CPUExecutionProvider"], "CUDA": ["CUDAExecutionProvider", "CPUExecutionProvider"]}


def ort_session(model: str | Path | bytes, threads: int | None = None, providers: Sequence[str] = ("CPUExecutionProvider",),
                quiet: bool = True, ort_format: bool = False):
    """The one place ONNX Runtime sessions are made: a graph file or serialized bytes, with
    the thread count and log level every caller wants the same way. ``ort_format``: the model
    is in ONNX Runtime's own format (``.ort``, the mobile target's graphs), said explicitly
    rather than guessed from bytes."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise BackendUnavailable("backend onnxruntime is not installed (pip install onnxruntime)") from None
    so = ort.SessionOptions()
    if quiet:
        so.log_severity_level = 3
    if threads:
        so.intra_op_num_threads = threads
    if ort_format:
        so.add_session_config_entry("session.load_model_format", "ORT")
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, so, providers=list(providers))


class OnnxRuntimeGenerator(Generator):
    backend = "onnxruntime"

    def __init__(
        self,
        bundle: Bundle,
        device: str = "CPU",
        max_memory: int | None = None,
        threads: int | None = None,
        graph_kind: str | None = None,
    ) -> None:
        super().__init__(bundle.manifest.interface, max_memory)
        self.bundle = bundle
        self.device = device.upper()
        if self.device not in DEVICE_PROVIDERS:
            raise UsageError(f"device {device!r} is not an ONNX Runtime device here; valid: {', '.join(DEVICE_PROVIDERS)}")
        self.threads = threads
        # which per-graph file to run: the bundle may name one (TensorRT bundles: their
        # precision-typed ONNX), else the exported FP32 graphs
        self.graph_kind = graph_kind or bundle.manifest.get("onnxruntime_graph", "onnx")
        self.sessions: dict[str, object] = {}

    @classmethod
    def for_benchmark(cls, bundle: Bundle, precision: str, threads: int | None, max_memory: int | None) -> "OnnxRuntimeGenerator":
        if precision != bundle.manifest.get("onnx_precision", "fp32"):
            raise UnsupportedOption("ONNX Runtime runs the bundle's own graphs (FP32 here); reduced-precision graphs come with their targets")
        return cls(bundle, max_memory=max_memory, threads=threads)

    def providers(self) -> Sequence[str]:
        try:
            import onnxruntime as ort
        except ImportError:
            raise BackendUnavailable("backend onnxruntime is not installed (pip install onnxruntime)") from None
        wanted = DEVICE_PROVIDERS[self.device]
        have = ort.get_available_providers()
        if wanted[0] not in have:
            raise BackendUnavailable(
                f"ONNX Runtime here has no {wanted[0]} for device {self.device}; available providers: {', '.join(have)}"
            )
        return wanted

    def session(self, name: str):
        if name not in self.sessions:
            path = self.bundle.graph_file(name, self.graph_kind)
            providers = self.providers()
            try:  # ONNX Runtime checks the file itself (protobuf/flatbuffer, graph, external data paths)
                session = ort_session(path, self.threads, providers, ort_format=self.graph_kind == ORT_GRAPH_KIND)
            except InrganError:
                raise
            except Exception as e:  # noqa: BLE001 - onnxruntime's Fail/InvalidGraph/InvalidProtobuf/...
                raise BundleError(f"ONNX Runtime cannot load {path.name}: {first_line(e)} (a damaged graph; re-export the bundle)") from None
            check_graph_signature(self.interface, name, [(i.name, i.shape) for i in session.get_inputs()],
                                  [(o.name, o.shape) for o in session.get_outputs()], path.name)
            self.sessions[name] = session
        return self.sessions[name]

    def _run(self, name: str, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """One graph run; a graph that loads but fails on inputs the manifest describes is a
        damaged bundle (its numbers were checked against the graph before)."""
        try:
            return self.session(name).run(None, feeds)[0]
        except InrganError:
            raise
        except MemoryError:
            raise
        except Exception as e:  # noqa: BLE001 - onnxruntime's RuntimeException/InvalidArgument/Fail
            raise BundleError(f"ONNX Runtime failed running {name} of bundle {self.bundle.path.name}: {first_line(e)}") from None

    def activate_impl(self) -> None:
        self.session("hypernet")
        self.session("inr")

    def deactivate_impl(self) -> None:
        self.sessions.clear()

    def hypernet_impl(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        return self._run("hypernet", feeds)

    def inr_impl(self, theta: np.ndarray, grid: dict[str, np.ndarray]) -> np.ndarray:
        return self._run("inr", {self.interface.theta_name: theta, **grid})

    def fused_impl(self, z: np.ndarray, grid: dict[str, np.ndarray]) -> np.ndarray:
        extras = hypernet_extras(self.interface.hypernet_inputs[1:], z.shape[0])  # sg2: truncation_psi = 1
        return self._run("generator", {self.interface.hypernet_inputs[0]: z, **extras, **grid})
