"""Build the CDK app for one deployment configuration (used by app.py and the tests)."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk

from batchlane.deployment.config import load_config
from stacks.batchlane_stack import BatchlaneStack
from stacks.nag import add_checks

CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


def new_app(config_name: str = "dev", outdir: str | None = None) -> tuple[cdk.App, BatchlaneStack]:
    """An app with cdk.json's context (feature flags), as `cdk synth` builds it: tests use this."""
    context = {**json.loads(CDK_JSON.read_text())["context"], "config": config_name}
    app = cdk.App(context=context, outdir=outdir)
    return app, build_app(app, config_name)


def build_app(app: cdk.App, config_name: str) -> BatchlaneStack:
    config = load_config(config_name)
    stack = BatchlaneStack(
        app,
        config.prefix,
        config=config,
        env=cdk.Environment(account=config.account, region=config.region),
    )
    cdk.Tags.of(stack).add("batchlane:deployment", config.name)
    add_checks(app)
    return stack
