"""The package's layers only point down, no module imports itself back, and no folder of the
package reaches a folder that reaches it back.

The layer order is written here, once (the README shows it), lowest first. The folders of
``inrgan_export/`` are the layers; inside the torch-free foundation (``core/``, ``backends/``)
and ``load/`` the modules are ordered too, so an arrow inside one folder is checked like any other:

    cli            inrgan_export.cli, __main__, the package facade (__init__)
    commands       commands/ (one module per CLI command)
    app            app/ (pipeline, render, options, inspect_bundle), api, cluster/
    measure        measure/ (the bench command's MACs and timing)
    verify         verify/
    compile        compile/ (targets and their registry)
    calibration    calibration/ (installed as inrgan_export.calibration)
    export         exporter/ (ONNX export, the ONNX graph index)
    split          load/split
    load           load/sources, load/torch_backend (the PyTorch reference needs the models)
    families       families/ (configs, models, presets, importers)
    backends.registry   backends/__init__ (the registry, open_bundle)
    backends            backends/<name>_backend (one per backend)
    backends.base       backends/base (the Generator interface), backends/trt_profiles
    core.bundle         core/bundle, core/contact_sheet
    core.manifest       core/manifest
    core.data           core/grid, latents, imageio, latent_bank
    core.base           core/errors, log, signals, hashing, display, cache, safejson, extras,
                        environment, _version

A module may import from its own layer or any layer below it. Every arrow counts: an import
statement anywhere (a lazy import is still a dependency), a string naming a package module in
``importlib.import_module(...)`` or ``__import__(...)``, and a module path in a registry
(``"module:Class"`` resolved against the registry's own package, or ``"inrgan_export.x.y[:Class]"``).
A dynamic import whose module is not a literal is allowed only in the modules listed in
:data:`DYNAMIC_IMPORTS` (registries whose strings are checked, or imports of third-party names).
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = "inrgan_export"

#: lowest first. An entry ``X`` holds module X and everything under it; ``=X`` holds X only;
#: a module belongs to its longest matching entry (an exact one wins at equal length).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("core.base", ("_version", "=core", "core.errors", "core.log", "core.signals", "core.hashing", "core.display",
                   "core.cache", "core.safejson", "core.extras", "core.environment")),
    ("core.data", ("core.grid", "core.latents", "core.imageio", "core.latent_bank")),
    ("core.manifest", ("core.manifest",)),
    ("core.bundle", ("core.bundle", "core.contact_sheet")),
    ("backends.base", ("backends.base", "backends.trt_profiles")),
    ("backends", ("backends",)),
    ("backends.registry", ("=backends",)),
    ("families", ("families",)),
    ("load", ("=load", "load.sources", "load.torch_backend")),
    ("split", ("load.split",)),
    ("export", ("exporter",)),
    ("calibration", ("calibration",)),
    ("compile", ("compile",)),
    ("verify", ("verify",)),
    ("measure", ("measure",)),
    ("app", ("app", "api", "cluster")),
    ("commands", ("commands",)),
    ("cli", ("cli", "__main__", "=")),
)
ORDER = tuple(layer for layer, _ in LAYERS)
#: the layers a deployed bundle needs (torch-free)
RUNTIME_LAYERS = tuple(layer for layer in ORDER if layer.startswith(("core.", "backends")))

#: modules allowed an import_module/__import__ whose module is not a literal, and why
DYNAMIC_IMPORTS = {
    "backends": "the backend registry: its 'module:Class' strings are followed as arrows",
    "compile": "the target registry: its 'module:Class' strings are followed as arrows",
    "families.base": "the family registry: its 'inrgan_export.families.*' strings are followed as arrows",
    "core.environment": "third-party library versions by name (torch, onnx, ...), never a package module",
    "exporter.onnx_export": "third-party library versions by name, never a package module",
}


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
    best: tuple[int, int, str] | None = None
    for layer, entries in LAYERS:
        for entry in entries:
            exact = entry.startswith("=")
            name = entry[1:] if exact else entry
            hit = module == name or (not exact and module.startswith(name + "."))
            if hit and (best is None or (len(name), exact) > best[:2]):
                best = (len(name), exact, layer)
    if best is None:
        raise AssertionError(f"module {module!r} is in no layer: add it to LAYERS in tests/test_layers.py")
    return best[2]


def _resolver(known: set[str]):
    def resolve(name: str) -> str | None:
        """The package module a dotted name points into (a from-import may name a symbol)."""
        if name != PKG and not name.startswith(PKG + "."):
            return None
        rel = name[len(PKG) + 1:] if name != PKG else ""
        while rel and rel not in known:
            rel = rel.rsplit(".", 1)[0] if "." in rel else ""
        return rel if rel in known else None
    return resolve


#: a registry's module path: "module:Class" (relative to the registry's package) or an absolute
#: "inrgan_export.x.y" / "inrgan_export.x.y:Class"
REGISTRY_RELATIVE = re.compile(r"^([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*):([A-Za-z_]\w*)$")
REGISTRY_ABSOLUTE = re.compile(rf"^({PKG}(?:\.[A-Za-z_]\w*)+)(?::[A-Za-z_]\w*)?$")


def _is_dynamic_import(node: ast.Call) -> bool:
    f = node.func
    return (isinstance(f, ast.Attribute) and f.attr == "import_module") or (isinstance(f, ast.Name) and f.id in (
        "__import__", "import_module"))


def _static_string(node: ast.AST, module: str, package: list[str]) -> str | None:
    """The value of a literal or an f-string made of literals and ``__name__``/``__package__``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        out = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                out.append(str(part.value))
            elif isinstance(part, ast.FormattedValue) and isinstance(part.value, ast.Name) and \
                    part.value.id in ("__name__", "__package__"):
                out.append(".".join([PKG, *(module.split(".") if part.value.id == "__name__" and module else
                                            package)]).rstrip("."))
            else:
                return None
        return "".join(out)
    return None


