"""TensorRT backend over a bundle's ``hypernet.engine`` / ``inr.engine`` / ``generator.engine``.

One execution context per optimization profile (TensorRT lets a profile be used by one
context at a time), created on first use; device buffers per tensor, grown when a larger
shape arrives and reused otherwise; input shapes set on every call and output shapes read
back from the context.

Device memory and streams come from NVIDIA's CUDA Python bindings (``cuda-python``,
``cuda.bindings.runtime``), as in TensorRT's own Python samples since 10.14. Not torch CUDA
tensors: this project pins a CPU build of torch (a CUDA build is a multi-GB install tied to
one CUDA version), and the TensorRT runner must work with whatever torch is installed.
Not Polygraphy's ctypes wrapper either: it looks for ``libcudart.so`` on system paths only,
which a pip-installed TensorRT does not provide.

Rendering is never tiled here: the engines were built for the profile's largest grid, so
a render inside the range runs in one piece (batches beyond the profile's max batch are
split); a size outside every profile is refused with one line naming the ranges.

Over 400 lines: the CUDA plumbing (device buffers, streams, CUDA errors) belongs to this backend
alone, and a backend is one module behind the registry.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..core.bundle import Bundle
from ..core.manifest import GRAPHS
from ..core.errors import BackendUnavailable, BundleError, ShapeError, UnsupportedOption, UsageError
from .base import Generator, RenderPlan, hypernet_extras
from .trt_profiles import Profile



# --------------------------------------------------------------------------- CUDA
def import_cudart():
    """``cuda.bindings.runtime`` (cuda-python >= 12.6), or the older ``cuda.cudart``."""
    try:
        from cuda.bindings import runtime as cudart  # type: ignore[import-not-found]
    except ImportError:
        try:
            from cuda import cudart  # type: ignore[import-not-found,no-redef]
        except ImportError:
            raise BackendUnavailable(
                "backend tensorrt needs NVIDIA's CUDA Python bindings for device memory: pip install cuda-python"
            ) from None
    return cudart


class CudaError(RuntimeError):
    pass


def _call(cudart, result):
    """cuda-python returns ``(error, *values)``: raise on error, return the values."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        try:
            name = cudart.cudaGetErrorName(err)[1]
            name = name.decode() if isinstance(name, bytes) else str(name)
        except Exception:  # noqa: BLE001
            name = str(err)
        raise CudaError(f"CUDA error {int(err)} ({name})")
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)


@dataclass(frozen=True)
class DeviceInfo:
    """The GPU an engine is built for or runs on (what engines and timing caches are tied to)."""

    index: int
    name: str
    compute_capability: tuple[int, int]
    total_memory: int
    cuda_runtime: str
    cuda_driver: str

    @property
    def sm(self) -> str:
        return f"sm_{self.compute_capability[0]}{self.compute_capability[1]}"

    def to_manifest(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name, "compute_capability": ".".join(map(str, self.compute_capability)),
                "total_memory_bytes": self.total_memory, "cuda_runtime": self.cuda_runtime, "cuda_driver": self.cuda_driver}


def _cuda_version(v: int) -> str:
    return f"{v // 1000}.{(v % 1000) // 10}"


class Cuda:
    """The few CUDA runtime calls the runner needs."""

    def __init__(self, device: int = 0) -> None:
        self.cudart = import_cudart()
        self.device = device
        try:
            count = _call(self.cudart, self.cudart.cudaGetDeviceCount())
        except CudaError as e:
            raise BackendUnavailable(f"backend tensorrt needs a CUDA GPU; CUDA reports none usable here ({e})") from None
        if not count:
            raise BackendUnavailable("backend tensorrt needs a CUDA GPU; none found")
        if device >= count:
            raise UsageError(f"CUDA device {device} does not exist; this machine has {count} (0..{count - 1})")
        _call(self.cudart, self.cudart.cudaSetDevice(device))

    def info(self) -> DeviceInfo:
        cr = self.cudart
        props = _call(cr, cr.cudaGetDeviceProperties(self.device))
        name = props.name
        name = name.decode(errors="replace") if isinstance(name, (bytes, bytearray)) else str(name)
        return DeviceInfo(
            self.device, name.split("\x00")[0].strip(), (int(props.major), int(props.minor)), int(props.totalGlobalMem),
            _cuda_version(int(_call(cr, cr.cudaRuntimeGetVersion()))), _cuda_version(int(_call(cr, cr.cudaDriverGetVersion()))),
        )

    def stream(self):
        return _call(self.cudart, self.cudart.cudaStreamCreate())

    def destroy_stream(self, stream) -> None:
        _call(self.cudart, self.cudart.cudaStreamDestroy(stream))

    def synchronize(self, stream) -> None:
        _call(self.cudart, self.cudart.cudaStreamSynchronize(stream))

    def malloc(self, nbytes: int) -> int:
        return int(_call(self.cudart, self.cudart.cudaMalloc(max(1, int(nbytes)))))

    def free(self, ptr: int) -> None:
        _call(self.cudart, self.cudart.cudaFree(ptr))

    def to_device(self, dst: int, src: np.ndarray, stream) -> None:
        kind = self.cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
        _call(self.cudart, self.cudart.cudaMemcpyAsync(dst, src.ctypes.data, src.nbytes, kind, stream))

    def to_host(self, dst: np.ndarray, src: int, stream) -> None:
        kind = self.cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        _call(self.cudart, self.cudart.cudaMemcpyAsync(dst.ctypes.data, src, dst.nbytes, kind, stream))


