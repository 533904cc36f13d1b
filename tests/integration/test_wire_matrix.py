"""A representative part of the wire-level fault matrix (the whole of it: bench/fault_matrix_bench.py):
each cell one launch driven to its end under one fault on the wire, redelivered at the real
visibility timeout, then duplicated a day later. At most one Batch job per launch and per chunk
(moto's jobs), the cap kept, every delivery answered, every launch final with its outputs."""

from __future__ import annotations

import pytest
from wire_lifecycle import set_world_limits
from wire_matrix import Cell, run_matrix

REPRESENTATIVE = [
    Cell("plain", "launch", "batch", "SubmitJob", "timeout-after"),
    Cell("plain", "launch", "eventbridge", "PutEvents", "5xx-after"),
    Cell("plain", "finish", "dynamodb", "UpdateItem", "reset-after"),  # the phase claim's answer lost
    Cell("chunked", "launch", "batch", "SubmitJob", "5xx-after"),
    Cell("chunked", "launch", "dynamodb", "PutItem", "throttle"),
    Cell("chunked", "chunk-due", "batch", "SubmitJob", "reset-after"),
    Cell("chunked", "chunk-due", "batch", "SubmitJob", "crash-after"),
    Cell("chunked", "status", "eventbridge", "PutEvents", "timeout-after"),  # a "Task Chunk Due" lost
    Cell("chunked", "finish", "s3", "PutObject", "crash-after"),
    Cell("abort", "abort", "batch", "TerminateJob", "5xx-before"),
    Cell("abort", "abort", "eventbridge", "PutEvents", "reset-after"),
    Cell("reconcile", "reconcile", "dynamodb", "TransactWriteItems", "timeout-after"),
]


@pytest.fixture
def limited_world(world):
    set_world_limits(world)
    return world


def test_the_representative_wire_matrix_keeps_every_promise(limited_world):
    figures = run_matrix(limited_world, REPRESENTATIVE)
    assert figures.cells == len(REPRESENTATIVE) and figures.faults >= len(REPRESENTATIVE)
    assert figures.broken == {}
    assert (figures.max_jobs_per_launch, figures.max_jobs_per_chunk) == (1, 1)
    assert figures.unanswered == 0 and figures.stalled == 0
