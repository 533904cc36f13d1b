"""An example batchlane job: word statistics of one text document.

It follows batchlane's container contract (docs/launch-event.md, "What the container sees"):
its index is ``BATCH_JOB_ARRAY_INDEX_OFFSET`` (a chunk's first child, docs/chunked-maps.md; 0 if
unset) plus ``AWS_BATCH_JOB_ARRAY_INDEX`` (0 for a plain job); its input is that line of the JSON
Lines object at ``BATCHLANE_INPUTS_URI``, found with two ranged GETs through the line index at
``BATCHLANE_INPUTS_INDEX_URI`` when there is one, a document ``{"text": "...", "top": 3}``; it
writes ``<BATCHLANE_OUTPUTS_URI><index>/outputs.json``. An input without a text fails the job (exit
code 2, the reason on stderr). It needs only boto3: in the sandbox's local executor its AWS calls
reach the emulated S3 through ``AWS_ENDPOINT_URL``; on AWS Batch, the real S3 with the job role.

    python word_stats.py        # with the environment above
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections import Counter

import boto3

WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
BAD_INPUT = 2


def split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def statistics(document: object) -> dict:
    """The outputs of one input document; ValueError names what is wrong with it."""
    if not isinstance(document, dict) or not isinstance(document.get("text"), str):
        raise ValueError(f'the input must be an object with a "text" string, got {json.dumps(document)[:200]}')
    top = document.get("top", 3)
    if not isinstance(top, int) or top < 1:
        raise ValueError(f'"top" must be a whole number >= 1, got {top!r}')
    words = [w.lower() for w in WORD.findall(document["text"])]
    counts = Counter(words)
    return {
        "words": len(words),
        "distinct": len(counts),
        "top": [[word, n] for word, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]],
        "longest": max(words, key=lambda w: (len(w), w), default=None),
    }


def input_line(s3, index: int) -> str:
    """Line ``index`` of the inputs: without reading the whole file when the launch wrote its index
    (big-endian 8-byte line offsets, the file's length last)."""
    bucket, key = split_s3(os.environ["BATCHLANE_INPUTS_URI"])
    if os.environ.get("BATCHLANE_INPUTS_INDEX_URI"):
        index_bucket, index_key = split_s3(os.environ["BATCHLANE_INPUTS_INDEX_URI"])
        raw = s3.get_object(Bucket=index_bucket, Key=index_key, Range=f"bytes={8 * index}-{8 * index + 15}")[
            "Body"
        ].read()
        if len(raw) != 16:
            raise IndexError(f"no line {index}")
        start, end = int.from_bytes(raw[:8], "big"), int.from_bytes(raw[8:], "big")
        return s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{end - 1}")["Body"].read().decode()
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()[index]


def main() -> int:
    index = int(os.environ.get("BATCH_JOB_ARRAY_INDEX_OFFSET") or 0) + int(
        os.environ.get("AWS_BATCH_JOB_ARRAY_INDEX", "0")
    )
    attempt = os.environ.get("AWS_BATCH_JOB_ATTEMPT", "?")
    s3 = boto3.client("s3")
    print(f"word_stats: child {index}, attempt {attempt}, job {os.environ.get('AWS_BATCH_JOB_ID')}")
    try:
        outputs = statistics(json.loads(input_line(s3, index)))
    except (ValueError, IndexError) as exc:
        print(f"word_stats: bad input at line {index} of {os.environ['BATCHLANE_INPUTS_URI']}: {exc}", file=sys.stderr)
        return BAD_INPUT
    bucket, prefix = split_s3(os.environ["BATCHLANE_OUTPUTS_URI"])
    s3.put_object(
        Bucket=bucket,
        Key=f"{prefix}{index}/outputs.json",
        Body=json.dumps(outputs).encode(),
        ContentType="application/json",
    )
    print(
        f"word_stats: {outputs['words']} words, {outputs['distinct']} distinct; wrote s3://{bucket}/{prefix}{index}/outputs.json"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