class DeviceBuffer:
    """A device allocation that grows to the largest size asked of it (never shrinks)."""

    def __init__(self, cuda: Cuda) -> None:
        self.cuda = cuda
        self.ptr = 0
        self.nbytes = 0

    def ensure(self, nbytes: int) -> int:
        if nbytes > self.nbytes:
            self.release()
            self.ptr = self.cuda.malloc(nbytes)
            self.nbytes = nbytes
        return self.ptr

    def release(self) -> None:
        if self.ptr:
            self.cuda.free(self.ptr)
            self.ptr, self.nbytes = 0, 0


# --------------------------------------------------------------------------- TensorRT
MIN_MAJOR = 10


def import_tensorrt():
    """The ``tensorrt`` module, or BackendUnavailable naming why it is not usable."""
    try:
        import tensorrt as trt  # type: ignore[import-not-found]
    except ImportError as e:
        raise BackendUnavailable(f"TensorRT not found ({e})") from None
    except OSError as e:  # wheel present, libraries missing
        raise BackendUnavailable(f"TensorRT is installed but its libraries do not load ({e})") from None
    version = getattr(trt, "__version__", "0")
    try:
        major = int(version.split(".")[0])
    except ValueError:
        major = 0
    if major < MIN_MAJOR:
        raise BackendUnavailable(
            f"TensorRT {version} found; strongly typed engines need TensorRT {MIN_MAJOR} or newer (pip install 'tensorrt>=10')"
        )
    return trt


_LOGGER = None


def trt_logger(trt):
    """One process-wide TensorRT logger at WARNING (TensorRT wants a single logger)."""
    global _LOGGER
    if _LOGGER is None:
        _LOGGER = trt.Logger(trt.Logger.WARNING)
    return _LOGGER



