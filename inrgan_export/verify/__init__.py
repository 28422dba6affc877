"""Parity of exported graphs against the PyTorch reference, on Polygraphy's comparator.

Every backend is a Polygraphy runner over the same feeds: the latent bank (seed 0 alone,
batch 1, on every grid; seeds 0..3, batch 4, on the ½ and ¼ grids) on the same grids —
native size, ½ and ¼ of it, 2×, a non-square size, a zoom window inside the image and a
window reaching 25 % beyond it. Our
runtimes enter as :class:`GeneratorRunner` (split path: hypernet then INR, with tiling;
or the fused generator graph); ONNX Runtime also enters as Polygraphy's own
``OnnxrtRunner`` on ``generator.onnx``. ``Comparator.run`` collects the outputs and
``Comparator.compare_accuracy`` applies our gate per runner: FP32 max |diff| ≤
atol · max(1, max |ref|) for every image of a batch (atol = the family's ``parity_atol``,
1e-4; see :class:`Gate` for why the bound scales with the output); reduced precision PSNR ≥
40 dB against FP32 PyTorch on every grid and for every image of a batch (PSNR is per image:
the worst image is gated, the median is reported beside it, so one bad image among clean
ones cannot hide in a batch average); NaN/Inf always fails. θ is held to the same FP32 rule.
Every failure is collected before the verdict, with its value and the threshold applied.

Over 400 lines: feeds, runners, gates and the report of one parity comparison; the public names
of ``inrgan_export.verify`` live here.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from ..core.errors import BundleError
from ..core.display import DisplayMapping
from ..core.manifest import DEFAULT_INT8_WORST_DB, DEFAULT_PARITY_ATOL
from ..core.grid import GridInputs, GridLayout, Window
from ..core.imageio import panel, psnr
from ..core.grid import PARITY_BATCH, ParityGrid, parity_grids  # noqa: F401  (the grids a parity report covers)
from ..core.latents import BANK_SEEDS, latent_bank, latents_from_seeds  # noqa: F401
from ..core.log import progress, step

GOLDEN = "golden.npz"
REDUCED_PSNR_DB = 40.0


# ------------------------------------------------------------------ grids and feeds
@dataclass(frozen=True)
class Feed:
    """One comparator iteration: a grid at a batch size, as the generator graph's inputs."""

    grid: ParityGrid
    batch: int
    arrays: "OrderedDict[str, np.ndarray]"

    @property
    def key(self) -> str:
        return f"{self.grid.key}/b{self.batch}"


def parity_feeds(layout: GridLayout, z_name: str, z_bank: np.ndarray, grids: Sequence[ParityGrid], extra: Sequence[str] = ()) -> list[Feed]:
    """``extra``: the other hypernetwork inputs (sg2: ``truncation_psi``), fed their neutral 1.0."""
    feeds = []
    for grid in grids:
        inputs = layout.build(grid.size, grid.window, batch=1)
        for batch in grid.batches:
            arrays: OrderedDict[str, np.ndarray] = OrderedDict({z_name: z_bank[:batch]})
            arrays.update({name: np.ones(batch, dtype=np.float32) for name in extra})
            arrays.update(inputs.for_batch(batch))
            feeds.append(Feed(grid, batch, arrays))
    return feeds


