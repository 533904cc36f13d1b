"""Fuzz: whatever a client sends, validation answers without raising, and the answer can be sent.

Either the request is accepted exactly as sent (every field of the exact type the contract says,
nothing coerced) and planned, or it is refused with problems whose "Task Launch Rejected" event
fits EventBridge.
"""

import json
import math

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from launch_examples import ROLE, SETTINGS, TABLE
from pydantic import BaseModel

from batchlane.launch.answers import TaskLaunchRejected, detail_json
from batchlane.launch.models import LaunchRequest
from batchlane.launch.planner import plan_launch
from batchlane.launch.problems import MAX_PROBLEMS, PROBLEM_TEXT_CHARS, REJECTION_DETAIL_BYTES
from batchlane.launch.reserved_env import reserved_env_problem
from batchlane.launch.validation import FARGATE_MEMORY, readable_launch_id, validate
from batchlane.routing import decide

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)

# Text as json.loads can produce it: any code point, unpaired surrogates ("\ud800" in the JSON)
# included, and the kinds that break naive code: emoji, right-to-left marks, combining, NUL.
awkward = st.sampled_from(
    ["😀", "👩‍👩‍👧", "\u202e", "\u200f", "שלום", "e\u0301", "\x00", "\ud800", "\udfff", " ", "\n", "\t"]
)
any_text = st.lists(st.one_of(st.characters(), st.characters(categories=["Cs"]), awkward), max_size=20).map("".join)
huge_text = st.tuples(st.sampled_from(["k", "😀", "\ud800", "a b", "é"]), st.sampled_from([300, 70_000, 200_000])).map(
    lambda part: part[0] * part[1]
)
texts = st.one_of(any_text, huge_text)

# Numbers at and past the contract's limits, and the ones JSON has no word for.
edge_numbers = st.sampled_from(
    [
        0,
        -1,
        1,
        2,
        9,
        10,
        59,
        60,
        127,
        128,
        129,
        192,
        193,
        255,
        256,
        4096,
        2_000_000,
        2_000_001,
        10_000,
        10_001,
        14 * 24 * 3600 + 1,
        2**31,
        2**63,
        10**400,
        -(10**400),
        0.0,
        -0.0,
        0.25,
        1.0,
        1.5,
        4096.0,
        1e-300,
        1e308,
        math.inf,
        -math.inf,
        math.nan,
        True,
        False,
    ]
)
numbers = st.one_of(edge_numbers, st.integers(), st.floats())


def nested(depth: int, leaf=None):
    node = leaf
    for level in range(depth):
        node = [node] if level % 2 else {"n": node}
    return node


scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4), max_leaves=12
)
depths = st.one_of(st.integers(1, 200), st.sampled_from([99, 100, 101, 1000, 5000]))
junk = st.one_of(json_values, depths.map(nested), st.integers(0, 3000).map(lambda n: [0] * n))

