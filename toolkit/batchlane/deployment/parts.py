"""The parts of a deployment configuration (batchlane.deployment.config): compute environments,
job queues, routing rules, job roles, the network and the functions' settings."""

from __future__ import annotations

import re
from enum import Enum
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from batchlane.common.tenancy import Pattern
from batchlane.launch.models import SHARE_IDENTIFIER_PATTERN
from batchlane.routing.scope import Scope

if TYPE_CHECKING:
    from batchlane.routing import Capabilities

NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$"
# Batch's fair-share weight factors (SchedulingPolicy ShareAttributes.weightFactor).
WEIGHT_FACTOR_MIN, WEIGHT_FACTOR_MAX = 0.0001, 999.9999
# Default instance family of a gpu compute environment that names no instance types.
DEFAULT_GPU_INSTANCE_TYPES = ("g5",)
SQS_BATCH_WITHOUT_WINDOW = 10  # Lambda's largest SQS batch without MaximumBatchingWindowInSeconds


def _launchable(instance_types: list[str], max_vcpus: int) -> tuple | None:
    from batchlane.deployment.capabilities import launchable

    return launchable(instance_types, max_vcpus)


class Strict(BaseModel):
    """Unknown keys are errors: a typo must not silently fall back to a default."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class ComputeKind(str, Enum):
    """The hardware; how it is bought is :class:`PurchaseOption`, a separate axis (GPU on Spot too)."""

    EC2 = "ec2"
    GPU = "gpu"
    FARGATE = "fargate"

    @property
    def is_fargate(self) -> bool:
        return self is ComputeKind.FARGATE


class PurchaseOption(str, Enum):
    ON_DEMAND = "on-demand"
    SPOT = "spot"


class SpotAllocation(str, Enum):
    SPOT_CAPACITY_OPTIMIZED = "SPOT_CAPACITY_OPTIMIZED"
    SPOT_PRICE_CAPACITY_OPTIMIZED = "SPOT_PRICE_CAPACITY_OPTIMIZED"
    BEST_FIT_PROGRESSIVE = "BEST_FIT_PROGRESSIVE"


class EcsImageType(str, Enum):
    """The ECS-optimized AMI family Batch picks for EC2 instances (the NVIDIA ones carry GPU drivers)."""

    ECS_AL2023 = "ECS_AL2023"
    ECS_AL2023_NVIDIA = "ECS_AL2023_NVIDIA"
    ECS_AL2 = "ECS_AL2"
    ECS_AL2_NVIDIA = "ECS_AL2_NVIDIA"

    @property
    def is_gpu(self) -> bool:
        return self.value.endswith("_NVIDIA")


class ComputeEnvironmentConfig(Strict):
    name: Annotated[str, Field(pattern=NAME_RE)]
    kind: ComputeKind
    purchase_option: Annotated[PurchaseOption, Field(alias="purchaseOption")] = PurchaseOption.ON_DEMAND
    max_vcpus: Annotated[int, Field(alias="maxVcpus", ge=1, le=100_000)] = 256
    min_vcpus: Annotated[int, Field(alias="minVcpus", ge=0)] = 0
    # EC2 kinds only; "optimal" lets Batch choose (default for ec2/spot, g5 family for gpu).
    instance_types: Annotated[list[str], Field(alias="instanceTypes")] = []
    allocation_strategy: Annotated[SpotAllocation | None, Field(alias="allocationStrategy")] = None
    spot_bid_percentage: Annotated[int | None, Field(alias="spotBidPercentage", ge=1, le=100)] = None
    # EC2 kinds only; default ECS_AL2023 (ec2, spot) and ECS_AL2023_NVIDIA (gpu).
    image_type: Annotated[EcsImageType | None, Field(alias="imageType")] = None

    @property
    def effective_instance_types(self) -> list[str]:
        """The instance types Batch may launch: as configured, else g5 (gpu) or optimal (ec2, spot)."""
        if self.kind.is_fargate:
            return []
        return list(self.instance_types) or list(
            DEFAULT_GPU_INSTANCE_TYPES if self.kind is ComputeKind.GPU else ["optimal"]
        )

    @property
    def capabilities(self) -> Capabilities:
        from batchlane.deployment.capabilities import environment_capabilities

        return environment_capabilities(self.kind.is_fargate, self.effective_instance_types, self.max_vcpus, self.spot)

    @property
    def spot(self) -> bool:
        return self.purchase_option is PurchaseOption.SPOT

    @model_validator(mode="after")
    def _kind_specific(self) -> ComputeEnvironmentConfig:
        if self.kind.is_fargate and (
            self.instance_types or self.min_vcpus or self.allocation_strategy or self.image_type
        ):
            raise ValueError(
                f"compute environment {self.name!r} is {self.kind.value}: instanceTypes, minVcpus, "
                "allocationStrategy and imageType apply to ec2 and gpu kinds only"
            )
        if (
            self.allocation_strategy is not None
            and self.allocation_strategy.value.startswith("SPOT_")
            and not self.spot
        ):
            raise ValueError(
                f"compute environment {self.name!r}: allocationStrategy {self.allocation_strategy.value} applies to "
                "purchaseOption spot only (allowed on-demand: BEST_FIT_PROGRESSIVE)"
            )
        if self.image_type is not None and self.image_type.is_gpu != (self.kind is ComputeKind.GPU):
            allowed = [t.value for t in EcsImageType if t.is_gpu == (self.kind is ComputeKind.GPU)]
            raise ValueError(
                f"compute environment {self.name!r}: imageType {self.image_type.value} does not fit kind "
                f"{self.kind.value} (allowed: {', '.join(allowed)})"
            )
        bad = [
            t
            for t in self.instance_types
            if not re.fullmatch(r"optimal|[a-z][a-z0-9-]*[0-9][a-z0-9-]*(\.[a-z0-9]+)?", t)
        ]
        if bad:
            raise ValueError(
                f"compute environment {self.name!r}: instanceTypes {', '.join(bad)} are not instance types or "
                "families (expected e.g. m6i, m6i.xlarge, g5 or optimal)"
            )
        if self.spot_bid_percentage is not None and (self.kind.is_fargate or not self.spot):
            raise ValueError(
                f"compute environment {self.name!r}: spotBidPercentage applies to EC2 kinds with "
                "purchaseOption spot only"
            )
        if not self.kind.is_fargate and _launchable(self.effective_instance_types, self.max_vcpus) == ():
            raise ValueError(
                f"compute environment {self.name!r}: maxVcpus {self.max_vcpus} is below the vCPUs of every instance "
                f"of {', '.join(self.effective_instance_types)}: Batch could never start one"
            )
        if self.min_vcpus > self.max_vcpus:
            raise ValueError(f"compute environment {self.name!r}: minVcpus must not exceed maxVcpus")
        return self


class FairShareConfig(Strict):
    share_decay_seconds: Annotated[int, Field(alias="shareDecaySeconds", ge=0, le=604_800)] = 3600
    compute_reservation: Annotated[int, Field(alias="computeReservation", ge=0, le=99)] = 0
    # share identifier -> weight factor (lower factor = larger share, as Batch defines it). The ids
    # follow the launch model's shareIdentifier grammar, or no launch could name them.
    shares: dict[
        Annotated[str, Field(pattern=SHARE_IDENTIFIER_PATTERN)],
        Annotated[float, Field(ge=WEIGHT_FACTOR_MIN, le=WEIGHT_FACTOR_MAX)],
    ] = {}


class JobQueueConfig(Strict):
    name: Annotated[str, Field(pattern=NAME_RE)]
    # The Batch job queue name; default "<prefix>-<name>". Routing items refer to this name.
    queue_name: Annotated[str | None, Field(alias="queueName", pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")] = None
    priority: Annotated[int, Field(ge=0, le=1000)] = 1
    compute_environments: Annotated[list[str], Field(alias="computeEnvironments", min_length=1, max_length=3)]
    attributes: Annotated[list[str], Field(min_length=1)]
    weight: Annotated[int, Field(ge=0, le=1000)] = 1
    enabled: bool = True
    fair_share: Annotated[FairShareConfig | None, Field(alias="fairShare")] = None
    runnable_time_limit_seconds: Annotated[int | None, Field(alias="runnableTimeLimitSeconds", ge=600, le=86_400)] = (
        None
    )


class RoutingRuleConfig(Strict):
    """A FlyteAdmin ``workflowConfigs`` entry: every field named must match."""

    project: str | None = None
    domain: str | None = None
    workflow: Annotated[str | None, Field(alias="workflowName")] = None
    tags: Annotated[list[str], Field(min_length=1)]

    @property
    def scope(self) -> Scope:
        return Scope(self.project, self.domain, self.workflow)


class JobRoleConfig(Strict):
    name: Annotated[str, Field(pattern=NAME_RE)]
    managed_policies: Annotated[list[str], Field(alias="managedPolicies")] = []
    # The projects (patterns) whose launches may run as this role; its S3 access is their launch data
    # only: read under launches/<project>/, write under launches/<project>/*/outputs/ (docs/security.md).
    projects: Annotated[list[Pattern], Field(min_length=1)] = ["*"]


class FlyteDataGrant(Strict):
    """A Flyte metadata or raw-data location (an S3 prefix) that the job roles of these projects read
    and write: a Flyte task reads its inputs and writes its outputs there (docs/flyte.md)."""

    projects: Annotated[list[Pattern], Field(min_length=1)]
    uri: Annotated[str, Field(pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/(\S*/)?$")]


class NewVpcConfig(Strict):
    max_azs: Annotated[int, Field(alias="maxAzs", ge=1, le=6)] = 2
    nat_gateways: Annotated[int, Field(alias="natGateways", ge=0, le=6)] = 1
    # Interface endpoints for ECR (api, dkr) and CloudWatch Logs: how Fargate jobs, which get no
    # public IP, pull images and write logs in a VPC without NAT gateways.
    interface_endpoints: Annotated[bool, Field(alias="interfaceEndpoints")] = False


class ExistingVpcConfig(Strict):
    vpc_id: Annotated[str, Field(alias="vpcId", pattern=r"^vpc-[0-9a-f]{8,17}$")]
    availability_zones: Annotated[list[str], Field(alias="availabilityZones", min_length=1)]
    subnet_ids: Annotated[list[str], Field(alias="subnetIds", min_length=1)]
    security_group_ids: Annotated[list[str], Field(alias="securityGroupIds")] = []

    @field_validator("subnet_ids")
    @classmethod
    def _subnets(cls, value: list[str]) -> list[str]:
        bad = [s for s in value if not re.fullmatch(r"subnet-[0-9a-f]{8,17}", s)]
        if bad:
            raise ValueError(f"not subnet ids: {', '.join(bad)} (expected subnet-xxxxxxxx)")
        return value


class NetworkConfig(Strict):
    new_vpc: Annotated[NewVpcConfig | None, Field(alias="newVpc")] = None
    existing_vpc: Annotated[ExistingVpcConfig | None, Field(alias="existingVpc")] = None

    @model_validator(mode="after")
    def _one_of(self) -> NetworkConfig:
        if self.new_vpc and self.existing_vpc:
            raise ValueError("network: give either newVpc or existingVpc, not both")
        if not self.new_vpc and not self.existing_vpc:
            raise ValueError("network: give one of newVpc or existingVpc")
        return self


class FunctionConfig(Strict):
    batch_size: Annotated[int, Field(alias="batchSize", ge=1, le=10_000)] = 10
    batching_window_seconds: Annotated[int, Field(alias="batchingWindowSeconds", ge=0, le=300)] = 0
    memory_mb: Annotated[int, Field(alias="memoryMb", ge=128, le=10_240)] = 512
    timeout_seconds: Annotated[int, Field(alias="timeoutSeconds", ge=3, le=900)] = 60
    max_receive_count: Annotated[int, Field(alias="maxReceiveCount", ge=1, le=1000)] = 10
    reserved_concurrency: Annotated[int | None, Field(alias="reservedConcurrency", ge=1)] = None

    @model_validator(mode="after")
    def _batching(self) -> FunctionConfig:
        # Lambda refuses an SQS event source with more than 10 messages a batch and no batching
        # window (CreateEventSourceMapping); say so at synth, with the keys, not at deploy.
        if self.batch_size > SQS_BATCH_WITHOUT_WINDOW and not self.batching_window_seconds:
            raise ValueError(
                f"batchSize {self.batch_size} needs batchingWindowSeconds of at least 1 (Lambda reads more "
                f"than {SQS_BATCH_WITHOUT_WINDOW} SQS messages a batch only with a batching window)"
            )
        return self


class StatusConfig(Strict):
    """The status path beyond the aggregator's buffer: progress events and the reconciler."""

    # "Task Status Changed" (kind progress) at most once per launch per interval; 0 turns them off.
    progress_interval_seconds: Annotated[int, Field(alias="progressIntervalSeconds", ge=0, le=3600)] = 60
    # Only launches with at least this many children report progress.
    progress_min_size: Annotated[int, Field(alias="progressMinSize", ge=2, le=10_000)] = 100
    # The reconciler runs every N minutes and repairs launches silent for longer than silentSeconds.
    reconcile_every_minutes: Annotated[int, Field(alias="reconcileEveryMinutes", ge=1, le=1440)] = 10
    silent_seconds: Annotated[int, Field(alias="silentSeconds", ge=60, le=7 * 24 * 3600)] = 1800
    # AWS Batch requests (DescribeJobs, 100 job ids each) one reconciler run may make.
    reconcile_request_budget: Annotated[int, Field(alias="reconcileRequestBudget", ge=1, le=10_000)] = 50
    # A queue whose jobs are reported blocked ("Batch Job Queue Blocked") is unhealthy for this long:
    # routing prefers its healthy peers of the same tag. 0 turns queue health off.
    unhealthy_seconds: Annotated[int, Field(alias="unhealthySeconds", ge=0, le=86_400)] = 900
