"""The chunk layout: every child in exactly one chunk, the cap never exceeded, every chunk reached."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchlane.common.chunks import Chunks


def reached(chunks: Chunks) -> list[int]:
    """Chunks in an order the due chain can submit them: the initial ones, then each one's successor."""
    order, frontier = [], list(chunks.initial)
    while frontier:
        c = frontier.pop(0)
        order.append(c)
        nxt = chunks.due_after(c)
        if nxt is not None:
            frontier.append(nxt)
    return order


@settings(deadline=None)
@given(
    size=st.integers(1, 2_000_000),
    max_array=st.integers(2, 10_000),
    cap=st.one_of(st.none(), st.integers(1, 2_000_000)),
)
def test_chunks_cover_every_child_once_and_hold_the_cap(size, max_array, cap):
    chunks = Chunks.layout(size, max_array, cap)
    assert 1 <= chunks.chunk_size <= max_array
    assert chunks.offset(chunks.count - 1) + chunks.chunk_len(chunks.count - 1) == size
    assert chunks.chunk_of(size - 1) == chunks.count - 1
    if cap is not None:
        assert chunks.max_running <= cap
    if chunks.count <= 5_000:  # walking a million one-child chunks proves nothing more
        assert sum(chunks.chunk_len(c) for c in range(chunks.count)) == size
        assert sorted(reached(chunks)) == list(range(chunks.count))  # each chunk submitted once, none forgotten


def test_a_map_of_a_million_runs_as_100_chunks_all_at_once_without_a_cap():
    chunks = Chunks.layout(1_000_000, 10_000)
    assert (chunks.count, chunks.chunk_size, chunks.window) == (100, 10_000, 100)
    assert chunks.chunk_of(999_999) == 99 and chunks.offset(99) == 990_000


def test_a_cap_cuts_smaller_chunks_several_in_flight():
    chunks = Chunks.layout(100_000, 10_000, max_concurrency=1_000)
    assert (chunks.chunk_size, chunks.window, chunks.max_running) == (250, 4, 1_000)
    assert chunks.due_after(0) == 4 and chunks.due_after(chunks.count - 1) is None
    assert Chunks.layout(10, 10_000, max_concurrency=1).chunk_size == 1
    assert Chunks.layout(10, 10_000, max_concurrency=3).max_running <= 3


def test_a_small_map_is_one_chunk():
    chunks = Chunks.layout(3, 10_000)
    assert not chunks.chunked and list(chunks.initial) == [0]
    assert Chunks.layout(5, 10_000, max_concurrency=5).count == 1  # a cap the map never reaches


def test_waiting_counts_children_of_chunks_not_submitted():
    chunks = Chunks.layout(25, 10, max_concurrency=10)  # chunks of 3, window 3
    assert chunks.waiting([0, 1, 2]) == 25 - 9
    assert chunks.waiting(range(chunks.count)) == 0


def test_out_of_range_is_an_error():
    chunks = Chunks.layout(25, 10)
    with pytest.raises(ValueError):
        chunks.chunk_len(3)
    with pytest.raises(ValueError):
        chunks.chunk_of(25)
