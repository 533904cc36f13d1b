"""What a finished launch leaves behind: its error summary and its assembled outputs (docs/status.md).

A chunked map task's outputs are assembled a chunk at a time: when a chunk's array job SUCCEEDED
(every child wrote its outputs), the aggregator invocation that saw it reads that chunk's outputs
and keeps them as one *part* (``launches/parts/<launch>/<chunk>``, :meth:`OutputsWriter.part`).
The finish then merges the parts, reading children one by one only where a chunk has no part (it
failed, or its part was not written): however big the map, no invocation reads more than a chunk's
outputs plus one object per chunk. A part is only an acceleration: a missing or unreadable one is
rebuilt from the children.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from batchlane.common.chunks import Chunks
from batchlane.common.executions import LaunchRecord, launch_key
from batchlane.common.ports import Log
from batchlane.common.tenancy import LaunchData, s3_uri
from batchlane.status.outputs import (
    ErrorSummary,
    OutputsWriter,
    assemble_outputs,
    child_error_message,
    merge_rerun,
)
from batchlane.status.ports import OutputStore, ShardStore, StatusStore

OUTPUT_READ_PAGE = 1000  # children's outputs read (in parallel) per page while assembling


def launch_data(launch: LaunchRecord) -> LaunchData | None:
    """Where the launch's data lives (None: a record without its project, which has no data here)."""
    if launch.project is None or launch.domain is None:
        return None
    return LaunchData(launch.team, launch.project, launch.domain, launch.launch_id)


def child_outputs_uri(outputs_uri: str, index: int) -> str:
    return f"{outputs_uri}{index}/outputs.json"


