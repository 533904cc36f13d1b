"""What the synthesized functions' code asset holds: exactly the handlers' import closure."""

from __future__ import annotations

from pathlib import Path

from batchlane.deployment.contract import FUNCTIONS
from import_graph import asset_modules, closure, module_name


def code_asset(synth) -> Path:
    """The asset directory of the functions' code (the one holding batchlane's handlers)."""
    handlers = {
        p["Properties"]["Handler"]
        for p in synth.resources("AWS::Lambda::Function").values()
        if p["Properties"].get("Handler", "").startswith("batchlane.")
    }
    assert handlers
    (asset,) = [d for d in synth.outdir.glob("asset.*") if (d / "batchlane" / "launch" / "handler.py").is_file()]
    return asset


def test_the_functions_code_asset_is_the_handlers_import_closure(dev):
    asset = code_asset(dev)
    packaged = {module_name(asset, path) for path in asset.rglob("*.py")}
    handlers = {shape.handler.rpartition(".")[0] for shape in FUNCTIONS.values()}
    assert packaged == closure(handlers, asset_modules())[0]
    assert not [p for p in asset.rglob("*") if p.is_file() and p.suffix != ".py"], "only Python sources"
