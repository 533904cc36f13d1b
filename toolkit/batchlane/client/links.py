"""Console links of a launch: CloudWatch log streams and the Batch job page (pure).

Log link names follow Flyte's AWS Batch plugin (flyteplugins ``array/awsbatch``), which names
each link ``fmt.Sprintf("AWS Batch #%v-%v (%v)", originalIndex, attemptIdx, phase)``:

* ``<index>``: the child's array index, ``AWS_BATCH_JOB_ARRAY_INDEX`` (0-based; 0 for a plain
  job). Flyte's "original index" is the same number when no index is skipped.
* ``<attempt>``: the 0-based position of the attempt in Batch's ``attempts`` list; the attempt
  under way (not in that list yet) gets the next number, as in Flyte.
* ``<phase>``: the Flyte plugin phase as Flyte prints it (its Go enum names, generated without
  prefix trimming): SUBMITTED/PENDING/RUNNABLE/STARTING -> ``PhaseQueued``, RUNNING ->
  ``PhaseRunning``, SUCCEEDED -> ``PhaseSuccess``, FAILED -> ``PhaseRetryableFailure`` (Flyte's
  ``jobPhaseToPluginsPhase``).

One deliberate difference: Flyte labels *every* attempt of a child with the child's current
phase (its own code calls this a caveat), so a failed first attempt reads "(PhaseRunning)"
while the retry runs. Here an attempt that was followed by a retry is labelled
``PhaseRetryableFailure`` and only the latest attempt carries the child's phase. The format
string is unchanged, so anything that parses Flyte's names parses these.

Differences that are fixes, not choices: the current CloudWatch URL format (Flyte uses the
legacy ``#logEventViewer``), the job's own log group (Flyte hard-codes ``/aws/batch/job``), the
console host of the ARN's partition, and a link for the attempt that is running now.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from batchlane.common.console import batch_job_url, console_host
from batchlane.status.states import TERMINAL, ChildState

DEFAULT_LOG_GROUP = "/aws/batch/job"
JOB_LINK_NAME = "AWS Batch Job"

FLYTE_PHASE = {
    "SUBMITTED": "PhaseQueued",
    "PENDING": "PhaseQueued",
    "RUNNABLE": "PhaseQueued",
    "STARTING": "PhaseQueued",
    "RUNNING": "PhaseRunning",
    "SUCCEEDED": "PhaseSuccess",
    "FAILED": "PhaseRetryableFailure",
}
RETRIED_PHASE = "PhaseRetryableFailure"


@dataclass(frozen=True)
class Link:
    name: str
    url: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "url": self.url}


def console_escape(s: str) -> str:
    """The CloudWatch console's fragment escaping: URL-encode twice, then ``%`` -> ``$``."""
    return quote(quote(s, safe=""), safe="").replace("%", "$")


def log_stream_url(region: str, log_stream: str, log_group: str | None = None, partition: str = "aws") -> str:
    group = log_group or DEFAULT_LOG_GROUP
    return (
        f"https://{console_host(partition, region)}/cloudwatch/home?region={region}"
        f"#logsV2:log-groups/log-group/{console_escape(group)}/log-events/{console_escape(log_stream)}"
    )


def flyte_phase(status: str) -> str:
    return FLYTE_PHASE.get(status, "PhaseUndefined")


def log_link_name(index: int, attempt: int, phase: str) -> str:
    return f"AWS Batch #{index}-{attempt} ({phase})"


def attempt_phase(child: ChildState, attempt: int) -> str:
    """Flyte phase word for one attempt of a child (see the module docstring)."""
    latest = attempt >= child.n or (attempt == child.n - 1 and child.status in TERMINAL)
    return flyte_phase(child.status) if latest else RETRIED_PHASE


def child_log_links(
    child: ChildState, region: str, *, partition: str = "aws", log_group: str | None = None
) -> list[Link]:
    """A CloudWatch link for every attempt of the child that has a log stream (the running one
    included). The log group is the one the job's events name, else ``log_group`` (the launch
    record's), else ``/aws/batch/job``."""
    group = child.log_group or log_group or DEFAULT_LOG_GROUP
    return [
        Link(
            log_link_name(child.index, k, attempt_phase(child, k)),
            log_stream_url(region, a.log_stream, group, partition),
        )
        for k, a in enumerate(child.attempts)
        if a.log_stream
    ]


def job_link(region: str, job_id: str, *, partition: str = "aws") -> Link:
    return Link(JOB_LINK_NAME, batch_job_url(partition, region, job_id))


def child_job_id(job_id: str, index: int, is_array: bool) -> str:
    return f"{job_id}:{index}" if is_array else job_id