def arrows_of(module: str, path: Path, known: set[str]) -> tuple[set[str], set[str], list[str]]:
    """(imported modules, modules named by strings, unresolved dynamic imports) of ``module``."""
    is_package = path.name == "__init__.py"
    here = module.split(".") if module else []
    package = here if is_package else here[:-1]
    resolve = _resolver(known)
    imports: set[str] = set()
    strings: set[str] = set()
    unresolved: list[str] = []
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
        elif isinstance(node, ast.Call) and _is_dynamic_import(node) and node.args:
            value = _static_string(node.args[0], module, package)
            if value is None:
                unresolved.append(f"{module}: line {node.lineno}: {ast.unparse(node)}")
            elif resolve(value) is not None:
                strings.add(resolve(value))  # type: ignore[arg-type]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            strings |= _registry_targets(node.value, package, resolve)
        imports |= {r for r in map(resolve, targets) if r is not None}
    imports.discard(module)
    strings.discard(module)
    return imports, strings, unresolved


def _registry_targets(text: str, package: list[str], resolve) -> set[str]:
    m = REGISTRY_ABSOLUTE.match(text)
    if m:
        r = resolve(m.group(1))
        # a module path names a module exactly ("inrgan_export.ort_usability" is a logger's name)
        return {r} if r is not None and m.group(1) == ".".join([PKG, r]) else set()
    m = REGISTRY_RELATIVE.match(text)
    if m:
        full = ".".join([PKG, *package, m.group(1)])
        r = resolve(full)
        # only a module named by the string itself (not the package it falls back to)
        return {r} if r is not None and full == ".".join([PKG, r]) else set()
    return set()


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """The package modules that ``module`` depends on: imports and module strings."""
    imports, strings, _ = arrows_of(module, path, known)
    return imports | strings


