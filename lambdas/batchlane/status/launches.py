"""Which launch (and which chunk of it) a Batch job belongs to: read once per container, then remembered."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from batchlane.common.executions import LAUNCH_TAG, LaunchRecord
from batchlane.common.lru import Lru
from batchlane.status.ports import ForeignJob, LaunchNotFound, StatusStore

FOREIGN_MEMORY_SECONDS = 300  # an untagged job without a launch record is not looked up again for this long


@dataclass(frozen=True)
class LaunchJob:
    """A Batch job of a launch: the launch's only job, or one chunk's job of a chunked map task."""

    launch: LaunchRecord
    chunk: int | None = None  # None: an unchunked launch
    fallback: int | None = None  # the child whose on-demand fallback (onReclaim) this job is

    @property
    def offset(self) -> int:
        if self.fallback is not None:
            return self.fallback
        return 0 if self.chunk is None else self.launch.chunks.offset(self.chunk)

    @property
    def size(self) -> int:
        """Children of this job (1: a plain Batch job)."""
        if self.fallback is not None:
            return 1
        return self.launch.size if self.chunk is None else self.launch.chunks.chunk_len(self.chunk)

    def global_index(self, index: int) -> int | None:
        """The launch's child index of this job's child ``index`` (None: not a child of this job)."""
        return self.offset + index if 0 <= index < self.size else None


class LaunchDirectory:
    def __init__(self, store: StatusStore, *, cache_size: int = 4096, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self._jobs: Lru[str, LaunchJob] = Lru(cache_size, clock=clock)
        self._foreign: Lru[str, bool] = Lru(cache_size, max_age=FOREIGN_MEMORY_SECONDS, clock=clock)

    def launch_of(self, job_id: str, launch_key: str | None = None) -> LaunchRecord:
        return self.job_of(job_id, launch_key).launch

    def job_of(
        self, job_id: str, launch_key: str | None = None, chunk_tag: str | None = None, fallback_tag: str | None = None
    ) -> LaunchJob:
        """The launch (and chunk) of a Batch job. With the launch key its tags name
        (``batchlane:team`` and ``batchlane:launchId``: executions.launch_key_of_tags) the
        launch record is read by key (strongly consistent), and with its ``batchlane:chunk`` tag
        the chunk record too: absent, or not completed with this job id yet, means the launcher has
        not finished recording it: LaunchNotFound, retried (bounded by maxReceiveCount). Without
        the tags the job is looked up by id (the byJobId index: launch and chunk records); not
        found there, it is foreign."""
        found = self._jobs.get(job_id)
        if found is not None:
            return found
        if launch_key:
            launch = self.store.get_launch(launch_key)
            if launch is None or not launch.job_id:
                raise LaunchNotFound(f"launch {launch_key} of Batch job {job_id} is not recorded yet")
            found = (
                self._fallback(job_id, launch, fallback_tag)
                if fallback_tag
                else self._tagged(job_id, launch, chunk_tag)
            )
        else:
            found = self._untagged(job_id)
        self._jobs.put(job_id, found)
        return found

    def _tagged(self, job_id: str, launch: LaunchRecord, chunk_tag: str | None) -> LaunchJob:
        chunks = launch.chunks
        if not chunks.chunked:
            if launch.job_id != job_id:
                raise ForeignJob(
                    f"Batch job {job_id} is tagged with launch {launch.launch_id}, whose job is {launch.job_id}"
                )
            return LaunchJob(launch)
        if chunk_tag is None:
            if launch.job_id == job_id:
                return LaunchJob(launch, 0)  # the launch record's job is chunk 0's
            chunk = self.store.find_chunk(job_id)  # an event that lost its chunk tag
            if chunk is None or chunk.key != launch.key:
                raise LaunchNotFound(f"Batch job {job_id} of launch {launch.launch_id} has no chunk record yet")
            return LaunchJob(launch, chunk.chunk)
        try:
            number = int(chunk_tag)
        except ValueError:
            raise ForeignJob(f"Batch job {job_id} has a chunk tag {chunk_tag[:20]!r} that is not a number") from None
        if not 0 <= number < chunks.count:
            raise ForeignJob(f"Batch job {job_id}: launch {launch.launch_id} has no chunk {number}")
        record = self.store.get_chunk(launch.key, number)
        if record is None or not record.submitted:
            raise LaunchNotFound(
                f"chunk {number} of launch {launch.launch_id} (Batch job {job_id}) is not recorded yet"
            )
        if record.job_id != job_id:
            raise ForeignJob(
                f"Batch job {job_id} is tagged with chunk {number} of launch {launch.launch_id}, "
                f"whose job is {record.job_id}"
            )
        return LaunchJob(launch, number)

    def _fallback(self, job_id: str, launch: LaunchRecord, fallback_tag: str) -> LaunchJob:
        """A child's on-demand fallback (onReclaim): its ``fallback#<i>`` record must hold this job."""
        index = int(fallback_tag) if fallback_tag.isascii() and fallback_tag.isdigit() else -1
        if not 0 <= index < launch.size:
            raise ForeignJob(
                f"Batch job {job_id}: launch {launch.launch_id} has no child {fallback_tag[:20]!r} to fallback"
            )
        record = self.store.get_fallback(launch.key, index)
        if record is None or not record.submitted:
            raise LaunchNotFound(
                f"fallback {index} of launch {launch.launch_id} (Batch job {job_id}) is not recorded yet"
            )
        if record.job_id != job_id:
            raise ForeignJob(
                f"Batch job {job_id} is tagged as fallback {index} of launch {launch.launch_id}, not its job"
            )
        return LaunchJob(launch, fallback=index)

    def _untagged(self, job_id: str) -> LaunchJob:
        untagged = f"Batch job {job_id} has no {LAUNCH_TAG} tag and no launch record"
        if self._foreign.get(job_id):
            raise ForeignJob(untagged)
        launch = self.store.find_launch(job_id)
        if launch is not None and launch.job_id == job_id:
            return LaunchJob(launch, 0 if launch.chunks.chunked else None)
        chunk = self.store.find_chunk(job_id)
        if chunk is not None and chunk.job_id == job_id:
            launch = self.store.get_launch(chunk.key)
            if launch is not None and launch.chunks.chunked:
                return LaunchJob(launch, chunk.chunk)
        self._foreign.put(job_id, True)
        raise ForeignJob(untagged)
