"""SubmitJob is attempted once per delivery, whatever happens on the wire: a lost answer after
Batch created the job leaves one job, found by its name on the next delivery."""

from __future__ import annotations

import pytest
from fault_injection import body_of, deliver_until_acknowledged
from test_launch_faults import VISIBILITY_SECONDS, assert_exactly_once, detail, jobs_named
from wire_faults import AFTER_KINDS, WireFault, WireInjector

from batchlane.common.executions import launch_key
from batchlane.launch import handler
from batchlane.launch.planner import job_name
from clock import Clock
from tests.integration.conftest import LambdaContext, sqs_event


@pytest.fixture
def wire(world):
    injector = WireInjector()
    clock = Clock(step=VISIBILITY_SECONDS)

    def invoke(*bodies: str) -> dict:
        service = handler.runtime()
        service.clock = clock
        service.lease_seconds = 3 * world.config.launcher.timeout_seconds
        with injector.active("launch"):
            try:
                return handler.handler(sqs_event(*bodies), LambdaContext())
            except BaseException:
                handler.runtime.cache_clear()  # a new container: cold caches
                raise

    with injector.installed():
        handler.runtime()
        yield world, injector, clock, invoke


@pytest.mark.parametrize("kind", AFTER_KINDS)
def test_a_lost_submit_answer_leaves_one_job_found_by_name_on_the_next_delivery(wire, kind):
    world, injector, clock, invoke = wire
    injector.plan(WireFault("batch", "SubmitJob", kind))
    d = deliver_until_acknowledged(invoke, body_of(detail()), advance=clock.advance)
    assert injector.attempts[("launch", "batch", "SubmitJob")] == 1  # never retried: the next delivery looks
    assert d.attempts == 2
    assert_exactly_once(world, "f-1", [d])


def test_a_throttle_after_a_lost_answer_is_never_taken_for_nothing_created(wire):
    """The lost answer ends the delivery's attempts: the 429 that an SDK retry would have met
    (and read as "nothing created") never happens; the next delivery finds the job."""
    world, injector, clock, invoke = wire
    injector.plan(WireFault("batch", "SubmitJob", "timeout-after"))
    injector.plan(WireFault("batch", "SubmitJob", "throttle", skip=1, times=3))
    d = deliver_until_acknowledged(invoke, body_of(detail()), advance=clock.advance)
    assert injector.attempts[("launch", "batch", "SubmitJob")] == 1
    assert_exactly_once(world, "f-1", [d])


def test_a_throttled_submit_is_tried_again_in_the_same_delivery(wire):
    world, injector, clock, invoke = wire
    injector.plan(WireFault("batch", "SubmitJob", "throttle", times=2))
    d = deliver_until_acknowledged(invoke, body_of(detail()), advance=clock.advance)
    assert d.attempts == 1 and injector.attempts[("launch", "batch", "SubmitJob")] == 3
    assert len(jobs_named(world, job_name("my.task", launch_key("platform", "f-1")))) == 1


@pytest.mark.parametrize("kind", AFTER_KINDS[:3])
def test_a_lost_claim_answer_is_recognised_as_the_deliverys_own_claim(wire, kind):
    """PutItem (the claim) took effect, its answer was lost, botocore retried: the retry's
    conditional failure shows this delivery's own token, so it goes on instead of waiting a lease."""
    world, injector, clock, invoke = wire
    injector.plan(WireFault("dynamodb", "PutItem", kind))
    d = deliver_until_acknowledged(invoke, body_of(detail()), advance=clock.advance)
    assert d.attempts == 1
    assert_exactly_once(world, "f-1", [d])


@pytest.mark.parametrize("kind", AFTER_KINDS[:3])
def test_a_lost_announcement_answer_is_not_published_twice_by_the_sdk(wire, kind):
    world, injector, clock, invoke = wire
    injector.plan(WireFault("eventbridge", "PutEvents", kind))
    invoke(body_of(detail()))
    assert injector.attempts[("launch", "eventbridge", "PutEvents")] == 1
    assert [a["detail-type"] for a in world.answers()] == ["Task Launched"]


def test_an_answer_repeated_after_a_lost_publish_carries_the_same_event_id(wire):
    """The event was published, its answer lost: the retried delivery answers again, and a consumer
    drops the repeat by its eventId alone."""
    world, injector, clock, invoke = wire
    injector.plan(WireFault("eventbridge", "PutEvents", "timeout-after"))
    deliver_until_acknowledged(invoke, body_of(detail()), advance=clock.advance)
    launched = [a["detail"] for a in world.answers() if a["detail-type"] == "Task Launched"]
    assert len(launched) == 2 and launched[0] == launched[1]
    assert len(launched[0]["eventId"]) == 32
