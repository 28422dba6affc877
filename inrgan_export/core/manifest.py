"""The bundle manifest: the typed, versioned contract that every runtime reads (Python, the
C++ runtime, third parties). Its JSON Schema ships in the package (``schema/manifest.schema.json``,
:func:`schema_path`); every manifest this tool writes validates against it.

Versions are ``"MAJOR.MINOR"``. A reader accepts any minor of the majors it knows (minors only
add optional fields) and refuses a newer major with one line naming both versions. Bundles
written before the version became a string carry the integer ``1``, read as ``"1.0"``.

A :class:`Manifest` is immutable: targets return their own sections and the export pipeline
combines them with :meth:`Manifest.merged`, which returns a new manifest. Read access by key
(``manifest["graphs"]``) gives a copy of the JSON value, so nothing downstream can change it.
"""
from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Iterator, Mapping

from .display import DisplayMapping
from .errors import BundleError
from .grid import GridLayout

MANIFEST_FILE = "manifest.json"
SCHEMA_ID = "inrgan-export/bundle"
#: the version this tool writes
MANIFEST_VERSION = "1.1"
#: the majors this tool reads
READABLE_MAJORS = (1,)
#: the graphs of a bundle: per latent, per view, and the two joined at θ
GRAPHS = ("hypernet", "inr", "generator")

#: gate defaults, defined once: FP32 parity (max abs on images in [-1, 1]) and INT8 PSNR
DEFAULT_PARITY_ATOL = 1e-4
DEFAULT_INT8_WORST_DB = 30.0
DEFAULT_INT8_MEDIAN_DB = 35.0

#: top-level fields with a type of their own below; any other key is a target's section
CORE_FIELDS = (
    "schema", "manifest_version", "created", "tool", "family", "target", "precision", "default_backend",
    "config", "interface", "graphs", "theta_layout", "opset", "versions", "provenance", "golden", "parity", "files",
)


def schema_path() -> Path:
    """The JSON Schema (draft 2020-12) of the manifest, shipped inside the package."""
    return Path(str(resources.files("inrgan_export").joinpath("schema/manifest.schema.json")))


