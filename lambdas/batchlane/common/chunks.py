"""How a map task is cut into Batch array jobs ("chunks"), and in which order they run (pure).

A Batch array job holds at most 10,000 children and cannot cap how many run at once. A map task
larger than ``maxArraySize`` runs as several array jobs (chunks) of consecutive inputs; with
``maxConcurrency`` it runs as chunks small enough that a fixed number of them in flight (the
window) never exceeds the cap, the next chunk being submitted when an earlier one ends.

* chunk ``c`` holds the global child indexes ``[c * chunk_size, min((c + 1) * chunk_size, size))``;
* chunks ``0 .. window - 1`` are submitted at launch; when chunk ``c`` ends (its job is final),
  chunk ``c + window`` becomes due: at most ``window`` chunks are ever in flight, so at most
  ``window * chunk_size <= maxConcurrency`` children run at once;
* with a cap ``K``, chunks hold ``min(maxArraySize, ceil(K / 4))`` children (at least 2, but 1 when
  ``K`` is 1) and ``window = K // chunk_size``: several smaller chunks in flight, so that one slow
  child holds back only its own chunk's slots;
* a chunk of one child (``K = 1``, or a last chunk of one) is a plain Batch job, not an array.

A launch with one chunk is an unchunked launch: its job, names and items are what they were
before chunks existed (``Chunks.single``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Below a cap of this many children, chunks shrink so that several are in flight at once.
CHUNKS_IN_FLIGHT_UNDER_CAP = 4


@dataclass(frozen=True)
class Chunks:
    size: int  # children of the whole map task (1 for a plain job)
    chunk_size: int
    window: int  # chunks in flight at once

    @classmethod
    def layout(cls, size: int, max_array_size: int, max_concurrency: int | None = None) -> Chunks:
        if size < 1 or max_array_size < 2:
            raise ValueError(f"a layout needs size >= 1 and max_array_size >= 2 (got {size}, {max_array_size})")
        if max_concurrency is None or max_concurrency >= size:
            chunk_size = min(size, max_array_size)
            return cls(size=size, chunk_size=chunk_size, window=-(-size // chunk_size))
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1 (got {max_concurrency})")
        if max_concurrency == 1:
            chunk_size = 1
        else:
            chunk_size = max(2, min(max_array_size, -(-max_concurrency // CHUNKS_IN_FLIGHT_UNDER_CAP)))
        return cls(size=size, chunk_size=chunk_size, window=max(1, max_concurrency // chunk_size))

    @classmethod
    def single(cls, size: int) -> Chunks:
        return cls(size=size, chunk_size=size, window=1)

    @property
    def count(self) -> int:
        return -(-self.size // self.chunk_size)

    @property
    def chunked(self) -> bool:
        return self.count > 1

    @property
    def initial(self) -> range:
        """The chunks submitted at launch."""
        return range(min(self.window, self.count))

    @property
    def max_running(self) -> int:
        return min(self.size, self.window * self.chunk_size)

    def offset(self, chunk: int) -> int:
        self._check(chunk)
        return chunk * self.chunk_size

    def chunk_len(self, chunk: int) -> int:
        """Children in ``chunk`` (the last one may be short)."""
        self._check(chunk)
        return min(self.chunk_size, self.size - chunk * self.chunk_size)

    def chunk_of(self, index: int) -> int:
        if not 0 <= index < self.size:
            raise ValueError(f"child {index} is outside 0..{self.size - 1}")
        return index // self.chunk_size

    def due_after(self, chunk: int) -> int | None:
        """The chunk that becomes due when ``chunk`` ends (None: none is left)."""
        self._check(chunk)
        due = chunk + self.window
        return due if due < self.count else None

    def waiting(self, submitted: Iterable[int]) -> int:
        """Children waiting for a slot: those of the chunks not in ``submitted``."""
        return self.size - sum(self.chunk_len(c) for c in set(submitted))

    def _check(self, chunk: int) -> None:
        if not 0 <= chunk < self.count:
            raise ValueError(f"chunk {chunk} is outside 0..{self.count - 1}")
