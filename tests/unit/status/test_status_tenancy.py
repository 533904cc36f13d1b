"""The aggregator's tenancy with fakes: aborts only by the launching team or an admin team, and
outputs only from the launch's own prefix (docs/security.md)."""

from __future__ import annotations

import json

import pytest

from batchlane.common.event_types import ABORT_REJECTED
from batchlane.common.settings import Settings
from batchlane.common.tenancy import Producer, Tenancy
from batchlane.status.models import TaskAbortRequested
from port_fakes import FakeAnnouncer
from status_fakes import DATA_BUCKET, FakeOutputs, FakeStatusStore, launch_record, service

TENANCY = Tenancy.model_validate(
    {
        "teams": [
            {"name": "ops", "sources": ["ops.cli"], "launch": [{"project": "*"}], "abort": "any"},
            {
                "name": "genomics",
                "sources": ["genomics.pipelines", "genomics.cli"],
                "launch": [{"project": "genomics"}],
            },
            {"name": "vision", "sources": ["vision.pipelines"], "launch": [{"project": "vision"}]},
        ]
    }
)
LAUNCHED_BY = Producer(source="genomics.pipelines", team="genomics")


def record(launch_id="L", producer=LAUNCHED_BY, **fields):
    base = launch_record(launch_id, "job", 1)
    uri = f"s3://{DATA_BUCKET}/launches/genomics/production/{launch_id}/outputs/"
    return base.model_copy(
        update={"producer": producer, "project": "genomics", "domain": "production", "outputs_uri": uri, **fields}
    )


@pytest.fixture
def svc():
    store = FakeStatusStore(record())
    return service(store, announcer=FakeAnnouncer(), settings=Settings(producers=TENANCY))


def abort(svc, source, launch_id="L"):
    svc.aborter.abort(TaskAbortRequested(launchId=launch_id), Producer(source=source) if source else None)


def rejections(svc) -> list[str]:
    return [d["reason"] for d in svc.aborter.announcer.of(ABORT_REJECTED)]


def test_an_abort_from_another_team_is_rejected_and_the_job_keeps_running(svc):
    abort(svc, "vision.pipelines")
    assert rejections(svc) == [
        'producer "vision.pipelines" (team vision) may not abort it: it was launched by '
        "'genomics.pipelines' (team genomics); only that team or an admin team (abort: any) may"
    ]
    assert svc.phases.jobs.terminated == [] and svc.store.summary("L") is None


@pytest.mark.parametrize("source", ["genomics.pipelines", "genomics.cli", "ops.cli"])
def test_the_launching_team_or_an_admin_team_may_abort(svc, source):
    abort(svc, source)
    assert rejections(svc) == [] and svc.phases.jobs.terminated == [("job", "batchlane: aborted on request")]
    assert svc.store.summary("L")["phase"] == "aborted"


@pytest.mark.parametrize("source", ["stranger", None])
def test_an_unknown_producer_is_rejected_before_the_launch_is_read(svc, source):
    svc.store.get_launch = lambda launch_id: pytest.fail("read the launch for an unknown producer")
    abort(svc, source)
    assert len(rejections(svc)) == 1 and svc.phases.jobs.terminated == []


def test_without_teams_any_producer_may_abort():
    store = FakeStatusStore(record())
    svc = service(store, announcer=FakeAnnouncer())
    abort(svc, "anyone")
    assert svc.phases.jobs.terminated == [("job", "batchlane: aborted on request")]


def test_a_launch_recorded_before_tenancy_is_aborted_by_a_team_of_its_project_only():
    store = FakeStatusStore(record("old", producer=None, outputs_uri=f"s3://{DATA_BUCKET}/launches/old/outputs/"))
    svc = service(store, announcer=FakeAnnouncer(), settings=Settings(producers=TENANCY))
    abort(svc, "vision.pipelines", "old")
    assert "before producers were recorded" in rejections(svc)[0]
    abort(svc, "genomics.cli", "old")
    assert svc.phases.jobs.terminated == [("job", "batchlane: aborted on request")]


def succeed(svc, launch):
    return svc.phases.finisher.finish(launch, "succeeded")


def test_outputs_are_read_from_the_launchs_own_prefix():
    outputs = FakeOutputs({f"s3://{DATA_BUCKET}/launches/genomics/production/L/outputs/0/outputs.json": {"x": 1}})
    svc = service(FakeStatusStore(record()), outputs=outputs)
    assert succeed(svc, record()) == {"outputsUri": f"s3://{DATA_BUCKET}/launches/genomics/production/L/outputs.json"}
    assert outputs.written == [(f"s3://{DATA_BUCKET}/launches/genomics/production/L/outputs.json", {"x": 1})]


@pytest.mark.parametrize(
    "forged",
    [
        f"s3://{DATA_BUCKET}/launches/vision/production/L/outputs/",  # another project
        f"s3://{DATA_BUCKET}/launches/genomics/production/OTHER/outputs/",  # another launch
        "s3://elsewhere/launches/genomics/production/L/outputs/",  # another bucket
        f"s3://{DATA_BUCKET}/launches/L/outputs/",  # the old layout, for a record that has a producer
    ],
)
def test_a_forged_outputs_uri_is_neither_read_nor_written(forged):
    outputs = FakeOutputs({forged + "0/outputs.json": {"secret": 1}})
    launch = record(outputs_uri=forged)
    svc = service(FakeStatusStore(launch), outputs=outputs)
    reads = []
    outputs.read_many = lambda uris: reads.append(uris) or {}
    result = succeed(svc, launch)
    assert (
        "outputsUri" not in result
        and result["error"] == f"outputs not assembled: {forged} is not this launch's outputs prefix"
    )
    assert reads == [] and outputs.written == []


def test_a_record_from_before_tenancy_keeps_its_outputs():
    launch = record("old", producer=None, outputs_uri=f"s3://{DATA_BUCKET}/launches/old/outputs/")
    outputs = FakeOutputs({f"s3://{DATA_BUCKET}/launches/old/outputs/0/outputs.json": {"y": 2}})
    svc = service(FakeStatusStore(launch), outputs=outputs)
    assert succeed(svc, launch)["outputsUri"] == f"s3://{DATA_BUCKET}/launches/old/outputs.json"
    assert json.dumps(outputs.written) == json.dumps([[f"s3://{DATA_BUCKET}/launches/old/outputs.json", {"y": 2}]])
