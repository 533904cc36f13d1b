"""The names on batchlane's own bus: its event source and every detail-type it puts or reads."""

from hashlib import sha256
from json import dumps

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

# Every event batchlane publishes carries ``eventId``: a digest of what makes it this announcement
# (docs/exactly-once.md "What may repeat"), so a repeat (a retried delivery after a lost answer or a
# crash) has the same id and a consumer drops it by the id alone. 32 hex digits.
EVENT_ID_DESCRIPTION = (
    "the same for every repeat of this announcement (a digest of its detail-type and what identifies it): "
    "drop an event whose id was seen"
)
EVENT_ID_CHARS = 32


def event_id(detail_type: str, *identity: object) -> str:
    """The announcement's id: ``identity`` is what makes it this one (JSON-serialisable values)."""
    canonical = dumps([detail_type, *identity], separators=(",", ":"), sort_keys=True, default=str)
    return sha256(canonical.encode()).hexdigest()[:EVENT_ID_CHARS]
