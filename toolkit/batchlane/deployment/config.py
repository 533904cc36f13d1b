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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from batchlane.common.environment import AggregatorEnvironment, LauncherEnvironment, ReconcilerEnvironment
from batchlane.common.executions import OPEN_TEAM
from batchlane.common.secrets import SecretGrant
from batchlane.common.settings import Limits
from batchlane.common.tenancy import InputsLocationGrant, Team, Tenancy
from batchlane.common.volumes import VolumeGrant
from batchlane.deployment.deploy_checks import concurrency_problems, fargate_network_problems, role_name_problems
from batchlane.deployment.errors import ConfigError as ConfigError
from batchlane.deployment.errors import format_errors
from batchlane.deployment.parts import (
    ComputeEnvironmentConfig,
    FlyteDataGrant,
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

# Each function's defaults; a function's configured keys override these one by one.
FUNCTION_DEFAULTS = {
    "launcher": FunctionConfig(),
    "aggregator": FunctionConfig(batch_size=100, batching_window_seconds=2),
    "reconciler": FunctionConfig(timeout_seconds=300),
}
# The repository's config/ directory (this file is toolkit/batchlane/deployment/config.py).
CONFIG_DIR = Path(__file__).resolve().parents[3] / "config"
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
    launcher: FunctionConfig = FUNCTION_DEFAULTS["launcher"]
    # SubmitJob calls per second this deployment's launcher makes at most (docs/throughput.md).
    # Batch allows 50 per account, SHARED with every other submitter in the account (Flyte's own
    # Batch plugin, other deployments, people): leave them room.
    submit_rate_per_second: Annotated[float, Field(alias="submitRatePerSecond", gt=0, le=50)] = 40
    # The launcher's event source mapping runs at most this many invocations at once (Lambda's
    # ScalingConfig.MaximumConcurrency, 2..1000); each paces SubmitJob at submitRatePerSecond / this.
    launcher_max_concurrency: Annotated[int, Field(alias="launcherMaxConcurrency", ge=2, le=1000)] = 4
    aggregator: FunctionConfig = FUNCTION_DEFAULTS["aggregator"]
    # At most this many aggregator invocations at once: a backlog neither spreads over hundreds of
    # invocations whose writes to one launch conflict nor takes the account's concurrency (docs/status.md).
    aggregator_max_concurrency: Annotated[int, Field(alias="aggregatorMaxConcurrency", ge=2, le=1000)] = 50
    reconciler: FunctionConfig = FUNCTION_DEFAULTS["reconciler"]
    status: StatusConfig = StatusConfig()
    # Tenancy (docs/security.md): who may launch and abort what; none = anyone may do anything.
    teams: list[Team] = []
    # Where launches of a project may take inputsLocation from, besides their own launch prefix.
    inputs_locations: Annotated[list[InputsLocationGrant], Field(alias="inputsLocations")] = []
    # Secrets launches of a project may read (docs/security.md#secrets): each grant its own execution role.
    secrets_allowed: Annotated[list[SecretGrant], Field(alias="secretsAllowed", max_length=20)] = []
    # EFS file systems launches of a project may mount by name (docs/security.md#volumes).
    volumes: Annotated[list[VolumeGrant], Field(max_length=20)] = []
    # Flyte's metadata and raw-data prefixes the job roles of these projects read and write (docs/flyte.md).
    flyte_data: Annotated[list[FlyteDataGrant], Field(alias="flyteData")] = []

    @field_validator("launcher", "aggregator", "reconciler", mode="before")
    @classmethod
    def _over_function_defaults(cls, value: object, info: ValidationInfo) -> object:
        """A function's keys override its own defaults one by one: ``aggregator: {memoryMb: 1024}``
        keeps the aggregator's batch of 100, not FunctionConfig's 10."""
        if not isinstance(value, dict):
            return value
        defaults = FUNCTION_DEFAULTS[info.field_name or ""].model_dump(by_alias=True, exclude_none=True)
        fields = FunctionConfig.model_fields
        given = {fields[k].alias or k if k in fields else k: v for k, v in value.items()}
        return {**defaults, **given}

    @field_validator("teams")
    @classmethod
    def _teams(cls, value: list[Team]) -> list[Team]:
        Tenancy(teams=value)  # names and sources unique
        return value

    @field_validator("allowed_role_arns")
    @classmethod
    def _role_arns(cls, value: list[str]) -> list[str]:
        bad = [
            a for a in value if not re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+|[\w+=,.@-]{1,64}", a)
        ]
        if bad:
            raise ValueError(
                f"not IAM role ARNs or role names: {', '.join(bad)} (expected arn:aws:iam::<account>:role/<name>, "
                "or <name> for a role of the deployment's own account)"
            )
        return value

    @field_validator("extra_job_queue_arns")
    @classmethod
    def _queue_arns(cls, value: list[str]) -> list[str]:
        bad = [a for a in value if not re.fullmatch(rf"{JOB_QUEUE_ARN_RE}|[A-Za-z0-9_-]{{1,128}}", a)]
        if bad:
            raise ValueError(
                f"not job queue ARNs or names: {', '.join(bad)} (expected "
                "arn:aws:batch:<region>:<account>:job-queue/<name>, or <name> for a queue of the deployment's "
                "own account and region)"
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
        for dup in _duplicates([g.name for g in self.secrets_allowed]):
            problems.append(f"secretsAllowed: name {dup!r} is used twice")
        for dup in _duplicates([v.name for v in self.volumes]):
            problems.append(f"volumes: name {dup!r} is used twice")
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
        roles = [(f"jobRoles.{r.name}.name", "role name", self.job_role_name(r)) for r in self.job_roles]
        roles += [
            (f"secretsAllowed.{g.name}.name", "grant name", self.secrets_execution_role_name(g))
            for g in self.secrets_allowed
        ]
        vpc = self.network.new_vpc
        fargate = [ce.name for ce in self.compute_environments if ce.kind.is_fargate]
        return (
            role_name_problems(roles)
            + (fargate_network_problems(vpc.nat_gateways, vpc.interface_endpoints, fargate) if vpc else [])
            + concurrency_problems(
                [
                    ("launcher", self.launcher.reserved_concurrency, self.launcher_max_concurrency),
                    ("aggregator", self.aggregator.reserved_concurrency, self.aggregator_max_concurrency),
                ]
            )
        )

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

    def account_wide_name(self, suffix: str = "") -> str:
        """The name of a resource whose names are unique per account, not per region (IAM roles and
        policies, CloudWatch dashboards): it carries the region, so one deployment name may be
        deployed to several regions of an account without "already exists"."""
        return f"{self.prefix}-{self.region}" + (f"-{suffix}" if suffix else "")

    def job_role_name(self, role: JobRoleConfig) -> str:
        return self.account_wide_name(f"job-{role.name}")

    @property
    def execution_role_name(self) -> str:
        return self.account_wide_name("execution")

    def producer_policy_name(self, team: str) -> str:
        return self.account_wide_name(f"producer-{team}")

    def secrets_execution_role_name(self, grant: SecretGrant) -> str:
        """The execution role of a secretsAllowed grant: it reads that grant's secrets and no other."""
        return f"{self.execution_role_name}-{grant.name}"

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
        """A role's ARN: a job role's from its config name, an ``allowedRoleArns`` name's in this
        deployment's account; an ARN is returned as is."""
        if name_or_arn.startswith("arn:"):
            return name_or_arn
        role = next((r for r in self.job_roles if r.name == name_or_arn), None)
        name = self.job_role_name(role) if role is not None else name_or_arn
        return f"arn:{partition}:iam::{account}:role/{name}"

    def allowed_roles_in(self, account: str, partition: str = "aws") -> list[str]:
        """``allowedRoleArns`` as ARNs (a bare name is a role of the deployment's own account)."""
        return [
            a if a.startswith("arn:") else f"arn:{partition}:iam::{account}:role/{a}" for a in self.allowed_role_arns
        ]

    def extra_queues_in(self, account: str, partition: str = "aws") -> list[str]:
        """``extraJobQueueArns`` as ARNs (a bare name is a queue of the deployment's account and region)."""
        return [
            a if a.startswith("arn:") else f"arn:{partition}:batch:{self.region}:{account}:job-queue/{a}"
            for a in self.extra_job_queue_arns
        ]

    def queue_capabilities(self, queue: JobQueueConfig) -> Capabilities:
        """What a job can get on a queue, from its compute environments (batchlane.deployment.capabilities)."""
        from batchlane.deployment.capabilities import queue_capabilities

        ces = {ce.name: ce for ce in self.compute_environments}
        capabilities = queue_capabilities([ces[name].capabilities for name in queue.compute_environments])
        return replace(capabilities, fair_share=queue.fair_share is not None)

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
        roles = f"arn:{partition}:iam::{account}:role/"
        params = {
            "allowed-role-arns": ",".join(job_roles + self.allowed_roles_in(account, partition)),
            "execution-role-arn": f"arn:{partition}:iam::{account}:role/{self.execution_role_name}",
            "job-log-group": self.job_log_group,
            "routing-cache-seconds": str(self.routing_cache_seconds),
            "limits": self.limits.model_dump_json(by_alias=True),
            "region": self.region,
            "producers": Tenancy(teams=self.teams).model_dump_json(exclude_defaults=True) or "{}",
            # Roles a team brings serve every project (their own policies say what they may touch).
            "job-role-projects": json.dumps(
                {
                    **{arn: ["*"] for arn in self.allowed_roles_in(account, partition)},
                    **{self.role_arn(r.name, account, partition): list(r.projects) for r in self.job_roles},
                }
            ),
            "inputs-locations": json.dumps([g.model_dump() for g in self.inputs_locations]),
            # batchlane.common.secrets.SecretAccess (the stacks give the account as a token: not validated here)
            "secrets-allowed": json.dumps(
                [
                    {**g.model_dump(by_alias=True), "executionRoleArn": f"{roles}{self.secrets_execution_role_name(g)}"}
                    for g in self.secrets_allowed
                ]
            ),
            "volumes": json.dumps([v.model_dump(by_alias=True) for v in self.volumes]),
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


def load_config(name_or_path: str | Path = "dev") -> DeploymentConfig:
    """Load ``config/<name>.yaml`` (or a path) and validate it."""
    import yaml  # here, not at the top: a function importing this module never loads PyYAML

    path = Path(name_or_path)
    if not path.suffix:
        path = CONFIG_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        available = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
        where = f"available: {available}" if available else "outside a checkout, name the file: --deployment FILE.yaml"
        raise ConfigError(f"no deployment configuration {path} ({where})")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    try:
        return DeploymentConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_errors(str(path), exc)) from None
