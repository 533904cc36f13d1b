"""One batchlane deployment, read top to bottom like the architecture diagram."""

from __future__ import annotations

from aws_cdk import CfnOutput, CfnResource, Stack
from constructs import Construct

from batchlane.deployment.config import ConfigError, DeploymentConfig
from stacks.compute import BatchCompute
from stacks.launch_path import LaunchPath
from stacks.operations import Operations
from stacks.routing_seed import RoutingSeed
from stacks.runtime import LambdaRuntime
from stacks.settings import DeploymentSettings
from stacks.state import StateStore
from stacks.status_path import StatusPath
from stacks.tenancy import OperatorPolicies, ProducerPolicies

CLOUDFORMATION_MAX_RESOURCES = 500


class BatchlaneStack(Stack):
    def __init__(self, scope: Construct, id: str, *, config: DeploymentConfig, **kwargs) -> None:
        super().__init__(scope, id, description=f"batchlane deployment {config.name}", **kwargs)
        self.config = config
        self.state = StateStore(self, "State", config=config)
        self.compute = BatchCompute(self, "Compute", config=config, data_bucket=self.state.bucket)
        self.settings = DeploymentSettings(self, "Settings", config=config)
        self.producers = ProducerPolicies(
            self,
            "Producers",
            config=config,
            bus=self.state.bus,
            bucket=self.state.bucket,
            table=self.state.executions_table,
        )
        self.operators = OperatorPolicies(
            self,
            "Operators",
            config=config,
            bucket=self.state.bucket,
            executions=self.state.executions_table,
            routing=self.state.routing_table,
        )
        self.routing_seed = RoutingSeed(self, "RoutingSeed", config=config, table=self.state.routing_table)
        self.runtime = LambdaRuntime(self, "Runtime", config=config)
        self.launch = LaunchPath(
            self,
            "Launch",
            config=config,
            state=self.state,
            compute=self.compute,
            runtime=self.runtime,
            settings=self.settings,
        )
        self.status = StatusPath(
            self,
            "Status",
            config=config,
            state=self.state,
            compute=self.compute,
            runtime=self.runtime,
            settings=self.settings,
        )
        self.operations = Operations(
            self,
            "Operations",
            config=config,
            dlqs={"launch": self.launch.dlq, "status": self.status.dlq, "abort": self.status.abort_dlq},
            functions={
                "launcher": self.launch.function,
                "aggregator": self.status.function,
                "reconciler": self.status.reconciler,
            },
            job_queues=self.compute.job_queues,
        )
        self._outputs()
        self._check_resource_quota()

    def _check_resource_quota(self) -> None:
        """CloudFormation refuses a template of more than 500 resources; say so at synth, naming the
        configuration's key that grows it (one seed resource per routing queue and rule)."""
        count = sum(1 for node in self.node.find_all() if isinstance(node, CfnResource))
        if count > CLOUDFORMATION_MAX_RESOURCES:
            items = len(self.routing_seed.items)
            raise ConfigError(
                f"routingRules: the stack would have {count} resources, over CloudFormation's "
                f"{CLOUDFORMATION_MAX_RESOURCES} ({items} of them seed the routing table, one per queue and rule); "
                "seed fewer rules and add the rest with `batchlane routes import`"
            )

    def _outputs(self) -> None:
        CfnOutput(self, "EventBusName", value=self.state.bus.event_bus_name, description="put task launches here")
        CfnOutput(self, "RoutingTableName", value=self.state.routing_table.table_name)
        CfnOutput(self, "ExecutionsTableName", value=self.state.executions_table.table_name)
        CfnOutput(self, "DataBucketName", value=self.state.bucket.bucket_name)
        CfnOutput(self, "LaunchDeadLetterQueueUrl", value=self.launch.dlq.queue_url)
        CfnOutput(self, "StatusDeadLetterQueueUrl", value=self.status.dlq.queue_url)
        for name, queue in self.compute.job_queues.items():
            CfnOutput(
                self,
                f"JobQueue{''.join(p.title() for p in name.replace('_', '-').split('-'))}",
                value=queue.job_queue_arn,
                description=f"job queue {name}",
            )
