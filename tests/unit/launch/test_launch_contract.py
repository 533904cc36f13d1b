"""The public launch contract as a client meets it: strict types, and rejections that can always be sent."""

import json
import math

import pytest
from launch_examples import SETTINGS, detail

from batchlane.common.event_types import EVENT_SOURCE, LAUNCH_REJECTED
from batchlane.launch.answers import TaskLaunchRejected, detail_json
from batchlane.launch.models import INPUT_DEPTH_LIMIT
from batchlane.launch.problems import (
    MAX_PROBLEMS,
    PROBLEM_TEXT_CHARS,
    QUOTED_VALUE_CHARS,
    REJECTION_DETAIL_BYTES,
    Problem,
)
from batchlane.launch.validation import readable_launch_id, validate

EVENTBRIDGE_ENTRY_BYTES = 256 * 1024


def problems_of(launch):
    request, _, problems = validate(launch, SETTINGS)
    assert request is None
    return [(p.field, p.message) for p in problems]


def published_size(rejection: TaskLaunchRejected) -> int:
    # What PutEvents counts: detail (as EventBusAnnouncer encodes it), detail-type and source.
    detail = json.dumps(detail_json(rejection), separators=(",", ":"))
    return len(detail.encode()) + len(LAUNCH_REJECTED) + len(EVENT_SOURCE)


def container(**fields):
    return {"image": "busybox", **fields}


