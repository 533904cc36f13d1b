"""Faults where a real network puts them: in the HTTP exchange, below botocore's retry loop.

botocore sends every HTTP attempt of a call (the first and each retry) through the ``before-send``
event; moto answers there (``BotocoreStubber``). :class:`WireInjector` wraps moto's answer, so a
fault hits one *attempt*, not one call, and botocore's own retries see it as they would see the
network: a throttle or a 5xx before AWS acted (moto is not asked), or a 5xx, a read timeout, a
connection reset after AWS acted (moto did the work, the response is lost), or the Lambda dying
right after AWS acted (:class:`~fault_injection.Crash`, a BaseException nothing in botocore catches).

Faults are matched by the service id and operation in botocore's event name (``batch``,
``dynamodb``, ``eventbridge``, ``s3``, ``ssm``, ``sqs``) and optionally by ``path``: a label the
test sets while it drives one path ("launch", "status", ...).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError, ReadTimeoutError
from fault_injection import Crash
from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse

# Fault kinds: what AWS did, then what the caller got.
BEFORE_KINDS = ("throttle", "5xx-before")  # AWS did nothing
AFTER_KINDS = ("5xx-after", "timeout-after", "reset-after", "crash-after")  # AWS acted, the answer is lost
WIRE_FAULT_KINDS = BEFORE_KINDS + AFTER_KINDS
_SERVICE_ALIASES = {"events": "eventbridge"}  # boto3 client name -> botocore service id


@dataclass
class WireFault:
    service: str
    operation: str
    kind: str
    path: str | None = None  # only while the test drives this path (None: any)
    status: int = 503  # of a 5xx fault (500, 502, 503, 504)
    times: int = 1  # how many attempts fail
    skip: int = 0  # matching attempts that pass before the first that fails
    seen: int = 0
    injected: int = 0

    def __post_init__(self) -> None:
        self.service = _SERVICE_ALIASES.get(self.service, self.service)
        if self.kind not in WIRE_FAULT_KINDS:
            raise ValueError(f"unknown wire fault kind {self.kind!r}")

    def matches(self, path: str | None, service: str, operation: str) -> bool:
        return (self.service, self.operation) == (service, operation) and self.path in (None, path)


class WireInjector:
    """Counts every HTTP attempt per (path, service, operation) and spoils the planned ones."""

    def __init__(self) -> None:
        self.faults: list[WireFault] = []
        self.attempts: Counter[tuple[str | None, str, str]] = Counter()
        self.enabled = False  # only while the code under test runs (not the test's own AWS reads)
        self.path: str | None = None
        self._lock = threading.Lock()

    def plan(self, fault: WireFault) -> WireFault:
        self.faults.append(fault)
        return fault

    @property
    def injected(self) -> int:
        return sum(f.injected for f in self.faults)

    @contextmanager
    def active(self, path: str | None = None):
        self.enabled, self.path = True, path
        try:
            yield self
        finally:
            self.enabled, self.path = False, None

    def _due(self, service: str, operation: str) -> WireFault | None:
        with self._lock:
            if not self.enabled:
                return None
            self.attempts[(self.path, service, operation)] += 1
            due = None
            for f in self.faults:
                if f.matches(self.path, service, operation):
                    f.seen += 1
                    if due is None and f.seen > f.skip and f.injected < f.times:
                        f.injected += 1
                        due = f
            return due

    def _send(self, moto_send, stubber, event_name: str, request, **kwargs):
        _, service, operation = event_name.split(".", 2)
        fault = self._due(service, operation)
        if fault is None:
            return moto_send(stubber, event_name, request, **kwargs)
        if fault.kind in BEFORE_KINDS:
            return _error_response(request.url, service, fault)
        moto_send(stubber, event_name, request, **kwargs)  # AWS acts, then the caller loses the answer
        if fault.kind == "timeout-after":
            raise ReadTimeoutError(endpoint_url=request.url)
        if fault.kind == "reset-after":
            raise ConnectionClosedError(endpoint_url=request.url)
        if fault.kind == "crash-after":
            raise Crash(f"crashed after {service}.{operation}")
        return _error_response(request.url, service, fault)

    @contextmanager
    def installed(self):
        """Wrap moto's HTTP answer for every client (whatever session made it) while in the block."""
        moto_send = BotocoreStubber.__call__

        def send(stubber, event_name, request, **kwargs):
            return self._send(moto_send, stubber, event_name, request, **kwargs)

        BotocoreStubber.__call__ = send  # type: ignore[method-assign]
        try:
            yield self
        finally:
            BotocoreStubber.__call__ = moto_send  # type: ignore[method-assign]


def _error_response(url: str, service: str, fault: WireFault) -> AWSResponse:
    """The HTTP error response the service would send, in its protocol (S3: XML; the rest: JSON)."""
    if fault.kind == "throttle":
        status, code = (
            (503, "SlowDown") if service == "s3" else (429, _THROTTLE_CODES.get(service, "ThrottlingException"))
        )
    else:
        status, code = fault.status, "InternalError" if service == "s3" else "InternalServerError"
    message = f"injected {fault.kind}"
    if service == "s3":
        body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
        headers = {"Content-Type": "application/xml"}
    else:
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code}
    return AWSResponse(url, status, headers, MockRawResponse(body))


_THROTTLE_CODES = {"batch": "TooManyRequestsException"}
