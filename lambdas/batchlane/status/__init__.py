"""Status path: AWS Batch events become one live status per launch (pure domain here).

* ``events``        pydantic models of "Batch Job State Change" / "Batch Job Queue Blocked".
* ``states``        per-child and parent states (a join-semilattice) and their item codec.
* ``observations``  what one event says, folded into a state (``merge_child``, ``merge_parent``).
* ``phase``         count deltas and the launch phase (Flyte's map-task rule).
* ``fold``          the launch status from its children, the in-memory fold of an event stream.
* ``failures``      why an attempt failed (the failure classes).
* ``outputs``       map-task output lists and Flyte's error summary.
No boto3 in these modules.
"""

from importlib import import_module

# Exported lazily (PEP 562): importing ``batchlane.status.handler`` must not build the event models
# before a handler runs (a cold start's import, tests/unit/test_cold_start.py).
_EXPORTS = {
    **dict.fromkeys(("BatchJobEvent", "ForeignEvent", "MalformedEvent", "parse_event"), "batchlane.status.events"),
    **dict.fromkeys(("Attempt", "ChildState", "ParentState"), "batchlane.status.states"),
    **dict.fromkeys(("Observation", "merge_child", "merge_parent", "observe"), "batchlane.status.observations"),
    **dict.fromkeys(("count_delta", "decide_phase", "min_successes"), "batchlane.status.phase"),
    **dict.fromkeys(("Fold", "LaunchStatus", "fold_events", "summarize"), "batchlane.status.fold"),
}

__all__ = [
    "Attempt",
    "BatchJobEvent",
    "ChildState",
    "Fold",
    "ForeignEvent",
    "LaunchStatus",
    "MalformedEvent",
    "Observation",
    "ParentState",
    "count_delta",
    "decide_phase",
    "fold_events",
    "merge_child",
    "merge_parent",
    "min_successes",
    "observe",
    "parse_event",
    "summarize",
]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
