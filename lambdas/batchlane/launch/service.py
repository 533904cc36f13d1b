"""The launch use case: validate, route, plan, then submit exactly once.

Exactly-once without a client token on SubmitJob: the execution record is claimed first with a
lease (conditional write), the job name is derived from the launch id, and a delivery that
finds an expired claim looks the job up by that name (ListJobs) before submitting again. The
lease outlives the function timeout, and SQS redelivers only after the visibility timeout, so a
crash between SubmitJob and recording it is recovered without a second job.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from batchlane.common.console import batch_job_url, partition_of
from batchlane.common.errors import Refused
from batchlane.common.open_launches import LAST_SEEN_ATTR, OPEN_SHARD_ATTR, open_shard
from batchlane import LAUNCH_REJECTED, LAUNCHED
from batchlane.launch.models import (
    Problem,
    RoutingExplanation,
    TaskLaunched,
    TaskLaunchRejected,
    detail_json,
)
from batchlane.launch.planner import LaunchPlan, plan_launch
from batchlane.launch.ports import (
    Announcer,
    Counter,
    InputStore,
    JobDefinitions,
    Jobs,
    LaunchInProgress,
    Ledger,
    RoutingSource,
    SettingsSource,
    TransientError,
)
from batchlane.launch.validation import readable_launch_id, validate
from batchlane.routing import Decision, decide

SUBMITTING = "SUBMITTING"
SUBMITTED = "SUBMITTED"


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

    def handle(self, detail: Any) -> dict[str, Any]:
        """Process one launch request; returns a small summary of what happened."""
        self.metrics.count("LaunchRequested")
        settings = self.settings.get()
        request, role, problems = validate(detail, settings)
        decision = self._route(detail, settings)
        if decision is not None and not decision.matched:
            problems.append(Problem(field="routing", message=decision.reason))
        plan = None
        if not problems:
            plan, problems = plan_launch(request, role, decision, settings, self.bucket)
        if problems:
            return self._reject(readable_launch_id(detail), problems)
        return self._submit(plan)

    def _route(self, detail: Any, settings) -> Decision | None:
        keys = ("project", "domain", "workflow")
        if not isinstance(detail, dict) or not all(isinstance(detail.get(k), str) for k in keys):
            return None  # the schema problems already say what is missing
        table = self.routing.table(settings.routing_cache_seconds)
        return decide(table, *(detail[k] for k in keys), key=str(detail.get("launchId", "")))

    def _reject(self, launch_id: str | None, problems: list[Problem]) -> dict[str, Any]:
        if launch_id:
            record = self.ledger.get(launch_id)
            if record and record.get("state") == SUBMITTED:
                # A late duplicate of a launch that was accepted: repeat the acceptance.
                self._announce_launched(record)
                self.metrics.count("LaunchDuplicate")
                return {"outcome": "duplicate", "launchId": launch_id, "jobId": record["jobId"]}
        self.announcer.publish(LAUNCH_REJECTED, detail_json(TaskLaunchRejected(launchId=launch_id, problems=problems)))
        self.metrics.count("LaunchRejected")
        return {"outcome": "rejected", "launchId": launch_id, "problems": [p.model_dump() for p in problems]}

    def _submit(self, plan: LaunchPlan) -> dict[str, Any]:
        token = uuid.uuid4().hex
        claim = self._claim_item(plan, token)
        existing = self.ledger.claim(claim)
        if existing is not None:
            if existing.get("state") == SUBMITTED:
                self._announce_launched(existing)
                self.metrics.count("LaunchDuplicate")
                return {"outcome": "duplicate", "launchId": plan.launch_id, "jobId": existing["jobId"]}
            if float(existing.get("leaseUntil", 0)) > self.clock():
                raise LaunchInProgress(f"launch {plan.launch_id} is being submitted by another delivery")
            if not self.ledger.take_over(claim, old_token=existing["leaseToken"]):
                raise LaunchInProgress(f"launch {plan.launch_id} was taken over by another delivery")
            # The earlier holder may have crashed after SubmitJob: find its job before submitting.
            found = self.jobs.find(existing.get("queue", plan.queue), plan.job_name)
            if found is not None:
                self.metrics.count("LaunchRecovered")
                return self._complete(plan, token, found, existing.get("queue", plan.queue))
        try:
            definition_arn = self.definitions.ensure(plan.definition)
            if plan.inputs_key:
                self.inputs.put(plan.inputs_key, plan.inputs_body)
            job = self.jobs.submit(plan.submit_request(definition_arn))
        except TransientError:
            # Nothing was created: free the claim so the retry need not wait for the lease.
            self.ledger.release(plan.launch_id, token)
            raise
        except Refused as exc:
            self.ledger.release(plan.launch_id, token)
            field = "container" if exc.operation == "RegisterJobDefinition" else "submission"
            return self._reject(plan.launch_id, [Problem(field=field, message=f"AWS Batch refused it: {exc.message}")])
        self.metrics.count("JobSubmitted", queue=plan.queue)
        return self._complete(plan, token, job, plan.queue, definition_arn)

    def _claim_item(self, plan: LaunchPlan, token: str) -> dict[str, Any]:
        request = plan.request
        return {
            "launchId": plan.launch_id,
            "sk": "launch",
            "state": SUBMITTING,
            "leaseToken": token,
            "leaseUntil": int(self.clock()) + self.lease_seconds,
            "jobName": plan.job_name,
            "queue": plan.queue,
            "size": plan.size,
            "isArray": plan.is_array,
            "isMapTask": request.is_map,
            "attempts": plan.attempts,
            "minSuccessRatio": request.min_success_ratio,
            "inputsUri": plan.inputs_uri,
            "outputsUri": plan.outputs_uri,
            "project": request.project,
            "domain": request.domain,
            "workflow": request.workflow,
            "task": request.task,
            "logGroup": plan.definition.log_group,
            "routing": RoutingExplanation(**_explanation(plan.decision)).model_dump(mode="json"),
        }

    def _complete(self, plan: LaunchPlan, token: str, job, queue: str, definition: str | None = None) -> dict[str, Any]:
        partition = partition_of(job.job_arn)
        region = job.job_arn.split(":")[3]
        account = job.job_arn.split(":")[4]
        fields = {
            "state": SUBMITTED,
            "jobId": job.job_id,
            "jobArn": job.job_arn,
            "queue": queue,
            "queueArn": f"arn:{partition}:batch:{region}:{account}:job-queue/{queue}",
            "region": region,
            "submittedAt": int(self.clock() * 1000),
            "jobDefinition": definition or plan.definition.name,
            "consoleUrl": batch_job_url(partition, region, job.job_id),
            # In the open-launches index until the status path sees it end (the reconciler's view).
            OPEN_SHARD_ATTR: open_shard(plan.launch_id),
            LAST_SEEN_ATTR: int(self.clock() * 1000),
        }
        record = self.ledger.complete(plan.launch_id, token, fields)
        self._announce_launched(record)
        return {"outcome": "launched", "launchId": plan.launch_id, "jobId": job.job_id, "queue": queue}

    def _announce_launched(self, record: dict[str, Any]) -> None:
        launched = TaskLaunched(
            launchId=record["launchId"],
            jobId=record["jobId"],
            jobName=record["jobName"],
            queue=record["queue"],
            arraySize=int(record["size"]) if record.get("isArray") else 0,
            routing=RoutingExplanation(**record["routing"]),
            consoleUrl=record["consoleUrl"],
            inputsUri=record["inputsUri"],
            outputsUri=record["outputsUri"],
            jobDefinition=record["jobDefinition"],
        )
        self.announcer.publish(LAUNCHED, detail_json(launched))


def _explanation(decision: Decision) -> dict[str, Any]:
    data = decision.as_dict()
    return {"rule": data["rule"], "tag": data["tag"], "candidates": data["candidates"], "reason": data["reason"]}
