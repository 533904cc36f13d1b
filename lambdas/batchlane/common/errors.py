"""Errors every part of batchlane understands."""


class TransientError(Exception):
    """AWS said "not now" (throttling, 5xx): the message is retried later, never dropped."""


class UnprocessableEvent(Exception):
    """An event that cannot be read at all: it is retried, then kept in the dead-letter queue."""


class Refused(Exception):
    """AWS refused a request for a reason the client must fix (e.g. Batch's ClientException)."""

    def __init__(self, operation: str, message: str) -> None:
        super().__init__(f"{operation}: {message}")
        self.operation = operation
        self.message = message
