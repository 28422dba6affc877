"""Engine building with TensorRT's Python API.

Written against the TensorRT >= 10 Python API (``tensorrt.Builder``, ``OnnxParser``,
``IBuilderConfig``, ``IProgressMonitor``); exercised wherever TensorRT and a GPU exist. The
steps, in the order data flows:

1. parse the precision-typed ONNX file into a **strongly typed** network
   (``NetworkDefinitionCreationFlag.STRONGLY_TYPED``: every tensor's type is the ONNX
   graph's; no FP16/BF16 builder flags — TensorRT 11 removed them, and every 10.x has the
   strongly typed flag, so no 10.x build needs them). Parser errors are reported per node;
2. one optimization profile per resolution range (``set_shape(name, min, opt, max)`` for
   every input);
3. TF32 off: the FP32 islands of an FP16 graph and FP32 bundles exist for accuracy, and
   TF32 keeps 10 mantissa bits, no more than FP16 (Polygraphy disables it too);
4. the timing cache: loaded when its key (TensorRT version, GPU name and compute
   capability) matches this build, refused with a printed line otherwise (never used
   silently; ``ignore_mismatch=False`` makes TensorRT check it as well); saved next to the
   engines after the build;
5. progress from TensorRT's ``IProgressMonitor`` (one line per finished top-level phase);
6. the serialized engine, and its metadata for the manifest.
"""
from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..core.errors import InrganError
from ..core.log import info
from ..backends.tensorrt_backend import trt_logger
from ..backends.trt_profiles import Profile

TIMING_CACHE = "timing.cache"
TIMING_CACHE_KEY = "timing.cache.json"
WORKSPACE_FRACTION = 0.5  # of the GPU's memory, the builder's scratch space limit


# --------------------------------------------------------------------------- timing cache
@dataclass(frozen=True)
class TimingCacheKey:
    """What a timing cache is valid for: timing caches are model-independent, but specific
    to the TensorRT version and the GPU."""

    tensorrt: str
    gpu: str
    compute_capability: str

    def to_json(self) -> dict[str, str]:
        return {"tensorrt": self.tensorrt, "gpu": self.gpu, "compute_capability": self.compute_capability}

    def text(self) -> str:
        return f"TensorRT {self.tensorrt} on {self.gpu} (sm {self.compute_capability})"


