"""Launches that wait for launches (``after``): Batch dependsOn, within the caller's team (LaunchService with fakes)."""

from __future__ import annotations

import pytest
from test_launch_tenancy import GENOMICS, VISION, genomics, problems, svc  # noqa: F401 - svc is a fixture
from test_launch_workloads import api_problems

from batchlane.common.executions import launch_key
from batchlane.sandbox import batch_rules


def launched_job(svc, launch_id: str) -> str:
    return svc.ledger.get(launch_key("genomics", launch_id)).job_id


def test_map_b_waits_child_by_child_for_map_a(svc):
    inputs = [{"i": i} for i in range(3)]
    assert svc.handle(genomics(launchId="A", inputs=inputs), GENOMICS)["outcome"] == "launched"
    after = [{"launchId": "A", "type": "N_TO_N"}]
    assert svc.handle(genomics(launchId="B", inputs=inputs, after=after), GENOMICS)["outcome"] == "launched"
    request = svc.jobs.requests[-1]
    assert request["dependsOn"] == [{"jobId": launched_job(svc, "A"), "type": "N_TO_N"}]
    assert api_problems("SubmitJob", request) == ""
    # A single task after a launch: dependsOn without a type (Batch waits for the whole job).
    svc.handle(genomics(launchId="C", after=[{"launchId": "B"}]), GENOMICS)
    assert svc.jobs.requests[-1]["dependsOn"] == [{"jobId": launched_job(svc, "B")}]


def test_the_emulator_refuses_n_to_n_between_maps_of_two_sizes():
    class Job:
        array_properties = {"size": 3}

    request = {"arrayProperties": {"size": 4}, "dependsOn": [{"jobId": "j", "type": "N_TO_N"}]}
    assert batch_rules.submission_problems(request, lambda job_id: Job()) == [
        "dependsOn: N_TO_N needs two array jobs of the same size (4 and 3)"
    ]
    assert batch_rules.submission_problems({"dependsOn": [{"jobId": "x"}]}, lambda job_id: None) == [
        "dependsOn: job x does not exist"
    ]


@pytest.mark.parametrize(
    "after, inputs, message",
    [
        ([{"launchId": "B"}], None, "a launch cannot wait for itself (a cycle)"),
        ([{"launchId": "nope"}], None, "no such launch has been submitted"),
        # Launch ids are per team: another team's launch under that id is not this team's to wait for.
        ([{"launchId": "V"}], None, "no such launch has been submitted"),
        ([{"launchId": "A", "type": "N_TO_N"}], [{"i": 0}, {"i": 1}], "N_TO_N needs two map tasks of one size"),
        ([{"launchId": "A", "type": "N_TO_N"}], None, "N_TO_N needs a map task (inputs)"),
        ([{"launchId": "A"}, {"launchId": "A"}], None, '"A" is listed twice'),
    ],
)
def test_a_dependency_batch_or_tenancy_would_refuse_is_rejected_with_its_reason(svc, after, inputs, message):
    svc.handle(genomics(launchId="A", inputs=[{"i": i} for i in range(3)]), GENOMICS)
    svc.handle({**genomics(launchId="V"), "project": "vision"}, VISION)
    extra = {"inputs": inputs} if inputs else {}
    result = svc.handle(genomics(launchId="B", after=after, **extra), GENOMICS)
    assert result["outcome"] == "rejected"
    assert any(message in m and f.startswith("after[") for f, m in problems(result)), problems(result)


def test_a_dependant_batch_failed_for_its_predecessor_is_classed_so():
    from batchlane.status.failures import DEPENDENCY_FAILED, classify

    assert classify("Dependent Job failed", None, None) == DEPENDENCY_FAILED
