"""Outputs and error summary of a finished launch, the way Flyte presents a map task (pure).

* Outputs: child ``i`` writes ``<outputsUri><i>/outputs.json`` (a JSON object, one entry per
  output name). A map task's result is one list per output name, in index order, with ``None``
  where a child failed (Flyte's rule with ``min_success_ratio`` < 1) or left no value. A single
  task's outputs are returned as they are (unwrapped).
* Error summary: Flyte's array error collector format, one line per distinct message, the
  indexes that failed with it as ranges of consecutive indexes: ``[0-1][3]: message``. Lines
  come in order of their first index (Flyte sorts them by message text); past ``char_limit``
  the summary ends with Flyte's ``... and many more.``. Built in one pass over the failures in index
  order (:class:`ErrorSummary`), keeping no more than the limit needs: a million failed children
  cost what 4 KB of summary cost.
* A map task's outputs are streamed (:class:`OutputsWriter`): one spool file per output name, the
  children's values appended in index order, then one JSON document read from the spools; a
  million outputs are never in memory at once.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import IO, Any

from batchlane.status.states import ChildState

MORE = "... and many more."
DEFAULT_CHAR_LIMIT = 4096
SPOOL_IN_MEMORY_BYTES = 1 << 20  # per output name; beyond, the spool is a temporary file (Lambda's /tmp)


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), default=str).encode()


class OutputsWriter:
    """A map task's assembled outputs, fed child by child in index order: ``{name: [v0, v1, ...]}``
    as compact JSON (the bytes ``json.dumps(assemble_outputs(...), separators=(",", ":"))`` gives).
    Names come in order of first appearance by index unless ``names`` fixes them."""

    def __init__(self, size: int, names: Sequence[str] | None = None) -> None:
        self.size = size
        self.fixed = names is not None
        self._spools: dict[str, tuple[IO[bytes], list[int]]] = {}  # name -> (values so far, [count])
        for n in names or ():
            self._spool(n)

    def _spool(self, name: str) -> tuple[IO[bytes], list[int]]:
        found = self._spools.get(name)
        if found is None:
            # Held open across add() calls, closed once the outputs are written: no with-block fits.
            spool = tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY_BYTES)  # noqa: SIM115
            found = self._spools[name] = (spool, [0])
        return found

    def _pad(self, name: str, upto: int) -> tuple[IO[bytes], list[int]]:
        spool, count = self._spool(name)
        while count[0] < upto:  # children without a value for this name: null
            spool.write(b"," if count[0] else b"")
            spool.write(b"null")
            count[0] += 1
        return spool, count

    def add(self, index: int, outputs: Mapping[str, Any] | None) -> None:
        """Child ``index``'s outputs (None: failed or wrote nothing); indexes ascending."""
        if not outputs:
            return
        for name in self._spools if self.fixed else outputs:
            spool, count = self._pad(name, index)
            spool.write(b"," if count[0] else b"")
            spool.write(_json(outputs.get(name)))
            count[0] += 1

    def part(self, offset: int, owner: str = "") -> bytes:
        """These outputs as the part of a bigger map task's from child ``offset`` on (:meth:`add_part`):
        a header line ``{"offset": o, "size": n, "columns": [[name, byte length], ...]}``, then each
        name's values, comma-joined and padded to ``size``. Merging parts copies the columns' bytes: no
        value is decoded again. (For a chunk's outputs: at most a chunk's values, held here at once; the
        spools are closed after.)
        ``owner`` names the submission the part is of (a chunk's Batch job id): a part is merged only
        into the outputs of the launch whose chunk record names that job."""
        columns: list[tuple[str, bytes]] = []
        for name in list(self._spools):
            spool, _ = self._pad(name, self.size)
            spool.seek(0)
            columns.append((name, spool.read()))
            spool.close()
        header = _json(
            {"offset": offset, "size": self.size, "owner": owner, "columns": [[n, len(b)] for n, b in columns]}
        )
        return header + b"\n" + b"".join(b for _, b in columns)

    def add_part(self, offset: int, part: bytes, size: int, owner: str = "") -> None:
        """Children ``offset .. offset + size - 1`` at once, from :meth:`part` of a writer of theirs
        (after every child before ``offset``, before any after), written for ``owner``. A part that
        is not the one of these children, of another owner (a foreign or stale part), or whose
        columns are not ``size`` JSON values each raises ValueError and adds nothing: it is read as
        data, so a tampered part can neither inject keys nor break the document."""
        head, _, body = part.partition(b"\n")
        try:
            header = json.loads(head)
            columns = [(name, int(length)) for name, length in header["columns"]]
            ok = (
                header["offset"] == offset
                and header["size"] == size
                and header.get("owner", "") == owner
                and all(isinstance(name, str) for name, _ in columns)
                and sum(length for _, length in columns) == len(body)
                and len({name for name, _ in columns}) == len(columns)
            )
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ValueError(f"not an outputs part: {exc}") from exc
        if not ok or any(length <= 0 for _, length in columns):
            raise ValueError(f"not the outputs part of children {offset}..{offset + size - 1} of {owner!r}")
        _check_columns(body, columns, size)
        if any(count[0] > offset for _, count in self._spools.values()) or offset + size > self.size:
            raise ValueError(f"outputs part of children {offset}..{offset + size - 1} out of order")
        position = 0
        for name, length in columns:
            raw = body[position : position + length]
            position += length
            if self.fixed and name not in self._spools:
                continue
            spool, count = self._pad(name, offset)
            spool.write(b"," if count[0] else b"")
            spool.write(raw)
            count[0] += size

    def chunks(self, part_bytes: int = 1 << 20) -> Iterator[bytes]:
        """The document, a part at a time (the spools are closed after)."""
        yield b"{"
        for k, name in enumerate(list(self._spools)):
            spool, _ = self._pad(name, self.size)
            yield (b"," if k else b"") + _json(name) + b":["
            spool.seek(0)
            while part := spool.read(part_bytes):
                yield part
            spool.close()
            yield b"]"
        yield b"}"