def feed_fingerprint(feed: Mapping[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(feed):
        arr = np.ascontiguousarray(feed[name])
        h.update(name.encode())
        h.update(str(arr.shape).encode())
        h.update(arr.tobytes())
    return h.hexdigest()


# ------------------------------------------------------------------ runners
def _polygraphy():
    from polygraphy.backend.base import BaseRunner
    from polygraphy.common import TensorMetadata
    from polygraphy.logger import G_LOGGER

    # Polygraphy prints its log to stdout; our report says what matters, and stdout belongs to
    # --json: only what would stop the process (CRITICAL, which it sends to stderr) gets through
    G_LOGGER.module_severity = G_LOGGER.CRITICAL
    G_LOGGER.colors = False
    return BaseRunner, TensorMetadata


def feed_metadata(layout: GridLayout, z_name: str, z_dim: int, extra: Sequence[str] = ()):
    """Polygraphy input metadata of a generator feed (the comparator passes a runner only the
    inputs its metadata names)."""
    _, TensorMetadata = _polygraphy()
    meta = TensorMetadata()
    meta.add(z_name, np.float32, (-1, z_dim))
    for name in extra:
        meta.add(name, np.float32, (-1,))
    for spec in layout.input_specs():
        shape = (-1, 2, -1, -1) if spec.kind == "coords" else (-1,)
        meta.add(spec.name, np.dtype(spec.dtype), shape)
    return meta


def generator_runner(generator, path: str, name: str):
    """A Polygraphy runner over one of our runtimes: feeds are the generator graph's inputs
    (latent + per-grid inputs); ``path`` is ``split`` (hypernet then INR, tiled within the
    memory budget) or ``fused`` (the fused generator graph)."""
    BaseRunner, TensorMetadata = _polygraphy()

    class GeneratorRunner(BaseRunner):
        def __init__(self) -> None:
            super().__init__(name=name)
            self.generator = generator
            self.path = path

        def activate_impl(self) -> None:
            self.generator.activate()

        def get_input_metadata_impl(self):
            iface = self.generator.interface
            return feed_metadata(iface.layout, iface.hypernet_inputs[0], iface.z_dim, iface.hypernet_inputs[1:])

        def infer_impl(self, feed_dict):
            start = time.perf_counter()
            iface = self.generator.interface
            z = feed_dict[iface.hypernet_inputs[0]]
            grid = GridInputs.from_arrays(iface.layout, {k: v for k, v in feed_dict.items() if k != iface.hypernet_inputs[0]})
            if self.path == "fused":
                out = self.generator.generate_fused_on(z, grid)
            else:
                out = self.generator.render_on(self.generator.hypernet(z), grid)
            self.inference_time = time.perf_counter() - start
            return OrderedDict({iface.output_name: out})

        def deactivate_impl(self) -> None:
            self.generator.deactivate()

    return GeneratorRunner()


def golden_runner(outputs: Mapping[str, np.ndarray], output_name: str, name: str, metadata):
    """Replays stored reference outputs, looked up by the fingerprint of each feed."""
    BaseRunner, _ = _polygraphy()

    class GoldenRunner(BaseRunner):
        def __init__(self) -> None:
            super().__init__(name=name)

        def activate_impl(self) -> None:
            pass

        def get_input_metadata_impl(self):
            return metadata

        def infer_impl(self, feed_dict):
            self.inference_time = 0.0
            key = feed_fingerprint(feed_dict)
            if key not in outputs:
                raise BundleError("golden data holds no reference for one of the parity feeds (bundle from another version?)")
            return OrderedDict({output_name: outputs[key]})

        def deactivate_impl(self) -> None:
            pass

    return GoldenRunner()


def onnxrt_runner(path: Path, name: str, threads: int | None = None):
    """Polygraphy's own ONNX Runtime runner on a graph file."""
    from polygraphy.backend.onnxrt import OnnxrtRunner

    from ..backends.onnxruntime_backend import ort_session

    return OnnxrtRunner(ort_session(path, threads), name=name)


def tensorrt_runner(directory: Path, manifest: Mapping, name: str):
    """Polygraphy's own TensorRT runner on a TensorRT bundle's fused ``generator`` engine, on
    the optimization profile that holds the parity grids. None unless TensorRT is importable
    here and the engine exists (TensorRT is optional: nothing imports it otherwise)."""
    import importlib.util

    section = manifest.get("tensorrt") or {}
    from ..core.bundle import confined

    rel = section.get("engines", {}).get("files", {}).get("generator", "generator.engine")
    engine = confined(Path(directory).resolve(), str(rel), "tensorrt.engines.files['generator']")
    if importlib.util.find_spec("tensorrt") is None or not engine.is_file():
        return None
    # TensorRT importing says nothing about a GPU: ask CUDA (through cuda-python, as the
    # tensorrt backend does); without one the tensorrt backend itself reports exit 3.
    if not cuda_device_present():
        return None
    # Checked by reading Polygraphy's source (tools/Polygraphy/polygraphy/cuda/cuda.py in
    # NVIDIA/TensorRT): TrtRunner allocates its buffers with polygraphy.cuda.DeviceArray, whose
    # ctypes wrapper looks for libcudart.so* only in $LD_LIBRARY_PATH, /usr/local/cuda/lib64,
    # /usr/lib and /lib (read from os.environ when the wrapper is first made), then falls back
    # to dlopen("libcudart.so"). A pip-installed TensorRT brings the CUDA runtime as the wheel
    # nvidia-cuda-runtime-cu12 (site-packages/nvidia/cuda_runtime/lib/libcudart.so.12), on
    # none of those paths: add that directory to the search, or skip this runner if there is none.
    if not expose_wheel_cudart():
        return None
    from polygraphy.backend.common import BytesFromPath
    from polygraphy.backend.trt import EngineFromBytes, TrtRunner

    return TrtRunner(EngineFromBytes(BytesFromPath(str(engine))), name=name,
                     optimization_profile=int(section.get("parity_profile", 0)))


def cuda_device_present() -> bool:
    try:
        from ..backends.tensorrt_backend import _call, import_cudart

        cudart = import_cudart()
        return bool(_call(cudart, cudart.cudaGetDeviceCount()))
    except Exception:  # noqa: BLE001 - no bindings, no driver, no device: all mean "no GPU here"
        return False


def expose_wheel_cudart() -> bool:
    """True if Polygraphy's CUDA wrapper will find a libcudart (see tensorrt_runner)."""
    import glob
    import importlib.util
    import os

    dirs = [d for d in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep) if d]
    dirs += ["/usr/local/cuda/lib64", "/usr/lib", "/lib"]
    if any(glob.glob(os.path.join(d, "libcudart.so*")) for d in dirs):
        return True
    spec = importlib.util.find_spec("nvidia.cuda_runtime") if importlib.util.find_spec("nvidia") else None
    for root in (spec.submodule_search_locations or []) if spec else []:
        lib = os.path.join(root, "lib")
        if glob.glob(os.path.join(lib, "libcudart.so*")):
            os.environ["LD_LIBRARY_PATH"] = os.pathsep.join([lib, *dirs[:-3]])
            return True
    return False


# ------------------------------------------------------------------ gates
#: the FP32 rule (recorded as parity.gates[path].rule): max |diff| ≤ atol · max(1, max |ref|), per image
SCALED_RULE = "max_abs_scaled"
#: the FP32 rule of bundles written before the scaled one: max |diff| ≤ atol
ABSOLUTE_RULE = "max_abs"
#: reduced precision and INT8: the worst image's PSNR on the display-mapped picture
PSNR_RULE = "min_psnr"


def relative_error(ref: np.ndarray, out: np.ndarray) -> tuple[float, float]:
    """(max over samples of max |out − ref| / max(1, max |ref|), that sample's max |ref|).

    Samples are axis 0 (the images of a batch, the θ rows of a latent bank): each is judged
    against its own range, as PSNR is per image, so a large-range image cannot loosen the
    bound of a small-range one beside it. NaN/Inf are the caller's to catch."""
    ref64 = np.asarray(ref, dtype=np.float64)
    out64 = np.asarray(out, dtype=np.float64)
    if ref64.ndim < 2:
        ref64, out64 = ref64.reshape(1, -1), out64.reshape(1, -1)
    n = ref64.shape[0]
    diff = np.abs(out64 - ref64).reshape(n, -1).max(axis=1)
    peak = np.abs(ref64).reshape(n, -1).max(axis=1)
    rel = diff / np.maximum(1.0, peak)
    worst = int(np.argmax(rel))
    return float(rel[worst]), float(peak[worst])


@dataclass(frozen=True)
class Gate:
    """FP32: max |diff| ≤ atol · max(1, max |ref|), per image. Reduced precision: PSNR ≥
    min_psnr. NaN/Inf always fails.

    Why the FP32 bound scales with the output: float32 rounds each value to ~6e-8 of its
    own magnitude, so the error an exact export accumulates grows with the output's range.
    A trained generator's range is a property of the model (the authors' released
    generators reach ±16.8), and an absolute 1e-4 refused correct exports of them (1.2e-4 max
    abs, 6e-6 of the range). The floor of 1 keeps the old bound for images in [-1, 1], so no
    model in that range is judged more loosely than before. Max-based rather than a PSNR
    against the range: one wrong pixel fails it, which a mean-based figure can average away.
    ``scaled=False`` is the absolute rule that bundles written before recorded."""

    precision: str
    atol: float | None = None
    min_psnr: float | None = None
    scaled: bool = True

    @property
    def rule(self) -> str:
        return PSNR_RULE if self.atol is None else (SCALED_RULE if self.scaled else ABSOLUTE_RULE)

    def describe(self) -> str:
        if self.atol is None:
            return f"PSNR ≥ {self.min_psnr:g} dB"
        return f"max abs ≤ {self.atol:g}" + ("·max(1, max|ref|)" if self.scaled else "")

    def limit(self, ref_max_abs: float) -> float | None:
        """The max |diff| allowed on an image whose reference peaks at ``ref_max_abs``."""
        if self.atol is None:
            return None
        return self.atol * max(1.0, ref_max_abs) if self.scaled else self.atol

    def passes(self, c: "Comparison") -> bool:
        if c.nan_inf:
            return False
        if self.atol is not None:
            err = c.max_rel if self.scaled else c.max_abs
            if not err <= self.atol:
                return False
        if self.min_psnr is not None and not c.psnr_worst_db >= self.min_psnr:
            return False
        return True

    def to_json(self) -> dict:
        d = {"precision": self.precision, "rule": self.rule, "min_psnr_db": self.min_psnr, "nan_inf": "fails"}
        if self.atol is not None:
            d["atol"] = self.atol
            d["bound"] = ("max|out - ref| <= atol * max(1, max|ref|), per image" if self.scaled
                          else "max|out - ref| <= atol")
        return d

    @classmethod
    def from_json(cls, recorded: Mapping) -> "Gate":
        """The gate a manifest's ``parity.gates`` entry records; entries without ``rule``
        (bundles written before it) hold the absolute rule under ``max_abs``."""
        precision = str(recorded.get("precision", "fp32"))
        rule = recorded.get("rule")

        def number(key: str) -> float | None:
            v = recorded.get(key)
            return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None

        if rule is None and number("max_abs") is not None:
            return cls(precision, atol=number("max_abs"), scaled=False)
        if rule in (None, PSNR_RULE) and number("min_psnr_db") is not None:
            return cls(precision, min_psnr=number("min_psnr_db"))
        if rule in (SCALED_RULE, ABSOLUTE_RULE) and (number("atol") or 0) > 0:
            return cls(precision, atol=number("atol"), scaled=rule == SCALED_RULE)
        raise BundleError(f"parity.gates: rule {rule!r} with atol {recorded.get('atol')!r}, min_psnr_db "
                          f"{recorded.get('min_psnr_db')!r} is not a gate this version reads (rules: {SCALED_RULE}, "
                          f"{ABSOLUTE_RULE} with a positive atol; {PSNR_RULE} with min_psnr_db)")


def gate_for(precision: str, atol: float, int8_min_psnr: float = DEFAULT_INT8_WORST_DB) -> Gate:
    """FP32: max abs scaled to the output; fp16/bf16: PSNR ≥ 40 dB; int8: PSNR ≥ the plan's
    worst-case threshold. PSNR is taken on the display-mapped picture (0..255 before
    rounding), a fixed peak: it is relative to the displayed range already."""
    if precision == "fp32":
        return Gate(precision, atol=atol)
    if precision == "int8":
        return Gate(precision, min_psnr=int8_min_psnr)
    return Gate(precision, min_psnr=REDUCED_PSNR_DB)


def verdict_changes(recorded: Mapping | None, report: "ParityReport") -> str | None:
    """One line when a verdict recomputed now differs from the one the bundle records (a
    bundle judged by the absolute rule it was written with, re-judged by the scaled one),
    else None. The bundle keeps its recorded verdict; re-export it to record the new one."""
    if not isinstance(recorded, Mapping):
        return None
    paths = recorded.get("paths") if isinstance(recorded.get("paths"), Mapping) else {}
    gates = recorded.get("gates") if isinstance(recorded.get("gates"), Mapping) else {}
    changes = []
    for name, now in report.verdicts().items():
        before = paths.get(name, {}).get("passed") if isinstance(paths.get(name), Mapping) else None
        if before is None and not paths and isinstance(recorded.get("passed"), bool):
            before = recorded["passed"]  # bundles written before per-path verdicts
        if not isinstance(before, bool) or before == now["passed"]:
            continue
        g = gates.get(name)
        try:
            old = Gate.from_json(g).describe() if isinstance(g, Mapping) else "its recorded gate"
        except BundleError:
            old = "its recorded gate"
        new = report.gates.get(name, {}).get("description", "")
        changes.append(f"{name} {'PASS' if before else 'FAIL'} → {'PASS' if now['passed'] else 'FAIL'} "
                       f"(recorded under {old}; now {new})")
    if not changes:
        return None
    return "verdict changed from the one recorded in the bundle: " + "; ".join(changes)


# ------------------------------------------------------------------ report
@dataclass
class ParityRow:
    grid: str
    size: str
    window: str
    backend: str
    precision: str
    path: str
    batch: int
    max_abs: float
    mean_abs: float
    psnr_db: float  # the worst image of the batch (the gated figure)
    nan_inf: bool
    gate: str
    passed: bool
    psnr_median_db: float = math.inf  # the median image of the batch
    max_rel: float = 0.0  # the worst image's max |diff| / max(1, max |ref|) (the FP32 gated figure)
    ref_max_abs: float = 0.0  # that image's max |ref|
    limit: float | None = None  # the max |diff| the FP32 gate allowed on that image

    def to_json(self) -> dict:
        d = asdict(self)
        d["psnr_db"] = _json_float(self.psnr_db)
        d["psnr_median_db"] = _json_float(self.psnr_median_db)
        d["max_abs"] = _json_float(self.max_abs)
        d["mean_abs"] = _json_float(self.mean_abs)
        d["max_rel"] = _json_float(self.max_rel)
        return d


@dataclass
class ParityReport:
    reference: str
    rows: list[ParityRow] = field(default_factory=list)
    gates: dict[str, dict] = field(default_factory=dict)
    theta: list[dict] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.rows) and all(t["passed"] for t in self.theta)

    def failures(self) -> list[str]:
        out = []
        for r in self.rows:
            if r.passed:
                continue
            where = f"{r.grid} {r.size}{'' if r.window == '0,0,1,1' else ' window ' + r.window} ({r.path}, batch {r.batch})"
            if r.nan_inf:
                out.append(f"{where}: NaN/Inf in output")
            elif "PSNR" in r.gate:
                out.append(f"{where}: PSNR {r.psnr_db:.1f} dB (worst image; median {_fmt_psnr(r.psnr_median_db)}) "
                           f"< {r.gate.split('≥ ')[1]}")
            else:
                scale = max(1.0, r.ref_max_abs)
                worst = r.max_rel * scale if "max|ref|" in r.gate else r.max_abs
                out.append(f"{where}: max abs {worst:.3g} > {r.limit:.3g}"
                           + (f" ({r.gate.split('≤ ')[1]}, max|ref| {r.ref_max_abs:.3g})" if "max|ref|" in r.gate and scale > 1 else ""))
        for t in self.theta:
            if not t["passed"]:
                out.append(f"theta ({t['path']}): " + (f"max abs {t['max_abs']:.3g} > {t['tolerance']:.3g}"
                                                        if t["tolerance"] is not None and t["max_abs"] != "inf" else "NaN/Inf"))
        return out

    def summary(self) -> dict:
        return {
            "passed": self.passed,
            "worst_max_abs": max((r.max_abs for r in self.rows), default=0.0),
            "worst_max_rel": _json_float(max((r.max_rel for r in self.rows if r.precision == "fp32"), default=0.0)),
            "lowest_psnr_db": _json_float(min((r.psnr_db for r in self.rows), default=math.inf)),
            "gates": self.gates,
            "checks": len(self.rows),
            "failures": self.failures(),
            "paths": self.verdicts(),
        }

    def verdicts(self) -> dict[str, dict]:
        """Per checked path (``openvino split``, ...): its backend, precision and verdict."""
        out: dict[str, dict] = {}
        for r in self.rows:
            v = out.setdefault(r.path, {"backend": r.backend, "precision": r.precision, "passed": True, "checks": 0,
                                        "lowest_psnr_db": math.inf, "worst_max_abs": 0.0, "worst_max_rel": 0.0})
            v["passed"] = v["passed"] and r.passed
            v["checks"] += 1
            v["lowest_psnr_db"] = min(v["lowest_psnr_db"], r.psnr_db)
            v["worst_max_abs"] = max(v["worst_max_abs"], r.max_abs)
            v["worst_max_rel"] = max(v["worst_max_rel"], r.max_rel)
        for v in out.values():
            v["lowest_psnr_db"] = _json_float(v["lowest_psnr_db"])
            v["worst_max_abs"] = _json_float(v["worst_max_abs"])
            v["worst_max_rel"] = _json_float(v["worst_max_rel"])
        return out

    def to_json(self) -> dict:
        return {
            "reference": self.reference,
            "gates": self.gates,
            "images": "raw outputs (range [-1, 1]); PSNR on display-mapped 0..255 values before rounding",
            "passed": self.passed,
            "theta": self.theta,
            "rows": [r.to_json() for r in self.rows],
        }

    def markdown(self) -> str:
        lines = [
            "# Parity report",
            "",
            f"Reference: {self.reference}. Gates: "
            + "; ".join(f"{path}: {g['description']}" for path, g in self.gates.items())
            + ". NaN/Inf anywhere fails. PSNR is on the display-mapped images (0..255, before rounding), per image: "
            "the worst image of the batch is gated, the median image is shown beside it.",
            "",
            f"Verdict: **{'PASS' if self.passed else 'FAIL'}**",
            "",
            "| grid | size | window | path | precision | batch | max abs | max rel | max abs ref | mean abs | PSNR dB worst | PSNR dB median | result |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            lines.append(
                f"| {r.grid} | {r.size} | {r.window} | {r.path} | {r.precision} | {r.batch} | {r.max_abs:.3g} | "
                f"{r.max_rel:.3g} | {r.ref_max_abs:.3g} | "
                f"{r.mean_abs:.3g} | {_fmt_psnr(r.psnr_db)} | {_fmt_psnr(r.psnr_median_db)} | {'✓' if r.passed else '✗'} |"
            )
        for t in self.theta:
            limit = f"tolerance {t['tolerance']:.3g}, {t['rule']}" if t["tolerance"] is not None else f"{t['precision']}: judged by {t['judged_by']}"
            lines += ["", f"θ ({t['path']}): max abs {t['max_abs']:.3g} ({limit}) {'✓' if t['passed'] else '✗'}"]
        return "\n".join(lines) + "\n"

    def table(self) -> str:
        """backend × precision × grid, compact, for the terminal."""
        out = [f"{'grid':<12} {'size':<10} {'window':<22} {'path':<31} {'prec':<5} {'b':>2} {'max abs':>9} {'max rel':>9} {'PSNR':>7}  ok"]
        for r in self.rows:
            out.append(
                f"{r.grid:<12} {r.size:<10} {r.window:<22} {r.path:<31} {r.precision:<5} {r.batch:>2} {r.max_abs:>9.2e} {r.max_rel:>9.2e} "
                f"{_fmt_psnr(r.psnr_db):>7}  {'✓' if r.passed else '✗'}"
            )
        return "\n".join(out)


