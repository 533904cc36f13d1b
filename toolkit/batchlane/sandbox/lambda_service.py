"""The Lambda service, emulated: an SQS event source mapping per function.

Each :class:`FunctionPoller` does what Lambda's SQS poller does for one function: receive from
the function's buffer until ``batch_size`` messages or the batching window (or, without a
window, what one receive returns), invoke the real handler with an SQS-shaped event and a
context, delete the messages that succeeded, and leave the ones reported in
``batchItemFailures`` (or the whole batch, when the handler raises) to come back after the
visibility timeout. The queue's redrive policy (moto honours ``maxReceiveCount``) moves a
message that keeps failing to the dead-letter queue.

A function may have several event source mappings (the aggregator reads the Batch events' buffer
and the abort requests' buffer): one poller each. :class:`ScheduledFunction` is an EventBridge
schedule rule's target: it invokes a handler with a "Scheduled Event" every interval.

Invocations of handlers of one module take turns (:func:`module_lock`): in AWS every concurrent
invocation has a container of its own, here they share the module's caches and Powertools
processor in one process, so one runs at a time (the aggregator's two pollers and the reconciler).
A function whose event source mapping has a maximum concurrency (its environment's
``MAX_CONCURRENCY``: the launcher) runs that many invocations at once instead, one per thread,
as Lambda would run that many containers (its handler keeps per-invocation state per thread),
provided its buffer's visibility timeout is at least the function's timeout, as in AWS.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
import traceback
import uuid
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from batchlane.sandbox.provision import Buffer

log = logging.getLogger("batchlane.sandbox")
_module_locks: dict[str, threading.Lock] = {}
_module_locks_guard = threading.Lock()


def module_lock(module: str) -> threading.Lock:
    """One lock per handler module: its invocations in this process take turns."""
    with _module_locks_guard:
        return _module_locks.setdefault(module, threading.Lock())


class LambdaContext:
    """The parts of the Lambda context object the handlers (and Powertools) read."""

    def __init__(self, function_name: str, timeout_seconds: int, region: str, account: str, request_id: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{function_name}"
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "sandbox"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    attributes = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            k: attributes[k]
            for k in ("ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp")
            if k in attributes
        },
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


@dataclass
class InvocationStats:
    invocations: int = 0
    messages: int = 0
    failures_reported: int = 0
    errors: int = 0
    batch_sizes: list[int] = field(default_factory=list)


class SandboxFunction(threading.Thread):
    """A function as the sandbox runs it: its real handler (``module.attr``) invoked in this
    process, one invocation of the module at a time, with a Lambda context; counted in ``stats``."""

    def __init__(
        self, thread_name: str, *, function_name: str, handler: str, timeout_seconds: int, region: str, account: str
    ) -> None:
        super().__init__(name=thread_name, daemon=True)
        self.function_name = function_name
        self.timeout_seconds = timeout_seconds
        self.region = region
        self.account = account
        self.stats = InvocationStats()
        self._halt = threading.Event()
        module, _, attr = handler.rpartition(".")
        self._handler = getattr(importlib.import_module(module), attr)
        # Taken around every invocation: the module's lock, or none where containers run concurrently.
        self._lock: AbstractContextManager[Any] = module_lock(module)
        self._stats_lock = threading.Lock()

    def stop(self) -> None:
        self._halt.set()

    def _call(self, event: dict[str, Any], request_id: str) -> Any:
        """One invocation; an exception from the handler reaches the caller, which retries (or not)
        as the Lambda event source it stands for would."""
        with self._stats_lock:
            self.stats.invocations += 1
        context = LambdaContext(self.function_name, self.timeout_seconds, self.region, self.account, request_id)
        with self._lock:
            return self._handler(event, context)


class FunctionPoller(SandboxFunction):
    def __init__(self, buffer: Buffer, sqs, *, prefix: str, region: str, account: str) -> None:
        super().__init__(
            f"sandbox-{buffer.function}-{buffer.queue_url.rsplit('/', 1)[-1]}",
            function_name=f"{prefix}-{buffer.function}",
            handler=buffer.handler,
            timeout_seconds=buffer.timeout_seconds,
            region=region,
            account=account,
        )
        self.buffer = buffer
        self.sqs = sqs
        # Invocations at once: the event source mapping's maximum concurrency, if it has one, and
        # if the buffer's visibility timeout outlasts the function (as AWS requires): a sandbox that
        # compresses the visibility below it would see messages in hand come back while another
        # invocation still works on them, so it runs one invocation at a time.
        concurrency = int(buffer.environment.get("MAX_CONCURRENCY", "1"))
        self.concurrency = max(1, concurrency if buffer.visibility_timeout_seconds >= buffer.timeout_seconds else 1)
        if self.concurrency > 1:
            self._lock = nullcontext()  # concurrent containers share nothing but this process
        self._running = threading.Event()
        self._running.set()
        self._busy = 0  # workers in a batch
        self._idle_workers = 0  # workers whose last receive came back empty
        self._workers: list[threading.Thread] = []
        self._receive_lock = threading.Lock()

    def stop(self) -> None:
        super().stop()
        self._running.set()

    def pause(self) -> None:
        """Stop polling after the current batches (like disabling the event source mapping)."""
        self._running.clear()
        while not self._halt.is_set() and self._busy:
            time.sleep(0.01)

    def resume(self) -> None:
        self._running.set()

    @property
    def idle(self) -> bool:
        """Nothing in hand (every worker's last receive came back empty)."""
        return self._idle_workers == self.concurrency

    def _receive(self, count: int, wait: int) -> list[dict]:
        # One receive at a time: moto's ReceiveMessage is not atomic (two concurrent receives can
        # get the same message, and only the later receipt handle deletes it); SQS's is.
        with self._receive_lock:
            return self.sqs.receive_message(
                QueueUrl=self.buffer.queue_url,
                MaxNumberOfMessages=max(1, min(10, count)),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])

    def _collect(self) -> list[dict]:
        """One batch, gathered as Lambda's poller does."""
        size, window = self.buffer.batch_size, self.buffer.batching_window_seconds
        messages = self._receive(size, 1)
        if not messages:
            return []
        deadline = time.monotonic() + window
        while len(messages) < size and time.monotonic() < deadline and not self._halt.is_set():
            more = self._receive(size - len(messages), 0)
            if not more:
                time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
            messages += more
        return messages

    def run(self) -> None:
        self._workers = [
            threading.Thread(target=self._work, name=f"{self.name}-{n}", daemon=True)
            for n in range(1, self.concurrency)
        ]
        for worker in self._workers:
            worker.start()
        self._work()
        for worker in self._workers:
            worker.join(timeout=5)

    def _work(self) -> None:
        idle = False
        while not self._halt.is_set():
            self._running.wait()
            if self._halt.is_set():
                return
            with self._stats_lock:
                self._busy += 1
            try:
                now_idle = self._poll_once()
            finally:
                with self._stats_lock:
                    self._busy -= 1
                    if now_idle != idle:
                        self._idle_workers += 1 if now_idle else -1
                        idle = now_idle

    def _poll_once(self) -> bool:
        """One batch; True if there was none."""
        try:
            messages = self._collect()
        except Exception:  # the emulator is going away
            if self._halt.is_set():
                return True
            log.exception("%s: receive failed", self.function_name)
            time.sleep(0.2)
            return False
        if not messages:
            return True
        self.invoke(messages)
        return False

    def invoke(self, messages: list[dict]) -> dict | None:
        event = {"Records": [sqs_record(m, self.buffer.queue_arn, self.region) for m in messages]}
        with self._stats_lock:
            self.stats.messages += len(messages)
            self.stats.batch_sizes.append(len(messages))
            request_id = f"sandbox-{self.buffer.function}-{self.stats.invocations + 1}"
        try:
            response = self._call(event, request_id) or {}
        except Exception:
            # A crashed invocation: Lambda leaves the whole batch to the visibility timeout.
            with self._stats_lock:
                self.stats.errors += 1
            log.error("%s raised; the batch will be retried:\n%s", self.function_name, traceback.format_exc())
            return None
        failed = {f.get("itemIdentifier") for f in response.get("batchItemFailures") or []}
        with self._stats_lock:
            self.stats.failures_reported += len(failed)
        done = [m for m in messages if m["MessageId"] not in failed]
        for i in range(0, len(done), 10):
            self.sqs.delete_message_batch(
                QueueUrl=self.buffer.queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done[i : i + 10])],
            )
        return response


