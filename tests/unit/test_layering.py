"""Which package may import which: the rules, checked over the imports of every module under
``lambdas/batchlane``, ``toolkit/batchlane`` and ``stacks`` (function-level imports and
``importlib.import_module("...")`` of a constant name included).

A rule names the modules it applies to and the imports they must not make; a violation prints as
``module -> import (rule)``. Adding a rule is one entry in ``RULES``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from import_graph import imports_of, module_name, private

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ((ROOT / "lambdas", "batchlane"), (ROOT / "toolkit", "batchlane"), (ROOT, "stacks"))

# Pure modules: they decide, shape and validate; AWS is reached through ports, never from here.
DOMAIN = frozenset(
    {
        "batchlane.routing.engine",
        "batchlane.routing.items",
        "batchlane.flyteadmin",
        "batchlane.launch.models",
        "batchlane.launch.planner",
        "batchlane.launch.validation",
        "batchlane.status.fold",
        "batchlane.status.events",
        "batchlane.client.links",
        "batchlane.status.outputs",
        "batchlane.client.view",
        "batchlane.common.executions",
        "batchlane.common.values",
        "batchlane.common.settings",
    }
)


def within(*packages: str) -> Callable[[str], bool]:
    """The modules of these packages (a package's own ``__init__`` included)."""
    return lambda name: any(name == p or name.startswith(p + ".") for p in packages)


def adapters(name: str) -> bool:
    return name.startswith("batchlane.") and name.rsplit(".", 1)[-1] == "adapters"


def handlers(name: str) -> bool:
    return name.startswith("batchlane.") and name.rsplit(".", 1)[-1] == "handler"


@dataclass(frozen=True)
class Rule:
    name: str
    applies_to: Callable[[str], bool]
    forbids: Callable[[str], bool]

    def violations(self, imports: Mapping[str, set[str]]) -> list[str]:
        return [
            f"{module} -> {imported} ({self.name})"
            for module in sorted(imports)
            if self.applies_to(module)
            for imported in sorted(imports[module])
            if self.forbids(imported) and imported != module
        ]


RULES = (
    Rule("the runtime package never imports the CDK app", within("batchlane"), within("stacks")),
    Rule("the runtime package never imports the CDK", within("batchlane"), within("aws_cdk", "constructs", "cdk_nag")),
    Rule(
        "the CDK app never imports the clients",
        within("stacks"),
        within("batchlane.cli", "batchlane.client", "batchlane.sandbox"),
    ),
    Rule(
        "the sandbox and the client layer never import the CLI",
        within("batchlane.sandbox", "batchlane.client"),
        within("batchlane.cli"),
    ),
    Rule("the client layer never imports the sandbox", within("batchlane.client"), within("batchlane.sandbox")),
    Rule(
        "domain modules are pure",
        DOMAIN.__contains__,
        lambda name: (
            within("boto3", "botocore", "batchlane.cli", "batchlane.sandbox")(name)
            or (within("batchlane.client")(name) and name not in DOMAIN)
            or adapters(name)
            or handlers(name)
        ),
    ),
    Rule(
        "only handlers (and the sandbox) import adapters",
        lambda name: not handlers(name) and not within("batchlane.sandbox")(name),
        adapters,
    ),
    Rule("launch does not import status", within("batchlane.launch"), within("batchlane.status")),
    Rule("status does not import launch", within("batchlane.status"), within("batchlane.launch")),
    Rule(
        "common imports no other batchlane package",
        within("batchlane.common"),
        lambda name: within("batchlane")(name) and name != "batchlane" and not within("batchlane.common")(name),
    ),
    Rule("no module imports another's private names", within("batchlane", "stacks"), private),
    Rule(
        "only batchlane.flyte imports flytekit (an extra, never in the Lambda layer)",
        lambda name: not within("batchlane.flyte")(name),
        within("flytekit", "flytekitplugins", "flyteidl"),
    ),
    Rule(
        "nothing imports batchlane.flyte (the runtime package imports without flytekit)",
        lambda name: not within("batchlane.flyte")(name),
        within("batchlane.flyte"),
    ),
)


def project_imports() -> dict[str, set[str]]:
    files = {module_name(base, path): path for base, top in SOURCES for path in sorted((base / top).rglob("*.py"))}
    return {name: imports_of(name, path.read_text(), path.name == "__init__.py", files) for name, path in files.items()}


def check(imports: Mapping[str, set[str]], rules: Iterable[Rule] = RULES) -> list[str]:
    return [violation for rule in rules for violation in rule.violations(imports)]


def test_every_package_imports_only_what_its_layer_may():
    imports = project_imports()
    assert {"batchlane.client.api", "batchlane.cli.main", "batchlane.sandbox.demo", "stacks.app_factory"} <= set(
        imports
    )
    violations = check(imports)
    assert not violations, "\n" + "\n".join(violations)


@pytest.mark.parametrize(
    "module, source, expected",
    [
        (
            "batchlane.client.api",
            "def f():\n    from batchlane.cli.main import main\n",
            "batchlane.client.api -> batchlane.cli.main (the sandbox and the client layer never import the CLI)",
        ),
        (
            "batchlane.sandbox.demo",
            "from ..cli import routes\n",
            "batchlane.sandbox.demo -> batchlane.cli.routes (the sandbox and the client layer never import the CLI)",
        ),
        (
            "batchlane.status.fold",
            "import boto3.dynamodb.types\n",
            "batchlane.status.fold -> boto3.dynamodb.types (domain modules are pure)",
        ),
        (
            "batchlane.client.status",
            "from flytekit.models.task import TaskTemplate\n",
            "batchlane.client.status -> flytekit.models.task "
            "(only batchlane.flyte imports flytekit (an extra, never in the Lambda layer))",
        ),
        (
            "batchlane.launch.service",
            "from batchlane.launch import adapters\n",
            "batchlane.launch.service -> batchlane.launch.adapters (only handlers (and the sandbox) import adapters)",
        ),
        (
            "batchlane.common.aws",
            "import importlib\nimportlib.import_module('batchlane.client.view')\n",
            "batchlane.common.aws -> batchlane.client.view (common imports no other batchlane package)",
        ),
        (
            "batchlane.client.records",
            "from stacks.config import load_config\n",
            "batchlane.client.records -> stacks.config (the runtime package never imports the CDK app)",
        ),
        (
            "batchlane.cli.abort",
            "from batchlane.cli.launch import OK, _settled\n",
            "batchlane.cli.abort -> batchlane.cli.launch._settled (no module imports another's private names)",
        ),
    ],
)
def test_the_checker_catches_a_back_import(module, source, expected):
    known = {"batchlane.cli.routes", "batchlane.launch.adapters"}
    imports = {module: imports_of(module, source, is_package=False, known=known)}
    assert check(imports) == [expected]


def test_the_checker_passes_a_module_that_keeps_to_its_layer():
    source = "import json\nfrom batchlane.common.executions import LaunchRecord\nfrom batchlane.client.view import x\n"
    assert check({"batchlane.client.records": imports_of("batchlane.client.records", source, False)}) == []
