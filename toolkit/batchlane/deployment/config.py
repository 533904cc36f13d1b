"""The one typed deployment configuration of batchlane.

A deployment is described by a YAML file under ``config/`` (``config/dev.yaml`` by default,
another with ``cdk synth -c config=prod``). It is validated here, at synth time, so a wrong
value fails with the key that is wrong and the values that are allowed. The same model is read
by the CDK stacks, by the local sandbox and by the CLI: one source of truth for names and
settings. It lives in the runtime package so that the runtime never imports ``stacks``; PyYAML
is imported only by :func:`load_config` (the Lambda layer does not carry it).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from batchlane.common.environment import AggregatorEnvironment, LauncherEnvironment, ReconcilerEnvironment
from batchlane.common.executions import OPEN_TEAM
from batchlane.common.settings import Limits
from batchlane.common.tenancy import InputsLocationGrant, Team, Tenancy
from batchlane.deployment.parts import (
    ComputeEnvironmentConfig,
    FunctionConfig,
    JobQueueConfig,
    JobRoleConfig,
    NetworkConfig,
    NewVpcConfig,
    RoutingRuleConfig,
    StatusConfig,
    Strict,
)

# The parts the CDK stacks read from here, with the configuration they belong to.
from batchlane.deployment.parts import ComputeKind as ComputeKind
from batchlane.deployment.parts import EcsImageType as EcsImageType

SSM_STANDARD_VALUE_CHARS = 4096  # a standard-tier SSM parameter's value

if TYPE_CHECKING:
    from batchlane.routing import Capabilities, RoutingTable

# The repository's config/ directory (this file is toolkit/batchlane/deployment/config.py).
CONFIG_DIR = Path(__file__).resolve().parents[3] / "config"
IAM_ROLE_NAME_CHARS = 64  # IAM's limit on a role name
JOB_QUEUE_ARN_RE = r"arn:aws[a-z-]*:batch:[a-z0-9-]+:\d{12}:job-queue/[A-Za-z0-9_-]{1,128}"
# The retention periods CloudWatch Logs accepts, in days (aws_logs.RetentionDays, in order).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


class DeploymentConfig(Strict):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,19}$")]
    account: Annotated[str | None, Field(pattern=r"^\d{12}$")] = None
    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")] = "us-east-1"
    network: NetworkConfig = NetworkConfig(new_vpc=NewVpcConfig())
    compute_environments: Annotated[list[ComputeEnvironmentConfig], Field(alias="computeEnvironments", min_length=1)]
    job_queues: Annotated[list[JobQueueConfig], Field(alias="jobQueues", min_length=1, max_length=50)]
    routing_rules: Annotated[list[RoutingRuleConfig], Field(alias="routingRules")] = []
    job_roles: Annotated[list[JobRoleConfig], Field(alias="jobRoles", min_length=1)]
    # Existing role ARNs a team brings; the launcher may pass these and the job roles, nothing else.
    allowed_role_arns: Annotated[list[str], Field(alias="allowedRoleArns")] = []
    # A job role name or an allowed ARN, used when a launch names no role (Flyte's roleNameKey).
    default_role: Annotated[str | None, Field(alias="defaultRole")] = None
    routing_cache_seconds: Annotated[int, Field(alias="routingCacheSeconds", ge=0, le=300)] = 30
    log_retention_days: Annotated[int, Field(alias="logRetentionDays")] = 30
    data_retention_days: Annotated[int, Field(alias="dataRetentionDays", ge=1)] = 90
    # Days the executions table keeps a launch's items (its TTL attribute expiresAt); default: dataRetentionDays.
    execution_retention_days: Annotated[int | None, Field(alias="executionRetentionDays", ge=1)] = None
    # Job queues outside this deployment (e.g. imported Flyte queues) that routing items may name:
    # the launcher may SubmitJob to them too.
    extra_job_queue_arns: Annotated[list[str], Field(alias="extraJobQueueArns")] = []
    event_archive_days: Annotated[int, Field(alias="eventArchiveDays", ge=0)] = 30
    limits: Limits = Limits()
    launcher: FunctionConfig = FunctionConfig()
    # SubmitJob calls per second this deployment's launcher makes at most (docs/throughput.md).
    # Batch allows 50 per account, SHARED with every other submitter in the account (Flyte's own
    # Batch plugin, other deployments, people): leave them room.
    submit_rate_per_second: Annotated[float, Field(alias="submitRatePerSecond", gt=0, le=50)] = 40
    # The launcher's event source mapping runs at most this many invocations at once (Lambda's
    # ScalingConfig.MaximumConcurrency, 2..1000); each paces SubmitJob at submitRatePerSecond / this.
    launcher_max_concurrency: Annotated[int, Field(alias="launcherMaxConcurrency", ge=2, le=1000)] = 4
    aggregator: FunctionConfig = FunctionConfig(batch_size=100, batching_window_seconds=2)
    reconciler: FunctionConfig = FunctionConfig(timeout_seconds=300)
    status: StatusConfig = StatusConfig()
    # Tenancy (docs/security.md): who may launch and abort what; none = anyone may do anything.
    teams: list[Team] = []
    # Where launches of a project may take inputsLocation from, besides their own launch prefix.
    inputs_locations: Annotated[list[InputsLocationGrant], Field(alias="inputsLocations")] = []

    @field_validator("teams")
    @classmethod
    def _teams(cls, value: list[Team]) -> list[Team]:
        Tenancy(teams=value)  # names and sources unique
        return value

    @field_validator("allowed_role_arns")
    @classmethod
    def _role_arns(cls, value: list[str]) -> list[str]:
        bad = [a for a in value if not re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+", a)]
        if bad:
            raise ValueError(f"not IAM role ARNs: {', '.join(bad)} (expected arn:aws:iam::<account>:role/<name>)")
        return value

    @field_validator("extra_job_queue_arns")
    @classmethod
    def _queue_arns(cls, value: list[str]) -> list[str]:
        bad = [a for a in value if not re.fullmatch(JOB_QUEUE_ARN_RE, a)]
        if bad:
            raise ValueError(
                f"not job queue ARNs: {', '.join(bad)} (expected arn:aws:batch:<region>:<account>:job-queue/<name>)"
            )
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"logRetentionDays must be one of {', '.join(map(str, LOG_RETENTION_DAYS))}")
        return value

    @model_validator(mode="after")
    def _references(self) -> DeploymentConfig:
        ces = {ce.name: ce for ce in self.compute_environments}
        problems: list[str] = []
        for dup in _duplicates([ce.name for ce in self.compute_environments]):
            problems.append(f"computeEnvironments: name {dup!r} is used twice")
        for dup in _duplicates([q.name for q in self.job_queues]):
            problems.append(f"jobQueues: name {dup!r} is used twice")
        for dup in _duplicates([self.queue_name(q) for q in self.job_queues]):
            problems.append(f"jobQueues: Batch queue name {dup!r} is used twice (check queueName)")
        for dup in _duplicates([r.name for r in self.job_roles]):
            problems.append(f"jobRoles: name {dup!r} is used twice")
        for queue in self.job_queues:
            unknown = [n for n in queue.compute_environments if n not in ces]
            if unknown:
                problems.append(
                    f"jobQueues.{queue.name}.computeEnvironments: unknown {', '.join(unknown)} "
                    f"(allowed: {', '.join(ces)})"
                )
                continue
            fargate = {ces[n].kind.is_fargate for n in queue.compute_environments}
            if len(fargate) > 1:
                problems.append(
                    f"jobQueues.{queue.name}.computeEnvironments: cannot mix Fargate and EC2 compute in one queue"
                )
        tags = {t for q in self.job_queues for t in q.attributes}
        for i, rule in enumerate(self.routing_rules):
            if not any(t in tags for t in rule.tags):
                problems.append(
                    f"routingRules[{i}].tags: no job queue carries any of {', '.join(rule.tags)} "
                    f"(queue attributes: {', '.join(sorted(tags))})"
                )
        if self.default_role and self.default_role not in {r.name for r in self.job_roles} | set(
            self.allowed_role_arns
        ):
            problems.append(
                f"defaultRole: {self.default_role!r} is neither a jobRoles name "
                f"({', '.join(r.name for r in self.job_roles)}) nor one of allowedRoleArns"
            )
        problems += self._deploy_time_problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _deploy_time_problems(self) -> list[str]:
        """What AWS would refuse only at deploy time: names too long, compute that cannot work."""
        problems = []
        for role in self.job_roles:
            name = self.job_role_name(role)
            if len(name) > IAM_ROLE_NAME_CHARS:
                problems.append(
                    f"jobRoles.{role.name}.name: the IAM role name {name!r} has {len(name)} characters; "
                    f"IAM allows {IAM_ROLE_NAME_CHARS} (shorten the role name or the deployment name)"
                )
        new_vpc = self.network.new_vpc
        fargate = [ce.name for ce in self.compute_environments if ce.kind.is_fargate]
        if new_vpc is not None and new_vpc.nat_gateways == 0 and fargate and not new_vpc.interface_endpoints:
            problems.append(
                f"network.newVpc.natGateways: 0 with Fargate compute ({', '.join(fargate)}): Fargate jobs get no "
                "public IP and could not pull images or write logs; set natGateways >= 1 or "
                "network.newVpc.interfaceEndpoints: true"
            )
        reserved = self.launcher.reserved_concurrency
        if reserved is not None and reserved < self.launcher_max_concurrency:
            # Lambda throttles the invocations the event source mapping starts beyond the function's
            # reserved concurrency: their launch messages go back to the queue and each return counts
            # towards maxReceiveCount, so a burst could dead-letter launches nothing was wrong with.
            problems.append(
                f"launcher.reservedConcurrency: {reserved} is below launcherMaxConcurrency "
                f"({self.launcher_max_concurrency}); Lambda would throttle the launcher's extra invocations "
                "and their launches would count receives towards the dead-letter queue: set it at least as high"
            )
        return problems

    @model_validator(mode="after")
    def _parameters_fit(self) -> DeploymentConfig:
        # After _references (validators run in order): every name it resolves exists.
        long = {
            name: len(value)
            for name, value in self.settings_parameters("123456789012").items()
            if len(value) > SSM_STANDARD_VALUE_CHARS
        }
        if long:
            raise ValueError(
                "; ".join(
                    f"SSM parameter {n} would hold {c} characters (at most "
                    f"{SSM_STANDARD_VALUE_CHARS}): shorten teams, jobRoles or inputsLocations"
                    for n, c in long.items()
                )
            )
        return self

    # Derived names: one place that says what every resource is called.
    @property
    def prefix(self) -> str:
        return f"batchlane-{self.name}"

    def queue_name(self, queue: JobQueueConfig) -> str:
        return queue.queue_name or f"{self.prefix}-{queue.name}"

    @property
    def routable_queue_names(self) -> frozenset[str]:
        """The queues routing items may name: this deployment's own and ``extraJobQueueArns``'
        (the launcher may submit to no other)."""
        return frozenset(
            {self.queue_name(q) for q in self.job_queues}
            | {arn.rsplit("/", 1)[-1] for arn in self.extra_job_queue_arns}
        )

    @property
    def bus_name(self) -> str:
        return self.prefix

    @property
    def ssm_prefix(self) -> str:
        return f"/batchlane/{self.name}"

    def job_role_name(self, role: JobRoleConfig) -> str:
        return f"{self.prefix}-job-{role.name}"

    @property
    def execution_role_name(self) -> str:
        return f"{self.prefix}-execution"

    @property
    def job_log_group(self) -> str:
        return f"/aws/batch/{self.prefix}"

    def team_of_source(self, source: str) -> str:
        """The team whose launches a client putting events with ``source`` reads and aborts (the
        launch key's team: batchlane.common.executions.launch_key); OPEN_TEAM without teams, or
        for a source no team owns (its launches are refused anyway)."""
        team = next((t for t in self.teams if source in t.sources), None)
        return team.name if team is not None else OPEN_TEAM

    def table_name(self, kind: Literal["routing", "executions"]) -> str:
        return f"{self.prefix}-{kind}"

    def role_arn(self, name_or_arn: str, account: str, partition: str = "aws") -> str:
        """A job role's ARN from its config name; an ARN is returned as is."""
        if name_or_arn.startswith("arn:"):
            return name_or_arn
        role = next(r for r in self.job_roles if r.name == name_or_arn)
        return f"arn:{partition}:iam::{account}:role/{self.job_role_name(role)}"

    def queue_capabilities(self, queue: JobQueueConfig) -> Capabilities:
        """What a job can get on a queue, from its compute environments (batchlane.deployment.capabilities)."""
        from batchlane.deployment.capabilities import queue_capabilities

        ces = {ce.name: ce for ce in self.compute_environments}
        return queue_capabilities([ces[name].capabilities for name in queue.compute_environments])

    @property
    def execution_retention_seconds(self) -> int:
        return 86_400 * (self.execution_retention_days or self.data_retention_days)

    def routing_table(self) -> RoutingTable:
        """The queues and rules a deployment seeds its routing table with."""
        from batchlane.routing import Queue, RoutingTable, Rule
        from batchlane.routing.items import rule_ids

        queues = tuple(
            Queue(self.queue_name(q), tuple(q.attributes), q.weight, q.enabled, self.queue_capabilities(q))
            for q in self.job_queues
        )
        rules = tuple(
            Rule(rule_id, tuple(r.tags), r.scope)
            for rule_id, r in zip(rule_ids(len(self.routing_rules)), self.routing_rules)
        )
        return RoutingTable(queues, rules)

    def settings_parameters(self, account: str, partition: str = "aws") -> dict[str, str]:
        """The SSM parameters (relative names) the functions read: batchlane.common.settings."""
        job_roles = [self.role_arn(r.name, account, partition) for r in self.job_roles]
        params = {
            "allowed-role-arns": ",".join(job_roles + list(self.allowed_role_arns)),
            "execution-role-arn": f"arn:{partition}:iam::{account}:role/{self.execution_role_name}",
            "job-log-group": self.job_log_group,
            "routing-cache-seconds": str(self.routing_cache_seconds),
            "limits": self.limits.model_dump_json(by_alias=True),
            "region": self.region,
            "producers": Tenancy(teams=self.teams).model_dump_json(exclude_defaults=True) or "{}",
            # Roles a team brings serve every project (their own policies say what they may touch).
            "job-role-projects": json.dumps(
                {
                    **{arn: ["*"] for arn in self.allowed_role_arns},
                    **{self.role_arn(r.name, account, partition): list(r.projects) for r in self.job_roles},
                }
            ),
            "inputs-locations": json.dumps([g.model_dump() for g in self.inputs_locations]),
        }
        if self.default_role:
            params["default-role-arn"] = self.role_arn(self.default_role, account, partition)
        return params

    # Function environments: what each function is told, derived once for the stacks and the sandbox.
    def launcher_environment(self, state: StateNames) -> LauncherEnvironment:
        return LauncherEnvironment(
            settings_path=self.ssm_prefix,
            settings_max_age=self.routing_cache_seconds,
            routing_table=state.routing_table,
            executions_table=state.executions_table,
            data_bucket=state.data_bucket,
            event_bus=state.event_bus,
            # Longer than the function can run: a crashed submission is looked up, not repeated.
            lease_seconds=3 * self.launcher.timeout_seconds,
            retention_seconds=self.execution_retention_seconds,
            submit_rate_per_second=self.submit_rate_per_second,
            max_concurrency=self.launcher_max_concurrency,
        )

    def aggregator_environment(self, state: StateNames) -> AggregatorEnvironment:
        return AggregatorEnvironment(
            settings_path=self.ssm_prefix,
            settings_max_age=self.routing_cache_seconds,
            data_bucket=state.data_bucket,
            executions_table=state.executions_table,
            event_bus=state.event_bus,
            progress_interval_seconds=self.status.progress_interval_seconds,
            progress_min_size=self.status.progress_min_size,
            routing_table=state.routing_table,
            unhealthy_seconds=self.status.unhealthy_seconds,
            retention_seconds=self.execution_retention_seconds,
            claim_seconds=self.claim_seconds,
        )

    @property
    def claim_seconds(self) -> int:
        """A phase-change claim goes stale after the longest a claimer (the aggregator or the
        reconciler) can run, plus a margin: then a redelivery or the reconciler takes it over
        (docs/exactly-once.md, "Timing that makes it hold")."""
        return max(self.aggregator.timeout_seconds, self.reconciler.timeout_seconds) + CLAIM_MARGIN_SECONDS

    def reconciler_environment(self, state: StateNames) -> ReconcilerEnvironment:
        return ReconcilerEnvironment(
            **self.aggregator_environment(state).model_dump(exclude_unset=True),
            silent_seconds=self.status.silent_seconds,
            reconcile_request_budget=self.status.reconcile_request_budget,
        )


CLAIM_MARGIN_SECONDS = 30  # clock skew between containers, and the claim write's own time


@dataclass(frozen=True)
class StateNames:
    """The names of a deployment's state resources that its functions are given: CDK tokens in the
    stacks (the bucket's name is chosen by CloudFormation), plain names in the sandbox."""

    routing_table: str
    executions_table: str
    data_bucket: str
    event_bus: str


def _duplicates(names: list[str]) -> list[str]:
    return sorted({n for n in names if names.count(n) > 1})


class ConfigError(Exception):
    """A deployment configuration that cannot be used; the message names every wrong key."""


def _format_errors(source: str, error: ValidationError) -> str:
    lines = [f"invalid deployment configuration {source}:"]
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "enum":
            message = f"{message} (got {item['input']!r})"
        lines.append(f"  - {location}: {message}")
    return "\n".join(lines)


def load_config(name_or_path: str | Path = "dev") -> DeploymentConfig:
    """Load ``config/<name>.yaml`` (or a path) and validate it."""
    import yaml  # here, not at the top: a function importing this module never loads PyYAML

    path = Path(name_or_path)
    if not path.suffix:
        path = CONFIG_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        available = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
        raise ConfigError(f"no deployment configuration {path} (available: {available})")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    try:
        return DeploymentConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_errors(str(path), exc)) from None
