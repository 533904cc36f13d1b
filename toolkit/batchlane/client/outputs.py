"""A finished launch's assembled outputs (``outputsUri`` of its status document), read from S3."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def read_outputs(s3, uri: str, warn: Callable[[str], None] | None = None) -> Any:
    """The JSON document at ``s3://bucket/key``; None (and a warning, when ``warn`` is given) when it
    is not there or not JSON."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        if warn:
            warn(f"outputs {uri} not found")
        return None
    try:
        return json.loads(body)
    except ValueError:
        if warn:
            warn(f"outputs {uri} are not JSON")
        return None
