#!/usr/bin/env python3
"""CDK app: one batchlane stack per deployment configuration (``-c config=<name>``)."""

import os
import sys

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")  # before jsii starts

import aws_cdk as cdk

from batchlane.deployment.config import ConfigError
from stacks.app_factory import build_app

app = cdk.App()
try:
    build_app(app, app.node.try_get_context("config") or "dev")
except ConfigError as exc:
    sys.exit(str(exc))
app.synth()
