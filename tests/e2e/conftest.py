"""End-to-end tests through the sandbox: moto server, the real handlers, simulated Batch.

Select them with ``-m e2e`` (or deselect with ``-m "not e2e"``)."""

from __future__ import annotations

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: end-to-end through the local sandbox (moto server, real handlers)")


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


def task(launch_id: str, **overrides) -> dict:
    detail = {
        "launchId": launch_id,
        "project": "flytesnacks",
        "domain": "development",
        "workflow": "wf",
        "task": "my.task",
        "container": {"image": "busybox:1.36", "command": ["echo", "hi"]},
    }
    detail.update(overrides)
    return detail
