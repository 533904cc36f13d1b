"""A clock that stands still until a test moves it: ``clock.advance(24 * 3600)`` (a day passes),
or ``clock.advance()`` by its ``step`` (e.g. a visibility timeout, as a retry callback)."""

from __future__ import annotations


class Clock:
    def __init__(self, t: float = 1_800_000_000.0, step: float = 0.0) -> None:
        self.t, self.step = t, step

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float | None = None) -> None:
        self.t += self.step if seconds is None else seconds