def import_graph(with_strings: bool = True) -> dict[str, set[str]]:
    files = module_files()
    known = set(files)
    graph = {}
    for m, p in files.items():
        imports, strings, _ = arrows_of(m, p, known)
        graph[m] = imports | strings if with_strings else imports
    return graph


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for module, deps in graph.items():
        lo = ORDER.index(layer_of(module))
        for dep in deps:
            if ORDER.index(layer_of(dep)) > lo:
                bad.append(f"{module} ({layer_of(module)}) imports {dep} ({layer_of(dep)})")
    return sorted(bad)


def unresolved_dynamic_imports(files: dict[str, Path]) -> list[str]:
    known = set(files)
    out = []
    for m, p in files.items():
        out += [u for u in arrows_of(m, p, known)[2] if m not in DYNAMIC_IMPORTS]
    return sorted(out)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
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


def folder_of(module: str) -> str:
    """The package folder a module lives in (a top-level module is its own node)."""
    return module.split(".")[0] if module else "__init__"


def folder_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    folders: dict[str, set[str]] = {}
    for module, deps in graph.items():
        src = folder_of(module)
        folders.setdefault(src, set()).update(folder_of(d) for d in deps if folder_of(d) != src)
    return cycles(folders)


def test_every_module_is_in_a_layer():
    for module in module_files():
        layer_of(module)


def test_imports_only_point_down():
    assert upward_imports(import_graph()) == []


def test_no_import_cycles():
    # import statements only: a registry naming its implementations, which import the
    # registry's interface back, is the designed shape (families.base <-> families.paper)
    assert cycles(import_graph(with_strings=False)) == []


def test_no_folder_cycles():
    assert folder_cycles(import_graph()) == []


def test_dynamic_imports_are_resolved_or_allowed():
    assert unresolved_dynamic_imports(module_files()) == []


def test_registries_are_followed():
    """The registries' strings are real arrows (so an upward one would be caught)."""
    graph = import_graph()
    assert {"backends.onnxruntime_backend", "backends.executorch_backend"} <= graph["backends"]
    assert {"compile.onnx", "compile.tensorrt"} <= graph["compile"]
    assert {"families.paper", "families.sg2"} <= graph["families.base"]


def test_runtime_layer_imports_no_export_stack():
    """The deployed runtime's own modules never name torch, onnx, polygraphy or the exporter."""
    heavy = {"torch", "onnx", "onnxscript", "onnxslim", "polygraphy", "yaml"}
    files = module_files()
    offenders = []
    for module, path in files.items():
        if layer_of(module) not in RUNTIME_LAYERS:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
            offenders += [f"{module}: {n}" for n in names if n.split(".")[0] in heavy]
    # environment.library_versions reports torch/onnx versions when they are installed (importlib, by name);
    # the ExecuTorch backend is the one runtime backend documented as needing torch on the host
    # (ExecuTorch's Python runtime takes torch tensors); the registry imports it only when asked for
    assert [o for o in offenders if not o.startswith("backends.executorch_backend: torch")] == []


def _deps_of_snippet(tmp_path: Path, module: str, source: str) -> tuple[set[str], list[str]]:
    files = module_files()
    fake = tmp_path / ("__init__.py" if files[module].name == "__init__.py" else "m.py")
    fake.write_text(source + "\n")
    imports, strings, unresolved = arrows_of(module, fake, set(files))
    return imports | strings, unresolved


