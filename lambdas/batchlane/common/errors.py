"""Errors every part of batchlane understands."""


class TransientError(Exception):
    """AWS said "not now" (throttling, 5xx): the message is retried later, never dropped."""


class UnprocessableEvent(Exception):
    """An event that cannot be read at all: it is retried, then kept in the dead-letter queue."""