# Valid launches, varied over everything the contract allows.
launch_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}", fullmatch=True)
name_chars = st.one_of(st.characters(categories=["L", "N"]), st.sampled_from("._-😀שé"))
names = st.text(name_chars, min_size=1, max_size=40)
segment_names = names.filter(lambda n: n not in (".", ".."))  # a project or domain: a key segment, never a dot one
images = st.sampled_from(
    [
        "busybox",
        "busybox:1.36",
        "library/busybox:latest",
        "docker.io/library/busybox",
        "public.ecr.aws/docker/library/busybox:latest",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1",
        "localhost:5000/team/app",
        "Registry.Example.COM:443/a/b-c__d.e:Tag_1.2-3",
        "ghcr.io/org/app@sha256:" + "0" * 64,
        "quay.io/org/app:v1@sha512:" + "ab" * 64,
        "a--b/c",
        "x" * 120 + "/" + "y" * 120,
    ]
)
env_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True).filter(
    lambda n: reserved_env_problem(n) is None
)
ec2_resources = st.fixed_dictionaries(
    {},
    optional={
        "vcpu": st.one_of(st.integers(1, 192), st.floats(0.01, 192)),
        "memory": st.integers(128, 2_000_000),
        "gpu": st.integers(0, 16),
    },
)
fargate_resources = st.sampled_from(sorted(FARGATE_MEMORY)).flatmap(
    lambda vcpu: st.fixed_dictionaries(
        {"vcpu": st.just(int(vcpu) if vcpu.is_integer() else vcpu), "memory": st.sampled_from(FARGATE_MEMORY[vcpu])}
    )
)
containers = st.one_of(
    st.fixed_dictionaries({"image": images}, optional={"resources": ec2_resources, "platform": st.just("EC2")}),
    st.fixed_dictionaries({"image": images, "platform": st.just("FARGATE"), "resources": fargate_resources}),
).flatmap(
    lambda c: st.fixed_dictionaries(
        {k: st.just(v) for k, v in c.items()},
        optional={
            "command": st.lists(any_text, max_size=5),
            "environment": st.dictionaries(env_names, any_text, max_size=4),
        },
    )
)
finite_documents = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), any_text),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=10,
)
inputs_forms = st.one_of(
    st.just({}),
    st.fixed_dictionaries({"input": finite_documents.filter(lambda d: d is not None)}),  # null: no field
    st.fixed_dictionaries(
        {
            "inputs": st.one_of(
                st.lists(finite_documents, min_size=1, max_size=20),
                st.sampled_from([2, 10_000]).map(lambda n: [{}] * n),
            )
        }
    ),
    st.fixed_dictionaries(
        {
            "inputsLocation": st.fixed_dictionaries(
                {
                    "uri": st.sampled_from(["s3://their-bucket/in.jsonl", "s3://a.b-c/deep/path/x.jsonl"]),
                    "size": st.integers(1, 10_000),
                }
            )
        }
    ),
)
tag_keys = st.text(name_chars, min_size=1, max_size=128).filter(
    lambda k: not k.lower().startswith(("aws:", "batchlane:"))
)
valid_launches = st.tuples(
    st.fixed_dictionaries(
        {
            "launchId": launch_ids,
            "project": segment_names,
            "domain": segment_names,
            "workflow": names,
            "task": names,
            "container": containers,
        },
        optional={
            "role": st.just(ROLE),
            "retries": st.integers(0, 9),
            "timeoutSeconds": st.integers(60, 14 * 24 * 3600),
            "minSuccessRatio": st.one_of(st.just(1), st.floats(0, 1, exclude_min=True)),
            "tags": st.dictionaries(tag_keys, st.text(max_size=256), max_size=40),
            "shareIdentifier": st.from_regex(r"[A-Za-z0-9_]{1,255}", fullmatch=True),
        },
    ),
    inputs_forms,
).map(lambda parts: {**parts[0], **parts[1]})


def _paths(document, limit=300) -> list[tuple]:
    """Paths to the nodes of ``document`` (the first ``limit``, breadth first)."""
    paths, frontier = [()], [((), document)]
    while frontier and len(paths) < limit:
        path, node = frontier.pop(0)
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in children:
            paths.append((*path, key))
            frontier.append(((*path, key), child))
    return paths


def _at(document, path, change):
    if not path:
        return change(document)
    head, *rest = path
    copy = dict(document) if isinstance(document, dict) else list(document)
    copy[head] = _at(document[head], rest, change)
    return copy


# Where the contract has numbers, and where it takes documents of any shape.
NUMBER_FIELDS = [
    ("retries",),
    ("timeoutSeconds",),
    ("minSuccessRatio",),
    ("inputsLocation", "size"),
    ("container", "resources", "vcpu"),
    ("container", "resources", "memory"),
    ("container", "resources", "gpu"),
]
non_finite = st.sampled_from([math.nan, math.inf, -math.inf]).map(lambda x: {"a": [1, {"b": x}]})
documents = st.one_of(depths.map(nested), non_finite, junk)
INPUT_FORMS = ("input", "inputs", "inputsLocation")


def _set(document, path, value):
    """``document`` with ``value`` at ``path``, making the objects on the way."""
    head, *rest = path
    node = document.get(head) if isinstance(document, dict) else None
    return {**(document if isinstance(document, dict) else {}), head: _set(node, rest, value) if rest else value}


@st.composite
def mutated_launches(draw):
    """A valid launch with a few things broken: anything anywhere, numbers at and past their limits,
    input documents of any shape."""
    launch = draw(valid_launches)
    for _ in range(draw(st.integers(1, 3))):
        if not isinstance(launch, dict):
            break  # replaced whole: nothing left to break
        kind = draw(st.sampled_from(["anywhere", "numbers", "documents"]))
        if kind == "numbers":
            for path in draw(st.lists(st.sampled_from(NUMBER_FIELDS), min_size=1, unique=True)):
                launch = _set(launch, path, draw(edge_numbers))
        elif kind == "documents":
            launch = {k: v for k, v in launch.items() if k not in INPUT_FORMS}
            if draw(st.booleans()):
                launch["input"] = draw(documents)
            else:
                launch["inputs"] = draw(st.lists(documents, min_size=1, max_size=3))
        else:
            launch = draw(_broken_somewhere(launch))
    return launch