def _check_columns(body: bytes, columns: list[tuple[str, int]], size: int) -> None:
    """Each column is ``size`` comma-joined JSON values (NaN and Infinity are not JSON)."""
    position = 0
    for name, length in columns:
        raw = body[position : position + length]
        position += length
        try:
            values = json.loads(b"[" + raw + b"]", parse_constant=_not_json)
        except ValueError as exc:
            raise ValueError(f"outputs part column {name!r} is not JSON values: {str(exc)[:100]}") from exc
        if len(values) != size:
            raise ValueError(f"outputs part column {name!r} holds {len(values)} values, not {size}")


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


def stream_outputs(
    size: int, child_outputs: Iterable[tuple[int, Mapping[str, Any] | None]], names: Sequence[str] | None = None
) -> Iterator[bytes]:
    writer = OutputsWriter(size, names)
    for index, outputs in child_outputs:
        writer.add(index, outputs)
    return writer.chunks()


def assemble_outputs(
    size: int,
    child_outputs: Mapping[int, Mapping[str, Any] | None],
    *,
    unwrap: bool,
    names: Sequence[str] | None = None,
) -> dict[str, Any]:
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
            return dict.fromkeys(names) if names else {}
        return {n: only.get(n) for n in names} if names else dict(only)
    document = b"".join(
        stream_outputs(size, ((i, child_outputs.get(i)) for i in sorted(child_outputs) if 0 <= i < size), names)
    )
    return json.loads(document)


class ErrorSummary:
    """Flyte's error summary built in one pass: ``add(index, message)`` in ascending index order.
    Once the text kept reaches ``char_limit``, further messages and ranges are left out (the
    summary ends with MORE): what is kept never grows with the number of failures."""

    def __init__(self, char_limit: int = DEFAULT_CHAR_LIMIT) -> None:
        self.char_limit = char_limit
        self._ranges: dict[str, list[list[int]]] = {}  # message -> [[first, last], ...], by first index
        self._chars = 0  # the rendered length of what is kept, about
        self._left_out = False

    def add(self, index: int, message: str) -> None:
        ranges = self._ranges.get(message)
        if ranges is not None and index == ranges[-1][1] + 1:
            ranges[-1][1] = index
            return
        if ranges is not None and index <= ranges[-1][1]:
            return  # seen
        if self._chars >= self.char_limit:
            self._left_out = True
            return
        if ranges is None:
            self._ranges[message] = [[index, index]]
            self._chars += len(message) + 3
        else:
            ranges.append([index, index])
        self._chars += 2 * len(str(index)) + 3

    def render(self) -> str:
        lines: list[str] = []
        used = 0
        budget = self.char_limit - len(MORE)
        for msg, ranges in self._ranges.items():  # insertion order = order of first failed index
            line = "".join(f"[{a}]" if a == b else f"[{a}-{b}]" for a, b in ranges) + f": {msg}"
            if lines and used + len(line) + 1 > budget:
                lines.append(MORE)
                return "\n".join(lines)
            lines.append(line)
            used += len(line) + 1
        if self._left_out:
            lines.append(MORE)
        return "\n".join(lines)


def error_summary(failures: Mapping[int, str], *, char_limit: int = DEFAULT_CHAR_LIMIT) -> str:
    """``{index: message}`` -> ``"[0-1][3]: message\\n[2]: other"`` (empty if no failure)."""
    summary = ErrorSummary(char_limit)
    for i in sorted(failures):
        summary.add(i, failures[i])
    return summary.render()


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
    """Children in any order (a record's); streamed readers use :class:`ErrorSummary` directly."""
    return error_summary(
        {c.index: child_error_message(c) for c in children if c.status == "FAILED"}, char_limit=char_limit
    )


def merge_rerun(original: Mapping[str, Any] | None, size: int, rerun: Mapping[int, Mapping[str, Any] | None]) -> dict:
    """A rerun's outputs: the original's map outputs (``{name: [v0, ...]}``, ``size`` each; None:
    it has none) with the values of the rerun's children replaced where they wrote some. ``rerun``
    maps indexes of the original's outputs to the outputs of the child that reran it."""
    merged: dict[str, list[Any]] = {}
    for name, values in (original or {}).items():
        listed = list(values) if isinstance(values, list) else []
        merged[name] = (listed + [None] * size)[:size]
    for index in sorted(rerun):
        for name, value in (rerun[index] or {}).items():
            merged.setdefault(name, [None] * size)[index] = value
    return merged
