"""Activation ranges with ONNX Runtime's calibrators, and the calibration cache.

Lifecycle (ONNX Runtime's): create the calibrator on the FP32 graph (it adds outputs for the
MatMul operands) → ``collect_data(reader)`` → ``compute_data()`` → per-tensor ranges. Methods:
``max`` (MinMax), ``percentile`` and ``entropy`` (histograms), all symmetric.

The cache key hashes the graph, the calibration spec (latents, seed, method, resolution range)
and the tool version; a cached file is used only when its stored key equals the key asked for,
so a cache of another model, graph or method is never used (ultralytics#24668 is the failure
this avoids).
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .data import METHODS, CalibrationSpec

CACHE_VERSION = 1


def cache_key(graph_sha256: str, spec: CalibrationSpec, native: tuple[int, int], extra: Mapping[str, Any] | None = None) -> str:
    from .._version import __version__

    payload = {"graph": graph_sha256, "spec": spec.key_fields(), "native": list(native), "tool": __version__,
               "cache_version": CACHE_VERSION, **(extra or {})}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=list).encode()).hexdigest()


def cache_dir() -> Path:
    from ..core.cache import user_cache_dir

    return user_cache_dir("calibration")


def load_cached(key: str) -> dict[str, tuple[float, float]] | None:
    path = cache_dir() / f"{key[:32]}.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if data.get("key") != key:  # a different calibration under a colliding name: never used
        return None
    return {k: (float(v[0]), float(v[1])) for k, v in data["ranges"].items()}


def store(key: str, ranges: Mapping[str, tuple[float, float]], meta: Mapping[str, Any]) -> Path:
    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{key[:32]}.json"
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump({"key": key, "meta": dict(meta), "ranges": {k: list(v) for k, v in ranges.items()}}, f)
    os.replace(tmp, path)
    return path


class _Single:
    def __init__(self, feed):
        self.feed = feed

    def get_next(self):
        feed, self.feed = self.feed, None
        return feed


def calibrate(model_path: Path, reader, spec: CalibrationSpec) -> dict[str, tuple[float, float]]:
    """Per-tensor ranges of every MatMul operand, with ONNX Runtime's calibrator."""
    from onnxruntime.quantization.calibrate import CalibrationMethod, create_calibrator

    if spec.method not in METHODS:
        raise ValueError(f"calibration method {spec.method!r}; valid: {', '.join(METHODS)}")
    method = {"max": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
              "entropy": CalibrationMethod.Entropy}[spec.method]
    extra: dict[str, Any] = {"symmetric": True}
    if spec.method == "percentile":
        extra["percentile"] = spec.percentile
    with tempfile.TemporaryDirectory(prefix="inrgan-calib-") as tmp:
        calibrator = create_calibrator(
            str(model_path), op_types_to_calibrate=["MatMul"], augmented_model_path=str(Path(tmp) / "augmented.onnx"),
            calibrate_method=method, extra_options=extra,
        )
        # one feed per collect_data call: feeds differ in grid size, and the histogram
        # collectors stack each call's outputs (they merge histograms across calls)
        with contextlib.redirect_stdout(io.StringIO()):  # the collectors print their settings
            while (feed := reader.get_next()) is not None:
                calibrator.collect_data(_Single(feed))
            data = calibrator.compute_data()
    out: dict[str, tuple[float, float]] = {}
    for name, td in data.data.items():
        lo, hi = (float(np.asarray(v).reshape(-1)[0]) for v in td.range_value)
        out[name] = (lo, hi)
    return out