class EngineRunner:
    """One deserialized engine: its contexts (one per profile), stream and buffers."""

    def __init__(self, trt, runtime, path: Path, cuda: Cuda, graph: str, profiles: Sequence[Any]) -> None:
        self.trt, self.cuda, self.graph, self.profiles = trt, cuda, graph, list(profiles)
        data = path.read_bytes()
        self.engine = runtime.deserialize_cuda_engine(data)
        if self.engine is None:
            raise BackendUnavailable(
                f"TensorRT {trt.__version__} could not load {path.name} (built by another TensorRT version or for "
                f"another GPU?); rebuild it with the bundle's build_engines.sh"
            )
        self.inputs, self.outputs, self.dtypes = [], [], {}
        for i in range(self.engine.num_io_tensors):
            name = self.engine.get_tensor_name(i)
            mode = self.engine.get_tensor_mode(name)
            (self.inputs if mode == trt.TensorIOMode.INPUT else self.outputs).append(name)
            self.dtypes[name] = np.dtype(trt.nptype(self.engine.get_tensor_dtype(name)))
        if self.engine.num_optimization_profiles != len(self.profiles):
            raise BundleError(
                f"{path.name} has {self.engine.num_optimization_profiles} optimization profile(s); the manifest lists "
                f"{len(self.profiles)}"
            )
        self.stream = cuda.stream()
        self.contexts: dict[int, Any] = {}
        self.buffers: dict[str, DeviceBuffer] = {}

    def context(self, profile: int):
        if profile not in self.contexts:
            ctx = self.engine.create_execution_context()
            if ctx is None:
                raise BackendUnavailable(f"TensorRT could not create an execution context for {self.graph}.engine (GPU memory?)")
            if not ctx.set_optimization_profile_async(profile, self.stream):
                raise BackendUnavailable(f"TensorRT refused optimization profile {profile} of {self.graph}.engine")
            self.contexts[profile] = ctx
        return self.contexts[profile]

    def profile_for(self, shapes: Mapping[str, Sequence[int]]) -> int:
        for k, p in enumerate(self.profiles):
            if p.accepts(self.graph, shapes):
                return k
        ranges = " and ".join(f"{p.range.text()} batch <= {p.range.max_batch} ({p.name})" for p in self.profiles)
        raise ShapeError(f"inputs of {self.graph}.engine fall outside its profiles {ranges}")

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        arrays = {n: np.ascontiguousarray(feeds[n], dtype=self.dtypes[n]) for n in self.inputs}
        profile = self.profile_for({n: a.shape for n, a in arrays.items()})
        ctx = self.context(profile)
        for name, arr in arrays.items():
            if not ctx.set_input_shape(name, tuple(arr.shape)):
                raise ShapeError(f"TensorRT refused shape {list(arr.shape)} for input {name} of {self.graph}.engine")
            buf = self.buffers.setdefault(name, DeviceBuffer(self.cuda))
            ptr = buf.ensure(arr.nbytes)
            self.cuda.to_device(ptr, arr, self.stream)
            ctx.set_tensor_address(name, ptr)
        missing = ctx.infer_shapes()
        if missing:
            raise ShapeError(f"TensorRT cannot infer the shapes of {', '.join(missing)} in {self.graph}.engine")
        results = {}
        for name in self.outputs:
            shape = tuple(ctx.get_tensor_shape(name))
            out = np.empty(shape, dtype=self.dtypes[name])
            buf = self.buffers.setdefault(name, DeviceBuffer(self.cuda))
            ctx.set_tensor_address(name, buf.ensure(out.nbytes))
            results[name] = out
        if not ctx.execute_async_v3(self.stream):
            raise RuntimeError(f"TensorRT execution of {self.graph}.engine failed (see the TensorRT log)")
        for name, out in results.items():
            self.cuda.to_host(out, self.buffers[name].ptr, self.stream)
        self.cuda.synchronize(self.stream)
        return results

    def close(self) -> None:
        self.contexts.clear()
        for buf in self.buffers.values():
            buf.release()
        self.buffers.clear()
        if self.stream is not None:
            self.cuda.destroy_stream(self.stream)
            self.stream = None
        self.engine = None


def engine_paths(bundle: Bundle) -> dict[str, Path]:
    engines = (bundle.manifest.get("tensorrt") or {}).get("engines", {})
    files = engines.get("files") or {g: f"{g}.engine" for g in GRAPHS}
    # engines built at export are listed in 'files' (checksum checked); engines built later by
    # the bundle's build_engines.sh are not, but must still lie inside the bundle
    if engines.get("built"):
        return {g: bundle.listed_file(f, f"tensorrt.engines.files[{g!r}]") for g, f in files.items()}
    from ..core.bundle import confined

    return {g: confined(bundle.path.resolve(), f, f"tensorrt.engines.files[{g!r}]") for g, f in files.items()}


def engines_missing_message(bundle: Bundle) -> str | None:
    """Why this bundle's engines cannot be run here (None: they are there). Engines built
    after the export by the bundle's build_engines.sh are found by their file names."""
    info = bundle.manifest.get("tensorrt")
    if not info:
        return (f"bundle {bundle.path} has no TensorRT engines (target {bundle.manifest.get('target')}); "
                f"export with --target tensorrt")
    engines = info.get("engines", {})
    paths = engine_paths(bundle)
    if engines.get("built") or all(p.is_file() for p in paths.values()):
        return None
    why = f" (at export: {engines['reason']})" if engines.get("reason") else ""
    return (f"TensorRT engines of bundle {bundle.path} are not built{why}; build them with: bash "
            f"{bundle.path / info.get('build_script', 'build_engines.sh')} on a machine with TensorRT >= 10 (trtexec) "
            f"and an NVIDIA GPU; the tensorrt backend then loads {', '.join(p.name for p in paths.values())}")


