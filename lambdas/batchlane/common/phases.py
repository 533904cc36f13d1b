"""A launch's phases (the status summary's ``phase``): plain constants, so that the CLI's start
imports nothing heavier to offer them (batchlane.common.executions names them too)."""

from __future__ import annotations

from typing import Literal

Phase = Literal["queued", "running", "succeeded", "failed", "aborted"]
PHASES: tuple[Phase, ...] = ("queued", "running", "succeeded", "failed", "aborted")
FINAL_PHASES: frozenset[str] = frozenset({"succeeded", "failed", "aborted"})
