"""Operations: alarms (every DLQ, every function's errors) to an encrypted SNS topic, and a dashboard.

The dashboard reads batchlane's own metrics (namespace ``batchlane``, emitted as EMF by the
functions) with CloudWatch ``SEARCH`` expressions, so it shows them whatever extra dimensions
the emitter adds (Powertools adds ``service``): ``LaunchRequested``, ``LaunchRejected``,
``JobSubmitted`` (per ``queue``), ``StatusEventProcessed``, ``QueueBlocked`` (per ``queue``) and
``RoutingItemMalformed``.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Aws, CfnOutput, Duration
from aws_cdk import aws_batch as batch
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from batchlane.common.environment import METRICS_NAMESPACE as NAMESPACE
from batchlane.deployment.config import DeploymentConfig

PERIOD = Duration.minutes(5)


def _search(metric_name: str, statistic: str = "Sum") -> str:
    seconds = int(PERIOD.to_seconds())
    return f"SEARCH('Namespace=\"{NAMESPACE}\" MetricName=\"{metric_name}\"', '{statistic}', {seconds})"


def _total(metric_name: str, label: str) -> cw.MathExpression:
    """All series of a metric summed into one line (0 when there is none yet)."""
    return cw.MathExpression(
        expression=f"FILL(SUM({_search(metric_name)}), 0)",
        label=label,
        period=PERIOD,
        using_metrics={},
    )


def _per_queue(metric_name: str) -> cw.MathExpression:
    """One line per series (per ``queue``; CloudWatch labels each with its dimensions)."""
    return cw.MathExpression(
        expression=_search(metric_name),
        label="${PROP('Dim.queue')}",
        period=PERIOD,
        using_metrics={},
    )


def alarm_arn_pattern(prefix: str) -> str:
    """This deployment's alarms: every alarm it creates is named ``<prefix>-...``."""
    return f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:{prefix}-*"


