"""The aggregator's tenancy with fakes: aborts only by the launching team or an admin team, and
outputs only from the launch's own prefix (docs/security.md)."""

from __future__ import annotations

import pytest

from batchlane.common.event_types import ABORT_REJECTED
from batchlane.common.executions import OPEN_TEAM, launch_key
from batchlane.common.settings import Settings
from batchlane.common.tenancy import INPUTS, LaunchData, Producer, Tenancy
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
OWN = LaunchData("genomics", "genomics", "production", "L")
OWN_CHILDREN = f"s3://{DATA_BUCKET}/{OWN.children_prefix}"


def record(launch_id="L", producer=LAUNCHED_BY, team="genomics", **fields):
    return launch_record(launch_id, "job", 1, team=team, project="genomics", domain="production", producer=producer)


@pytest.fixture
def svc():
    store = FakeStatusStore(record())
    return service(store, announcer=FakeAnnouncer(), settings=Settings(producers=TENANCY))


def abort(svc, source, launch_id="L", team=None):
    svc.aborter.abort(TaskAbortRequested(launchId=launch_id, team=team), Producer(source=source) if source else None)


def rejections(svc) -> list[str]:
    return [d["reason"] for d in svc.aborter.announcer.of(ABORT_REJECTED)]


def test_an_abort_from_another_team_names_its_own_launch_or_is_refused_and_the_job_keeps_running(svc):
    abort(svc, "vision.pipelines")  # vision's launch "L": there is none (genomics' is another launch)
    abort(svc, "vision.pipelines", team="genomics")  # naming genomics' launch: only an admin team may
    assert rejections(svc) == ["no such launch", "team vision may abort its own launches only"]
    assert [d["team"] for d in svc.aborter.announcer.of(ABORT_REJECTED)] == ["vision", "genomics"]
    assert svc.phases.jobs.terminated == [] and svc.store.summary(launch_key("genomics", "L")) is None


@pytest.mark.parametrize(
    ("source", "team"), [("genomics.pipelines", None), ("genomics.cli", None), ("ops.cli", "genomics")]
)
def test_the_launching_team_or_an_admin_team_may_abort(svc, source, team):
    abort(svc, source, team=team)
    assert rejections(svc) == [] and svc.phases.jobs.terminated == [("job", "batchlane: aborted on request")]
    assert svc.store.summary(launch_key("genomics", "L"))["phase"] == "aborted"


@pytest.mark.parametrize("source", ["stranger", None])
def test_an_unknown_producer_is_rejected_before_the_launch_is_read(svc, source):
    svc.store.get_launch = lambda launch_key: pytest.fail("read the launch for an unknown producer")
    abort(svc, source)
    abort(svc, source, team="genomics")
    assert len(rejections(svc)) == 2 and svc.phases.jobs.terminated == []


def test_without_teams_any_producer_may_abort():
    store = FakeStatusStore(record(team=OPEN_TEAM, producer=Producer(source="someone")))
    svc = service(store, announcer=FakeAnnouncer())
    abort(svc, "anyone")
    assert svc.phases.jobs.terminated == [("job", "batchlane: aborted on request")]


def succeed(svc, launch):
    return svc.phases.finisher.finish(launch, "succeeded")


def test_outputs_are_read_from_the_launchs_own_prefix_and_assembled_where_no_job_role_writes():
    outputs = FakeOutputs({f"{OWN_CHILDREN}0/outputs.json": {"x": 1}})
    svc = service(FakeStatusStore(record()), outputs=outputs)
    assembled = f"s3://{DATA_BUCKET}/{OWN.assembled_key}"
    assert succeed(svc, record()) == {"outputsUri": assembled}
    assert outputs.written == [(assembled, {"x": 1})]


@pytest.mark.parametrize(
    "forged",
    [
        f"s3://{DATA_BUCKET}/{LaunchData('genomics', 'vision', 'production', 'L').children_prefix}",  # another project
        f"s3://{DATA_BUCKET}/{LaunchData('vision', 'genomics', 'production', 'L').children_prefix}",  # another team
        f"s3://{DATA_BUCKET}/{LaunchData('genomics', 'genomics', 'production', 'OTHER').children_prefix}",  # launch
        f"s3://elsewhere/{OWN.children_prefix}",  # another bucket
        f"s3://{DATA_BUCKET}/{OWN.prefix(INPUTS)}",  # its own inputs
        f"s3://{DATA_BUCKET}/launches/genomics/production/L/outputs/",  # the layout before launch keys
    ],
)
def test_a_forged_outputs_uri_is_neither_read_nor_written(forged):
    outputs = FakeOutputs({forged + "0/outputs.json": {"secret": 1}})
    launch = record().model_copy(update={"outputs_uri": forged})
    svc = service(FakeStatusStore(launch), outputs=outputs)
    reads = []
    outputs.read_many = lambda uris: reads.append(uris) or {}
    result = succeed(svc, launch)
    assert (
        "outputsUri" not in result
        and result["error"] == f"outputs not assembled: {forged} is not this launch's outputs prefix"
    )
    assert reads == [] and outputs.written == []
