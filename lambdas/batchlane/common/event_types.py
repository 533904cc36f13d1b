"""The names on batchlane's own bus: its event source and every detail-type it puts or reads."""

EVENT_SOURCE = "batchlane"

# The detail-types of the events on batchlane's own bus (docs/launch-event.md, docs/status.md).
LAUNCH_REQUESTED = "Task Launch Requested"
LAUNCHED = "Task Launched"
LAUNCH_REJECTED = "Task Launch Rejected"
STATUS_CHANGED = "Task Status Changed"
ABORT_REQUESTED = "Task Abort Requested"
ABORT_REJECTED = "Task Abort Rejected"
# The aggregator tells the launcher that a chunk of a chunked map task may be submitted (docs/chunked-maps.md).
CHUNK_DUE = "Task Chunk Due"
# Its source: the aggregator announces it as "batchlane" (EVENT_SOURCE); this one is also accepted.
CHUNK_DUE_SOURCE = "batchlane.status"
