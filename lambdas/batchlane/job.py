"""Inside a batchlane job: which child am I, and what is my input (docs/chunked-maps.md).

A child's global index is its chunk's offset (``BATCH_JOB_ARRAY_INDEX_OFFSET``) plus the index in
the variable ``BATCH_JOB_ARRAY_INDEX_VAR_NAME`` names (Batch's array index, or batchlane's fake
one set to 0 on a plain job): flytekit's entrypoint computes the same. Its input is line ``index``
of ``BATCHLANE_INPUTS_URI``; with ``BATCHLANE_INPUTS_INDEX_URI`` it is read with two ranged GETs
(16 bytes of the index, then its own line), whatever the map's size; without one, the lines are
streamed up to its own. Only boto3 and the standard library: light enough for any image.
"""

from __future__ import annotations

import json
import os
from itertools import islice
from collections.abc import Mapping
from typing import Any

from batchlane.common.inputs import (
    ENV_INDEX_OFFSET, ENV_INDEX_VAR_NAME, ENV_INPUTS_INDEX_URI, ENV_INPUTS_URI, INDEX_VARIABLE, OFFSET, index_range, line_range,
)


def child_index(environ: Mapping[str, str] | None = None) -> int:
    """This child's global index in its map task (0 for a single task)."""
    env = os.environ if environ is None else environ
    local = int(env.get(env.get(ENV_INDEX_VAR_NAME) or INDEX_VARIABLE) or 0)
    return int(env.get(ENV_INDEX_OFFSET) or 0) + local


def input_for(index: int | None = None, *, s3=None, environ: Mapping[str, str] | None = None) -> Any:
    """The input document of child ``index`` (default: this child), as the environment locates it."""
    env = os.environ if environ is None else environ
    if index is None:
        index = child_index(env)
    if s3 is None:
        import boto3  # not at import: reading the index alone needs no client

        s3 = boto3.client("s3")
    return read_input(s3, env[ENV_INPUTS_URI], env.get(ENV_INPUTS_INDEX_URI), index)


def _split(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"not an S3 object URI: {uri!r}")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key


def _ranged(s3, uri: str, start: int, end: int) -> bytes:
    bucket, key = _split(uri)
    return s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{end}")["Body"].read()


def read_input(s3, inputs_uri: str, index_uri: str | None, index: int) -> Any:
    """Line ``index`` of the JSON Lines at ``inputs_uri`` as JSON (two ranged GETs with an index)."""
    if index_uri:
        span = line_range(_ranged(s3, index_uri, *index_range(index)))
        if span is None:
            raise ValueError(f"child {index} has an empty line in {inputs_uri}")
        return json.loads(_ranged(s3, inputs_uri, *span))
    bucket, key = _split(inputs_uri)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    for n, line in enumerate(body.iter_lines()):
        if n == index:
            return json.loads(line)
    raise IndexError(f"{inputs_uri} has no line {index}")


def read_inputs(s3, inputs_uri: str, index_uri: str | None, first: int, count: int) -> list[Any]:
    """Lines ``first`` to ``first + count - 1`` as JSON, in order: with an index, two ranged GETs
    whatever ``count`` (a chunk's lines lie side by side); without one, the lines are streamed."""
    if count <= 0:
        return []
    if index_uri:
        index_bytes = _ranged(s3, index_uri, first * OFFSET.size, (first + count + 1) * OFFSET.size - 1)
        if len(index_bytes) != (count + 1) * OFFSET.size:
            raise IndexError(f"{index_uri} has no entries for lines {first} to {first + count - 1}")
        offsets = [OFFSET.unpack_from(index_bytes, n * OFFSET.size)[0] for n in range(count + 1)]
        if offsets[-1] <= offsets[0]:
            raise ValueError(f"lines {first} to {first + count - 1} of {inputs_uri} are empty")
        body = _ranged(s3, inputs_uri, offsets[0], offsets[-1] - 1)
        base = offsets[0]
        return [json.loads(body[start - base:end - base]) for start, end in zip(offsets, offsets[1:])]
    bucket, key = _split(inputs_uri)
    lines = s3.get_object(Bucket=bucket, Key=key)["Body"].iter_lines()
    values = [json.loads(line) for line in islice(lines, first, first + count)]
    if len(values) != count:
        raise IndexError(f"{inputs_uri} has no lines {first} to {first + count - 1}")
    return values