class TensorRTGenerator(Generator):
    backend = "tensorrt"

    def __init__(self, bundle: Bundle, device: str = "CUDA", max_memory: int | None = None,
                 threads: int | None = None) -> None:
        super().__init__(bundle.manifest.interface, max_memory)

        self.bundle = bundle
        dev = (device or "CUDA").upper()
        if dev == "CPU":
            dev = "CUDA"  # the CLI's default device; TensorRT runs on the GPU
        if dev != "CUDA" and not (dev.startswith("CUDA:") and dev[5:].isdigit()):
            raise UsageError(f"device {device!r} is not a TensorRT device; valid: CUDA, CUDA:N")
        self.device_index = int(dev[5:]) if ":" in dev else 0
        info = bundle.manifest.get("tensorrt") or {}
        self.profiles = [Profile.from_manifest(p) for p in info.get("profiles", [])]
        self.runners: dict[str, EngineRunner] = {}
        self.cuda: Cuda | None = None
        self.trt_runtime = None

    @classmethod
    def for_benchmark(cls, bundle: Bundle, precision: str, threads: int | None, max_memory: int | None) -> "TensorRTGenerator":
        section = bundle.manifest.get("tensorrt")
        if not section:
            raise UnsupportedOption("TensorRT needs a TensorRT bundle (inrgan-export SRC --target tensorrt)")
        if precision != section.get("precision"):
            raise UnsupportedOption(f"this TensorRT bundle's engines are {section.get('precision')}, not {precision}")
        gen = cls(bundle, max_memory=max_memory, threads=threads)
        why = engines_missing_message(bundle)
        if why is not None:
            raise BackendUnavailable(why)
        return gen

    # ------------------------------------------------------------ sizes
    def range_text(self) -> str:
        if not self.profiles:
            return "(no profiles)"
        if len(self.profiles) == 1:
            return self.profiles[0].range.text()
        return " and ".join(f"{p.range.text()} ({p.name})" for p in self.profiles)

    def check_size_range(self, size: tuple[int, int]) -> None:
        if not any(p.range.contains(size) for p in self.profiles):
            raise ShapeError(
                f"size {size[0]}x{size[1]} is outside this tensorrt bundle's compiled range {self.range_text()}; "
                f"export again with --min-res/--max-res covering it, or render with --backend onnxruntime"
            )

    def plan(self, grid, batch: int) -> RenderPlan:
        """One piece per batch chunk: the engines hold the range's largest grid."""
        size = grid.output_shape
        fitting = [p.range.max_batch for p in self.profiles if p.range.contains(size)]
        chunk = max(fitting) if fitting else 1
        return RenderPlan(min(batch, chunk), (None,), 0)

    # ------------------------------------------------------------ lifecycle
    def activate_impl(self) -> None:
        why = engines_missing_message(self.bundle)
        if why is not None:
            raise BackendUnavailable(why)
        trt = import_tensorrt()

        self.cuda = Cuda(self.device_index)
        self.trt = trt
        self.trt_runtime = trt.Runtime(trt_logger(trt))
        self.runner("hypernet")
        self.runner("inr")

    def runner(self, graph: str) -> EngineRunner:
        if graph not in self.runners:
            assert self.cuda is not None
            path = engine_paths(self.bundle)[graph]
            self.runners[graph] = EngineRunner(self.trt, self.trt_runtime, path, self.cuda, graph, self.profiles)
        return self.runners[graph]

    def deactivate_impl(self) -> None:
        for r in self.runners.values():
            r.close()
        self.runners.clear()
        self.trt_runtime = None

    # ------------------------------------------------------------ inference
    def _max_batch(self) -> int:
        return max((p.range.max_batch for p in self.profiles), default=1)

    def hypernet_impl(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        n = next(iter(feeds.values())).shape[0]
        step = self._max_batch()
        parts = []
        for s in range(0, n, step):
            part = {k: v[s : s + step] for k, v in feeds.items()}
            parts.append(self.runner("hypernet").run(part)[self.interface.theta_name])
        return np.concatenate(parts, axis=0)

    def inr_impl(self, theta: np.ndarray, grid: dict[str, np.ndarray]) -> np.ndarray:
        return self.runner("inr").run({self.interface.theta_name: theta, **grid})[self.interface.output_name]

    def fused_impl(self, z: np.ndarray, grid: dict[str, np.ndarray]) -> np.ndarray:
        extras = hypernet_extras(self.interface.hypernet_inputs[1:], z.shape[0])
        feeds = {self.interface.hypernet_inputs[0]: z, **extras, **grid}
        return self.runner("generator").run(feeds)[self.interface.output_name]
