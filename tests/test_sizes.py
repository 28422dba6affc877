"""Size limits that keep the package readable, read from the sources at the repository root:
no function over 80 lines (every ``def``: methods and nested functions included), and a module
over 400 lines says why in its docstring ("Over 400 lines: ...")."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("inrgan_export", "calibration")
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 400
WHY = "Over 400 lines:"


def sources() -> dict[str, str]:
    return {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8")
            for base in SOURCES for p in sorted((ROOT / base).rglob("*.py"))}


def long_functions(name: str, source: str, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """``file:line name (N lines)`` for every function longer than ``limit`` (decorators excluded)."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            n = node.end_lineno - node.lineno + 1  # type: ignore[operator]
            if n > limit:
                out.append(f"{name}:{node.lineno} {node.name} ({n} lines)")
    return out


def long_modules_without_reason(files: dict[str, str], limit: int = MAX_MODULE_LINES) -> list[str]:
    out = []
    for name, source in files.items():
        n = len(source.splitlines())
        if n > limit and WHY not in (ast.get_docstring(ast.parse(source)) or ""):
            out.append(f"{name} ({n} lines): its docstring does not say why ({WHY!r})")
    return out


def test_no_function_over_80_lines():
    assert [f for name, src in sources().items() for f in long_functions(name, src)] == []


def test_long_modules_say_why():
    assert long_modules_without_reason(sources()) == []


def _function(name: str, body_lines: int, indent: str = "") -> str:
    return "".join([f"{indent}def {name}():\n", *(f"{indent}    x = {i}\n" for i in range(body_lines - 1))])


def test_the_function_check_counts_every_def():
    assert long_functions("m.py", _function("ok", 80)) == []
    assert long_functions("m.py", _function("f", 81)) == ["m.py:1 f (81 lines)"]
    method = "class C:\n" + _function("method", 81, "    ")
    assert long_functions("m.py", method) == ["m.py:2 method (81 lines)"]
    nested = "def outer():\n" + _function("inner", 81, "    ") + "    return inner\n"
    assert long_functions("m.py", nested) == ["m.py:1 outer (83 lines)", "m.py:2 inner (81 lines)"]
    assert long_functions("m.py", "async " + _function("a", 90)) == ["m.py:1 a (90 lines)"]


def test_the_module_check_wants_a_reason():
    body = "x = 1\n" * 400
    assert long_modules_without_reason({"short.py": '"""Doc."""\n' + "x = 1\n" * 399}) == []
    assert long_modules_without_reason({"long.py": '"""Doc."""\n' + body}) == [
        f"long.py (401 lines): its docstring does not say why ({WHY!r})"]
    assert long_modules_without_reason({"long.py": f'"""Doc.\n\n{WHY} one protocol."""\n' + body[:-6]}) == []
    # a comment is not the docstring
    assert long_modules_without_reason({"long.py": f"# {WHY} one protocol\n" + body}) != []
