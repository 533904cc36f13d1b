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
from collections.abc import Mapping
from itertools import islice
from typing import Any

from batchlane.common.inputs import (
    ENV_INDEX_OFFSET,
    ENV_INDEX_VAR_NAME,
    ENV_INPUTS_INDEX_URI,
    ENV_INPUTS_URI,
    INDEX_VARIABLE,
    index_range,
    line_offsets,
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
    return read_inputs(s3, inputs_uri, index_uri, index, 1)[0]


def read_inputs(s3, inputs_uri: str, index_uri: str | None, first: int, count: int) -> list[Any]:
    """Lines ``first`` to ``first + count - 1`` as JSON, in order: with an index, two ranged GETs
    whatever ``count`` (a chunk's lines lie side by side); without one, the lines are streamed."""
    last = first + count - 1
    if first < 0 or count < 1:
        raise ValueError(f"children {first} to {last} have no input")
    if index_uri:
        offsets = line_offsets(_ranged(s3, index_uri, *index_range(first, count)))
        if len(offsets) != count + 1:
            raise IndexError(f"{index_uri} has no entries for lines {first} to {last}")
        if any(end <= start for start, end in zip(offsets, offsets[1:])):
            raise ValueError(f"a line from {first} to {last} of {inputs_uri} is empty")
        body, base = _ranged(s3, inputs_uri, offsets[0], offsets[-1] - 1), offsets[0]
        return [json.loads(body[start - base : end - base]) for start, end in zip(offsets, offsets[1:])]
    bucket, key = _split(inputs_uri)
    lines = s3.get_object(Bucket=bucket, Key=key)["Body"].iter_lines()
    values = [json.loads(line) for line in islice(lines, first, first + count)]
    if len(values) != count:
        raise IndexError(f"{inputs_uri} has no lines {first} to {last}")
    return values
