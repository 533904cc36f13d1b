"""Outputs and error summary of a finished launch, the way Flyte presents a map task (pure).

* Outputs: child ``i`` writes ``<outputsUri><i>/outputs.json`` (a JSON object, one entry per
  output name). A map task's result is one list per output name, in index order, with ``None``
  where a child failed (Flyte's rule with ``min_success_ratio`` < 1) or left no value. A single
  task's outputs are returned as they are (unwrapped).
* Error summary: Flyte's array error collector format, one line per distinct message, the
  indexes that failed with it as ranges of consecutive indexes: ``[0-1][3]: message``. Lines
  come in order of their first index (Flyte sorts them by message text); past ``char_limit``
  the summary ends with Flyte's ``... and many more.``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from batchlane.status.fold import ChildState

MORE = "... and many more."
DEFAULT_CHAR_LIMIT = 4096


def assemble_outputs(size: int, child_outputs: Mapping[int, Mapping[str, Any] | None], *,
                     unwrap: bool, names: Sequence[str] | None = None) -> dict[str, Any]:
    """Combine per-child outputs. ``child_outputs[i]`` is child i's decoded outputs.json, or
    None when the child failed or wrote nothing; a missing index counts as None.

    ``names`` fixes the output names (and their order), e.g. from the task interface; without
    it they are the names the children wrote, in order of first appearance by index.
    ``unwrap=True`` (a single task, size 1): ``{name: value}``; ``{}`` if it left no outputs.
    """
    if unwrap:
        if size != 1:
            raise ValueError(f"only a single task's outputs can be unwrapped (size {size})")
        only = child_outputs.get(0)
        if only is None:
            return {n: None for n in names} if names else {}
        return {n: only.get(n) for n in names} if names else dict(only)
    if names is None:
        seen: dict[str, None] = {}
        for i in range(size):
            out = child_outputs.get(i)
            if out:
                seen.update(dict.fromkeys(out))
        names = list(seen)
    result: dict[str, list[Any]] = {n: [None] * size for n in names}
    for i in range(size):
        out = child_outputs.get(i)
        if out:
            for n in names:
                result[n][i] = out.get(n)
    return result


def _ranges(indexes: Iterable[int]) -> str:
    out: list[str] = []
    start = prev = None
    for i in sorted(set(indexes)):
        if start is None:
            start = prev = i
        elif i == prev + 1:
            prev = i
        else:
            out.append(f"[{start}]" if start == prev else f"[{start}-{prev}]")
            start = prev = i
    if start is not None:
        out.append(f"[{start}]" if start == prev else f"[{start}-{prev}]")
    return "".join(out)


def error_summary(failures: Mapping[int, str], *, char_limit: int = DEFAULT_CHAR_LIMIT) -> str:
    """``{index: message}`` -> ``"[0-1][3]: message\\n[2]: other"`` (empty if no failure)."""
    by_msg: dict[str, list[int]] = {}
    for i in sorted(failures):
        by_msg.setdefault(failures[i], []).append(i)
    lines: list[str] = []
    used = 0
    budget = char_limit - len(MORE)
    for msg, idx in by_msg.items():  # insertion order = order of first failed index
        line = f"{_ranges(idx)}: {msg}"
        if lines and used + len(line) + 1 > budget:
            lines.append(MORE)
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines)


def child_error_message(child: ChildState) -> str:
    """One line about why a child failed: the job's statusReason, the last attempt's container
    reason and exit code, e.g. ``Essential container in task exited (exit code 1)`` or
    ``Task failed to start: CannotPullContainerError: ...``."""
    last = child.last_attempt
    parts = [child.status_reason or (last.status_reason if last else None) or "failed"]
    if last is not None and last.reason and last.reason not in parts[0]:
        parts[0] = f"{parts[0]}: {last.reason}"
    if last is not None and last.exit_code is not None:
        parts.append(f"(exit code {last.exit_code})")
    return " ".join(parts)


def launch_error_summary(children: Iterable[ChildState], *, char_limit: int = DEFAULT_CHAR_LIMIT) -> str:
    return error_summary({c.index: child_error_message(c) for c in children if c.status == "FAILED"},
                         char_limit=char_limit)
