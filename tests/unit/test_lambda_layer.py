"""The Lambda layer is reproducible: every distribution it holds is pinned in lambdas/requirements.txt
(installed with --no-deps, so nothing floats), the pins are exactly the closure of what the functions
need, the tests run with the same versions, and the built layer holds nothing path-dependent."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "build" / "layer" / "python"
# What the functions import at run time (the handlers' third-party imports), with the extras they use.
FUNCTION_NEEDS = ("boto3", "aws-lambda-powertools[parser,tracer]", "pydantic")
# The Lambda runtime's environment: python3.12, Linux, arm64.
LAMBDA_MARKERS = {
    "python_version": "3.12",
    "python_full_version": "3.12.0",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "aarch64",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}


def layer_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "lambdas" / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            (specifier,) = requirement.specifier
            assert specifier.operator == "==" and not requirement.extras, line
            pins[canonicalize_name(requirement.name)] = specifier.version
    return pins


def closure(needs: tuple[str, ...]) -> set[str]:
    """Every distribution ``needs`` pulls in on Lambda, read from the installed metadata."""
    found: set[str] = set()
    todo = [Requirement(n) for n in needs]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        extras = requirement.extras
        if name in found and not extras:
            continue
        found.add(name)
        for spec in metadata.requires(name) or []:
            dependency = Requirement(spec)
            environments = [{**LAMBDA_MARKERS, "extra": e} for e in (extras or {""})]
            if dependency.marker is None or any(dependency.marker.evaluate(env) for env in environments):
                todo.append(Requirement(re.sub(r";.*", "", spec)))
    return found


def test_the_pins_are_exactly_the_closure_of_what_the_functions_need():
    assert set(layer_pins()) == closure(FUNCTION_NEEDS)


def test_the_tests_run_with_the_layers_versions():
    installed = {name: metadata.version(name) for name in layer_pins()}
    assert installed == layer_pins()


@pytest.mark.skipif(not LAYER.is_dir(), reason="the layer is built by `make setup`")
def test_the_built_layer_holds_the_pinned_distributions_and_no_scripts():
    built = {}
    for info in LAYER.glob("*.dist-info"):
        name, version = info.name.removesuffix(".dist-info").rsplit("-", 1)
        built[canonicalize_name(name)] = version
    assert built == layer_pins()
    assert not (LAYER / "bin").exists()
