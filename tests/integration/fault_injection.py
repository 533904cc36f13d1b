"""Fault injection on every AWS call the launcher makes, and the delivery loop SQS would run.

Faults are botocore event hooks on every client (``before-call``: the request never had an
effect; ``after-call``: AWS did it, then the caller lost the answer), registered on every boto3
session, Powertools' own included. They sit *above* botocore's retry loop: a fault here is a call
that failed after all of the SDK's own attempts (what the hook-level matrix still adds to the
wire-level one, ``wire_faults.py``, where a fault spoils one HTTP attempt), and an AWS refusal
(``access-denied``) anywhere. A "crash" is a BaseException: it escapes the batch processor
as a Lambda dying mid-invocation would, so every message of that batch is redelivered.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field

import boto3
import botocore.handlers
from botocore.exceptions import ClientError, ReadTimeoutError

# (service, operation) of every AWS call on the launch path, in the order a cold launch makes them.
LAUNCH_PATH_CALLS = (
    ("ssm", "GetParametersByPath"),  # settings
    ("dynamodb", "Query"),  # routing items
    ("dynamodb", "PutItem"),  # the claim (and a take-over)
    ("batch", "DescribeJobDefinitions"),
    ("batch", "RegisterJobDefinition"),
    ("s3", "PutObject"),  # inputs.jsonl
    ("batch", "SubmitJob"),
    ("dynamodb", "UpdateItem"),  # complete the record
    ("events", "PutEvents"),  # the answer
)
BEFORE_KINDS = ("throttle", "5xx-before")  # the call had no effect
AFTER_KINDS = ("5xx-after", "timeout-after", "crash-after")  # AWS acted, then the answer was lost
FAULT_KINDS = BEFORE_KINDS + AFTER_KINDS
FULL_MATRIX = "BATCHLANE_FULL_FAULT_MATRIX"  # =1: every call with every kind (by hand, a few minutes more)


def fault_cells(calls):
    """``(*call, kind)`` cells of a hook-level fault matrix over ``calls``: each call meets one fault
    before it took effect and one after, the kinds rotating along the calls so that every kind meets
    every service (the wire matrix, wire_faults.py, covers each kind on each call a launch makes);
    with ``BATCHLANE_FULL_FAULT_MATRIX=1``, the whole product."""
    if os.environ.get(FULL_MATRIX) == "1":
        return [(*call, kind) for call in calls for kind in FAULT_KINDS]
    return [
        (*call, kind)
        for i, call in enumerate(calls)
        for kind in (BEFORE_KINDS[i % len(BEFORE_KINDS)], AFTER_KINDS[i % len(AFTER_KINDS)])
    ]


class Crash(BaseException):
    """The Lambda process died: nothing after this point ran, the batch is redelivered."""


def _error(kind: str, operation: str) -> BaseException:
    if kind == "throttle":
        return ClientError(
            {
                "Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
                "ResponseMetadata": {"HTTPStatusCode": 429},
            },
            operation,
        )
    if kind.startswith("5xx"):
        return ClientError(
            {
                "Error": {"Code": "InternalServerError", "Message": "injected"},
                "ResponseMetadata": {"HTTPStatusCode": 500},
            },
            operation,
        )
    if kind == "access-denied":  # a refusal no retry changes (not in FAULT_KINDS: it rejects the launch)
        return ClientError(
            {
                "Error": {"Code": "AccessDeniedException", "Message": "not authorized: injected"},
                "ResponseMetadata": {"HTTPStatusCode": 403},
            },
            operation,
        )
    if kind == "timeout-after":
        return ReadTimeoutError(endpoint_url=f"https://{operation}.example")
    return Crash(f"crashed after {operation}")


@dataclass
class Fault:
    service: str
    operation: str
    kind: str
    times: int = 1  # how many calls fail
    injected: int = 0
    skip: int = 0  # matching calls that pass before the first that fails (e.g. the 2nd SubmitJob: skip=1)
    seen: int = 0

    @property
    def after(self) -> bool:
        return self.kind.endswith("-after")


class Injector:
    """Counts every call per (service, operation) and raises the planned faults."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.calls: Counter[tuple[str, str]] = Counter()
        self.enabled = False  # only while the code under test runs (not the test's own AWS reads)
        self._lock = threading.Lock()

    def plan(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def _hook(self, when: str):
        def hook(event_name: str, model=None, **_):
            _, service, operation = event_name.split(".", 2)
            if model is not None:
                service, operation = model.service_model.endpoint_prefix, model.name
            with self._lock:
                if not self.enabled:
                    return
                if when == "before":
                    self.calls[(service, operation)] += 1
                    for f in self.faults:
                        f.seen += (f.service, f.operation) == (service, operation)
                for f in self.faults:
                    if (
                        (f.service, f.operation) == (service, operation)
                        and f.after == (when == "after")
                        and f.seen > f.skip
                        and f.injected < f.times
                    ):
                        f.injected += 1
                        raise _error(f.kind, operation)

        return hook

    @contextmanager
    def active(self):
        self.enabled = True
        try:
            yield
        finally:
            self.enabled = False

    @property
    def injected(self) -> int:
        return sum(f.injected for f in self.faults)

    @contextmanager
    def installed(self):
        """On every session made from now on (BUILTIN_HANDLERS) and on boto3's default one."""
        hooks = [("before-call", self._hook("before")), ("after-call", self._hook("after"))]
        botocore.handlers.BUILTIN_HANDLERS.extend(hooks)
        default = boto3._get_default_session()
        for name, fn in hooks:
            default.events.register(name, fn)
        try:
            yield self
        finally:
            for hook in hooks:
                botocore.handlers.BUILTIN_HANDLERS.remove(hook)
            for name, fn in hooks:
                default.events.unregister(name, fn)


@dataclass
class Deliveries:
    """What happened to one launch's deliveries."""

    attempts: int = 0  # handler invocations that carried the message
    acknowledged: int = 0  # deliveries that ended with the message deleted
    crashed: int = 0
    handed_back: int = 0
    dead_lettered: int = 0
    outcomes: list[str] = field(default_factory=list)


def deliver_until_acknowledged(invoke, body: str, *, advance, max_receives: int = 10) -> Deliveries:
    """Deliver ``body`` as SQS would: again after a failure (the clock moved past the visibility
    timeout), up to ``max_receives`` times, then to the dead-letter queue."""
    d = Deliveries()
    for _ in range(max_receives):
        d.attempts += 1
        try:
            failures = invoke(body)["batchItemFailures"]
        except Crash:
            d.crashed += 1
            d.outcomes.append("crash")
            advance()
            continue
        if failures:
            d.handed_back += 1
            d.outcomes.append("handed back")
            advance()
            continue
        d.acknowledged += 1
        d.outcomes.append("acknowledged")
        return d
    d.dead_lettered += 1
    return d


def answers_by_launch(answers: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for a in answers:
        out.setdefault((a.get("detail") or {}).get("launchId"), []).append(a)
    return out


def body_of(detail: dict) -> str:
    return json.dumps(
        {
            "version": "0",
            "id": "e",
            "detail-type": "Task Launch Requested",
            "source": "my.orchestrator",
            "account": "123456789012",
            "time": "2026-01-01T00:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": detail,
        }
    )
