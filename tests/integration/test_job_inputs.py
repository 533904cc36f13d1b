"""The container-side helper (batchlane.job) reads a child's input with two ranged GETs against S3 (moto)."""

from __future__ import annotations

import io

import boto3
import pytest
from moto import mock_aws

from batchlane.common.inputs import write_jsonl
from batchlane.job import input_for, read_inputs


@pytest.fixture
def uploaded():
    """``(s3, documents, ranges)``: 3,000 documents as JSON Lines and index under s3://data/l/; every
    GetObject's Range is appended to ``ranges``."""
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="data")
        documents = [{"n": i, "text": "é" * (i % 7), "nested": [i, None]} for i in range(3000)]
        lines, index = io.BytesIO(), io.BytesIO()
        write_jsonl(documents, lines, index)
        s3.put_object(Bucket="data", Key="l/inputs.jsonl", Body=lines.getvalue())
        s3.put_object(Bucket="data", Key="l/inputs.idx", Body=index.getvalue())
        ranges: list[str] = []
        s3.meta.events.register(
            "provide-client-params.s3.GetObject", lambda params, **_: ranges.append(params.get("Range"))
        )
        yield s3, documents, ranges


def test_a_child_reads_its_own_line_with_two_ranged_gets_and_falls_back_to_streaming_without_an_index(uploaded):
    s3, documents, ranges = uploaded
    env = {
        "BATCHLANE_INPUTS_URI": "s3://data/l/inputs.jsonl",
        "BATCHLANE_INPUTS_INDEX_URI": "s3://data/l/inputs.idx",
        "BATCH_JOB_ARRAY_INDEX_VAR_NAME": "AWS_BATCH_JOB_ARRAY_INDEX",
        "AWS_BATCH_JOB_ARRAY_INDEX": "3",
        "BATCH_JOB_ARRAY_INDEX_OFFSET": "700",
    }
    assert input_for(s3=s3, environ=env) == documents[703]
    assert len(ranges) == 2 and ranges[0] == f"bytes={703 * 8}-{705 * 8 - 1}" and ranges[1].startswith("bytes=")
    assert input_for(2999, s3=s3, environ=env) == documents[2999]
    without_index = {k: v for k, v in env.items() if k != "BATCHLANE_INPUTS_INDEX_URI"}
    assert input_for(s3=s3, environ=without_index) == documents[703]


def test_a_chunk_of_lines_is_read_in_order_with_two_ranged_gets_whatever_its_size(uploaded):
    s3, documents, ranges = uploaded
    assert read_inputs(s3, "s3://data/l/inputs.jsonl", "s3://data/l/inputs.idx", 1000, 2000) == documents[1000:]
    assert len(ranges) == 2
    assert read_inputs(s3, "s3://data/l/inputs.jsonl", "s3://data/l/inputs.idx", 0, 1) == documents[:1]
    assert read_inputs(s3, "s3://data/l/inputs.jsonl", None, 2990, 10) == documents[2990:]
    for reader_index in ("s3://data/l/inputs.idx", None):  # past the end: an error, not a short list
        with pytest.raises(IndexError):
            read_inputs(s3, "s3://data/l/inputs.jsonl", reader_index, 2999, 2)
