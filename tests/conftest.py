"""Every test runs offline: fake credentials, no tracing, a fixed region."""

import os

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "batchlane",
        "POWERTOOLS_SERVICE_NAME": "batchlane-tests",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (`make test` runs two workers, ``--dist loadgroup``): every infrastructure test
    goes to one worker, so that each CDK app is still synthesized once per run; the tests of one
    end-to-end module stay together, so that its sandbox starts once and no test finds itself on a
    worker where the launch a module fixture made is missing."""
    import pytest

    for item in items:
        if "tests/infrastructure/" in item.nodeid:
            item.add_marker(pytest.mark.xdist_group("cdk-synth"))
        elif item.nodeid.startswith("tests/e2e/"):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))
