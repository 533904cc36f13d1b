"""What a finished launch leaves behind: its error summary and its assembled outputs (docs/status.md)."""

from __future__ import annotations

from typing import Any

from batchlane.common.executions import LaunchRecord
from batchlane.common.ports import Log
from batchlane.common.tenancy import is_own_outputs_uri
from batchlane.status.outputs import assemble_outputs, launch_error_summary
from batchlane.status.ports import OutputStore, StatusStore


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
        children = self.store.all_children(launch.launch_id)
        out: dict[str, Any] = {}
        error = launch_error_summary(children)
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
            succeeded = [c.index for c in children if c.status == "SUCCEEDED"]
            if phase == "succeeded" and len(succeeded) < launch.size and not any(c.status == "FAILED" for c in children):
                succeeded = list(range(launch.size))  # a SUCCEEDED parent proved the silent children succeeded
            values = self.outputs.read_many({i: child_outputs_uri(base, i) for i in succeeded})
            uri = assembled_outputs_uri(base)
            unwrap = not launch.map_task and launch.size == 1
            self.outputs.write(uri, assemble_outputs(launch.size, values, unwrap=unwrap))
            out["outputsUri"] = uri
        return out
