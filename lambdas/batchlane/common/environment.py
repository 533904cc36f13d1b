"""The environment variables of batchlane's functions: one typed model per function.

A field's alias is its variable's name. The stacks write a function's environment only through
its model (``variables()``, with CDK tokens as resource names); the handlers read it only through
``from_environ()`` at cold start, so a missing or malformed variable fails the first invocation
with the variable's name instead of a ``KeyError`` deep in an adapter; the sandbox builds the
same models. The values derived from the deployment configuration are filled in by
``batchlane.deployment.config.DeploymentConfig`` (``launcher_environment()`` ...), so the
fields here have no defaults, except a variable no deployment sets (``LAUNCH_CACHE_SIZE``).

Imported at every cold start: pydantic only (the handlers load it anyway), no boto3.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, ValidationError

# Where the functions' custom metrics go (Powertools' EMF) and where the dashboard reads them.
METRICS_NAMESPACE = "batchlane"

# A resource name; in the stacks a CDK token standing for it (a string such as "${Token[TOKEN.42]}").
Name = Annotated[str, Field(min_length=1)]


class FunctionEnvironmentError(ValueError):
    """A function's environment lacks a variable or holds a wrong one; the message names each."""


class FunctionEnvironment(BaseModel):
    """Numbers are ints here and strings in the environment; other variables are ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore", validate_by_name=True, validate_by_alias=True)

    def variables(self) -> dict[str, str]:
        """The environment to give the function: the variables this model was given values for
        (a variable left out keeps its default when the function runs)."""
        return {name: str(value) for name, value in self.model_dump(by_alias=True, exclude_unset=True).items()}

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Self:
        """Read and check the function's variables (``os.environ`` by default)."""
        try:
            return cls.model_validate(dict(os.environ if environ is None else environ), by_alias=True, by_name=False)
        except ValidationError as exc:
            problems = [
                f"{error['loc'][0]} is not set"
                if error["type"] == "missing"
                else f"{error['loc'][0]}={error['input']!r}: {error['msg']}"
                for error in exc.errors()
            ]
            raise FunctionEnvironmentError(f"{cls.__name__}: {'; '.join(problems)}") from None


class CommonEnvironment(FunctionEnvironment):
    """Given to every function: what Powertools reads (it reads them itself) and the deployment's name."""

    service_name: Annotated[Name, Field(alias="POWERTOOLS_SERVICE_NAME")]
    metrics_namespace: Annotated[Name, Field(alias="POWERTOOLS_METRICS_NAMESPACE")]
    log_level: Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], Field(alias="POWERTOOLS_LOG_LEVEL")]
    deployment: Annotated[Name, Field(alias="BATCHLANE_DEPLOYMENT")]


class LauncherEnvironment(FunctionEnvironment):
    """batchlane.launch.handler."""

    settings_path: Annotated[Name, Field(alias="SETTINGS_PATH")]  # the SSM prefix of batchlane.common.settings
    settings_max_age: Annotated[NonNegativeInt, Field(alias="SETTINGS_MAX_AGE")]  # seconds the settings are cached
    routing_table: Annotated[Name, Field(alias="ROUTING_TABLE")]
    executions_table: Annotated[Name, Field(alias="EXECUTIONS_TABLE")]
    data_bucket: Annotated[Name, Field(alias="DATA_BUCKET")]
    event_bus: Annotated[Name, Field(alias="EVENT_BUS")]
    lease_seconds: Annotated[PositiveInt, Field(alias="LEASE_SECONDS")]  # a submission's claim on its launch record
    # SubmitJob calls per second all the launcher's containers together may make (the deployment's
    # share of Batch's 50 per account), and how many containers run at once (the event source
    # mapping's maximum concurrency): each container paces itself at their quotient.
    submit_rate_per_second: Annotated[float, Field(alias="SUBMIT_RATE_PER_SECOND", gt=0, le=50)]
    max_concurrency: Annotated[PositiveInt, Field(alias="MAX_CONCURRENCY")]
    # The executions table's TTL: items expire this long after they were written (0: never).
    retention_seconds: Annotated[NonNegativeInt, Field(alias="RETENTION_SECONDS")] = 0

    @property
    def submit_rate_per_container(self) -> float:
        return self.submit_rate_per_second / self.max_concurrency


class AggregatorEnvironment(FunctionEnvironment):
    """batchlane.status.handler.handler (Batch events and abort requests)."""

    # Who may abort what (the SSM ``producers``, batchlane.common.tenancy), and where outputs may be read.
    settings_path: Annotated[Name, Field(alias="SETTINGS_PATH")]
    settings_max_age: Annotated[NonNegativeInt, Field(alias="SETTINGS_MAX_AGE")]
    data_bucket: Annotated[Name, Field(alias="DATA_BUCKET")]
    executions_table: Annotated[Name, Field(alias="EXECUTIONS_TABLE")]
    event_bus: Annotated[Name, Field(alias="EVENT_BUS")]
    progress_interval_seconds: Annotated[NonNegativeInt, Field(alias="PROGRESS_INTERVAL_SECONDS")]
    progress_min_size: Annotated[PositiveInt, Field(alias="PROGRESS_MIN_SIZE")]
    # Queue health: a Queue Blocked event marks its queue's routing item unhealthy for this long.
    routing_table: Annotated[Name | None, Field(alias="ROUTING_TABLE")] = None
    unhealthy_seconds: Annotated[NonNegativeInt, Field(alias="UNHEALTHY_SECONDS")] = 0
    retention_seconds: Annotated[NonNegativeInt, Field(alias="RETENTION_SECONDS")] = 0  # as the launcher's
    # A phase-change claim older than this was left by an invocation that died or lost its answer:
    # longer than any claimer (aggregator, reconciler) runs, shorter than the aggregator's
    # visibility timeout, so the redelivery of the dead holder's batch takes it over.
    claim_seconds: Annotated[PositiveInt, Field(alias="CLAIM_SECONDS")] = 900
    # Launches (and foreign jobs) remembered per container; no deployment sets it.
    launch_cache_size: Annotated[PositiveInt, Field(alias="LAUNCH_CACHE_SIZE")] = 4096


class ReconcilerEnvironment(AggregatorEnvironment):
    """batchlane.status.handler.reconcile: the aggregator's status service, plus its own two."""

    silent_seconds: Annotated[NonNegativeInt, Field(alias="SILENT_SECONDS")]
    reconcile_request_budget: Annotated[PositiveInt, Field(alias="RECONCILE_REQUEST_BUDGET")]