class Operations(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: DeploymentConfig,
        dlqs: Mapping[str, sqs.IQueue],
        functions: Mapping[str, lambda_.IFunction],
        job_queues: Mapping[str, batch.IJobQueue],
    ) -> None:
        super().__init__(scope, id)
        prefix = config.prefix
        self.key, self.topic = self._alarm_topic(config)
        self.alarms: dict[str, cw.Alarm] = {**self._dlq_alarms(prefix, dlqs), **self._error_alarms(prefix, functions)}
        action = cw_actions.SnsAction(self.topic)
        for alarm in self.alarms.values():
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)
        self.dashboard = self._dashboard(config, dlqs, functions, job_queues)
        CfnOutput(
            self, "AlarmTopicArn", value=self.topic.topic_arn, description="Subscribe to receive batchlane alarms"
        )
        CfnOutput(
            self,
            "DashboardUrl",
            value=f"https://console.aws.amazon.com/cloudwatch/home?region={Aws.REGION}#dashboards:name={config.account_wide_name()}",
            description="CloudWatch dashboard",
        )

    def _alarm_topic(self, config: DeploymentConfig) -> tuple[kms.Key, sns.Topic]:
        """KMS-encrypted (a customer key, because CloudWatch cannot use the aws/sns key), TLS-only
        publishing and subscribing."""
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description=f"{config.prefix}: encrypts the alarm topic",
            enable_key_rotation=True,
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy, "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        topic = sns.Topic(
            self,
            "AlarmTopic",
            topic_name=f"{config.prefix}-alarms",
            display_name=f"batchlane {config.name} alarms",
            master_key=key,
            enforce_ssl=True,
        )
        # enforce_ssl gives the topic a policy, and a topic policy replaces SNS's default one: without
        # this statement CloudWatch could not publish, and no alarm would ever be delivered.
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {"aws:SourceArn": alarm_arn_pattern(config.prefix)},
                },
            )
        )
        return key, topic

    def _dlq_alarms(self, prefix: str, dlqs: Mapping[str, sqs.IQueue]) -> dict[str, cw.Alarm]:
        return {
            f"dlq-{name}": self._any_alarm(
                f"DlqAlarm-{name}",
                f"{prefix}-dlq-{name}",
                f"Messages in the {name} dead-letter queue: events batchlane could not process. "
                "Inspect them, fix the cause, then redrive (docs/deploying.md, Operations).",
                queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
            )
            for name, queue in dlqs.items()
        }

    def _error_alarms(self, prefix: str, functions: Mapping[str, lambda_.IFunction]) -> dict[str, cw.Alarm]:
        return {
            f"errors-{name}": self._any_alarm(
                f"ErrorsAlarm-{name}",
                f"{prefix}-errors-{name}",
                f"The {name} function failed (uncaught errors or timeouts); see its logs.",
                function.metric_errors(period=PERIOD, statistic="Sum"),
            )
            for name, function in functions.items()
        }

    def _any_alarm(self, id: str, name: str, description: str, metric: cw.IMetric) -> cw.Alarm:
        """In alarm as soon as the metric is above zero in one period: every such count is a problem."""
        return cw.Alarm(
            self,
            id,
            alarm_name=name,
            alarm_description=description,
            metric=metric,
            threshold=0,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )

    def _dashboard(
        self,
        config: DeploymentConfig,
        dlqs: Mapping[str, sqs.IQueue],
        functions: Mapping[str, lambda_.IFunction],
        job_queues: Mapping[str, batch.IJobQueue],
    ) -> cw.Dashboard:
        """Rows, top to bottom: what this is, launches, status events, functions, dead letters."""
        dashboard = cw.Dashboard(
            self,
            "Dashboard",
            dashboard_name=config.account_wide_name(),
            default_interval=Duration.hours(24),
        )
        queue_names = ", ".join(f"`{config.queue_name(q)}`" for q in config.job_queues if q.name in job_queues)
        dashboard.add_widgets(
            cw.TextWidget(
                markdown=(
                    f"# batchlane `{config.name}`\n"
                    f"Job queues: {queue_names}. Custom metrics: namespace `{NAMESPACE}` (EMF from the functions)."
                ),
                width=24,
                height=2,
            )
        )
        dashboard.add_widgets(*_launch_widgets())
        dashboard.add_widgets(*_status_widgets())
        if functions:
            dashboard.add_widgets(*_function_widgets(functions))
        if dlqs:
            dashboard.add_widgets(*self._dead_letter_widgets(dlqs))
        return dashboard

    def _dead_letter_widgets(self, dlqs: Mapping[str, sqs.IQueue]) -> list[cw.IWidget]:
        return [
            cw.GraphWidget(
                title="Dead-letter queues (messages visible)",
                left=[
                    q.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum", label=n)
                    for n, q in dlqs.items()
                ],
                width=24,
            ),
            cw.AlarmStatusWidget(alarms=list(self.alarms.values()), title="Alarms", width=24)
            if self.alarms
            else cw.TextWidget(markdown="no alarms", width=24),
        ]


def _launch_widgets() -> list[cw.IWidget]:
    return [
        cw.GraphWidget(
            title="Launches",
            left=[
                _total("LaunchRequested", "requested"),
                _total("LaunchRejected", "rejected"),
                _total("JobSubmitted", "submitted"),
            ],
            width=12,
        ),
        cw.GraphWidget(title="Submissions per queue", left=[_per_queue("JobSubmitted")], width=12),
    ]


def _status_widgets() -> list[cw.IWidget]:
    return [
        cw.GraphWidget(
            title="Status events processed",
            left=[
                _total("StatusEventProcessed", "processed"),
                _total("RoutingItemMalformed", "malformed routing items"),
            ],
            width=12,
        ),
        cw.GraphWidget(title="Queue blocked (per queue)", left=[_per_queue("QueueBlocked")], width=12),
    ]


def _function_widgets(functions: Mapping[str, lambda_.IFunction]) -> list[cw.IWidget]:
    return [
        cw.GraphWidget(
            title="Function errors",
            left=[f.metric_errors(period=PERIOD, label=n) for n, f in functions.items()],
            width=8,
        ),
        cw.GraphWidget(
            title="Function invocations",
            left=[f.metric_invocations(period=PERIOD, label=n) for n, f in functions.items()],
            width=8,
        ),
        cw.GraphWidget(
            title="Function duration (p99)",
            left=[f.metric_duration(period=PERIOD, statistic="p99", label=n) for n, f in functions.items()],
            width=8,
        ),
    ]
