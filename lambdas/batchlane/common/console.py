"""AWS console addresses, per partition (pure)."""

from __future__ import annotations

_HOSTS = {
    "aws": "{region}.console.aws.amazon.com",
    "aws-cn": "{region}.console.amazonaws.cn",
    "aws-us-gov": "{region}.console.amazonaws-us-gov.com",
}


def partition_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[1] if len(parts) > 2 and parts[0] == "arn" and parts[1] else "aws"


def console_host(partition: str, region: str) -> str:
    return _HOSTS.get(partition, _HOSTS["aws"]).format(region=region)


def batch_job_url(partition: str, region: str, job_id: str) -> str:
    """The Batch console page of a job (the console's own, undocumented, route)."""
    return f"https://{console_host(partition, region)}/batch/home?region={region}#jobs/detail/{job_id}"