def _fmt_psnr(v: float) -> str:
    return "inf" if math.isinf(v) else f"{v:.1f}"


def _json_float(v: float):
    return "inf" if math.isinf(v) else float(v)


@dataclass(frozen=True)
class Comparison:
    """One output against its reference. PSNR is per image (axis 0): ``psnr_worst_db`` is the
    gated figure, ``psnr_median_db`` the typical one. ``max_rel`` (see :func:`relative_error`)
    is the FP32 gated figure, ``ref_max_abs`` the max |ref| of the image it comes from."""

    max_abs: float
    mean_abs: float
    psnr_worst_db: float
    psnr_median_db: float
    nan_inf: bool
    max_rel: float = 0.0
    ref_max_abs: float = 0.0


def image_psnrs(ref: np.ndarray, out: np.ndarray, display: DisplayMapping) -> list[float]:
    """PSNR of every image of a batch (axis 0) on its own."""
    return [psnr(ref[i : i + 1], out[i : i + 1], display) for i in range(ref.shape[0])]


def compare(ref: np.ndarray, out: np.ndarray, display: DisplayMapping) -> Comparison:
    bad = not np.isfinite(out).all()
    if out.shape != ref.shape:
        return Comparison(math.inf, math.inf, 0.0, 0.0, bad, math.inf, 0.0)
    diff = np.abs(out.astype(np.float64) - ref.astype(np.float64))
    if bad:
        diff = np.where(np.isfinite(diff), diff, 0.0)
    per_image = image_psnrs(ref, np.nan_to_num(out), display) if ref.ndim == 4 else [psnr(ref, np.nan_to_num(out), display)]
    max_rel, ref_peak = relative_error(ref if ref.ndim == 4 else ref[None], np.nan_to_num(out) if ref.ndim == 4 else np.nan_to_num(out)[None])
    return Comparison(float(diff.max()), float(diff.mean()), float(min(per_image)), float(np.median(per_image)), bad,
                      max_rel, ref_peak)