def scheduled_event(rule_arn: str, region: str, account: str) -> dict[str, Any]:
    """The event an EventBridge schedule rule sends its Lambda target."""
    from datetime import datetime

    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


class ScheduledFunction(SandboxFunction):
    """A function behind a schedule rule (``rate(...)``): invoked with a "Scheduled Event" every
    ``every_seconds`` (the first time one interval after start), asynchronously and with no retry
    (the stacks' ``retry_attempts=0``: a failed run waits for the next). ``run_now()`` invokes it
    at once, in the caller's thread, and returns the handler's result."""

    def __init__(
        self,
        name: str,
        handler: str,
        *,
        every_seconds: float,
        timeout_seconds: int,
        prefix: str,
        region: str,
        account: str,
    ) -> None:
        super().__init__(
            f"sandbox-{name}-schedule",
            function_name=f"{prefix}-{name}",
            handler=handler,
            timeout_seconds=timeout_seconds,
            region=region,
            account=account,
        )
        self.every_seconds = every_seconds
        self.rule_arn = f"arn:aws:events:{region}:{account}:rule/{prefix}-{name}-schedule"
        self.results: list[Any] = []  # what each run returned (None when it raised), the last 100

    def run(self) -> None:
        while not self._halt.wait(self.every_seconds):
            self.run_now()

    def run_now(self) -> Any:
        result = None
        try:
            result = self._call(
                scheduled_event(self.rule_arn, self.region, self.account),
                f"sandbox-{self.function_name}-{self.stats.invocations + 1}",
            )
        except Exception:
            if self._halt.is_set():
                return None
            self.stats.errors += 1
            log.error("%s raised (the schedule does not retry):\n%s", self.function_name, traceback.format_exc())
        self.results = [*self.results[-99:], result]
        return result
