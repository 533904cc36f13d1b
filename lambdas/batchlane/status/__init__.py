"""Status path: AWS Batch events become one live status per launch (pure domain here).

* ``events``  pydantic models of "Batch Job State Change" / "Batch Job Queue Blocked".
* ``fold``    per-child join-semilattice, launch phase (Flyte's map-task rule), count deltas.
* ``links``   CloudWatch / Batch console links, Flyte's log link names.
* ``outputs`` map-task output lists and Flyte's error summary.
No boto3 in these modules.
"""

from batchlane.status.events import BatchJobEvent, ForeignEvent, MalformedEvent, parse_event
from batchlane.status.fold import (
    Attempt, ChildState, Fold, LaunchStatus, Observation, ParentState, count_delta, decide_phase,
    fold_events, merge_child, merge_parent, min_successes, observe, summarize,
)

__all__ = [
    "Attempt", "BatchJobEvent", "ChildState", "Fold", "ForeignEvent", "LaunchStatus", "MalformedEvent",
    "Observation", "ParentState", "count_delta", "decide_phase", "fold_events", "merge_child", "merge_parent",
    "min_successes", "observe", "parse_event", "summarize",
]
