"""Synthesize each example deployment's CDK app ONCE per test session and share the result.

The app is built exactly as ``cdk synth`` builds it (``stacks.app_factory.build_app`` with the
context of ``cdk.json``), cdk-nag included. cdk-nag findings make ``app.synth()`` raise; the
templates are written to the cloud assembly before validation runs, so the other tests still
get them, and ``test_nag`` reports the findings.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Every deployment configuration under config/ is synthesized and checked.
CONFIGS = tuple(sorted(p.stem for p in (ROOT / "config").glob("*.yaml")))


@dataclass
class Synthesized:
    name: str
    config: Any  # batchlane.deployment.config.DeploymentConfig
    stack: Any  # stacks.batchlane_stack.BatchlaneStack
    outdir: Path
    nag_error: str | None
    seconds: float
    templates: dict[str, dict] = field(default_factory=dict)  # every template of the assembly, by file name

    @property
    def json(self) -> dict:
        """The template of the batchlane stack."""
        return self.templates[f"{self.stack.artifact_id}.template.json"]

    @cached_property
    def template(self):
        """``aws_cdk.assertions.Template`` of the batchlane stack."""
        from aws_cdk.assertions import Template

        return Template.from_json(self.json)

    def resolve(self, value: Any) -> Any:
        """A CDK value (token) as it appears in the template (``{"Fn::GetAtt": [...]}`` ...)."""
        return self.stack.resolve(value)

    def resources(self, type_: str) -> dict[str, dict]:
        return {k: v for k, v in self.json["Resources"].items() if v["Type"] == type_}

    def logical_id(self, construct: Any) -> str:
        cfn = getattr(construct, "node", construct).default_child or construct
        return self.stack.resolve(self.stack.get_logical_id(cfn))


_CACHE: dict[str, Synthesized] = {}


def synthesize(name: str) -> Synthesized:
    if name in _CACHE:
        return _CACHE[name]
    import time

    from stacks.app_factory import new_app

    outdir = Path(tempfile.mkdtemp(prefix=f"batchlane-synth-{name}-"))
    started = time.perf_counter()
    app, stack = new_app(name, outdir=str(outdir))
    nag_error = None
    try:
        app.synth()
    except Exception as exc:  # cdk-nag findings (ValidationFailed): keep the message for test_nag
        report = outdir / "validation-report.json"
        nag_error = f"{exc}\n{report.read_text() if report.is_file() else ''}"
    result = Synthesized(name, stack.config, stack, outdir, nag_error, time.perf_counter() - started)
    for path in outdir.glob("*.template.json"):
        result.templates[path.name] = json.loads(path.read_text())
    if not result.templates:
        raise RuntimeError(f"synth of {name!r} produced no template: {nag_error}")
    _CACHE[name] = result
    return result


@pytest.fixture(scope="session", params=CONFIGS)
def synth(request) -> Synthesized:
    """Each example configuration in turn (tests using it run once per configuration)."""
    return synthesize(request.param)


@pytest.fixture(scope="session")
def dev() -> Synthesized:
    return synthesize("dev")


@pytest.fixture(scope="session")
def fargate() -> Synthesized:
    return synthesize("fargate-existing-vpc")


@pytest.fixture(scope="session")
def template(dev):
    """The ``assertions.Template`` of the dev deployment's batchlane stack."""
    return dev.template


def pytest_sessionfinish(session, exitstatus):
    for result in _CACHE.values():
        shutil.rmtree(result.outdir, ignore_errors=True)