@dataclass(frozen=True)
class Candidate:
    """A runner to check, with what it is (for the table) and its gate."""

    runner: object
    backend: str
    precision: str
    path: str
    gate: Gate


def run_parity(
    reference, reference_name: str, candidates: Sequence[Candidate], feeds: Sequence[Feed], output_name: str,
    display: DisplayMapping, progress=None,
) -> tuple[ParityReport, dict[str, np.ndarray]]:
    """Run every runner on every feed with Polygraphy's Comparator and gate each candidate
    against the reference. Returns the report and the reference outputs by feed key."""
    from polygraphy.comparator import Comparator

    runners = [_with_progress(r, progress) for r in [reference] + [c.runner for c in candidates]]
    results = Comparator.run(runners, data_loader=[f.arrays for f in feeds])
    ref_name = reference.name
    by_runner = {name: iters for name, iters in results.items()}
    report = ParityReport(reference=reference_name)
    for c in candidates:
        report.gates[c.runner.name] = {**c.gate.to_json(), "description": c.gate.describe()}
    refs = {f.key: np.array(by_runner[ref_name][i][output_name]) for i, f in enumerate(feeds)}
    by_name = {c.runner.name: c for c in candidates}

    def compare_func(ref_iter, run_iter):
        """Polygraphy compare_func: our statistics and gate per output; rows are recorded."""
        i = _iteration_index(ref_iter, results, ref_name)
        feed = feeds[i]
        cand = by_name[run_iter.runner_name]
        out = np.asarray(run_iter[output_name])
        c = compare(np.asarray(ref_iter[output_name]), out, display)
        ok = cand.gate.passes(c)
        report.rows.append(
            ParityRow(feed.grid.label, f"{feed.grid.size[0]}x{feed.grid.size[1]}", feed.grid.window.text(),
                      cand.backend, cand.precision, cand.path, feed.batch, c.max_abs, c.mean_abs, c.psnr_worst_db,
                      c.nan_inf, cand.gate.describe(), ok, c.psnr_median_db, c.max_rel, c.ref_max_abs,
                      cand.gate.limit(c.ref_max_abs))
        )
        return OrderedDict({output_name: ok})

    Comparator.compare_accuracy(
        results, comparisons=[(0, k) for k in range(1, len(runners))], compare_func=compare_func
    )
    order = {f.key: i for i, f in enumerate(feeds)}
    report.rows.sort(key=lambda r: (order[f"{r.grid.replace(' ', '_')}/b{r.batch}"], r.path))
    return report, refs


