"""Which package may import which: the rules, checked over the imports of every module under
``lambdas/batchlane``, ``toolkit/batchlane`` and ``stacks`` (function-level imports and
``importlib.import_module("...")`` of a constant name included), and no import cycle among them.

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
        "batchlane.routing.scope",
        "batchlane.flyteadmin",
        "batchlane.launch.models",
        "batchlane.launch.images",
        "batchlane.launch.problems",
        "batchlane.launch.reserved_env",
        "batchlane.launch.planner",
        "batchlane.launch.validation",
        "batchlane.status.fold",
        "batchlane.status.states",
        "batchlane.status.observations",
        "batchlane.status.phase",
        "batchlane.status.failures",
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
    """An adapters module, or a module of an adapters package (batchlane.status.adapters.batch)."""
    return name.startswith("batchlane.") and "adapters" in name.split(".")[1:]


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


def module_graph(imports: Mapping[str, set[str]]) -> dict[str, set[str]]:
    """Which of these modules each one imports (``from a import name``: ``a``; itself left out)."""

    def owner(name: str) -> str | None:
        while name not in imports and "." in name:
            name = name.rpartition(".")[0]
        return name if name in imports else None

    return {
        module: {found for found in map(owner, imported) if found is not None and found != module}
        for module, imported in imports.items()
    }


def cycles(imports: Mapping[str, set[str]]) -> list[list[str]]:
    """The import cycles: the strongly connected components of more than one module (Tarjan's
    algorithm, iterative), each sorted; a function-level or TYPE_CHECKING import counts too."""
    graph = module_graph(imports)
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in order:
            continue
        work = [(root, iter(sorted(graph[root])))]
        order[root] = low[root] = len(order)
        stack.append(root)
        while work:
            module, todo = work[-1]
            following = next(todo, None)
            if following is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[module])
                if low[module] == order[module]:
                    component = stack[stack.index(module) :]
                    del stack[stack.index(module) :]
                    if len(component) > 1:
                        found.append(sorted(component))
            elif following not in order:
                order[following] = low[following] = len(order)
                stack.append(following)
                work.append((following, iter(sorted(graph[following]))))
            elif following in stack:
                low[module] = min(low[module], order[following])
    return sorted(found)


def test_every_package_imports_only_what_its_layer_may():
    imports = project_imports()
    assert {"batchlane.client.api", "batchlane.cli.main", "batchlane.sandbox.demo", "stacks.app_factory"} <= set(
        imports
    )
    violations = check(imports)
    assert not violations, "\n" + "\n".join(violations)


def test_no_import_cycle_among_the_projects_modules():
    assert cycles(project_imports()) == []


def test_the_cycle_finder_finds_a_cycle_through_a_type_checking_import():
    sources = {
        "batchlane.status.fold": "from batchlane.status.failures import child_class\nimport json\n",
        "batchlane.status.failures": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from batchlane.status.fold import ChildState\n",
        "batchlane.status.handler": "from batchlane.status import fold\n",
        "batchlane.status": "",
    }
    imports = {name: imports_of(name, source, name == "batchlane.status", sources) for name, source in sources.items()}
    assert cycles(imports) == [["batchlane.status.failures", "batchlane.status.fold"]]
    del imports["batchlane.status.failures"]
    assert cycles(imports) == []


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
            "batchlane.status.service",
            "from batchlane.status.adapters.executions import ExecutionsStatusStore\n",
            "batchlane.status.service -> batchlane.status.adapters.executions "
            "(only handlers (and the sandbox) import adapters)",
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
