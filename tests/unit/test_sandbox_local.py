"""Local execution's configuration: what runs for an image, and the scenario keys that opt in."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from batchlane.cli.main import build_parser
from batchlane.cli.sandbox import _execution
from batchlane.sandbox.local_execution import LocalExecution, execution_of
from batchlane.sandbox.scenario import ScenarioError, load_image_map, parse_scenario

EXAMPLES = Path(__file__).resolve().parents[2] / "toolkit" / "batchlane" / "sandbox" / "examples"


def test_an_image_runs_its_mapped_entrypoint_then_the_command():
    execution = LocalExecution(image_map={"repo/train:1": ("{python}", "-m", "train"), "repo/*": ("/bin/sh", "-c")})
    assert execution.argv("repo/train:1", ["--fold", "2"]) == [sys.executable, "-m", "train", "--fold", "2"]
    assert execution.argv("repo/other:3", ["echo hi"]) == ["/bin/sh", "-c", "echo hi"]  # the glob
    assert execution.argv("busybox:1.36", ["echo", "hi"]) == ["echo", "hi"]  # not mapped: the command itself
    with pytest.raises(ValueError, match="nothing to run for image busybox"):
        execution.argv("busybox:1.36", [])


def test_the_example_image_map_names_the_script_next_to_it():
    image_map = load_image_map(EXAMPLES / "image-map.yaml")
    assert image_map == {"batchlane-examples/word-stats:*": ("{python}", str(EXAMPLES / "jobs" / "word_stats.py"))}
    assert Path(image_map["batchlane-examples/word-stats:*"][1]).is_file()


def test_a_scenario_opts_in_for_every_launch_or_one():
    everything = parse_scenario(
        {
            "execute": "local",
            "imageMap": {"a:1": "run.sh --fast"},
            "launches": [{"detail": {"launchId": "x"}, "attemptDurationSeconds": 2}],
        },
        base_dir=Path("/tmp"),
    )
    assert execution_of(everything, None).every_launch and everything.image_map == {"a:1": ("run.sh", "--fast")}
    assert everything.launches[0].attempt_duration_seconds == 2.0
    one = parse_scenario(
        {"launches": [{"detail": {"launchId": "x"}, "execute": "local"}, {"detail": {"launchId": "y"}}]}
    )
    assert not execution_of(one, None).every_launch and [s.execute for s in one.launches] == ["local", None]


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"execute": "docker"}, "execute: one of simulated, local is required, not 'docker'"),
        (
            {"execute": "local", "launches": [{"detail": {}, "children": {"1": {}}}]},
            "launches[0]: children and runSeconds do not apply to a launch executed locally",
        ),
        ({"imageMap": {"a:1": []}}, "imageMap.a:1: a list of strings"),
    ],
)
def test_scenario_mistakes_are_named(raw, message):
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_scenario(raw)


def test_the_cli_flags_make_the_execution():
    args = build_parser().parse_args(
        ["sandbox", "up", "--execute", "local", "--max-processes", "3", "--image-map", str(EXAMPLES / "image-map.yaml")]
    )
    execution = _execution(args)
    assert execution.every_launch and execution.process_limit == 3 and len(execution.image_map) == 1
    assert not _execution(build_parser().parse_args(["sandbox", "up"])).every_launch