class Finisher:
    def __init__(
        self, store: StatusStore, shards: ShardStore, outputs: OutputStore, data_bucket: str, log: Log
    ) -> None:
        self.store = store
        self.shards = shards
        self.outputs = outputs
        self.data_bucket = data_bucket
        self.log = log

    def finish(self, launch: LaunchRecord, phase: str, counts: Mapping[str, int] | None = None) -> dict[str, Any]:
        """``error`` (Flyte's summary, when a child failed) and ``outputsUri``: outputs are
        assembled when the launch succeeded, and when a map task failed (Flyte's rule: one list
        per output, ``None`` for every child that did not succeed, terminated ones included).
        A single task that failed or an aborted launch has none. ``counts`` (the summary's, which
        decided the phase) saying no child FAILED spares the pass over the children."""
        # One pass over the children (in index order, a page at a time) for the error summary.
        summary, failed = ErrorSummary(), 0
        if counts is None or counts.get("FAILED", 0):
            for child in self.shards.iter_children(launch.key, launch.size):
                if child.status == "FAILED":
                    summary.add(child.index, child_error_message(child))
                    failed += 1
        out: dict[str, Any] = {}
        error = summary.render()
        if error:
            out["error"] = error
        base = launch.outputs_uri
        if base and not self._own(launch, base):
            # A record pointing elsewhere (edited by hand, forged): nothing is read or written there.
            self.log.warning(
                "outputs not assembled: outputsUri is not the launch's own prefix",
                extra={"launchId": launch.launch_id, "outputsUri": base},
            )
            refusal = f"outputs not assembled: {base} is not this launch's outputs prefix"
            out["error"] = "\n".join(filter(None, (out.get("error"), refusal)))
            return out
        data = launch_data(launch)
        if base and data and (phase == "succeeded" or (phase == "failed" and launch.map_task)):
            uri = s3_uri(self.data_bucket, data.assembled_key)  # the aggregator's alone: no job role writes there
            if phase == "succeeded" and not failed:
                succeeded: Iterable[int] = range(launch.size)  # a SUCCEEDED parent proved the silent children succeeded
            else:
                succeeded = (
                    c.index for c in self.shards.iter_children(launch.key, launch.size) if c.status == "SUCCEEDED"
                )
            if launch.nodes is not None:  # its nodes share the task's one output (child 0's): the main node writes it
                values = self.outputs.read_many({0: child_outputs_uri(base, 0)})
                self.outputs.write(uri, assemble_outputs(1, values, unwrap=True))
            elif launch.rerun_of is not None:
                self.outputs.write(uri, self._rerun_outputs(launch, base, succeeded))
            elif not launch.map_task and launch.size == 1:
                values = self.outputs.read_many({i: child_outputs_uri(base, i) for i in succeeded})
                self.outputs.write(uri, assemble_outputs(1, values, unwrap=True))
            else:
                self.outputs.write_stream(uri, self._assembled(launch, base, succeeded))
            out["outputsUri"] = uri
        return out

    def _rerun_outputs(self, launch: LaunchRecord, base: str, succeeded: Iterable[int]) -> dict[str, Any]:
        """A rerun's outputs: its original's (the team's launch it names; none when it has none)
        with the children it reran replaced by its own children's."""
        rerun = launch.rerun_of
        assert rerun is not None
        original = self.store.get_launch(launch_key(launch.team, rerun.launch_id))
        data = launch_data(original) if original is not None else None
        document = self.outputs.read_bytes(s3_uri(self.data_bucket, data.assembled_key)) if data else None
        ours = self.outputs.read_many({i: child_outputs_uri(base, i) for i in succeeded})
        replaced = {rerun.indexes[i]: value for i, value in ours.items() if i < len(rerun.indexes)}
        return merge_rerun(json.loads(document) if document else None, rerun.size, replaced)

    def assemble_chunk(self, launch: LaunchRecord, chunk: int) -> None:
        """Chunk ``chunk``'s array job SUCCEEDED (every one of its children wrote its outputs): keep
        its part of the assembled outputs now, for the finish to merge (at most a chunk's reads)."""
        base = launch.outputs_uri
        if not base or not launch.map_task or not self._own(launch, base):
            return
        chunks = launch.chunks
        offset, size = chunks.offset(chunk), chunks.chunk_len(chunk)
        record = self.store.get_chunk(launch.key, chunk)
        owner = record.job_id if record is not None else (launch.job_id if chunk == 0 else None)
        if not owner:
            return  # no submission to own the part: the finish reads the children
        writer = OutputsWriter(size)
        for first in range(offset, offset + size, OUTPUT_READ_PAGE):
            self._feed(writer, base, list(range(first, min(first + OUTPUT_READ_PAGE, offset + size))), offset)
        self.outputs.write_bytes(self._part_uri(launch, chunk), writer.part(offset, owner=owner))

    def _own(self, launch: LaunchRecord, base: str) -> bool:
        """Whether ``base`` is the launch's own children's outputs prefix: the aggregator reads
        children's outputs only there, whatever the record says."""
        data = launch_data(launch)
        return data is not None and base == s3_uri(self.data_bucket, data.children_prefix)

    def _part_uri(self, launch: LaunchRecord, chunk: int) -> str:
        data = launch_data(launch)
        assert data is not None  # only a launch whose outputs are its own (_own) has parts
        return s3_uri(self.data_bucket, data.part_key(chunk))

    def _assembled(self, launch: LaunchRecord, base: str, succeeded: Iterable[int]) -> Iterator[bytes]:
        """The map task's outputs document: a chunked map task's chunks from their parts where
        they have one, every other child read OUTPUT_READ_PAGE at a time."""
        writer = OutputsWriter(launch.size)
        chunks: Chunks | None = launch.chunks if launch.chunks.chunked else None
        # A part is of one submission: the chunk's job in this launch's record (not a part left by
        # an earlier launch under the same id, nor one written by anyone else).
        owners = {c.chunk: c.job_id for c in self.store.chunk_records(launch.key)} if chunks else {}
        owners.setdefault(0, launch.job_id)  # chunk 0's job is the launch's
        page: list[int] = []
        chunk, from_part = None, False
        for index in succeeded:
            if chunks is not None and chunks.chunk_of(index) != chunk:
                self._feed(writer, base, page)  # the children before this chunk, first
                page = []
                chunk = chunks.chunk_of(index)
                from_part = self._add_part(writer, launch, chunks, chunk, owners.get(chunk))
            if from_part:
                continue
            page.append(index)
            if len(page) == OUTPUT_READ_PAGE:
                self._feed(writer, base, page)
                page = []
        self._feed(writer, base, page)
        yield from writer.chunks()

    def _add_part(
        self, writer: OutputsWriter, launch: LaunchRecord, chunks: Chunks, chunk: int, owner: str | None
    ) -> bool:
        """Chunk ``chunk``'s outputs from its part; False: it has none, or none of ``owner`` (its
        children are read)."""
        part = self.outputs.read_bytes(self._part_uri(launch, chunk)) if owner else None
        if part is None or owner is None:
            return False
        try:
            writer.add_part(chunks.offset(chunk), part, chunks.chunk_len(chunk), owner)
        except ValueError as exc:
            self.log.warning(
                "outputs part not used: its children are read instead",
                extra={"part": self._part_uri(launch, chunk), "problem": str(exc)[:300]},
            )
            return False
        return True

    def _feed(self, writer: OutputsWriter, base: str, page: list[int], offset: int = 0) -> None:
        """Children ``page`` (global indexes) into ``writer``, at ``index - offset``."""
        values = self.outputs.read_many({i: child_outputs_uri(base, i) for i in page}) if page else {}
        for i in page:
            writer.add(i - offset, values.get(i))
