"""What a finished launch leaves behind: its error summary and its assembled outputs (docs/status.md)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from batchlane.common.executions import LaunchRecord
from batchlane.common.ports import Log
from batchlane.common.tenancy import is_own_outputs_uri
from batchlane.status.outputs import ErrorSummary, OutputsWriter, assemble_outputs, child_error_message
from batchlane.status.ports import OutputStore, StatusStore


OUTPUT_READ_PAGE = 1000  # children's outputs read (in parallel) per page while assembling


def assembled_outputs_uri(outputs_uri: str) -> str:
    """``s3://b/<base>outputs/`` -> ``s3://b/<base>outputs.json`` (next to the inputs)."""
    return outputs_uri.rstrip("/") + ".json"


def child_outputs_uri(outputs_uri: str, index: int) -> str:
    return f"{outputs_uri}{index}/outputs.json"


class Finisher:
    def __init__(self, store: StatusStore, outputs: OutputStore, data_bucket: str, log: Log) -> None:
        self.store = store
        self.outputs = outputs
        self.data_bucket = data_bucket
        self.log = log

    def finish(self, launch: LaunchRecord, phase: str) -> dict[str, Any]:
        """``error`` (Flyte's summary, when a child failed) and ``outputsUri``: outputs are
        assembled when the launch succeeded, and when a map task failed (Flyte's rule: one list
        per output, ``None`` for every child that did not succeed, terminated ones included).
        A single task that failed or an aborted launch has none."""
        # One pass over the children (in index order, a page at a time) for the error summary.
        summary, failed = ErrorSummary(), 0
        for child in self.store.iter_children(launch.launch_id):
            if child.status == "FAILED":
                summary.add(child.index, child_error_message(child))
                failed += 1
        out: dict[str, Any] = {}
        error = summary.render()
        if error:
            out["error"] = error
        base = launch.outputs_uri
        if base and not is_own_outputs_uri(base, self.data_bucket, launch.launch_id, launch.project, launch.domain,
                                           before_tenancy=launch.producer is None):
            # A record pointing elsewhere (edited by hand, forged): nothing is read or written there.
            self.log.warning("outputs not assembled: outputsUri is not the launch's own prefix",
                             extra={"launchId": launch.launch_id, "outputsUri": base})
            refusal = f"outputs not assembled: {base} is not this launch's outputs prefix"
            out["error"] = "\n".join(filter(None, (out.get("error"), refusal)))
            return out
        if base and (phase == "succeeded" or (phase == "failed" and launch.map_task)):
            uri = assembled_outputs_uri(base)
            if phase == "succeeded" and not failed:
                succeeded: Iterable[int] = range(launch.size)  # a SUCCEEDED parent proved the silent children succeeded
            else:
                succeeded = (c.index for c in self.store.iter_children(launch.launch_id) if c.status == "SUCCEEDED")
            if not launch.map_task and launch.size == 1:
                values = self.outputs.read_many({i: child_outputs_uri(base, i) for i in succeeded})
                self.outputs.write(uri, assemble_outputs(1, values, unwrap=True))
            else:
                self.outputs.write_stream(uri, self._assembled(launch.size, base, succeeded))
            out["outputsUri"] = uri
        return out

    def _assembled(self, size: int, base: str, succeeded: Iterable[int]) -> Iterator[bytes]:
        """The map task's outputs document, read OUTPUT_READ_PAGE children at a time."""
        writer = OutputsWriter(size)
        page: list[int] = []
        for index in succeeded:
            page.append(index)
            if len(page) == OUTPUT_READ_PAGE:
                self._feed(writer, base, page)
                page = []
        self._feed(writer, base, page)
        yield from writer.chunks()

    def _feed(self, writer: OutputsWriter, base: str, page: list[int]) -> None:
        values = self.outputs.read_many({i: child_outputs_uri(base, i) for i in page}) if page else {}
        for i in page:
            writer.add(i, values.get(i))
