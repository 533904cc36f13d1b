"""What the launch tests share: a deployment's settings, a routing table that takes every launch, a launch."""

from batchlane.common.settings import Settings
from batchlane.common.tenancy import InputsLocationGrant
from batchlane.routing import Queue, RoutingTable, Rule

ROLE = "arn:aws:iam::123456789012:role/job"
SETTINGS = Settings(
    default_role_arn=ROLE,
    allowed_role_arns=frozenset({ROLE}),
    job_log_group="/aws/batch/x",
    execution_role_arn="arn:aws:iam::123456789012:role/exec",
    # the buckets the examples' inputsLocation point at, for every project
    inputs_locations=tuple(
        InputsLocationGrant(projects=["*"], uri=f"s3://{bucket}/") for bucket in ("bucket", "their-bucket", "a.b-c")
    ),
)
TABLE = RoutingTable((Queue("q", ("default",)),), (Rule("0001", ("default",)),))


def detail(**overrides):
    base = {
        "launchId": "L",
        "project": "p",
        "domain": "d",
        "workflow": "w",
        "task": "t",
        "container": {"image": "busybox"},
    }
    return {**base, **overrides}