@pytest.mark.parametrize("module, source, expected", [
    # the arrows the layering issue listed: each must be caught
    ("load.sources", "from ..families.sg2 import pickle_import", []),
    ("families.sg2.pickle_import", "from ...load.sources import load_checkpoint",
     ["families.sg2.pickle_import (families) imports load.sources (load)"]),
    ("compile.openvino", "from ..app import pipeline", ["compile.openvino (compile) imports app.pipeline (app)"]),
    ("measure.run", "from ..app.pipeline import build_manifest", ["measure.run (measure) imports app.pipeline (app)"]),
    ("backends.tensorrt_backend", "from ..compile.trt_build import import_tensorrt",
     ["backends.tensorrt_backend (backends) imports compile.trt_build (compile)"]),
    ("core.bundle", "def f():\n    from ..load.sources import sha256_file", ["core.bundle (core.bundle) imports load.sources (load)"]),
    # strings given to importlib / __import__
    ("core.bundle", "import importlib\ndef f():\n    return importlib.import_module('inrgan_export.verify')",
     ["core.bundle (core.bundle) imports verify (verify)"]),
    ("backends.base", "def f():\n    return __import__('inrgan_export.app.pipeline')",
     ["backends.base (backends.base) imports app.pipeline (app)"]),
    ("core", "import importlib\nm = importlib.import_module(f'{__name__}.bundle')", ["core (core.base) imports core.bundle (core.bundle)"]),
    ("compile.onnx", "from importlib import import_module\nm = import_module(f'{__package__}.tensorrt')", []),
    ("calibration.plan", "import importlib\nm = importlib.import_module('inrgan_export.measure.run')",
     ["calibration.plan (calibration) imports measure.run (measure)"]),
    # module strings in registries
    ("backends", "BACKENDS = {'torch': BackendSpec('torch', 'inrgan_export.load.torch_backend:TorchGenerator')}",
     ["backends (backends.registry) imports load.torch_backend (load)"]),
    ("families.base", "FAMILY_MODULES = {'x': 'inrgan_export.app.render'}", ["families.base (families) imports app.render (app)"]),
    ("compile", "TARGETS = {'x': 'onnx:OnnxTarget'}", []),
    ("backends", "BACKENDS = {'x': BackendSpec('x', 'onnxruntime_backend:OnnxRuntimeGenerator')}", []),
    # arrows inside one folder, against the order of its modules
    ("core.errors", "from .bundle import Bundle", ["core.errors (core.base) imports core.bundle (core.bundle)"]),
    ("core.grid", "from .manifest import Manifest", ["core.grid (core.data) imports core.manifest (core.manifest)"]),
    ("backends.base", "from .onnxruntime_backend import ort_session",
     ["backends.base (backends.base) imports backends.onnxruntime_backend (backends)"]),
    ("backends.onnxruntime_backend", "from . import open_bundle",
     ["backends.onnxruntime_backend (backends) imports backends (backends.registry)"]),
    ("load.sources", "from .split import split", ["load.sources (load) imports load.split (split)"]),
])
def test_the_check_catches_upward_arrows(tmp_path, module, source, expected):
    deps, _ = _deps_of_snippet(tmp_path, module, source)
    assert upward_imports({module: deps}) == expected


def test_a_dynamic_import_of_an_unknown_module_is_caught(tmp_path):
    deps, unresolved = _deps_of_snippet(tmp_path, "core.bundle", "import importlib\ndef f(name):\n    return importlib.import_module(name)")
    assert deps == set() and len(unresolved) == 1 and "core.bundle: line 3" in unresolved[0]
    files = dict(module_files())
    fake = tmp_path / "bundle.py"
    fake.write_text("import importlib\ndef f(name):\n    return importlib.import_module(name)\n")
    files["core.bundle"] = fake
    assert unresolved_dynamic_imports(files) == [unresolved[0]]


def test_the_cycle_check_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_folder_cycle_check_finds_the_compile_calibration_cycle(tmp_path):
    """Before this layout calibration/qdq.py imported compile.precision's private toposort while
    compile/ imports calibration/: no module cycle, but a cycle between the two folders."""
    assert folder_cycles({"compile.onnx": {"calibration.export"}, "calibration.export": {"calibration.qdq"},
                          "calibration.qdq": {"compile.precision"}, "compile.precision": set()}) == [["calibration", "compile"]]
    graph = import_graph()
    deps, _ = _deps_of_snippet(tmp_path, "calibration.qdq", "def _toposort(model):\n    from ..compile.precision import _toposort")
    graph["calibration.qdq"] = graph["calibration.qdq"] | deps
    assert folder_cycles(graph) == [["calibration", "compile"]]
    statements = import_graph(with_strings=False)
    statements["calibration.qdq"] = statements["calibration.qdq"] | deps
    assert cycles(statements) == []  # the module graph alone does not see it
