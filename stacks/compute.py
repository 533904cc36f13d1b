"""Where jobs run: the network, Batch compute environments, job queues, job roles and the job log group.

Everything here is derived from :class:`batchlane.deployment.config.DeploymentConfig`; nothing is
looked up in an AWS account at synth time (an existing VPC is given by explicit ids).

What the rest of the stack reads from :class:`BatchCompute`:

* ``job_queues``      config queue name -> Batch job queue (physical name ``config.queue_name(q)``)
* ``job_roles``       config role name -> IAM role jobs run as (trusted by ``ecs-tasks.amazonaws.com``)
* ``execution_role``  the Fargate / awslogs execution role every job definition carries
* ``secrets_execution_roles``  grant name -> the execution role of a job with that grant's secrets
* ``passable_role_arns``  exactly the roles the launcher may ``iam:PassRole`` (RegisterJobDefinition)
* ``default_role_arn``    ``config.defaultRole`` as an ARN (``None`` when no default is configured)
* ``log_group``       the ``awslogs`` group of every job (``/aws/batch/<prefix>``)
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, Aws, CfnOutput, Duration, RemovalPolicy, Stack, Tags, Validations
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from batchlane.common.secrets import SecretGrant
from batchlane.common.tenancy import CHILDREN, INPUTS, patterns_overlap, project_key_pattern
from batchlane.deployment.config import (
    ComputeEnvironmentConfig,
    ComputeKind,
    ConfigError,
    DeploymentConfig,
    EcsImageType,
    JobQueueConfig,
    JobRoleConfig,
)
from stacks.runtime import log_retention
from stacks.workloads import grant_secret_reads, grant_volume_mounts

# The two kinds made here (their common interface, IManagedComputeEnvironment, declares a vpc_subnets
# that neither class has in aws-cdk-lib's Python types).
ManagedComputeEnvironment = batch.FargateComputeEnvironment | batch.ManagedEc2EcsComputeEnvironment

# The three reasons a job can sit in RUNNABLE that Batch can act on (jobStateTimeLimitActions).
_RUNNABLE_REASONS = (
    batch.JobStateTimeLimitActionsReason.INSUFFICIENT_INSTANCE_CAPACITY,
    batch.JobStateTimeLimitActionsReason.COMPUTE_ENVIRONMENT_MAX_RESOURCE,
    batch.JobStateTimeLimitActionsReason.JOB_RESOURCE_REQUIREMENT,
)


class BatchCompute(Construct):
    def __init__(self, scope: Construct, id: str, *, config: DeploymentConfig, data_bucket: s3.IBucket) -> None:
        super().__init__(scope, id)
        self.config = config
        self.data_bucket = data_bucket
        self.vpc, self.subnets, self.security_groups = self._network(config)
        self.log_group_name = config.job_log_group
        self.log_group: logs.ILogGroup = self._job_log_group(config)
        self.execution_role: iam.IRole = self._execution_role("ExecutionRole", config.execution_role_name)
        self.secrets_execution_roles: dict[str, iam.IRole] = {
            g.name: self._execution_role(f"ExecutionRole-{g.name}", config.secrets_execution_role_name(g), g)
            for g in config.secrets_allowed
        }
        self.job_roles: dict[str, iam.IRole] = {r.name: self._job_role(r) for r in config.job_roles}
        self.passable_role_arns: list[str] = (
            [r.role_arn for r in self.job_roles.values()]
            + [self.execution_role.role_arn]
            + [r.role_arn for r in self.secrets_execution_roles.values()]
            + config.allowed_roles_in(Aws.ACCOUNT_ID, Aws.PARTITION)
        )
        self.default_role_arn: str | None = None
        if config.default_role:
            known = self.job_roles.get(config.default_role)
            self.default_role_arn = (
                known.role_arn
                if known is not None
                else config.role_arn(config.default_role, Aws.ACCOUNT_ID, Aws.PARTITION)
            )
        self._instance_role: iam.IRole | None = None
        self.compute_environments: dict[str, ManagedComputeEnvironment] = {
            ce.name: self._compute_environment(ce) for ce in config.compute_environments
        }
        self.job_queues: dict[str, batch.IJobQueue] = {q.name: self._job_queue(q) for q in config.job_queues}
        CfnOutput(self, "JobLogGroupName", value=self.log_group_name, description="awslogs group of every job")
        Tags.of(self).add("batchlane:deployment", config.name)

    def _job_log_group(self, config: DeploymentConfig) -> logs.ILogGroup:
        """The group every job writes to (awslogs driver); kept when the stack is deleted."""
        return logs.LogGroup(
            self,
            "JobLogs",
            log_group_name=self.log_group_name,
            retention=log_retention(config.log_retention_days),
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,  # a fixed name (see stacks/state.py)
        )

    def _execution_role(self, id: str, name: str, secrets: SecretGrant | None = None) -> iam.IRole:
        what = f"and the secrets of grant {secrets.name!r} for its jobs" if secrets else "for every job"
        role = iam.Role(
            self,
            id,
            role_name=name,
            assumed_by=_ecs_tasks(),
            description=f"batchlane: ECS task execution role (image pull from ECR, awslogs) {what}",
        )
        # Least-privilege equivalent of AmazonECSTaskExecutionRolePolicy: pull images from ECR
        # repositories of this account and region, write to the job log group only.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="EcrAuthorizationToken",
                actions=["ecr:GetAuthorizationToken"],
                resources=["*"],  # the API has no resource-level permissions
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="EcrPull",
                actions=["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                resources=[Stack.of(self).format_arn(service="ecr", resource="repository", resource_name="*")],
            )
        )
        self.log_group.grant_write(role)
        if secrets is not None:
            grant_secret_reads(role, secrets)
        return role

    def _job_role(self, role_config: JobRoleConfig) -> iam.IRole:
        role = iam.Role(
            self,
            f"JobRole-{role_config.name}",
            role_name=self.config.job_role_name(role_config),
            assumed_by=_ecs_tasks(),
            description=f"batchlane: job role {role_config.name!r} (what a task's code may do)",
            managed_policies=[_managed_policy(self, role_config.name, p) for p in role_config.managed_policies],
        )
        # A job reads its projects' inputs and writes only children's outputs of its projects
        # (batchlane.common.tenancy.LaunchData): the role of project A cannot touch project B's
        # keys, nor any launch's inputs, assembled outputs or parts.
        projects = list(role_config.projects)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadProjectInputs",
                actions=["s3:GetObject"],
                resources=[self.data_bucket.arn_for_objects(project_key_pattern(INPUTS, p)) for p in projects],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="WriteProjectChildOutputs",
                actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[self.data_bucket.arn_for_objects(project_key_pattern(CHILDREN, p)) for p in projects],
            )
        )
        shared = [
            g.uri
            for g in self.config.inputs_locations
            if any(patterns_overlap(a, b) for a in g.projects for b in projects)
        ]
        if shared:
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid="ReadAllowedInputsLocations",
                    actions=["s3:GetObject"],
                    resources=[f"arn:{Aws.PARTITION}:s3:::{uri.removeprefix('s3://')}*" for uri in shared],
                )
            )
        grant_volume_mounts(role, projects, self.config.volumes)
        self._grant_flyte_data(role, projects)
        if self.data_bucket.encryption_key is not None:
            self.data_bucket.encryption_key.grant_encrypt_decrypt(role)
        return role

    def _grant_flyte_data(self, role: iam.Role, projects: list[str]) -> None:
        """Flyte's metadata and raw-data prefixes granted to the role's projects (``flyteData``): a
        Flyte task reads its inputs there and writes its outputs, files and checkpoints."""
        uris = [
            g.uri for g in self.config.flyte_data if any(patterns_overlap(a, b) for a in g.projects for b in projects)
        ]
        if not uris:
            return
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadWriteFlyteData",
                actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[f"arn:{Aws.PARTITION}:s3:::{uri.removeprefix('s3://')}*" for uri in uris],
            )
        )
        for i, uri in enumerate(uris):  # one statement per bucket and prefix: a prefix lists its own bucket only
            bucket, _, prefix = uri.removeprefix("s3://").partition("/")
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid=f"ListFlyteData{i}",
                    actions=["s3:ListBucket"],
                    resources=[f"arn:{Aws.PARTITION}:s3:::{bucket}"],
                    conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
                )
            )

    # ------------------------------------------------------------------------------------------
    def _network(self, config: DeploymentConfig) -> tuple[ec2.IVpc, ec2.SubnetSelection, list[ec2.ISecurityGroup]]:
        if config.network.existing_vpc is not None:
            return self._existing_network(config)
        return self._new_network(config)

    def _existing_network(
        self, config: DeploymentConfig
    ) -> tuple[ec2.IVpc, ec2.SubnetSelection, list[ec2.ISecurityGroup]]:
        existing = config.network.existing_vpc
        assert existing is not None  # _network's choice
        # Explicit ids only: no Vpc.from_lookup, so synth never needs AWS credentials.
        # Compute gets its subnets explicitly (``self.subnets``), so the VPC itself carries none.
        vpc = ec2.Vpc.from_vpc_attributes(
            self, "Vpc", vpc_id=existing.vpc_id, availability_zones=list(existing.availability_zones)
        )
        imported = [ec2.Subnet.from_subnet_id(self, f"Subnet{i}", s) for i, s in enumerate(existing.subnet_ids)]
        for subnet in imported:
            # batchlane never reads a subnet's route table: the "no routeTableId" warning does not apply.
            Validations.of(subnet).acknowledge(
                Acknowledgment(
                    id="@aws-cdk/aws-ec2:noSubnetRouteTableId",
                    reason="Subnets given by id only place Batch compute; no route table is read or changed.",
                )
            )
        subnets = ec2.SubnetSelection(subnets=imported)
        if existing.security_group_ids:
            groups = [
                ec2.SecurityGroup.from_security_group_id(self, f"SecurityGroup{i}", sg, mutable=False)
                for i, sg in enumerate(existing.security_group_ids)
            ]
            return vpc, subnets, groups
        return vpc, subnets, [self._compute_security_group(vpc)]

    def _new_network(self, config: DeploymentConfig) -> tuple[ec2.IVpc, ec2.SubnetSelection, list[ec2.ISecurityGroup]]:
        new = config.network.new_vpc
        assert new is not None  # NetworkConfig guarantees one of the two
        private_type = ec2.SubnetType.PRIVATE_WITH_EGRESS if new.nat_gateways else ec2.SubnetType.PUBLIC
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=new.max_azs,
            nat_gateways=new.nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                *(
                    [
                        ec2.SubnetConfiguration(
                            name="compute", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=20
                        )
                    ]
                    if new.nat_gateways
                    else []
                ),
            ],
            # S3 traffic (inputs, outputs, image layers from ECR) bypasses the NAT gateway: free.
            gateway_endpoints={"S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)},
        )
        if new.interface_endpoints:
            # Without NAT, Fargate jobs (no public IP) reach ECR and CloudWatch Logs through these.
            for name, service in (
                ("EcrApi", ec2.InterfaceVpcEndpointAwsService.ECR),
                ("EcrDocker", ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER),
                ("Logs", ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS),
            ):
                vpc.add_interface_endpoint(name, service=service, subnets=ec2.SubnetSelection(subnet_type=private_type))
        flow_logs = logs.LogGroup(
            self,
            "FlowLogs",
            retention=log_retention(config.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )
        return vpc, ec2.SubnetSelection(subnet_type=private_type), [self._compute_security_group(vpc)]

    def _compute_security_group(self, vpc: ec2.IVpc) -> ec2.ISecurityGroup:
        # No ingress at all; egress for image pulls, S3, the AWS APIs a job calls.
        return ec2.SecurityGroup(
            self,
            "ComputeSecurityGroup",
            vpc=vpc,
            description="batchlane compute: no inbound traffic, outbound to pull images and reach AWS APIs",
            allow_all_outbound=True,
        )

    def _instance_role_for_ec2(self) -> iam.IRole:
        # One ECS container-instance role shared by every EC2 compute environment.
        if self._instance_role is None:
            self._instance_role = iam.Role(
                self,
                "InstanceRole",
                assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
                description="batchlane: ECS container instance role of the EC2 compute environments",
                managed_policies=[
                    iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AmazonEC2ContainerServiceforEC2Role")
                ],
            )
        return self._instance_role

    def _compute_environment(self, ce: ComputeEnvironmentConfig) -> ManagedComputeEnvironment:
        common: dict[str, Any] = dict(
            vpc=self.vpc,
            vpc_subnets=self.subnets,
            security_groups=self.security_groups,
            maxv_cpus=ce.max_vcpus,
            # Batch's service-linked role (AWSServiceRoleForBatch); see _use_service_linked_role.
            service_role=self._service_linked_role(),
            # Running jobs finish before instances are replaced by an infrastructure update.
            terminate_on_update=False,
            update_timeout=Duration.minutes(30),
        )
        if ce.kind.is_fargate:
            env: ManagedComputeEnvironment = batch.FargateComputeEnvironment(
                self, f"Compute-{ce.name}", spot=ce.spot, **common
            )
        else:
            names = ce.effective_instance_types
            explicit = [n for n in names if n != "optimal"]
            image_type = ce.image_type or (
                EcsImageType.ECS_AL2023_NVIDIA if ce.kind is ComputeKind.GPU else EcsImageType.ECS_AL2023
            )
            spot = ce.spot
            strategy = (
                ce.allocation_strategy.value
                if ce.allocation_strategy
                else ("SPOT_PRICE_CAPACITY_OPTIMIZED" if spot else "BEST_FIT_PROGRESSIVE")
            )
            env = batch.ManagedEc2EcsComputeEnvironment(
                self,
                f"Compute-{ce.name}",
                spot=spot,
                spot_bid_percentage=ce.spot_bid_percentage,
                allocation_strategy=batch.AllocationStrategy[strategy],
                minv_cpus=ce.min_vcpus,
                instance_types=[ec2.InstanceType(n) for n in explicit if "." in n],
                instance_classes=[_instance_class(ce, n) for n in explicit if "." not in n],
                use_optimal_instance_classes=not explicit or "optimal" in names,
                images=[batch.EcsMachineImage(image_type=batch.EcsMachineImageType[image_type.value])],
                instance_role=self._instance_role_for_ec2(),
                launch_template=self._launch_template(),
                **common,
            )
        _use_service_linked_role(env)
        Tags.of(env).add("batchlane:compute", ce.name)
        return env

    def _launch_template(self) -> ec2.ILaunchTemplate:
        # Instances require IMDSv2 with a hop limit of 1: containers cannot reach the instance's
        # credentials; jobs get theirs from their job role through the ECS agent.
        existing = self.node.try_find_child("InstanceLaunchTemplate")
        if existing is not None:
            return existing  # type: ignore[return-value]
        return ec2.LaunchTemplate(
            self,
            "InstanceLaunchTemplate",
            require_imdsv2=True,
            http_put_response_hop_limit=1,
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/xvda",
                    volume=ec2.BlockDeviceVolume.ebs(100, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3),
                )
            ],
        )

    def _service_linked_role(self) -> iam.IRole:
        existing = self.node.try_find_child("BatchServiceLinkedRole")
        if existing is not None:
            return existing  # type: ignore[return-value]
        return iam.Role.from_role_name(
            self, "BatchServiceLinkedRole", "aws-service-role/batch.amazonaws.com/AWSServiceRoleForBatch"
        )

    def _job_queue(self, q: JobQueueConfig) -> batch.JobQueue:
        policy = None
        if q.fair_share is not None:
            policy = batch.FairshareSchedulingPolicy(
                self,
                f"FairShare-{q.name}",
                scheduling_policy_name=f"{self.config.prefix}-{q.name}",
                share_decay=Duration.seconds(q.fair_share.share_decay_seconds),
                compute_reservation=q.fair_share.compute_reservation,
                shares=[batch.Share(share_identifier=k, weight_factor=v) for k, v in q.fair_share.shares.items()],
            )
        actions = None
        if q.runnable_time_limit_seconds is not None:
            # A job stuck in RUNNABLE for one of these reasons is cancelled (then FAILED, which the
            # status path reports) instead of blocking the head of the queue forever.
            actions = [
                batch.JobStateTimeLimitAction(
                    max_time=Duration.seconds(q.runnable_time_limit_seconds),
                    reason=reason,
                    action=batch.JobStateTimeLimitActionsAction.CANCEL,
                    state=batch.JobStateTimeLimitActionsState.RUNNABLE,
                )
                for reason in _RUNNABLE_REASONS
            ]
        return batch.JobQueue(
            self,
            f"Queue-{q.name}",
            job_queue_name=self.config.queue_name(q),
            priority=q.priority,
            compute_environments=[
                batch.OrderedComputeEnvironment(compute_environment=self.compute_environments[name], order=i + 1)
                for i, name in enumerate(q.compute_environments)
            ],
            scheduling_policy=policy,
            job_state_time_limit_actions=actions,
        )


def _ecs_tasks() -> iam.IPrincipal:
    """ECS, assuming a role only for tasks launched in this account (confused deputy guard)."""
    return iam.ServicePrincipal("ecs-tasks.amazonaws.com").with_conditions(
        {"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
    )


def _use_service_linked_role(env: Construct) -> None:
    """Omit ServiceRole so Batch uses (and creates when missing) its service-linked role.

    The L2 insists on a role object; we hand it an imported reference to the service-linked role
    (nothing is created) and drop the property, which is what AWS recommends for managed compute
    environments and avoids a role carrying the broad AWSBatchServiceRole managed policy.
    """
    cfn = env.node.default_child
    cfn.add_property_deletion_override("ServiceRole")  # type: ignore[union-attr]


def _instance_class(ce: ComputeEnvironmentConfig, family: str) -> ec2.InstanceClass:
    """An instance family such as ``g5`` or ``m6i`` (Batch launches any size of it)."""
    try:
        return ec2.InstanceClass[family.upper().replace("-", "_")]
    except KeyError:
        raise ConfigError(
            f"computeEnvironments.{ce.name}.instanceTypes: {family!r} is not an EC2 instance family known to "
            "aws-cdk-lib (give a family such as g5, m6i, c7g, a size such as g5.xlarge, or optimal)"
        ) from None


def _managed_policy(scope: Construct, role: str, policy: str) -> iam.IManagedPolicy:
    """A managed policy given in the config by ARN or by AWS managed policy name."""
    if policy.startswith("arn:"):
        return iam.ManagedPolicy.from_managed_policy_arn(scope, f"Policy-{role}-{policy.rsplit('/', 1)[-1]}", policy)
    return iam.ManagedPolicy.from_aws_managed_policy_name(policy)