def read_cache_key(directory: Path) -> TimingCacheKey | None:
    p = directory / TIMING_CACHE_KEY
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
        return TimingCacheKey(str(d["tensorrt"]), str(d["gpu"]), str(d["compute_capability"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_timing_cache(config, sources: Sequence[Path], key: TimingCacheKey):
    """A timing cache for ``config``: the first source directory whose cache has this key;
    mismatched ones are refused with a line saying why. Returns (cache, where it came from)."""
    for directory in sources:
        path = directory / TIMING_CACHE
        if not path.is_file():
            continue
        found = read_cache_key(directory)
        if found != key:
            made = found.text() if found else "an unknown TensorRT/GPU (no timing.cache.json)"
            info(f"  timing cache {path} refused: made by {made}; this build is {key.text()}")
            continue
        cache = config.create_timing_cache(path.read_bytes())
        if cache is not None:
            return cache, str(path)
    return config.create_timing_cache(b""), None


def save_timing_cache(config, directory: Path, key: TimingCacheKey) -> Path:
    cache = config.get_timing_cache()
    path = directory / TIMING_CACHE
    with open(path, "wb") as f:
        f.write(memoryview(cache.serialize()))
    (directory / TIMING_CACHE_KEY).write_text(json.dumps(key.to_json(), indent=2) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- progress
def progress_monitor(trt, label: str):
    """TensorRT's IProgressMonitor printing one line per finished top-level phase (None where
    this TensorRT has no progress monitor)."""
    base = getattr(trt, "IProgressMonitor", None)
    if base is None:
        return None

    class LineMonitor(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            base.__init__(self)
            self.started: dict[str, tuple[float, str | None, int]] = {}

        def phase_start(self, phase_name, parent_phase, num_steps):
            self.started[phase_name] = (time.perf_counter(), parent_phase, num_steps)

        def step_complete(self, phase_name, step):
            return True  # never cancel

        def phase_finish(self, phase_name):
            t0, parent, steps = self.started.pop(phase_name, (time.perf_counter(), None, 0))
            if parent is None:
                info(f"  [{label}] {phase_name}: {steps} step(s) in {time.perf_counter() - t0:.1f} s")

    return LineMonitor()


# --------------------------------------------------------------------------- parsing
class ParseError(InrganError):
    """TensorRT's ONNX parser rejected a graph (exit 1: the graphs are ours to fix)."""


def describe_parser_error(err) -> str:
    """One parser error as 'node N 'name' (Op): description [code]'."""
    def get(attr: str, default: Any = None) -> Any:
        fn = getattr(err, attr, None)
        try:
            return fn() if callable(fn) else default
        except Exception:  # noqa: BLE001 - older parsers lack some accessors
            return default

    node, name, op = get("node", -1), get("node_name", ""), get("node_operator", "")
    where = f"node {node}" if node is not None and node >= 0 else "graph"
    if name:
        where += f" {name!r}"
    if op:
        where += f" ({op})"
    return f"{where}: {get('desc', str(err))} [{get('code', '')}]"


def _major(trt) -> int:
    try:
        return int(str(getattr(trt, "__version__", "0")).split(".")[0])
    except ValueError:
        return 0


def parse_onnx(trt, builder, path: Path):
    """A strongly typed network from an ONNX file; ParseError names every failing node."""
    flags = 0
    strongly_typed_flag = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
    if strongly_typed_flag is not None:
        flags |= 1 << int(strongly_typed_flag)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, trt_logger(trt))
    ok = parser.parse_from_file(str(path))
    if not ok:
        errors = [describe_parser_error(parser.get_error(i)) for i in range(parser.num_errors)]
        for e in errors:
            info(f"  TensorRT ONNX parser: {path.name}: {e}")
        raise ParseError(f"TensorRT's ONNX parser rejected {path.name}: " + "; ".join(errors[:3])
                         + (f"; and {len(errors) - 3} more" if len(errors) > 3 else ""))
    # Checked against TensorRT's API reference and the 10.x -> 11.x migration guide
    # (docs.nvidia.com/deeplearning/tensorrt, NetworkDefinitionCreationFlag): on 10.x strong
    # typing is opt-in through this flag, so get_flag() must confirm it; from 11.0 every network
    # is strongly typed, the flag "is retained for API compatibility but is ignored", and what
    # get_flag() returns for it is not documented, so it is not asked there.
    strongly_typed = True
    if _major(trt) < 11:
        with contextlib.suppress(AttributeError, TypeError):
            if strongly_typed_flag is not None:
                strongly_typed = bool(network.get_flag(strongly_typed_flag))
    if not strongly_typed:
        raise InrganError(f"TensorRT {trt.__version__} did not create a strongly typed network for {path.name}")
    return network, parser


# --------------------------------------------------------------------------- building
@dataclass(frozen=True)
class EngineResult:
    graph: str
    engine: str
    onnx: str
    bytes: int
    seconds: float
    layers: int

    def to_manifest(self) -> dict[str, Any]:
        return {"engine": self.engine, "onnx": self.onnx, "bytes": self.bytes, "build_seconds": round(self.seconds, 2),
                "layers": self.layers}


def build_engine(trt, onnx_path: Path, engine_path: Path, graph: str, profiles: Sequence[Profile], timing_cache,
                 workspace: int | None = None) -> EngineResult:
    """Parse, configure (profiles, TF32 off, timing cache, progress) and build one engine."""
    t0 = time.perf_counter()
    builder = trt.Builder(trt_logger(trt))
    network, _parser = parse_onnx(trt, builder, onnx_path)
    config = builder.create_builder_config()
    with contextlib.suppress(AttributeError):
        config.clear_flag(trt.BuilderFlag.TF32)
    if workspace:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace))
    names = {network.get_input(i).name for i in range(network.num_inputs)}
    for prof in profiles:
        p = builder.create_optimization_profile()
        shapes = {s.name: s for s in prof.graphs[graph]}
        missing = names - set(shapes)
        if missing:
            raise InrganError(f"profile {prof.name} has no shapes for input(s) {', '.join(sorted(missing))} of {graph}")
        for name in sorted(names):
            s = shapes[name]
            p.set_shape(name, s.min, s.opt, s.max)
        if config.add_optimization_profile(p) < 0:
            raise InrganError(f"TensorRT refused optimization profile {prof.name} of {graph}")
    config.set_timing_cache(timing_cache, ignore_mismatch=False)
    monitor = progress_monitor(trt, graph)
    if monitor is not None:
        config.progress_monitor = monitor
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise InrganError(f"TensorRT could not build {engine_path.name} from {onnx_path.name} (see the TensorRT log above)")
    with open(engine_path, "wb") as f:
        f.write(memoryview(serialized))
    # the config's cache now holds this build's timings: the next engine reuses it
    return EngineResult(graph, engine_path.name, onnx_path.name, engine_path.stat().st_size, time.perf_counter() - t0,
                        network.num_layers)


def build_engines(trt, directory: Path, onnx_files: dict[str, str], profiles: Sequence[Profile], device,
                  cache_sources: Sequence[Path] = ()) -> dict[str, Any]:
    """Build ``<graph>.engine`` for every graph (``{graph: onnx file}``) in ``directory`` with
    one shared timing cache; returns the manifest's ``tensorrt.engines`` section."""
    key = TimingCacheKey(trt.__version__, device.name, ".".join(map(str, device.compute_capability)))
    builder = trt.Builder(trt_logger(trt))
    config = builder.create_builder_config()
    cache, cache_from = load_timing_cache(config, [directory, *cache_sources], key)
    workspace = int(device.total_memory * WORKSPACE_FRACTION) if device.total_memory else None
    results = {}
    for graph, onnx_file in onnx_files.items():
        engine_path = directory / f"{graph}.engine"
        from ..core.log import step

        with step(f"building {engine_path.name} from {onnx_file} with TensorRT {trt.__version__} "
                  f"({len(profiles)} profile(s), strongly typed)", engine_path):
            results[graph] = build_engine(trt, directory / onnx_file, engine_path, graph, profiles, cache, workspace)
    # every build config shared the one cache object; save it from a config that holds it
    config.set_timing_cache(cache, ignore_mismatch=False)
    cache_path = save_timing_cache(config, directory, key)
    return {
        "built": True,
        "tensorrt": trt.__version__,
        "gpu": device.to_manifest(),
        "strongly_typed": True,
        "tf32": False,
        "graphs": {g: r.to_manifest() for g, r in results.items()},
        "timing_cache": {"file": cache_path.name, "key_file": TIMING_CACHE_KEY, "key": key.to_json(),
                         "loaded_from": cache_from},
    }
