"""The infrastructure facts a deployment's stack builds and the sandbox provisions, stated once.

The CDK stacks (``stacks/state.py``, ``stacks/buffers.py``, ``stacks/launch_path.py``,
``stacks/status_path.py``) build from these values, and so does ``batchlane.sandbox.provision``:
table key schemas and indexes, each function's handler and environment, each rule's event
pattern and where it delivers (the bus, the buffer's settings, the event source mapping's batch
size and window), the delivery retry and dead-letter settings. ``tests/infrastructure/
test_sandbox_drift.py`` compares the synthesized template with what the sandbox provisions, so
that a stack that stops reading a fact from here (or a sandbox that does) fails a test.

Plain data, no CDK and no boto3: the runtime package imports it (the sandbox), and the stacks
turn it into constructs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from batchlane.common.environment import FunctionEnvironment
from batchlane.common.event_types import ABORT_REQUESTED, CHUNK_DUE, CHUNK_DUE_SOURCE, EVENT_SOURCE, LAUNCH_REQUESTED
from batchlane.common.executions import (
    BY_TEAM_INDEX,
    EXPIRES_AT,
    LISTED_ATTRIBUTES,
    PARTITION_KEY,
    REQUESTED_AT,
    TEAM_LAUNCHES,
)
from batchlane.deployment.config import DeploymentConfig, FunctionConfig, StateNames
from batchlane.status.events import DETAIL_TYPES as BATCH_DETAIL_TYPES
from batchlane.status.events import QUEUE_BLOCKED
from batchlane.status.events import SOURCE as BATCH_SOURCE

# --- tables -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    name: str
    type: Literal["S", "N"] = "S"


@dataclass(frozen=True)
class Index:
    """A global secondary index: keys only (readers fetch the item itself), or keys and
    ``attributes`` (readers need nothing more)."""

    name: str
    partition: Key
    sort: Key | None = None
    attributes: tuple[str, ...] = ()

    @property
    def projection(self) -> dict[str, Any]:
        """Its ``Projection`` as DynamoDB's API (and CloudFormation) write it."""
        if not self.attributes:
            return {"ProjectionType": "KEYS_ONLY"}
        return {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(self.attributes)}


@dataclass(frozen=True)
class TableShape:
    partition: Key
    sort: Key | None = None
    ttl: str | None = None  # the time-to-live attribute (epoch seconds)
    indexes: tuple[Index, ...] = ()


TABLES: dict[Literal["routing", "executions"], TableShape] = {
    # Queues and rules, edited by operators (docs/routing.md).
    "routing": TableShape(Key("pk"), Key("sk")),
    # One partition per launch, keyed "<team>#<launchId>" (batchlane.common.executions.launch_key):
    # the launch record, then the status path's items.
    "executions": TableShape(
        Key(PARTITION_KEY),
        Key("sk"),
        ttl=EXPIRES_AT,
        indexes=(
            Index("byJobId", Key("jobId")),
            # Sparse: only launches that are not final (batchlane.common.open_launches), for the reconciler.
            Index("openLaunches", Key("openShard"), Key("lastSeenAt", "N")),
            # Sparse: launch items only, a team's newest first (``batchlane launches``).
            Index(BY_TEAM_INDEX, Key(TEAM_LAUNCHES), Key(REQUESTED_AT, "N"), LISTED_ATTRIBUTES),
        ),
    ),
}

# --- buffers: rule -> SQS buffer (+ DLQ) -> function ---------------------------------------------

# The source the Flyte connector (batchlane.flyte.connector) puts its requests with: a team whose only
# source it is gets the connector's policy (stacks/tenancy.py), exactly what the connector calls.
FLYTE_CONNECTOR_SOURCE = "flyte.connector"

VISIBILITY_PER_FUNCTION_TIMEOUT = 6  # AWS's advice: a slow batch is not redelivered early
BUFFER_RETENTION_DAYS = 4
DEAD_LETTER_RETENTION_DAYS = 14
DELIVERY_RETRY_ATTEMPTS = 185  # EventBridge -> buffer: retried for up to a day, then the DLQ
DELIVERY_MAX_EVENT_AGE_HOURS = 24


def buffer_visibility_seconds(settings: FunctionConfig) -> int:
    return VISIBILITY_PER_FUNCTION_TIMEOUT * settings.timeout_seconds


# --- functions ----------------------------------------------------------------------------------

FunctionName = Literal["launcher", "aggregator", "reconciler"]


@dataclass(frozen=True)
class FunctionShape:
    name: FunctionName  # also its Powertools service name
    handler: str  # dotted path of the handler function


