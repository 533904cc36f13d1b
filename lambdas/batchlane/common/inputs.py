"""A map task's inputs as JSON Lines plus their index, written once and read one line at a time (pure).

``inputs.jsonl``: line ``i`` (compact JSON, keys sorted, ``\\n``-terminated) is child ``i``'s input.
``inputs.idx`` beside it: ``size + 1`` big-endian unsigned 64-bit byte offsets, the start of every
line and then the file's length, so that child ``i`` reads bytes ``[off[i], off[i + 1])``: one
ranged GET of 16 bytes of the index, one of its own line, whatever the map's size
(docs/chunked-maps.md). The launcher, the client's upload and the job helper all use this module.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

OFFSET = struct.Struct(">Q")
INDEX_SUFFIX = ".idx"

# What a child learns from its environment about its input (docs/launch-event.md, docs/chunked-maps.md).
ENV_INPUTS_URI = "BATCHLANE_INPUTS_URI"
ENV_INPUTS_INDEX_URI = "BATCHLANE_INPUTS_INDEX_URI"  # a map task's inputs.idx
ENV_INDEX_VAR_NAME = "BATCH_JOB_ARRAY_INDEX_VAR_NAME"  # names the variable that holds the (chunk-local) index
INDEX_VARIABLE = "AWS_BATCH_JOB_ARRAY_INDEX"  # set by Batch for array children; absent (index 0) otherwise
# A chunk's first global index: flytekit's entrypoint adds it to the index it reads, batchlane.job too.
ENV_INDEX_OFFSET = "BATCH_JOB_ARRAY_INDEX_OFFSET"


def jsonl_line(document: Any) -> bytes:
    return (json.dumps(document, separators=(",", ":"), sort_keys=True) + "\n").encode()


def write_jsonl(documents: Iterable[Any], lines: BinaryIO, index: BinaryIO) -> int:
    """Write the JSON Lines and their index in one pass; returns how many lines were written."""
    position = count = 0
    for document in documents:
        line = jsonl_line(document)
        index.write(OFFSET.pack(position))
        lines.write(line)
        position += len(line)
        count += 1
    index.write(OFFSET.pack(position))
    return count


def index_of_lines(lines: Iterable[bytes]) -> Iterator[bytes]:
    """The index of JSON Lines already written (each line with its ``\\n``), as packed offsets."""
    position = 0
    for line in lines:
        yield OFFSET.pack(position)
        position += len(line)
    yield OFFSET.pack(position)


def index_range(index: int, count: int = 1) -> tuple[int, int]:
    """The bytes of the index that hold the offsets of lines ``index`` to ``index + count - 1``
    (``count + 1`` offsets; inclusive range, as HTTP's)."""
    if index < 0 or count < 1:
        raise ValueError(f"children {index} to {index + count - 1} have no input")
    start = index * OFFSET.size
    return start, start + (count + 1) * OFFSET.size - 1


def line_offsets(index_bytes: bytes) -> list[int]:
    """The offsets an index range holds (each line runs from one offset to the next)."""
    return [OFFSET.unpack_from(index_bytes, n)[0] for n in range(0, len(index_bytes) - OFFSET.size + 1, OFFSET.size)]


def index_uri(inputs_uri: str) -> str:
    """Where the index of a JSON Lines object lies: beside it, ``.jsonl`` replaced by ``.idx``."""
    stem = inputs_uri[: -len(".jsonl")] if inputs_uri.endswith(".jsonl") else inputs_uri
    return stem + INDEX_SUFFIX
