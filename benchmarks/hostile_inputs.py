"""Builders of small hostile input files, one per attack class of issue 19.

Shared by the catalogue script (benchmarks/hostile_catalogue.py) and the tests
(tests/test_hostile_loaders.py and others, through tests/hostile_inputs.py). Every file is tiny; each one aims at CPU time, memory or
the state of the loading process rather than at running code. ``CLASSES`` maps a class name
to ``(builder, cli_args)``: ``builder(dir)`` writes the file and returns its path, and
``cli_args(path, dir)`` is the command line that feeds it to the CLI.
"""
from __future__ import annotations

import os
import pickle
import struct
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from sg2_pickle_writer import Global, NewObj, Reduce, dumps, network_pickle

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"  # fixture files (data, not code)
SG2_TINY = DATA / "sg2" / "tiny.pkl"


def _tiny_sg2():
    from inrgan_export.load.sources import demo_checkpoint

    return demo_checkpoint("sg2-tiny").build()


def _g_ema_state(data: dict) -> dict:
    return data["G_ema"].args[0]["state"]


def shared_dag(levels: int) -> list:
    """Each list holds the previous one twice: ``levels`` memo entries, 2**levels leaves."""
    node: list = [0]
    for _ in range(levels):
        node = [node, node]
    return node


def deep_list(depth: int) -> list:
    node: list = []
    for _ in range(depth):
        node = [node]
    return node


# ------------------------------------------------------------------ released-format pickles
def pickle_kwargs_dag(out: Path, levels: int = 24) -> Path:
    data = network_pickle(_tiny_sg2(), extras=False)
    _g_ema_state(data)["_init_kwargs"]["cfg"]["junk"] = shared_dag(levels)
    out.write_bytes(dumps(data))
    return out


def pickle_modules_dag(out: Path, levels: int = 24) -> Path:
    """``_modules`` of a module hold the same child twice, ``levels`` deep."""
    data = network_pickle(_tiny_sg2(), extras=False)
    node: Any = Reduce(Global("torch_utils.persistence", "_reconstruct_persistent_obj"), (
        {"type": "class", "version": 6, "module_src": "#", "class_name": "Leaf", "state": {}},))
    for i in range(levels):
        node = Reduce(Global("torch_utils.persistence", "_reconstruct_persistent_obj"), (
            {"type": "class", "version": 6, "module_src": "#", "class_name": f"Fork{i}",
             "state": {"_modules": OrderedDict(a=node, b=node)}},))
    _g_ema_state(data)["_modules"]["fork"] = node
    out.write_bytes(dumps(data))
    return out


def pickle_self_list(out: Path) -> Path:
    data = network_pickle(_tiny_sg2(), extras=False)
    loop: list = [1]
    loop.append(loop)
    _g_ema_state(data)["_init_kwargs"]["cfg"]["junk"] = loop
    out.write_bytes(dumps(data))
    return out


def pickle_self_modulelist(out: Path) -> Path:
    data = network_pickle(_tiny_sg2(), extras=False)
    modules: OrderedDict = OrderedDict()
    rec = NewObj(Global("torch.nn.modules.container", "ModuleList"), state={"_parameters": OrderedDict(), "_buffers": OrderedDict(), "_modules": modules})
    modules["0"] = rec  # the pickler memoizes the record before its state: a real cycle
    _g_ema_state(data)["_modules"]["loop"] = rec
    out.write_bytes(dumps(data))
    return out


def pickle_deep_list(out: Path, depth: int = 5000) -> Path:
    import sys

    data = network_pickle(_tiny_sg2(), extras=False)
    _g_ema_state(data)["_init_kwargs"]["cfg"]["junk"] = deep_list(depth)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 4 * depth + 1000))  # the pure-Python pickler recurses
    try:
        out.write_bytes(dumps(data))
    finally:
        sys.setrecursionlimit(old)
    return out


def pickle_stride0(out: Path, side: int = 16384) -> Path:
    """``mapping.w_avg`` declared as side x side float32 over a one-element storage."""
    data = network_pickle(_tiny_sg2(), extras=False)
    mapping = _g_ema_state(data)["_modules"]["mapping"].args[0]["state"]
    mapping["_buffers"]["w_avg"] = torch.zeros(1).expand(side, side)
    out.write_bytes(dumps(data))
    return out


def _build_on(module: str, name: str, state: Any) -> bytes:
    """Opcodes that push the global ``module.name`` and BUILD ``state`` on it (``state`` may
    hold :class:`Global` records)."""
    import io

    from sg2_pickle_writer import _Pickler

    buf = io.BytesIO()
    _Pickler(buf, protocol=2).dump(state)  # protocol 2: no frames to splice around
    return b"c" + f"{module}\n{name}\n".encode() + buf.getvalue()[2:-1] + pickle.BUILD + pickle.POP


def pickle_build_poison(out: Path) -> Path:
    """BUILD (slot state: setattr) on objects the unpickler's find_class hands out: a rebuild
    function's ``__defaults__`` and ``__name__``, a shared type reference's name and
    ``__class__`` (to an allow-listed stand-in class). With the C unpickler every one of these
    succeeds and outlives the load; the file itself then fails (its top level is None)."""
    parts = [
        _build_on("torch._utils", "_rebuild_parameter", (None, {"__defaults__": (False, [1]), "__name__": "poisoned"})),
        _build_on("typing", "Any", (None, {"qualname": "poisoned"})),
        _build_on("builtins", "dict", (None, {"__class__": Global("omegaconf.nodes", "AnyNode")})),
    ]
    out.write_bytes(b"\x80\x02" + b"".join(parts) + b"N.")
    return out


