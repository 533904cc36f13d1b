"""The sparse index of launches that are not final yet (executions table, pure).

An item is in the global secondary index ``openLaunches`` while it carries ``openShard``
(``open#0`` .. ``open#3``, from the launch id) and ``lastSeenAt`` (epoch ms, the index's sort key):
the launch item from its submission, the status summary item from its first event. The status
path removes ``openShard`` when a launch ends; the reconciler removes the stale entries it meets.
Four shards spread the index writes over partitions; the reconciler queries each one.
"""

from __future__ import annotations

import zlib

OPEN_INDEX = "openLaunches"
OPEN_SHARD_ATTR = "openShard"
LAST_SEEN_ATTR = "lastSeenAt"
OPEN_SHARDS = 4


def open_shard(launch_id: str) -> str:
    return f"open#{zlib.crc32(launch_id.encode()) % OPEN_SHARDS}"


def all_shards() -> list[str]:
    return [f"open#{i}" for i in range(OPEN_SHARDS)]
