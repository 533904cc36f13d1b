"""The launch use case: validate, route, plan, then submit exactly once, and answer every delivery.

Exactly once without a client token on SubmitJob (docs/exactly-once.md):

* the launch record is claimed first (a conditional write with a lease and the request's
  fingerprint); only the claim's holder may submit;
* the job name is derived from the launch id, so a job can always be found again by its name;
* SubmitJob is never retried by the SDK (only a throttled call, which Batch refused before acting,
  is tried again, paced: docs/throughput.md). When its outcome is unknown (timeout, 5xx, connection
  lost) the claim is kept, and whoever takes it over once its lease has run out (the lease outlives
  the function; SQS redelivers only after the visibility timeout, which outlives the lease) looks
  the job up by name before submitting again; after a 429 the claim is released;
* one request per launch id: a later delivery of the same request gets the original answer, at any
  age; a different request under a launched id is rejected; an id only rejected may be sent again.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from batchlane.common.chunks import Chunks
from batchlane.common.console import batch_job_url, partition_of
from batchlane.common.errors import Refused, UnprocessableEvent
from batchlane.common.event_types import CHUNK_DUE_SOURCE, EVENT_SOURCE, LAUNCH_REJECTED, LAUNCHED
from batchlane.common.executions import (
    FINAL_PHASES,
    OPEN_TEAM,
    SUBMITTED,
    SUBMITTING,
    ChunkRecord,
    LaunchRecord,
    chunk_sk,
    launch_key,
)
from batchlane.common.open_launches import LAST_SEEN_ATTR, OPEN_SHARD_ATTR, open_shard
from batchlane.common.ports import Announcer, Counter
from batchlane.common.tenancy import Producer
from batchlane.launch.answers import RoutingExplanation, TaskChunkDue, TaskLaunched, TaskLaunchRejected, detail_json
from batchlane.launch.claims import chunk_record, launch_record, lease, request_fingerprint, same_request, submitted_job
from batchlane.launch.dependencies import with_dependencies
from batchlane.launch.models import LaunchRequest
from batchlane.launch.planner import LaunchPlan, chunk_job_name, chunk_request, plan_launch, routing_needs
from batchlane.launch.ports import (
    InputStore,
    JobDefinitions,
    Jobs,
    LaunchInProgress,
    Ledger,
    PartlySubmitted,
    RoutingSource,
    SettingsSource,
    SubmitOutcomeUnknown,
    SubmittedJob,
    TransientError,
)
from batchlane.launch.problems import Problem
from batchlane.launch.reruns import repeatable_request, with_rerun
from batchlane.launch.validation import producer_problems, readable_launch_id, validate
from batchlane.routing import Decision, decide

CONFLICT = "already used for a different request: a launchId names one request (send a new launchId)"
# Who may say a chunk is due: the status path (the contract's source, and batchlane's own announcer's).
CHUNK_DUE_SOURCES = frozenset({CHUNK_DUE_SOURCE, EVENT_SOURCE})


@dataclass
class LaunchService:
    settings: SettingsSource
    routing: RoutingSource
    definitions: JobDefinitions
    inputs: InputStore
    jobs: Jobs
    ledger: Ledger
    announcer: Announcer
    metrics: Counter
    bucket: str
    lease_seconds: int = 900
    clock: Callable[[], float] = time.time

    def handle(self, detail: Any, producer: Producer | None = None) -> dict[str, Any]:
        """Process one delivery of a launch request from ``producer`` (the event's source and
        account; None: unknown); every delivery is answered on the bus."""
        self.metrics.count("LaunchRequested")
        fingerprint = request_fingerprint(detail)
        settings = self.settings.get()
        refused = producer_problems(detail, settings, producer)
        producer = settings.producers.identify(producer)[0]  # with its team (None: nobody known)
        team = producer.team if producer is not None else None
        request, role, problems = validate(detail, settings, self.bucket, team=team)
        if refused:  # not allowed here: answered before any AWS call (no routing read, no record, nothing written)
            self.metrics.count("LaunchUnauthorised")
            return self._reject(readable_launch_id(detail), refused + problems, team=team, recorded=False)
        team = team or OPEN_TEAM
        # Routing and planning see only a validated request: the raw detail may hold anything.
        decision = self._route(request, settings) if request is not None else None
        if decision is not None and not decision.matched:
            problems.append(Problem(field="routing", message=decision.reason))
        plan: LaunchPlan | None = None
        if not problems and request is not None and role is not None and decision is not None:
            plan, problems = plan_launch(request, role, decision, settings, self.bucket, team=team)
        if plan is not None and not problems:  # the launches it waits for, in its own team
            plan, problems = with_dependencies(
                plan, producer, settings, lambda launch_id: self.ledger.get(launch_key(team, launch_id))
            )
        if plan is not None and not problems:  # the finished map task of its own team it reruns children of
            plan, problems = with_rerun(plan, lambda i: self.ledger.get(launch_key(team, i)), self.ledger.phase)
        if plan is None or problems:
            return self._refuse(readable_launch_id(detail), team, fingerprint, producer, problems)
        return self._submit(plan, fingerprint, producer)

    def _route(self, request: LaunchRequest, settings) -> Decision:
        table = self.routing.table(settings.routing_cache_seconds)
        return decide(
            table,
            request.project,
            request.domain,
            request.workflow,
            key=request.launch_id,
            needs=routing_needs(request),
            now=self.clock(),
        )

    # ------------------------------------------------------------------ answers
    def _refuse(
        self, launch_id: str | None, team: str, fingerprint: str, producer: Producer | None, problems: list[Problem]
    ) -> dict[str, Any]:
        """Problems found before any claim: unless this very request was launched before (and the
        rules have changed since), it is rejected."""
        if launch_id:
            record = self.ledger.get(launch_key(team, launch_id))
            if record is not None and same_request(record, fingerprint, producer):
                return self._answer_existing(record)
        return self._reject(launch_id, problems, team)

    def _reject(
        self, launch_id: str | None, problems: list[Problem], team: str | None, recorded: bool = True
    ) -> dict[str, Any]:
        """``team``: the producer's team (None: nobody batchlane knows), whose client takes the answer;
        ``recorded``: under the team's key, False for a producer refused here, which writes nothing."""
        rejected = TaskLaunchRejected(launch_id=launch_id, team=team, problems=problems)
        detail = detail_json(rejected)
        if rejected.launch_id and team is not None and recorded:  # recorded first: whoever hears of it can read it
            self.ledger.record_rejection(launch_key(team, rejected.launch_id), detail["problems"])
        self.announcer.publish(LAUNCH_REJECTED, detail)
        self.metrics.count("LaunchRejected")
        return {"outcome": "rejected", "launchId": launch_id, "problems": [p.model_dump() for p in rejected.problems]}

    def _answer_existing(self, record: LaunchRecord) -> dict[str, Any]:
        """A later delivery of a request that holds the record: the original answer, or a retry
        while its submission is under way (the lease holder answers it)."""
        if record.state != SUBMITTED:
            raise LaunchInProgress(f"launch {record.launch_id} is being submitted by another delivery")
        self._announce_launched(record)
        self.metrics.count("LaunchDuplicate")
        return {"outcome": "duplicate", "launchId": record.launch_id, "jobId": record.job_id}

    def _announce_launched(self, record: LaunchRecord) -> None:
        chunks = record.chunks
        chunk_fields = (
            {"chunkCount": chunks.count, "chunkSize": chunks.chunk_size, "chunkWindow": chunks.window}
            if chunks.chunked
            else {}
        )  # optional fields: a plain launch's answer is what it was
        launched = TaskLaunched.model_validate(
            {
                "launchId": record.launch_id,
                "team": record.team,
                "jobId": record.job_id,
                "jobName": record.job_name,
                "queue": record.queue,
                "arraySize": record.size if record.is_array else 0,
                "routing": RoutingExplanation(**(record.routing or {})),
                "consoleUrl": record.console_url,
                "inputsUri": record.inputs_uri,
                "outputsUri": record.outputs_uri,
                "jobDefinition": record.job_definition,
                **chunk_fields,
            }
        )
        self.announcer.publish(LAUNCHED, detail_json(launched))

    # ------------------------------------------------------------------ the claim
    def _submit(self, plan: LaunchPlan, fingerprint: str, producer: Producer | None) -> dict[str, Any]:
        token = uuid.uuid4().hex
        claim = self._claim_record(plan, token, fingerprint, producer)
        held_by = self.ledger.claim(claim)
        if held_by is None:
            return self._submit_claimed(plan, claim)
        existing = launch_record(held_by)
        if not same_request(existing, fingerprint, producer):
            self._recover_abandoned(existing)  # keep the launch that owns the id in order
            return self._reject(plan.launch_id, [Problem(field="launchId", message=CONFLICT)], plan.team)
        if self._held(existing):
            return self._answer_existing(existing)
        # The earlier holder's lease ran out: it died, maybe after SubmitJob. Take over, then look
        # (a chunked launch looks up each chunk's job under that chunk's own claim).
        self._take_over(claim, existing)
        found = None if plan.chunked else self.jobs.find(existing.queue, existing.job_name)
        if found is not None:
            self.metrics.count("LaunchRecovered")
            return self._complete(claim, found)
        return self._submit_claimed(plan, claim)

    def _held(self, existing: LaunchRecord | ChunkRecord) -> bool:
        """Submitted, or claimed under a lease that has not run out (its holder may still be at work)."""
        return existing.state == SUBMITTED or existing.lease_until is None or existing.lease_until > self.clock()

    def _take_over(self, claim: LaunchRecord | ChunkRecord, existing: LaunchRecord | ChunkRecord) -> None:
        if not self.ledger.take_over(claim, old_token=existing.lease_token):
            raise LaunchInProgress(f"launch {claim.launch_id} was taken over by another delivery")

    def _recover_abandoned(self, existing: LaunchRecord) -> None:
        """A conflicting request met a claim whose holder died: complete the record with the job
        that holder submitted, if there is one, so that the job is not left unrecorded. Without a
        job the claim stays for the original request's own redelivery (always, for a chunked
        launch: only its own request can complete it, with every initial chunk)."""
        if self._held(existing) or existing.chunk_count is not None:
            return
        found = self.jobs.find(existing.queue, existing.job_name)
        if found is None:
            return
        token = uuid.uuid4().hex
        taken = existing.model_copy(
            update={"lease_token": token, "lease_until": int(self.clock()) + self.lease_seconds}
        )
        if self.ledger.take_over(taken, old_token=existing.lease_token):
            self.metrics.count("LaunchRecovered")
            self.ledger.complete(existing.key, token, self._submitted_fields(existing, found))

    def _claim_record(self, plan: LaunchPlan, token: str, fingerprint: str, producer: Producer | None) -> LaunchRecord:
        request = plan.request
        return LaunchRecord(
            producer=producer,
            launch_id=plan.launch_id,
            team=plan.team,
            state=SUBMITTING,
            lease_token=token,
            lease_until=int(self.clock()) + self.lease_seconds,
            request_fingerprint=fingerprint,
            requested_at=int(self.clock() * 1000),
            job_name=chunk_job_name(plan.job_name, 0) if plan.chunked else plan.job_name,
            queue=plan.queue,
            size=plan.definition.nodes[0] if plan.definition.nodes else plan.size,
            is_array=plan.is_array,
            is_map_task=request.is_map,
            attempts=plan.attempts,
            min_success_ratio=request.min_success_ratio,
            inputs_uri=plan.inputs_uri,
            outputs_uri=plan.outputs_uri,
            project=request.project,
            domain=request.domain,
            workflow=request.workflow,
            task=request.task,
            log_group=plan.definition.log_group,
            job_definition=plan.definition.name,
            routing=RoutingExplanation(**_explanation(plan.decision)).model_dump(mode="json"),
            request=repeatable_request(request.model_dump(mode="json", by_alias=True, exclude_unset=True)),
            rerun_of=plan.rerun_of,
            **(_chunk_fields(plan) if plan.chunked else {}),
            **(dict(zip(("nodes", "main_node"), plan.definition.nodes)) if plan.definition.nodes else {}),
        )

    # ------------------------------------------------------------------ submission
    def _submit_claimed(self, plan: LaunchPlan, claim: LaunchRecord) -> dict[str, Any]:
        template = None
        try:
            definition_arn = self.definitions.ensure(plan.definition)
            if plan.inputs_key and plan.inputs_body is not None:
                self.inputs.put(plan.inputs_key, plan.inputs_body)
            if plan.index_key and plan.index_body is not None:
                self.inputs.put(plan.index_key, plan.index_body)
            if plan.chunked:
                template = plan.submit_request(definition_arn)
                job = self._submit_initial_chunks(claim, template, plan.chunks)
            else:
                job = self.jobs.submit(plan.submit_request(definition_arn))
        except SubmitOutcomeUnknown:
            # The job may exist: keep the claim; its next holder looks the job up by name first.
            self.metrics.count("SubmitOutcomeUnknown")
            raise
        except TransientError:
            if plan.chunked:
                # Chunks may have been submitted under this claim: keep it (their records point at it),
                # but end its lease so that the retry takes it over at once.
                self.ledger.take_over(claim.model_copy(update={"lease_until": int(self.clock())}), claim.lease_token)
            else:
                # Nothing was submitted: free the claim so the retry need not wait for the lease.
                self.ledger.release(claim.key, claim.lease_token)
            raise
        except Refused as exc:
            self.ledger.release(claim.key, claim.lease_token)
            field = "container" if exc.operation == "RegisterJobDefinition" else "submission"
            problem = Problem(field=field, message=f"AWS Batch refused it: {exc.message}")
            return self._reject(plan.launch_id, [problem], plan.team)
        self.metrics.count("JobSubmitted", queue=plan.queue)
        return self._complete(claim, job, definition_arn, template)

    # ------------------------------------------------------------------ chunks
    def _submit_initial_chunks(self, claim: LaunchRecord, template: dict[str, Any], chunks: Chunks) -> SubmittedJob:
        """Chunks ``chunks.initial``, each exactly once, under the launch's claim: their leases end with
        its lease, so whoever takes the launch over may take over a chunk left SUBMITTING too."""
        jobs = []
        for chunk in chunks.initial:
            try:
                jobs.append(self._submit_chunk(claim, claim.queue, template, chunks, chunk, lease(claim)[1]))
            except Refused as exc:
                if jobs:  # the launch runs already: it cannot be rejected (retried, then dead-lettered)
                    raise PartlySubmitted(
                        f"launch {claim.launch_id}: chunk {chunk} refused after {len(jobs)} were submitted: {exc}"
                    ) from exc
                raise
        return jobs[0]

    def _submit_chunk(
        self,
        launch: LaunchRecord,
        queue: str,
        template: dict[str, Any],
        chunks: Chunks,
        chunk: int,
        lease_until: int,
    ) -> SubmittedJob:
        """One chunk's job, exactly once: the launch record's claim protocol on its ``chunk#<c>`` record."""
        token = uuid.uuid4().hex
        name = chunk_job_name(template["jobName"], chunk)
        launch_id = launch.launch_id
        claim = ChunkRecord(
            launch_id=launch_id,
            team=launch.team,
            chunk=chunk,
            offset=chunks.offset(chunk),
            size=chunks.chunk_len(chunk),
            state=SUBMITTING,
            job_name=name,
            queue=queue,
            lease_token=token,
            lease_until=lease_until,
        )
        held_by = self.ledger.claim(claim)
        if held_by is not None:
            existing = chunk_record(held_by)
            if existing.submitted:
                return submitted_job(existing)
            if self._held(existing):
                raise LaunchInProgress(f"launch {launch_id}: chunk {chunk} is being submitted by another delivery")
            self._take_over(claim, existing)
            found = self.jobs.find(existing.queue, existing.job_name)
            if found is not None:
                self.metrics.count("ChunkRecovered")
                return self._complete_chunk(claim, found)
        try:
            job = self.jobs.submit(chunk_request(template, chunks, chunk))
        except SubmitOutcomeUnknown:
            raise  # the job may exist: the claim stays for whoever takes it over
        except (TransientError, Refused):
            self.ledger.release(claim.key, token, sk=chunk_sk(chunk))
            raise
        self.metrics.count("ChunkSubmitted", queue=queue)
        return self._complete_chunk(claim, job)

    def _complete_chunk(self, claim: ChunkRecord, job: SubmittedJob) -> SubmittedJob:
        self.ledger.complete(
            claim.key,
            lease(claim)[0],
            {
                "state": SUBMITTED,
                "jobId": job.job_id,
                "jobArn": job.job_arn,
                "submittedAt": int(self.clock() * 1000),
            },
            sk=chunk_sk(claim.chunk),
        )
        return job

    def handle_chunk_due(self, detail: Any, producer: Producer | None = None) -> dict[str, Any]:
        """A "Task Chunk Due" from the status path: submit that chunk exactly once, unless the launch
        has ended. A notice that names no chunk of a chunked launch, or a chunk whose slot is not
        free yet, cannot be acted on: it is an UnprocessableEvent (retried a few times, then kept in
        the dead-letter queue, and logged)."""
        if producer is not None and producer.source not in CHUNK_DUE_SOURCES:
            raise UnprocessableEvent(
                f"Task Chunk Due from {producer.source!r}: only the status path says a chunk is due"
            )
        try:
            due = TaskChunkDue.model_validate(detail)
        except ValueError as exc:
            raise UnprocessableEvent(f"Task Chunk Due: malformed detail: {str(exc)[:300]}") from exc
        record = self.ledger.get(launch_key(due.team, due.launch_id))
        if record is None:
            raise UnprocessableEvent(f"Task Chunk Due: launch {due.launch_id} is unknown")
        chunks = record.chunks
        if not chunks.chunked:
            raise UnprocessableEvent(f"Task Chunk Due: launch {due.launch_id} is not a chunked map task")
        if not chunks.window <= due.chunk < chunks.count:
            raise UnprocessableEvent(
                f"Task Chunk Due: launch {due.launch_id} has chunks {chunks.window}.."
                f"{chunks.count - 1} to submit when due (got {due.chunk})"
            )
        if due.job_id is not None and record.job_id is not None and due.job_id != record.job_id:
            self.metrics.count("ChunkNotSubmitted")  # an earlier submission's notice (the id was reused)
            return {"outcome": "chunk-not-submitted", "launchId": due.launch_id, "chunk": due.chunk, "stale": True}
        if record.state != SUBMITTED or record.chunk_template is None:
            raise LaunchInProgress(f"launch {due.launch_id} is still being submitted: chunk {due.chunk} waits for it")
        phase = self.ledger.phase(record.key)
        if phase in FINAL_PHASES:
            self.metrics.count("ChunkNotSubmitted")
            return {"outcome": "chunk-not-submitted", "launchId": due.launch_id, "chunk": due.chunk, "phase": phase}
        # The cap holds by submitting chunk c only once chunk c - window has ended: the aggregator
        # wrote that end before it said c is due, so a notice that arrives first is not its (forged,
        # or replayed wrongly) and must not put more children in flight than maxConcurrency allows.
        freed_by = due.chunk - chunks.window
        if not self.ledger.chunk_ended(record.key, chunks, freed_by):
            raise UnprocessableEvent(
                f"Task Chunk Due: chunk {due.chunk} of launch {due.launch_id} is not due: "
                f"chunk {freed_by} has not ended"
            )
        try:
            job = self._submit_chunk(
                record,
                record.queue,
                record.chunk_template,
                chunks,
                due.chunk,
                int(self.clock()) + self.lease_seconds,
            )
        except Refused as exc:  # the launch runs: it cannot be rejected now (retried, then dead-lettered)
            raise PartlySubmitted(f"launch {due.launch_id}: chunk {due.chunk} refused: {exc}") from exc
        return {"outcome": "chunk-submitted", "launchId": due.launch_id, "chunk": due.chunk, "jobId": job.job_id}

    def _complete(
        self,
        claim: LaunchRecord,
        job: SubmittedJob,
        definition: str | None = None,
        template: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        fields = self._submitted_fields(claim, job, definition)
        if template is not None:
            fields["chunkTemplate"] = template
        if claim.rerun_of is not None:  # before the record completes: a retry after a crash notes it again
            self.ledger.note_rerun(launch_key(claim.team, claim.rerun_of.launch_id), claim.launch_id)
        record = launch_record(self.ledger.complete(claim.key, lease(claim)[0], fields))
        self._announce_launched(record)
        return {"outcome": "launched", "launchId": record.launch_id, "jobId": job.job_id, "queue": record.queue}

    def _submitted_fields(
        self, claim: LaunchRecord, job: SubmittedJob, definition: str | None = None
    ) -> dict[str, Any]:
        """What the record gains once its job exists (the job was submitted to the claim's queue)."""
        partition = partition_of(job.job_arn)
        _, _, _, region, account, _ = job.job_arn.split(":", 5)
        now_ms = int(self.clock() * 1000)
        queue = claim.queue
        return {
            "state": SUBMITTED,
            "jobId": job.job_id,
            "jobArn": job.job_arn,
            "queue": queue,
            "queueArn": f"arn:{partition}:batch:{region}:{account}:job-queue/{queue}",
            "region": region,
            "submittedAt": now_ms,
            "jobDefinition": definition or claim.job_definition,
            "consoleUrl": batch_job_url(partition, region, job.job_id),
            # In the open-launches index until the status path sees it end (the reconciler's view).
            OPEN_SHARD_ATTR: open_shard(claim.key),
            LAST_SEEN_ATTR: now_ms,
        }


def _chunk_fields(plan: LaunchPlan) -> dict[str, Any]:
    """A chunked launch's record: its layout (its job_* are chunk 0's)."""
    chunks = plan.chunks
    return {
        "chunk_size": chunks.chunk_size,
        "chunk_count": chunks.count,
        "chunk_window": chunks.window,
        "max_concurrency": plan.request.max_concurrency,
    }


def _explanation(decision: Decision) -> dict[str, Any]:
    data = decision.as_dict()
    return {"rule": data["rule"], "tag": data["tag"], "candidates": data["candidates"], "reason": data["reason"]}