@pytest.mark.parametrize(
    "launch, field, message",
    [
        (detail(retries="2"), "retries", 'must be a whole number, not a string ("2")'),
        (detail(retries=True), "retries", "must be a whole number, not a boolean (true)"),
        (detail(retries=2.0), "retries", "must be a whole number, not a decimal number (2.0)"),
        (detail(timeoutSeconds="3600"), "timeoutSeconds", 'must be a whole number, not a string ("3600")'),
        (
            detail(container=container(resources={"memory": 4096.0})),
            "container.resources.memory",
            "must be a whole number, not a decimal number (4096.0)",
        ),
        (
            detail(container=container(resources={"vcpu": "2"})),
            "container.resources.vcpu",
            'must be a number, not a string ("2")',
        ),
        (
            detail(container=container(resources={"gpu": False})),
            "container.resources.gpu",
            "must be a whole number, not a boolean (false)",
        ),
        (detail(minSuccessRatio="0.5"), "minSuccessRatio", 'must be a number, not a string ("0.5")'),
        (detail(project=5), "project", "must be a string, not a whole number (5)"),
        (detail(launchId=42), "launchId", "must be a string, not a whole number (42)"),
        (detail(shareIdentifier=7), "shareIdentifier", "must be a string, not a whole number (7)"),
        (
            detail(container=container(command="python fit.py")),
            "container.command",
            'must be a list, not a string ("python fit.py")',
        ),
        (
            detail(container=container(command=["python", 3])),
            "container.command[1]",
            "must be a string, not a whole number (3)",
        ),
        (
            detail(container=container(environment={"DEBUG": 1})),
            "container.environment.DEBUG",
            "must be a string, not a whole number (1)",
        ),
        (detail(tags={"team": None}), "tags.team", "must be a string, not null"),
        (detail(container="busybox"), "container", 'must be an object, not a string ("busybox")'),
        (
            detail(inputsLocation={"uri": "s3://bucket/in.jsonl", "size": 7.0}),
            "inputsLocation.size",
            "must be a whole number, not a decimal number (7.0)",
        ),
        (detail(inputs="[1, 2]"), "inputs", 'must be a list, not a string ("[1, 2]")'),
        (
            detail(container=container(resources={"vcpu": math.nan})),
            "container.resources.vcpu",
            "must be a finite number (NaN and Infinity are not JSON numbers)",
        ),
        (
            detail(minSuccessRatio=math.inf),
            "minSuccessRatio",
            "must be a finite number (NaN and Infinity are not JSON numbers)",
        ),
        (detail(project="p\ud800"), "project", "must be valid Unicode text (it holds an unpaired surrogate)"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_not_converted(launch, field, message):
    assert problems_of(launch) == [(field, message)]


def test_every_wrong_type_is_listed_at_once():
    launch = detail(
        retries="2",
        timeoutSeconds=True,
        container=container(resources={"memory": 4096.0, "vcpu": "4"}),
        tags={"team": 1},
    )
    assert {field for field, _ in problems_of(launch)} == {
        "retries",
        "timeoutSeconds",
        "container.resources.memory",
        "container.resources.vcpu",
        "tags.team",
    }


def test_a_quoted_value_is_cut():
    ((field, message),) = problems_of(detail(retries="9" * 10_000))
    assert field == "retries" and message.endswith("…)")
    assert len(message) == len("must be a whole number, not a string ()") + QUOTED_VALUE_CHARS


def test_json_widens_a_whole_number_into_a_number_and_nothing_else():
    request, _, problems = validate(
        detail(
            container=container(resources={"vcpu": 4, "memory": 8192}),
            minSuccessRatio=1,
            retries=2,
            timeoutSeconds=3600,
        ),
        SETTINGS,
    )
    assert problems == []
    assert type(request.container.resources.vcpu) is float and request.container.resources.vcpu == 4
    assert type(request.min_success_ratio) is float and request.min_success_ratio == 1
    assert (type(request.container.resources.memory), type(request.retries), type(request.timeout_seconds)) == (
        int,
        int,
        int,
    )


@pytest.mark.parametrize(
    "document, field, message",
    [
        ({"learning_rate": math.nan}, "input", "holds NaN, which is not a JSON number"),
        ([1, -math.inf], "input", "holds -Infinity, which is not a JSON number"),
    ],
)
def test_an_input_document_must_be_json(document, field, message):
    assert problems_of(detail(input=document)) == [(field, message)]


def test_input_documents_nest_at_most_the_documented_depth():
    def nested(depth):
        document = {}
        for _ in range(depth - 1):
            document = {"a": document}
        return document

    assert validate(detail(input=nested(INPUT_DEPTH_LIMIT)), SETTINGS)[2] == []
    assert problems_of(detail(inputs=[{}, nested(INPUT_DEPTH_LIMIT + 1)])) == [
        ("inputs[1]", f"nests lists and objects more than {INPUT_DEPTH_LIMIT} levels deep")
    ]


def test_a_200_kb_tag_key_gets_a_rejection_that_can_be_published():
    launch = detail(tags={"k" * 200_000: "v"})
    ((field, message),) = problems_of(launch)
    assert field == "tags"
    assert message == '"' + "k" * (QUOTED_VALUE_CHARS - 2) + "…: key must be 1-128 characters"
    rejection = TaskLaunchRejected(launchId=readable_launch_id(launch), problems=validate(launch, SETTINGS)[2])
    assert published_size(rejection) < REJECTION_DETAIL_BYTES + 100 < EVENTBRIDGE_ENTRY_BYTES


def test_a_200_kb_unknown_field_is_named_by_its_start():
    ((field, message),) = problems_of(detail(**{"k" * 200_000: 1}))
    assert field == "k" * (PROBLEM_TEXT_CHARS - 1) + "…" and message.startswith("unknown field")


def test_ten_thousand_problems_are_listed_up_to_the_limit_and_counted_after_it():
    launch = detail(**{f"extra{i}": i for i in range(10_000)})
    problems = problems_of(launch)
    assert len(problems) == MAX_PROBLEMS
    assert problems[0] == ("extra0", "unknown field (see docs/launch-event.md for the fields a launch takes)")
    assert problems[-1] == ("problems", f"and {10_000 - (MAX_PROBLEMS - 1)} more problems")


def test_a_rejection_is_bounded_however_it_is_built():
    # Worst case per character: non-BMP text is published as 12-byte escapes.
    rejection = TaskLaunchRejected(
        launchId="L" * 100_000, problems=[Problem(field="f" * 100_000, message="😀" * 100_000) for _ in range(10_000)]
    )
    assert len(rejection.launch_id) == 128 and rejection.launch_id.endswith("…")
    assert all(len(p.field) == len(p.message) == PROBLEM_TEXT_CHARS for p in rejection.problems[:-1])
    assert rejection.problems[-1] == Problem(
        field="problems", message=f"and {10_001 - len(rejection.problems)} more problems"
    )
    assert published_size(rejection) <= REJECTION_DETAIL_BYTES + 100


def test_bounding_again_counts_on_from_the_earlier_summary():
    first = TaskLaunchRejected(launchId=None, problems=[Problem(field=f"f{i}", message="m") for i in range(60)])
    routing = Problem(field="routing", message="no routing rule applies")
    again = TaskLaunchRejected(launchId=None, problems=[*first.problems, routing])
    assert first.problems[-1].message == "and 11 more problems"
    assert again.problems[-1].message == "and 12 more problems" and len(again.problems) == MAX_PROBLEMS
    published = TaskLaunchRejected.model_validate(detail_json(again))
    assert published.problems == again.problems and published.event_id is not None


def test_a_few_problems_are_left_as_they_are():
    problems = [Problem(field="retries", message="Input should be less than or equal to 9")]
    assert TaskLaunchRejected(launchId="L", problems=problems).problems == problems
    one_more = [Problem(field=f"f{i}", message="m") for i in range(MAX_PROBLEMS + 1)]
    assert TaskLaunchRejected(launchId="L", problems=one_more).problems[-1].message == "and 2 more problems"


@pytest.mark.parametrize(
    "launch_id, answered",
    [
        ("run-42", "run-42"),
        ("not valid but readable", "not valid but readable"),
        ("x" * 128, "x" * 128),
        ("x" * 129, None),
        ("run-\ud800", None),  # an unpaired surrogate: no DynamoDB key, no launch, nothing to look up
        ("", None),
        (42, None),
    ],
)
def test_the_launch_id_answered_with(launch_id, answered):
    assert readable_launch_id(detail(launchId=launch_id)) == answered


NULL = "must not be null (leave the field out for its default)"


@pytest.mark.parametrize(
    "launch,field",
    [
        (detail(role=None), "role"),
        (detail(container={"image": "busybox", "platform": None}), "container.platform"),
        (detail(container={"image": "busybox", "resources": None}), "container.resources"),
        (detail(container={"image": "busybox", "resources": {"vcpu": None}}), "container.resources.vcpu"),
        (detail(inputs=None), "inputs"),
        (detail(timeoutSeconds=None), "timeoutSeconds"),
    ],
)
def test_null_is_not_taken_for_an_absent_field(launch, field):
    assert problems_of(launch) == [(field, NULL)]


def test_null_inside_an_input_document_is_a_value():
    request, _, problems = validate(detail(input={"x": None}), SETTINGS)
    assert problems == [] and request is not None
