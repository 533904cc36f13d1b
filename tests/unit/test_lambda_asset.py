"""The Lambda asset (``lambdas/``, packaged whole by ``stacks/runtime.py``) is exactly what the handlers
import: no module a function never runs, none missing. Client-side code lives in ``toolkit/``."""

from __future__ import annotations

import json
import subprocess
import sys

from batchlane.deployment.contract import FUNCTIONS
from import_graph import LAMBDAS, asset_modules, closure


def handler_modules() -> set[str]:
    return {shape.handler.rpartition(".")[0] for shape in FUNCTIONS.values()}


def test_the_asset_holds_exactly_the_handlers_import_closure():
    modules = asset_modules()
    needed, missing = closure(handler_modules(), modules)
    assert not missing, f"imported by the functions but not in lambdas/: {sorted(missing)}"
    assert handler_modules() <= needed
    assert not set(modules) - needed, f"in lambdas/ but no handler imports them: {sorted(set(modules) - needed)}"


def test_a_client_module_imported_by_the_runtime_is_reported_missing(tmp_path):
    modules = asset_modules()
    rogue = tmp_path / "handler.py"
    rogue.write_text(
        "from batchlane.client.view import status_view\nfrom batchlane.common.executions import LaunchPartition\n"
    )
    modules["batchlane.launch.handler"] = rogue
    needed, missing = closure(["batchlane.launch.handler"], modules)
    assert missing == {"batchlane.client", "batchlane.client.view"}
    assert "batchlane.common.executions" in needed


def test_a_module_no_handler_imports_is_left_over(tmp_path):
    modules = asset_modules()
    modules["batchlane.status.view"] = tmp_path / "view.py"
    modules["batchlane.status.view"].write_text("from batchlane.status.fold import LaunchStatus\n")
    needed, _ = closure(handler_modules(), modules)
    assert set(modules) - needed == {"batchlane.status.view"}


def test_the_handlers_import_from_the_asset_alone():
    """In a fresh interpreter whose only batchlane code is ``lambdas/``, every handler imports and
    every batchlane module loaded comes from the asset (nothing from ``toolkit/``)."""
    script = f"""
import importlib, json, sys
sys.path[:0] = [{str(LAMBDAS)!r}]
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in type(f).__module__.lower()]
sys.path[:] = [p for p in sys.path if not p.startswith({str(LAMBDAS.parent / "toolkit")!r})]
for module in {sorted(handler_modules())!r}:
    importlib.import_module(module)
print(json.dumps({{n: getattr(m, "__file__", None) for n, m in sys.modules.items() if n.startswith("batchlane.")}}))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd="/")
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert {name for name in loaded if not name.startswith("batchlane.") or name.count(".") == 0} == set()
    outside = {name: file for name, file in loaded.items() if file and not file.startswith(str(LAMBDAS))}
    assert not outside
    assert handler_modules() <= set(loaded)