def parse_version(value: Any, where: str = "manifest") -> tuple[int, int]:
    """``1`` (bundles of schema v1) → (1, 0); ``"1.1"`` → (1, 1); anything else is refused."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, int):
        major, minor = value, 0
    elif isinstance(value, str) and value.count(".") == 1 and all(p.isdigit() for p in value.split(".")):
        major, minor = (int(p) for p in value.split("."))
    else:
        raise BundleError(f"{where}: field 'manifest_version' is {value!r}; expected \"MAJOR.MINOR\" such as {MANIFEST_VERSION!r}")
    if major not in READABLE_MAJORS:
        raise BundleError(
            f"{where}: manifest version {value} is not readable by this inrgan-export, which reads version "
            f"{MANIFEST_VERSION} (majors {', '.join(map(str, READABLE_MAJORS))}); upgrade inrgan-export"
        )
    return major, minor


# ------------------------------------------------------------------ field checks
def _need(d: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in d:
        raise BundleError(f"{where}: field '{key}' is missing")
    value = d[key]
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise BundleError(f"{where}: field '{key}' is {value!r}; expected a number")
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise BundleError(f"{where}: field '{key}' is {type(value).__name__} {_short(value)}; expected {names}")
    return value


def _positive_int(d: Mapping[str, Any], key: str, where: str) -> int:
    value = _need(d, key, int, where)
    if value < 1:
        raise BundleError(f"{where}: field '{key}' is {value}; expected a positive integer")
    return value


def _size(d: Mapping[str, Any], key: str, where: str) -> tuple[int, int]:
    value = _need(d, key, list, where)
    if len(value) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value):
        raise BundleError(f"{where}: field '{key}' is {_short(value)}; expected [height, width], positive integers")
    return int(value[0]), int(value[1])


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_finite(value: Any, where: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise BundleError(f"{where}: holds a non-finite number ({value})")
    if isinstance(value, dict):
        for k, v in value.items():
            _check_finite(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_finite(v, f"{where}[{i}]")


#: hard limits on the manifest numbers that size work (far above any real generator: the
#: paper's church model has 3 blocks, z_dim 512, θ of ~106k floats, native 256); a number past
#: one is a damaged or hostile manifest, refused before anything is allocated from it
LIMITS = {"num_blocks": 16, "z_dim": 1 << 16, "theta_dim": 1 << 28, "native": 1 << 15, "bytes_per_pixel": 1 << 30}


def check_limits(d: Mapping[str, Any], layout: GridLayout, n_bpp: int, where: str) -> None:
    """Every work-sizing number of the interface within :data:`LIMITS`, naming the field."""
    # where: "<manifest path>: interface"; the field is named as its full path below it
    prefix, _, section = where.rpartition(": ")
    say = f"{prefix}: " if prefix else ""
    where = section
    rule = f"{where}.grid.size_rule"
    checks = [(f"{rule}.num_blocks", layout.num_blocks, LIMITS["num_blocks"]),
              (f"{rule}.native", getattr(layout.size_rule, "native", 1), LIMITS["native"]),
              (f"{where}.z_dim", d.get("z_dim"), LIMITS["z_dim"]),
              (f"{where}.theta_dim", d.get("theta_dim"), LIMITS["theta_dim"])]
    for field_name, value, limit in checks:
        if isinstance(value, int) and not 1 <= value <= limit:
            raise BundleError(f"{say}field '{field_name}' is {value}; this version reads 1 to {limit}")
    bpp = d["memory"]["bytes_per_pixel"]
    if n_bpp != layout.num_blocks:
        raise BundleError(f"{say}field '{where}.memory.bytes_per_pixel' has {n_bpp} values but "
                          f"'{rule}.num_blocks' is {layout.num_blocks}; expected one per block")
    if max(bpp) > LIMITS["bytes_per_pixel"]:
        raise BundleError(f"{say}field '{where}.memory.bytes_per_pixel' holds {max(bpp)}; this version reads at most {LIMITS['bytes_per_pixel']}")
    up = getattr(layout.size_rule, "upsample_block_idx", 0)
    if not 0 <= up < layout.num_blocks:
        raise BundleError(f"{say}field '{rule}.upsample_block_idx' is {up}; expected 0 to {layout.num_blocks - 1}")
    for e in layout.edges:
        if len(e) != 2 or not all(isinstance(b, int) and 0 <= b < layout.num_blocks for b in e):
            raise BundleError(f"{say}field '{where}.grid.resample.edges' holds {_short(list(e))}; "
                              f"expected [source, destination] blocks 0 to {layout.num_blocks - 1}")
    if layout.resample_mode not in ("nearest", "bilinear"):
        raise BundleError(f"{say}field '{where}.grid.resample.mode' is {_short(layout.resample_mode)}; expected nearest or bilinear")


def _display(d: Any, where: str) -> DisplayMapping:
    """``display``: clamp [low, high], scale and offset, finite numbers (a string or a list of
    three is a damaged manifest, named)."""
    if d is None:
        return DisplayMapping.from_manifest(None)
    if not isinstance(d, MappingABC):
        raise BundleError(f"{where}: field 'display' is {_short(d)}; expected an object")
    clamp = d.get("clamp", [-1.0, 1.0])
    if not (isinstance(clamp, (list, tuple)) and len(clamp) == 2 and all(_number(v) for v in clamp) and clamp[0] < clamp[1]):
        raise BundleError(f"{where}.display: field 'clamp' is {_short(clamp)}; expected [low, high] numbers, low < high")
    for key in ("scale", "offset"):
        if key in d and not _number(d[key]):
            raise BundleError(f"{where}.display: field '{key}' is {_short(d[key])}; expected a number")
    return DisplayMapping.from_manifest(d)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# ------------------------------------------------------------------ parts
@dataclass(frozen=True)
class Interface:
    """What a runtime needs to know about a generator, from its model or a bundle manifest."""

    family: str
    z_dim: int
    theta_dim: int
    hypernet_inputs: tuple[str, ...]
    theta_name: str
    output_name: str
    layout: GridLayout
    bytes_per_pixel: tuple[int, ...]
    native_size: tuple[int, int]
    display: DisplayMapping = field(default_factory=DisplayMapping)
    output_range: tuple[float, float] | None = None
    #: the compiled size range (inclusive) of backends with fixed profiles; None = any size
    size_range: tuple[tuple[int, int], tuple[int, int]] | None = None

    def to_manifest(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "z_dim": self.z_dim,
            "theta_dim": self.theta_dim,
            "hypernet_inputs": list(self.hypernet_inputs),
            "theta_name": self.theta_name,
            "output_name": self.output_name,
            "native_size": list(self.native_size),
            "grid": self.layout.to_manifest(),
            "memory": {
                "bytes_per_pixel": list(self.bytes_per_pixel),
                "meaning": "estimated activation bytes per sample of each block, used to choose tiles",
            },
            "display": self.display.to_manifest(),
            "output_range": list(self.output_range) if self.output_range else None,
            "size_range": [list(self.size_range[0]), list(self.size_range[1])] if self.size_range else None,
        }

    @classmethod
    def from_manifest(cls, d: Mapping[str, Any], where: str = "interface") -> "Interface":
        if not isinstance(d, MappingABC):
            raise BundleError(f"{where}: expected an object, got {type(d).__name__}")
        inputs = _need(d, "hypernet_inputs", list, where)
        if not inputs or not all(isinstance(n, str) and n for n in inputs):
            raise BundleError(f"{where}: field 'hypernet_inputs' must list the hypernetwork's input names")
        memory = _need(d, "memory", dict, where)
        bpp = _need(memory, "bytes_per_pixel", list, f"{where}.memory")
        if not bpp or not all(isinstance(b, int) and not isinstance(b, bool) and b >= 0 for b in bpp):
            raise BundleError(f"{where}.memory: field 'bytes_per_pixel' must be non-negative integers, one per block")
        sr = d.get("size_range")
        if sr is not None and not (isinstance(sr, list) and len(sr) == 2):
            raise BundleError(f"{where}: field 'size_range' is {_short(sr)}; expected [[h0, w0], [h1, w1]] or null")
        orange = d.get("output_range")
        if orange is not None and not (isinstance(orange, list) and len(orange) == 2
                                       and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in orange)):
            raise BundleError(f"{where}: field 'output_range' is {_short(orange)}; expected [low, high] numbers or null")
        try:
            layout = GridLayout.from_manifest(_need(d, "grid", dict, where))
        except (KeyError, TypeError, ValueError, OverflowError) as e:
            raise BundleError(f"{where}.grid: {type(e).__name__} {e}; not a grid layout this version reads") from None
        check_limits(d, layout, len(bpp), where)
        return cls(
            family=_need(d, "family", str, where),
            z_dim=_positive_int(d, "z_dim", where),
            theta_dim=_positive_int(d, "theta_dim", where),
            hypernet_inputs=tuple(inputs),
            theta_name=_need(d, "theta_name", str, where),
            output_name=_need(d, "output_name", str, where),
            layout=layout,
            bytes_per_pixel=tuple(int(v) for v in bpp),
            native_size=_size(d, "native_size", where),
            display=_display(d.get("display"), where),
            output_range=(float(orange[0]), float(orange[1])) if orange else None,
            size_range=(_size({"lo": sr[0]}, "lo", f"{where}.size_range"), _size({"hi": sr[1]}, "hi", f"{where}.size_range"))
            if sr else None,
        )


@dataclass(frozen=True)
class FileEntry:
    sha256: str
    bytes: int

    @classmethod
    def from_manifest(cls, rel: str, d: Any) -> "FileEntry":
        where = f"files[{rel!r}]"
        if not isinstance(d, MappingABC):
            raise BundleError(f"{where}: expected an object with sha256 and bytes, got {type(d).__name__}")
        digest = _need(d, "sha256", str, where)
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise BundleError(f"{where}: field 'sha256' is not 64 lowercase hex digits")
        size = _need(d, "bytes", int, where)
        if size < 0:
            raise BundleError(f"{where}: field 'bytes' is {size}; expected >= 0")
        return cls(digest, size)

    def to_manifest(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "bytes": self.bytes}


# ------------------------------------------------------------------ the manifest
@dataclass(frozen=True, eq=False)
class Manifest(MappingABC):
    """The typed manifest. Typed fields for what runtimes rely on; everything else (target
    sections such as ``openvino``, ``tensorrt``, ``int8``) is kept as JSON and read by key."""

    family: str
    target: str
    precision: str
    default_backend: str
    interface: Interface
    version: str = MANIFEST_VERSION
    files: Mapping[str, FileEntry] = field(default_factory=dict)
    #: the whole JSON document (typed fields included), the source of key access and of to_json
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    # ---------------------------------------------------------- construction
    @classmethod
    def from_json(cls, data: Any, where: str = MANIFEST_FILE, require_files: bool = True) -> "Manifest":
        """Validate field by field; every problem is one :class:`BundleError` naming the field."""
        if not isinstance(data, dict):
            raise BundleError(f"{where}: expected a JSON object, got {type(data).__name__}")
        if data.get("schema") != SCHEMA_ID:
            raise BundleError(f"{where}: field 'schema' must be {SCHEMA_ID!r}")
        major, minor = parse_version(data.get("manifest_version"), where)
        _check_finite(data, where)
        iface = Interface.from_manifest(_need(data, "interface", dict, where), f"{where}: interface")
        family = _need(data, "family", str, where)
        if iface.family != family:
            raise BundleError(f"{where}: field 'family' is {family!r} but interface.family is {iface.family!r}")
        graphs = _need(data, "graphs", dict, where)
        for name, entry in graphs.items():
            if not isinstance(entry, dict):
                raise BundleError(f"{where}: graphs[{name!r}] is {type(entry).__name__}; expected an object")
            for kind, value in entry.items():
                if kind in ("inputs", "outputs", "nodes", "quantization", "simplified_with_onnxslim"):
                    continue
                if isinstance(value, str):
                    _check_relative(value, f"{where}: graphs[{name!r}].{kind}")
        files: dict[str, FileEntry] = {}
        if "files" in data or require_files:
            raw_files = _need(data, "files", dict, where)
            for rel, entry in raw_files.items():
                _check_relative(rel, f"{where}: files")
                files[rel] = FileEntry.from_manifest(rel, entry)
        return cls(
            family=family,
            target=_need(data, "target", str, where),
            precision=_need(data, "precision", str, where),
            default_backend=_need(data, "default_backend", str, where),
            interface=iface,
            version=f"{major}.{minor}",
            files=files,
            raw=copy.deepcopy(data),
        )

    @classmethod
    def new(cls, *, family: str, target: str, precision: str, default_backend: str, interface: Interface,
            **fields: Any) -> "Manifest":
        """A manifest being written by this tool (no ``files`` yet: :func:`bundle.write_manifest` adds them)."""
        raw: dict[str, Any] = {
            "schema": SCHEMA_ID,
            "manifest_version": MANIFEST_VERSION,
            "family": family,
            "target": target,
            "precision": precision,
            "default_backend": default_backend,
            "interface": interface.to_manifest(),
            **copy.deepcopy(fields),
        }
        return cls(family, target, precision, default_backend, interface, MANIFEST_VERSION, {}, raw)

    def merged(self, additions: Mapping[str, Any]) -> "Manifest":
        """A new manifest with a stage's additions: ``graphs`` entries merge per graph, any
        other key is set (a target's own section, ``golden``, ``parity``, ...)."""
        raw = copy.deepcopy(dict(self.raw))
        for key, value in additions.items():
            if key in ("schema", "manifest_version", "family", "interface", "files"):
                raise ValueError(f"a stage may not replace manifest field {key!r}")
            if key == "graphs":
                for name, entries in value.items():
                    raw.setdefault("graphs", {}).setdefault(name, {}).update(copy.deepcopy(entries))
            else:
                raw[key] = copy.deepcopy(value)
        return replace(self, raw=raw, target=raw["target"], precision=raw["precision"], default_backend=raw["default_backend"])

    def with_files(self, files: Mapping[str, FileEntry]) -> "Manifest":
        raw = copy.deepcopy(dict(self.raw))
        raw["files"] = {rel: e.to_manifest() for rel, e in files.items()}
        return replace(self, files=dict(files), raw=raw)

    def to_json(self) -> dict[str, Any]:
        return copy.deepcopy(dict(self.raw))

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, allow_nan=False) + "\n"

    # ---------------------------------------------------------- reading
    def section(self, name: str) -> dict[str, Any] | None:
        """A target's section (``openvino``, ``tensorrt``, ``int8``, ...) or None."""
        value = self.raw.get(name)
        return copy.deepcopy(value) if value is not None else None

    def graph_file(self, graph: str, kind: str = "onnx") -> str:
        entry = self.raw.get("graphs", {}).get(graph)
        if not isinstance(entry, dict) or not isinstance(entry.get(kind), str):
            raise BundleError(f"manifest has no {kind} file for graph {graph!r}")
        return entry[kind]

    def __getitem__(self, key: str) -> Any:
        return copy.deepcopy(self.raw[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self.raw)

    def __len__(self) -> int:
        return len(self.raw)


def _check_relative(rel: str, where: str) -> None:
    """Paths in a manifest name files inside the bundle: relative, no '..', no empty parts."""
    parts = rel.replace("\\", "/").split("/")
    if not rel or rel.startswith(("/", "\\")) or (len(rel) > 1 and rel[1] == ":") or any(p in ("", ".", "..") for p in parts):
        raise BundleError(f"{where}: path {rel!r} must be relative to the bundle, without '..'")


__all__ = [
    "CORE_FIELDS", "GRAPHS", "DEFAULT_INT8_MEDIAN_DB", "DEFAULT_INT8_WORST_DB", "DEFAULT_PARITY_ATOL", "FileEntry", "Interface",
    "MANIFEST_FILE", "MANIFEST_VERSION", "Manifest", "READABLE_MAJORS", "SCHEMA_ID", "parse_version", "schema_path",
]
