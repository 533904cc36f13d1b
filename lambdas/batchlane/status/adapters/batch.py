"""AWS Batch for the status path: TerminateJob (fail-fast stops, aborts) and DescribeJobs (the reconciler)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from batchlane.common import aws


class BatchTerminator:
    def terminate(self, job_id: str, reason: str) -> None:
        """TerminateJob on the parent stops every child; a job that already ended is no error."""
        try:
            aws.client("batch").terminate_job(jobId=job_id, reason=reason[:256])
        except ClientError as exc:
            aws.raise_if_transient("TerminateJob", exc)
            if aws.error_code(exc) != "ClientException":
                raise


class BatchJobReader:
    """DescribeJobs, at most 100 job ids per call (the reconciler's only Batch read)."""

    MAX_IDS = 100

    def __init__(self) -> None:
        self.requests = 0

    def describe(self, job_ids: list[str]) -> list[dict[str, Any]]:
        if len(job_ids) > self.MAX_IDS:
            raise ValueError(f"DescribeJobs takes at most {self.MAX_IDS} job ids")
        self.requests += 1
        try:
            return aws.client("batch").describe_jobs(jobs=job_ids).get("jobs", [])
        except ClientError as exc:
            aws.raise_if_transient("DescribeJobs", exc)
            raise