def pickle_interp_dag(out: Path, levels: int = 40) -> Path:
    """OmegaConf interpolations that each name the previous level twice (expansion 2**levels)."""
    data = network_pickle(_tiny_sg2(), extras=False)
    cfg = _g_ema_state(data)["_init_kwargs"]["cfg"]
    cfg["l0"] = {"x": 1}
    for i in range(1, levels + 1):
        cfg[f"l{i}"] = {"a": f"${{l{i - 1}}}", "b": f"${{l{i - 1}}}"}
    out.write_bytes(dumps(data))
    return out


# ------------------------------------------------------------------ our .pt format
def pt_huge_config(out: Path, dim: int = 200000) -> Path:
    from inrgan_export.load.sources import demo_checkpoint

    payload = demo_checkpoint("tiny").to_payload()
    payload["config"] = dict(payload["config"], mapping_hid_dim=dim)
    torch.save(payload, out)
    return out


class _Call:
    def __init__(self, func: Callable, arg: Any) -> None:
        self.func, self.arg = func, arg

    def __reduce__(self):
        return (self.func, (self.arg,))


def pt_os_system(out: Path) -> Path:
    marker = out.with_suffix(".ran")
    torch.save({"format": "inrgan-export/checkpoint", "trap": _Call(os.system, f"touch {marker}")}, out)
    return out


# ------------------------------------------------------------------ .npy latents
def npy_huge_rows(out: Path, rows: int = 10**12, cols: int = 8) -> Path:
    """A valid .npy header declaring rows x cols float32 over 64 bytes of data."""
    header = {"descr": "<f4", "fortran_order": False, "shape": (rows, cols)}
    text = repr(header).encode("latin1")
    pad = 64 - (10 + len(text) + 1) % 64
    text += b" " * pad + b"\n"
    out.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + np.zeros(16, "<f4").tobytes())
    return out


# ------------------------------------------------------------------ manifest JSON
def manifest_deep(out_dir: Path, depth: int = 100000) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "manifest.json").write_text('{"schema": ' + "[" * depth + "]" * depth + "}")
    return out_dir


def manifest_big(out_dir: Path, mbytes: int = 64) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "manifest.json", "w") as f:
        f.write('{"schema": "inrgan-export/bundle", "pad": "')
        chunk = "x" * (1 << 20)
        for _ in range(mbytes):
            f.write(chunk)
        f.write('"}')
    return out_dir


# ------------------------------------------------------------------ catalogue
def _convert(path: Path, d: Path) -> list[str]:
    return ["convert", str(path), "-o", str(d / (path.stem + "_out.pt"))]


def _render(path: Path, d: Path) -> list[str]:
    return ["render", str(path), "--seed", "1", "-o", str(d / (path.stem + "_out.png"))]


def _latent(path: Path, d: Path) -> list[str]:
    return ["render", "demo:tiny", "--latent", str(path), "-o", str(d / (path.stem + "_out.png"))]


#: class name -> (builder(dir) -> path, cli_args(path, dir))
CLASSES: dict[str, tuple[Callable[[Path], Path], Callable[[Path, Path], list[str]]]] = {
    "pickle: init kwargs shared-reference DAG, 24 levels": (lambda d: pickle_kwargs_dag(d / "dag24.pkl", 24), _convert),
    "pickle: init kwargs shared-reference DAG, 40 levels": (lambda d: pickle_kwargs_dag(d / "dag40.pkl", 40), _convert),
    "pickle: _modules shared-reference DAG, 40 levels": (lambda d: pickle_modules_dag(d / "mdag40.pkl", 40), _convert),
    "pickle: self-referencing list": (lambda d: pickle_self_list(d / "selflist.pkl"), _convert),
    "pickle: self-referencing ModuleList": (lambda d: pickle_self_modulelist(d / "selfml.pkl"), _convert),
    "pickle: 5000-deep list": (lambda d: pickle_deep_list(d / "deep.pkl"), _convert),
    "pickle: stride-(0,0) tensor declaring 16384^2": (lambda d: pickle_stride0(d / "stride0.pkl"), _convert),
    "pickle: BUILD on find_class results": (lambda d: pickle_build_poison(d / "poison.pkl"), _convert),
    "pickle: interpolation DAG, 40 levels": (lambda d: pickle_interp_dag(d / "interp40.pkl"), _convert),
    ".pt: mapping_hid_dim 200000": (lambda d: pt_huge_config(d / "hugedim.pt"), _render),
    ".pt: pickles os.system": (lambda d: pt_os_system(d / "system.pt"), _render),
    ".npy: header claims 10^12 rows": (lambda d: npy_huge_rows(d / "rows.npy"), _latent),
    "manifest: 100000-deep JSON": (lambda d: manifest_deep(d / "deep_bundle"), _render),
    "manifest: 64 MB JSON": (lambda d: manifest_big(d / "big_bundle"), _render),
}
