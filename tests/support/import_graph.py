"""The import graph of batchlane's own modules, read from their source (no module is imported):
what the layering rules and the Lambda asset's closure are checked over."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAMBDAS = ROOT / "lambdas"


def private(name: str) -> bool:
    """``a._b``: a module's private name (recorded as imported when ``from a import _b``)."""
    last = name.rsplit(".", 1)[-1]
    return last.startswith("_") and not (last.startswith("__") and last.endswith("__"))


def module_name(base: Path, path: Path) -> str:
    parts = path.relative_to(base).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(module: str, source: str, is_package: bool, known: Iterable[str] = ()) -> set[str]:
    """Every module ``source`` imports, anywhere in it. ``from a import b`` counts as ``a.b`` when that
    is a module (one of ``known``) or a private name, else as ``a``; relative imports are resolved
    against ``module``."""
    known = set(known)
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in known or private(candidate) else base)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
    return found


def asset_modules() -> dict[str, Path]:
    """Every module the Lambda asset (``lambdas/``) holds, by dotted name."""
    return {module_name(LAMBDAS, path): path for path in sorted((LAMBDAS / "batchlane").rglob("*.py"))}


def named_modules(source: str, known: Iterable[str]) -> set[str]:
    """Module names a module holds as strings (``import_module(_EXPORTS[name])``: lazy exports)."""
    return {
        node.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    } & set(known)


def closure(roots: Iterable[str], modules: dict[str, Path]) -> tuple[set[str], set[str]]:
    """The modules of ``modules`` reachable from ``roots`` (importing ``a.b.c`` also runs ``a.b``),
    and the batchlane imports among them that no module of ``modules`` provides."""
    seen: set[str] = set()
    missing: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in modules:
            missing.add(name)
            continue
        seen.add(name)
        source = modules[name].read_text()
        found = imports_of(name, source, modules[name].name == "__init__.py", modules) | named_modules(source, modules)
        for imported in found:
            if imported.partition(".")[0] != "batchlane":
                continue  # another distribution
            if imported not in modules and imported.rpartition(".")[0] in modules:
                imported = imported.rpartition(".")[0]  # a name defined in a module (``from a import _b``)
            parts = imported.split(".")
            todo.extend(".".join(parts[:i]) for i in range(2, len(parts) + 1))
    return seen, missing