FUNCTIONS: dict[FunctionName, FunctionShape] = {
    "launcher": FunctionShape("launcher", "batchlane.launch.handler.handler"),
    "aggregator": FunctionShape("aggregator", "batchlane.status.handler.handler"),
    "reconciler": FunctionShape("reconciler", "batchlane.status.handler.reconcile"),
}


def function_settings(config: DeploymentConfig, function: FunctionName) -> FunctionConfig:
    return {"launcher": config.launcher, "aggregator": config.aggregator, "reconciler": config.reconciler}[function]


def function_environment(config: DeploymentConfig, function: FunctionName, names: StateNames) -> FunctionEnvironment:
    """The function's own environment (the stacks add the common Powertools variables)."""
    return {
        "launcher": config.launcher_environment,
        "aggregator": config.aggregator_environment,
        "reconciler": config.reconciler_environment,
    }[function](names)


# --- event paths --------------------------------------------------------------------------------

PathName = Literal["launcher", "aggregator", "abort"]
ABORT_BATCH_SIZE = 10  # aborts are few: never wait for a window


@dataclass(frozen=True)
class EventPath:
    """One rule and the event source mapping behind it: rule -> buffer (+ DLQ) -> function."""

    name: PathName
    function: FunctionShape
    on_default_bus: bool  # AWS services publish on the default bus only; batchlane on its own bus
    pattern: dict[str, Any]  # the rule's EventBridge pattern
    settings: FunctionConfig  # the consuming function's: timeout (-> visibility) and maxReceiveCount
    batch_size: int
    batching_window_seconds: int
    description: str
    # Further rules onto the same buffer ({"name": rule name suffix, "pattern": ..., "description": ...}).
    extra_rules: tuple[dict[str, Any], ...] = ()


# "Task Chunk Due" from the status path (its source, or batchlane's own) to the launcher's buffer
# (docs/chunked-maps.md): the launcher submits the chunk that became due.
CHUNK_DUE_RULE: dict[str, Any] = {
    "name": "chunk-due",
    "pattern": {"source": [CHUNK_DUE_SOURCE, EVENT_SOURCE], "detail-type": [CHUNK_DUE]},
    "description": "Chunks of chunked map tasks that became due, to the launcher's buffer",
}


# The array children's statuses the status path reads (docs/status.md, "What the rule drops"): RUNNING
# (the log stream) and the final ones (attempts, exit codes, reasons). A child's PENDING, RUNNABLE and
# STARTING change no count status needs, and are 3 of its 5 events: dropped at the rule. Parents, plain
# jobs and "Batch Job Queue Blocked" events all pass.
CHILD_STATUSES_TO_AGGREGATOR = ("RUNNING", "SUCCEEDED", "FAILED")


def batch_events_pattern(job_queue_arns: Sequence[Any]) -> dict[str, Any]:
    """The aggregator rule's pattern: batchlane's queues' Batch events that status needs."""
    return {
        "source": [BATCH_SOURCE],
        "detail-type": list(BATCH_DETAIL_TYPES),
        "detail": {"jobQueue": list(job_queue_arns)},
        "$or": [
            {"detail-type": [QUEUE_BLOCKED]},
            {"detail": {"arrayProperties": {"index": [{"exists": False}]}}},
            {"detail": {"status": list(CHILD_STATUSES_TO_AGGREGATOR)}},
        ],
    }


def event_paths(config: DeploymentConfig, job_queue_arns: Sequence[Any]) -> dict[PathName, EventPath]:
    """Every event path of the deployment. ``job_queue_arns``: batchlane's job queues (CDK tokens
    in the stacks, ARNs in the sandbox): the status rule takes their events and nobody else's."""
    launcher, aggregator = config.launcher, config.aggregator
    return {
        "launcher": EventPath(
            "launcher",
            FUNCTIONS["launcher"],
            False,
            {"detail-type": [LAUNCH_REQUESTED]},
            launcher,
            launcher.batch_size,
            launcher.batching_window_seconds,
            "Task launch requests to the launcher's buffer",
            (CHUNK_DUE_RULE,),
        ),
        "aggregator": EventPath(
            "aggregator",
            FUNCTIONS["aggregator"],
            True,
            batch_events_pattern(job_queue_arns),
            aggregator,
            aggregator.batch_size,
            aggregator.batching_window_seconds,
            "AWS Batch state changes and queue blocks of batchlane's job queues to the aggregator",
        ),
        # Their own small buffer (the aggregator's settings): an abort never waits behind a burst of Batch events.
        "abort": EventPath(
            "abort",
            FUNCTIONS["aggregator"],
            False,
            {"detail-type": [ABORT_REQUESTED]},
            aggregator,
            ABORT_BATCH_SIZE,
            0,
            "Task abort requests to the aggregator",
        ),
    }


RECONCILER_RETRY_ATTEMPTS = 0  # the next scheduled run is the retry