def _iteration_index(iteration, results, runner_name: str) -> int:
    for i, it in enumerate(results[runner_name]):
        if it is iteration:
            return i
    raise ValueError("iteration not found in the run results")


def _with_progress(runner, progress):
    """The runner itself, with every inference advancing ``progress`` (if any)."""
    if progress is None or getattr(runner, "_counted_by", None) is progress:
        return runner  # already counted by this bar (a runner reused across comparator runs)
    runner._counted_by = progress
    infer = runner.infer

    def counted(*args, **kwargs):
        out = infer(*args, **kwargs)
        progress.update(1)
        return out

    runner.infer = counted
    return runner


def theta_check(reference: np.ndarray, candidate: np.ndarray, path: str, precision: str = "fp32",
                rel_tol: float = DEFAULT_PARITY_ATOL) -> dict:
    """θ of an exported hypernetwork against the reference's.

    FP32 is held to the images' FP32 rule (:class:`Gate`): per latent (row), max |diff| ≤
    ``rel_tol`` · max(1, max |θ_ref|). A reduced-precision hypernetwork (bf16, fp16)
    is not: its θ differs by roughly the precision's rounding of every layer (bf16: 2⁻⁸
    relative per value), which says nothing by itself about the picture. Its θ is judged by
    its effect on the image instead: the split path renders the reduced-precision θ through
    the INR and that image meets the precision's PSNR gate. The θ difference is still
    reported (and NaN/Inf in θ always fails)."""
    finite = bool(np.isfinite(candidate).all())
    max_abs = float(np.abs(candidate.astype(np.float64) - reference).max()) if finite else math.inf
    max_rel, peak = relative_error(reference, candidate) if finite else (math.inf, 0.0)
    gated = precision in ("fp32", "int8")  # INT8 keeps the hypernetwork in FP32
    gate = Gate(precision, atol=rel_tol)
    tol = gate.limit(peak) if gated else None
    passed = finite and (not gated or max_rel <= rel_tol)
    return {"path": path, "precision": precision, "max_abs": _json_float(max_abs), "max_rel": _json_float(max_rel),
            "tolerance": tol, "rule": gate.describe() if gated else None, "passed": passed,
            "judged_by": "max abs" if gated else "the image gate of the split path (θ through the INR)"}


