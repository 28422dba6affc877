"""The package's layers only point down, and no module imports itself back.

The layer order is written here, once (the README shows it):

    cli            inrgan_export.cli, __main__, the package facade (__init__)
    commands       pipeline (export/verify/convert), render, motion, options, api, inspect_bundle, cluster/
    bench          bench/
    verify         verify
    compile        compile/, calibration/  (the design card's calibration/ is inrgan_export.calibration)
    export         onnx_export
    split          split
    load           checkpoint, runtime/torch_backend (the PyTorch reference needs the models)
    families       families/ (configs, models, presets, importers)
    runtime        errors, log, display, hashing, environment, extras, cache, grid, latents,
                   manifest, bundle, imageio, safejson, signals, latent_bank, contact_sheet,
                   runtime/ — torch-free: what a deployed bundle needs

A module may import from its own layer or any layer below it. Every import counts, also one
inside a function (a lazy import is still a dependency).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = "inrgan_export"

#: lowest first; a module belongs to the first prefix that matches it (most specific listed first)
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("load", ("checkpoint", "runtime.torch_backend")),
    ("runtime", ("_version", "errors", "log", "display", "hashing", "environment", "extras", "cache", "grid", "latents",
                 "manifest", "bundle", "imageio", "safejson", "signals", "latent_bank", "contact_sheet", "runtime")),
    ("families", ("families",)),
    ("split", ("split",)),
    ("export", ("onnx_export",)),
    ("compile", ("compile", "calibration")),
    ("verify", ("verify",)),
    ("bench", ("bench",)),
    ("commands", ("pipeline", "render", "motion", "options", "api", "inspect_bundle", "cluster")),
    ("cli", ("cli", "__main__", "")),
)
ORDER = ("runtime", "families", "load", "split", "export", "compile", "verify", "bench", "commands", "cli")


def module_files() -> dict[str, Path]:
    """Dotted name (relative to the package, '' for its __init__) → source file."""
    out = {}
    for base, prefix in ((ROOT / PKG, ""), (ROOT / "calibration", "calibration")):
        for path in base.rglob("*.py"):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join([p for p in [prefix, *parts] if p])
            out[name] = path
    return out


def layer_of(module: str) -> str:
    for layer, prefixes in LAYERS:
        for prefix in prefixes:
            if module == prefix or (prefix and module.startswith(prefix + ".")):
                return layer
    raise AssertionError(f"module {module!r} is in no layer: add it to LAYERS in tests/test_layers.py")


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """The package modules that ``module`` imports (absolute or relative, at any depth)."""
    is_package = path.name == "__init__.py"
    here = module.split(".") if module else []
    package = here if is_package else here[:-1]
    found = set()

    def resolve(name: str) -> str | None:
        """The package module a dotted name points into (a from-import may name a symbol)."""
        if name != PKG and not name.startswith(PKG + "."):
            return None
        rel = name[len(PKG) + 1:] if name != PKG else ""
        while rel and rel not in known:
            rel = rel.rsplit(".", 1)[0] if "." in rel else ""
        return rel if rel in known else None

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                stem = ".".join([PKG, *base, *([node.module] if node.module else [])])
            else:
                stem = node.module or ""
            for alias in node.names:
                sub = f"{stem}.{alias.name}"
                # `from pkg import submodule` depends on the submodule; `from mod import name` on mod
                targets.append(sub if resolve(sub) == sub[len(PKG) + 1:] else stem)
        for t in targets:
            rel = resolve(t)
            if rel is not None and rel != module:
                found.add(rel)
    return found


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    known = set(files)
    return {m: imports_of(m, p, known) for m, p in files.items()}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for module, deps in graph.items():
        lo = ORDER.index(layer_of(module))
        for dep in deps:
            if ORDER.index(layer_of(dep)) > lo:
                bad.append(f"{module} ({layer_of(module)}) imports {dep} ({layer_of(dep)})")
    return sorted(bad)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_every_module_is_in_a_layer():
    for module in module_files():
        layer_of(module)


def test_imports_only_point_down():
    assert upward_imports(import_graph()) == []


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_runtime_layer_imports_no_export_stack():
    """The deployed runtime's own modules never name torch, onnx, polygraphy or the exporter."""
    heavy = {"torch", "onnx", "onnxscript", "onnxslim", "polygraphy", "yaml"}
    files = module_files()
    offenders = []
    for module, path in files.items():
        if layer_of(module) != "runtime":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
            offenders += [f"{module}: {n}" for n in names if n.split(".")[0] in heavy]
    # environment.library_versions reports torch/onnx versions when they are installed (importlib, by name);
    # the ExecuTorch backend is the one runtime backend documented as needing torch on the host
    # (ExecuTorch's Python runtime takes torch tensors); the registry imports it only when asked for
    assert [o for o in offenders if not o.startswith("runtime.executorch_backend: torch")] == []


@pytest.mark.parametrize("module, source, expected", [
    # the arrows the layering issue listed: each must be caught
    ("checkpoint", "from .families.sg2 import pickle_import", []),
    ("families.sg2.pickle_import", "from ...checkpoint import Checkpoint", ["families.sg2.pickle_import (families) imports checkpoint (load)"]),
    ("compile.openvino", "from .. import pipeline", ["compile.openvino (compile) imports pipeline (commands)"]),
    ("bench.run", "from ..pipeline import build_manifest", ["bench.run (bench) imports pipeline (commands)"]),
    ("runtime.tensorrt_backend", "from ..compile.trt_build import import_tensorrt",
     ["runtime.tensorrt_backend (runtime) imports compile.trt_build (compile)"]),
    ("bundle", "def f():\n    from .checkpoint import sha256_file", ["bundle (runtime) imports checkpoint (load)"]),
])
def test_the_check_catches_upward_arrows(tmp_path, module, source, expected):
    files = module_files()
    fake = tmp_path / "m.py"
    fake.write_text(source + "\n")
    is_pkg = files[module].name == "__init__.py"
    if is_pkg:
        fake = tmp_path / "__init__.py"
        fake.write_text(source + "\n")
    deps = imports_of(module, fake, set(files))
    assert upward_imports({module: deps}) == expected


def test_the_cycle_check_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
