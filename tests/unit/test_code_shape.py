"""The shape the house keeps (DEVELOPERS.md): production modules under 500 lines, functions under 60."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = ("lambdas", "toolkit", "stacks")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60


def production_modules() -> list[Path]:
    return sorted(p for top in PRODUCTION for p in (ROOT / top).rglob("*.py") if "__pycache__" not in p.parts)


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> list[tuple[str, int]]:
    """Each function (methods and nested ones included) longer than ``limit`` lines, decorators aside."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > limit:
                found.append((node.name, length))
    return found


def test_no_production_module_is_over_500_lines():
    long = {
        str(p.relative_to(ROOT)): n
        for p in production_modules()
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, long


def test_no_production_function_is_over_60_lines():
    long = {
        f"{p.relative_to(ROOT)}:{name}": n for p in production_modules() for name, n in long_functions(p.read_text())
    }
    assert not long, long


def test_the_function_check_counts_a_long_function():
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    assert long_functions(f"def f():\n{body}\n") == [("f", MAX_FUNCTION_LINES + 1)]
    assert long_functions("def g():\n    return 1\n") == []