def write_report(report: ParityReport, directory: Path, png_images: Sequence[np.ndarray] | None, display: DisplayMapping) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    jpath = directory / "parity.json"
    jpath.write_text(json.dumps(report.to_json(), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    mpath = directory / "parity.md"
    mpath.write_text(report.markdown(), encoding="utf-8")
    paths = [jpath, mpath]
    if png_images is not None:
        ref, out = png_images
        diff = np.abs(out.astype(np.float64) - ref)
        peak = float(diff.max())
        amp = 1.0 / peak if peak > 0 else 1.0
        diff_img = (np.clip(diff * amp, 0, 1) * 2 - 1).astype(np.float32)
        titles = ["reference (torch)", "exported", f"|diff| x{amp:.2g}" if peak > 0 else "|diff| = 0"]
        paths.append(panel([ref, out, diff_img], titles, directory / "parity.png", display))
    return paths


# ------------------------------------------------------------------ golden data
def save_golden(path: Path, z_bank: np.ndarray, theta: np.ndarray, refs: Mapping[str, np.ndarray], feeds: Iterable[Feed]) -> None:
    """Latent bank, θ and the reference outputs of the largest-batch feed on each grid marked
    golden (a smaller batch's reference is its first images)."""
    arrays = {"z": z_bank.astype(np.float32), "theta": theta.astype(np.float32)}
    for f in feeds:
        if f.grid.golden and f.batch == max(f.grid.batches):
            arrays[f"ref_{f.grid.key}"] = refs[f.key].astype(np.float32)
    np.savez_compressed(path, **arrays)


def golden_manifest(grids: Sequence[ParityGrid]) -> dict:
    return {
        "file": GOLDEN,
        "latent_seeds": list(BANK_SEEDS),
        "reference_batch": PARITY_BATCH,
        "grids": [
            {"key": g.key, "label": g.label, "size": list(g.size), "window": [g.window.x0, g.window.y0, g.window.x1, g.window.y1],
             "batches": list(g.batches)}
            for g in grids
            if g.golden
        ],
    }


def load_golden(bundle_path: Path, manifest: Mapping, layout: GridLayout, z_name: str):
    """(z bank, θ, feeds, {fingerprint: reference output}) from a bundle's golden data."""
    g = manifest.get("golden")
    if not g:
        raise BundleError(f"bundle {bundle_path} has no golden reference data (field 'golden'); verify it with --reference CKPT")
    with np.load(bundle_path / g["file"], allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    # bundles written before per-grid batches checked every golden grid at batch 4 and 1
    grids = [ParityGrid(e["label"], tuple(e["size"]), Window(*e["window"]), batches=tuple(e.get("batches", (PARITY_BATCH, 1))))  # type: ignore[arg-type]
             for e in g["grids"]]
    feeds = parity_feeds(layout, z_name, arrays["z"], grids, manifest["interface"]["hypernet_inputs"][1:])
    outputs = {}
    for f in feeds:
        ref = arrays[f"ref_{f.grid.key}"][: f.batch]
        outputs[feed_fingerprint(f.arrays)] = ref
    return arrays["z"], arrays["theta"], feeds, outputs


# ------------------------------------------------------------------ a bundle's parity, assembled
def check_runtimes(runtimes, directory: Path, manifest, ref_runner, ref_name: str, feeds: list[Feed],
                   threads: int | None) -> tuple[ParityReport, dict[str, np.ndarray]]:
    """Every runtime of the target (split and fused paths) plus Polygraphy's ONNX Runtime runner
    on the fused graph (where the bundle has one), against the reference, on the same feeds."""
    from ..families import get_family

    family = get_family(manifest["family"])
    atol = family.export_spec.parity_atol
    int8_min = float((manifest.get("int8") or {}).get("gates", {}).get("worst_threshold_db", DEFAULT_INT8_WORST_DB))
    candidates = []
    for rt in runtimes:
        for path in rt.paths:
            name = f"{rt.backend} {path}"
            gate = gate_for(rt.precision, atol, int8_min)
            candidates.append(Candidate(generator_runner(rt.generator, path, name), rt.backend, rt.precision, name, gate))
    fused = (manifest["graphs"].get("generator") or {}).get("onnx")
    untiled = []
    if fused:
        name = "onnxruntime fused (polygraphy)"
        onnx_precision = manifest.get("onnx_precision", "fp32")  # precision-typed graphs (int8 Q/DQ, fp16)
        untiled.append(Candidate(onnxrt_runner(directory / fused, name, threads), "onnxruntime", onnx_precision, name,
                                 gate_for(onnx_precision, atol, int8_min)))
    trt = tensorrt_runner(directory, manifest, "tensorrt fused (polygraphy)")  # None without TensorRT and engines
    if trt is not None:
        p = manifest["tensorrt"]["precision"]
        candidates.append(Candidate(trt, "tensorrt", p, trt.name, gate_for(p, atol, int8_min)))
    # Polygraphy's ONNX Runtime runner takes a whole image at once: on grids above native size
    # its buffers alone exceed a laptop's memory (church at 2×: ~4.5 GB), so it checks the grids
    # up to native size that are marked for the fused graph, and our runtimes (tiled) every grid
    native = tuple(manifest["interface"]["native_size"])
    small = [f for f in feeds if f.grid.fused and f.grid.size[0] * f.grid.size[1] <= native[0] * native[1]]
    large = [f for f in feeds if f not in small]
    output = manifest["interface"]["output_name"]
    grids = len({f.grid.key for f in feeds})
    with step(f"parity of {len(candidates) + len(untiled)} path(s) against {ref_name} on {grids} grids"):
        with progress(len(small) * (len(candidates) + len(untiled) + 1) + len(large) * (len(candidates) + 1), "parity") as bar:
            report, refs = run_parity(ref_runner, ref_name, candidates + untiled, small, output, family.display, bar)
            if large:
                more, more_refs = run_parity(ref_runner, ref_name, candidates, large, output, family.display, bar)
                report.rows += more.rows
                refs.update(more_refs)
                order = {f.key: i for i, f in enumerate(feeds)}
                report.rows.sort(key=lambda r: (order[f"{r.grid.replace(' ', '_')}/b{r.batch}"], r.path))
            for c in untiled:
                report.gates[c.runner.name]["grids"] = (f"{', '.join(sorted({f.grid.label for f in small}))} "
                                                        f"(up to native size {native[0]}x{native[1]}, untiled)")
            return report, refs


def check_thetas(report: ParityReport, runtimes, z_bank: np.ndarray, theta_ref: np.ndarray,
                 atol: float = DEFAULT_PARITY_ATOL) -> None:
    for rt in runtimes:
        with rt.generator as gen:
            report.theta.append(theta_check(theta_ref, gen.hypernet(z_bank[: theta_ref.shape[0]]), f"{rt.backend} hypernet",
                                            rt.precision, atol))


def first_images(runtimes, refs: dict[str, np.ndarray], feeds: list[Feed]):
    """(reference, exported) images of the first latent on the native grid, for parity.png."""
    feed = next(f for f in feeds if f.batch == 1)
    with runtimes[0].generator as gen:
        out = gen.generate(feed.arrays[gen.interface.hypernet_inputs[0]], feed.grid.size, feed.grid.window)
    return refs[feed.key][0], out[0]


def reference_name() -> str:
    import torch

    return f"PyTorch {torch.__version__} eager, float32, CPU"