@st.composite
def _broken_somewhere(draw, launch):
    path = draw(st.sampled_from(_paths(launch)))
    node = launch
    for key in path:
        node = node[key]
    action = draw(st.sampled_from(["replace", "remove", "add", "add many"] if isinstance(node, dict) else ["replace"]))
    if action == "remove" and node:
        gone = draw(st.sampled_from(sorted(node)))
        return _at(launch, path, lambda n: {k: v for k, v in n.items() if k != gone})
    if action == "add":
        key, value = draw(texts), draw(junk)
        return _at(launch, path, lambda n: {**n, key: value})
    if action == "add many":
        count = draw(st.sampled_from([10, 1000, 10_000]))
        return _at(launch, path, lambda n: {**n, **{f"extra{i}": i for i in range(count)}})
    value = draw(junk)
    return _at(launch, path, lambda n: value)


def _same_json(sent, parsed) -> bool:
    """Equal and of the same JSON type all the way down (1 is not 1.0, "1" is not 1)."""
    if type(sent) is not type(parsed):
        return False
    if isinstance(sent, dict):
        return sent.keys() == parsed.keys() and all(_same_json(sent[k], parsed[k]) for k in sent)
    if isinstance(sent, list):
        return len(sent) == len(parsed) and all(map(_same_json, sent, parsed))
    return sent == parsed


def assert_exactly_as_sent(model: BaseModel, sent: dict) -> None:
    for name, field in type(model).model_fields.items():
        key = field.alias or name
        value = getattr(model, name)
        if key not in sent:
            assert value == field.get_default(call_default_factory=True), key
        elif isinstance(value, BaseModel):
            assert_exactly_as_sent(value, sent[key])
        elif field.annotation is float:
            # The one widening JSON itself makes: a whole number where a number is meant.
            assert type(value) is float and type(sent[key]) in (int, float) and value == sent[key], key
        else:
            assert _same_json(sent[key], value), key


def assert_publishable(rejection: TaskLaunchRejected) -> None:
    assert 0 < len(rejection.problems) <= MAX_PROBLEMS
    assert all(len(p.field) <= PROBLEM_TEXT_CHARS and len(p.message) <= PROBLEM_TEXT_CHARS for p in rejection.problems)
    published = json.dumps(detail_json(rejection), separators=(",", ":"))  # as EventBusAnnouncer sends it
    assert len(published.encode()) <= REJECTION_DETAIL_BYTES


def strict_json(text: str):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def answer(detail) -> tuple[LaunchRequest | None, TaskLaunchRejected | None]:
    """What the launcher would do with ``detail`` up to the AWS calls; raises only on a bug."""
    request, role, problems = validate(detail, SETTINGS)
    event("accepted" if request else "refused")
    if request is None:
        assert problems
        return None, TaskLaunchRejected(launchId=readable_launch_id(detail), problems=problems)
    assert problems == [] and role == ROLE
    assert_exactly_as_sent(request, detail)
    assert LaunchRequest.model_validate(request.model_dump(by_alias=True, exclude_none=True)) == request
    decision = decide(TABLE, request.project, request.domain, request.workflow, key=request.launch_id)
    assert decision.matched
    plan, problems = plan_launch(request, role, decision, SETTINGS, "bucket")
    if plan is None:
        assert problems
        return request, TaskLaunchRejected(launchId=request.launch_id, problems=problems)
    # What goes to Batch and S3 is JSON a strict reader takes.
    strict_json(
        json.dumps(plan.submit_request("arn:aws:batch:us-east-1:123456789012:job-definition/d:1"), allow_nan=False)
    )
    for line in (plan.inputs_body or b"").splitlines():
        strict_json(line.decode())
    return request, None


@FUZZ
@given(valid_launches)
def test_valid_launches_are_accepted_exactly_as_sent(detail):
    request, rejection = answer(detail)
    assert request is not None
    if rejection is not None:  # only the planner's overrides limit may refuse a valid request
        assert [p.field for p in rejection.problems] == ["container"]
        assert_publishable(rejection)


@FUZZ
@given(st.one_of(mutated_launches(), junk))
def test_any_detail_is_answered_and_the_answer_can_be_published(detail):
    _, rejection = answer(detail)
    if rejection is not None:
        assert_publishable(rejection)
