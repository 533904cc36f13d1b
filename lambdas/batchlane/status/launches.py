"""Which launch a Batch job belongs to: read once per container, then remembered."""

from __future__ import annotations

import time
from collections.abc import Callable

from batchlane.common.executions import LAUNCH_TAG, LaunchRecord
from batchlane.common.lru import Lru
from batchlane.status.ports import ForeignJob, LaunchNotFound, StatusStore

FOREIGN_MEMORY_SECONDS = 300  # an untagged job without a launch record is not looked up again for this long


class LaunchDirectory:
    def __init__(self, store: StatusStore, *, cache_size: int = 4096, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self._launches: Lru[str, LaunchRecord] = Lru(cache_size, clock=clock)
        self._foreign: Lru[str, bool] = Lru(cache_size, max_age=FOREIGN_MEMORY_SECONDS, clock=clock)

    def launch_of(self, job_id: str, launch_tag: str | None = None) -> LaunchRecord:
        """The launch record of a Batch job. With the job's ``batchlane:launchId`` tag it is read by
        key (strongly consistent): absent, or not completed with this job id yet, means the launcher
        has not finished recording it: LaunchNotFound, retried (bounded by maxReceiveCount). Without
        the tag the job is looked up by id (the byJobId index); not found there, it is foreign."""
        launch = self._launches.get(job_id)
        if launch is not None:
            return launch
        if launch_tag:
            launch = self.store.get_launch(launch_tag)
            if launch is None or not launch.job_id:
                raise LaunchNotFound(f"launch {launch_tag} of Batch job {job_id} is not recorded yet")
            if launch.job_id != job_id:
                raise ForeignJob(f"Batch job {job_id} is tagged with launch {launch_tag}, whose job is {launch.job_id}")
        else:
            untagged = f"Batch job {job_id} has no {LAUNCH_TAG} tag and no launch record"
            if self._foreign.get(job_id):
                raise ForeignJob(untagged)
            launch = self.store.find_launch(job_id)
            if launch is None or launch.job_id != job_id:
                self._foreign.put(job_id, True)
                raise ForeignJob(untagged)
        self._launches.put(job_id, launch)
        return launch
