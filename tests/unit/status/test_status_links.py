import pytest

from batchlane.client.links import child_log_links, console_escape, job_link, log_link_name, log_stream_url
from batchlane.common.console import batch_job_url, console_host, partition_of
from batchlane.status.observations import merge_child
from batchlane.status.states import Attempt, ChildState


def test_console_escaping_of_the_default_log_group():
    assert console_escape("/aws/batch/job") == "$252Faws$252Fbatch$252Fjob"


def test_log_stream_url_in_the_current_console_format():
    url = log_stream_url("us-east-1", "first-run-job-definition/default/770a2f9c")
    assert url == (
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
        "#logsV2:log-groups/log-group/$252Faws$252Fbatch$252Fjob"
        "/log-events/first-run-job-definition$252Fdefault$252F770a2f9c"
    )


@pytest.mark.parametrize(
    "partition,region,host",
    [
        ("aws", "eu-west-1", "eu-west-1.console.aws.amazon.com"),
        ("aws-cn", "cn-north-1", "cn-north-1.console.amazonaws.cn"),
        ("aws-us-gov", "us-gov-west-1", "us-gov-west-1.console.amazonaws-us-gov.com"),
    ],
)
def test_console_host_per_partition(partition, region, host):
    assert console_host(partition, region) == host
    assert log_stream_url(region, "s", partition=partition).startswith(f"https://{host}/cloudwatch/")
    assert batch_job_url(partition, region, "j") == f"https://{host}/batch/home?region={region}#jobs/detail/j"


def test_partition_from_arn():
    assert partition_of("arn:aws-cn:batch:cn-north-1:1:job/x") == "aws-cn"
    assert partition_of("") == "aws"


def test_links_use_the_jobs_own_log_group(event):
    e = event("single-running.json")
    e["detail"]["container"]["logConfiguration"] = {"logDriver": "awslogs", "options": {"awslogs-group": "/team/jobs"}}
    child, _ = merge_child(None, e)
    (link,) = child_log_links(child, "us-east-1", log_group="/from/launch/record")
    assert "/log-group/$252Fteam$252Fjobs/" in link.url


def test_launch_record_log_group_then_default():
    child = ChildState(index=3, status="RUNNING", n=0, attempts=(Attempt(log_stream="d/default/t"),))
    assert "/log-group/$252Fmy$252Fgroup/" in child_log_links(child, "us-east-1", log_group="/my/group")[0].url
    assert "/log-group/$252Faws$252Fbatch$252Fjob/" in child_log_links(child, "us-east-1")[0].url


def test_link_names_follow_flyte():
    assert log_link_name(12, 0, "PhaseSuccess") == "AWS Batch #12-0 (PhaseSuccess)"
    failed_twice = ChildState(
        index=5,
        status="FAILED",
        n=2,
        attempts=(Attempt(exit_code=1, log_stream="a"), Attempt(exit_code=1, log_stream="b")),
    )
    assert [link.name for link in child_log_links(failed_twice, "us-east-1")] == [
        "AWS Batch #5-0 (PhaseRetryableFailure)",
        "AWS Batch #5-1 (PhaseRetryableFailure)",
    ]
    waiting_for_retry = ChildState(index=5, status="RUNNABLE", n=1, attempts=(Attempt(exit_code=1, log_stream="a"),))
    assert [link.name for link in child_log_links(waiting_for_retry, "us-east-1")] == [
        "AWS Batch #5-0 (PhaseRetryableFailure)"
    ]
    retry_ok = ChildState(
        index=5,
        status="SUCCEEDED",
        n=2,
        attempts=(Attempt(exit_code=1, log_stream="a"), Attempt(exit_code=0, log_stream="b")),
    )
    assert [link.name for link in child_log_links(retry_ok, "us-east-1")] == [
        "AWS Batch #5-0 (PhaseRetryableFailure)",
        "AWS Batch #5-1 (PhaseSuccess)",
    ]


def test_job_console_link():
    link = job_link("us-east-1", "abc:3")
    assert link.as_dict() == {
        "name": "AWS Batch Job",
        "url": "https://us-east-1.console.aws.amazon.com/batch/home?region=us-east-1#jobs/detail/abc:3",
    }
