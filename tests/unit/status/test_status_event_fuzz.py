"""Fuzz: Batch events with mutated fields (wrong types, 300 KB strings, Unicode digits, huge
integers, floats, NaN, missing and extra keys, deep nesting).

* ``observe`` (``parse_event`` + the fold's classification) returns an observation within the
  limits of docs/status.md, or raises ForeignEvent / MalformedEvent: nothing else, ever.
* A batch mixing good records with mutated ones and garbage, through ``StatusService.process``
  with fakes that enforce DynamoDB's and EventBridge's limits, never fails a good record: every
  good record is folded, every unreadable one is logged with its reason and counted, alone.
"""

import copy
import json
import re

from conftest import FIXTURES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchlane.common.executions import launch_key
from batchlane.sandbox.simulate import AttemptPlan, ChildPlan, launch_events
from batchlane.status.events import (
    MAX_ARRAY_SIZE,
    MAX_EPOCH_MS,
    MAX_EXIT_CODE,
    MAX_INDEX,
    MAX_LOG_NAME,
    MAX_TEXT,
    MIN_EXIT_CODE,
    ForeignEvent,
    MalformedEvent,
)
from batchlane.status.observations import merge_child, merge_parent, observe
from batchlane.status.states import MAX_ATTEMPTS, STATUSES
from status_fakes import DYNAMODB_ITEM_BYTES, FakeStatusStore, dynamodb_item_bytes, launch_record, service

FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

JOB_A = "aaaaaaaa-0000-4000-8000-000000000001"  # an array of 3
JOB_B = "bbbbbbbb-0000-4000-8000-000000000002"  # a plain job
LAUNCHES = [launch_record("L-A", JOB_A, 3, min_success_ratio=0.5), launch_record("L-B", JOB_B, 1)]
GOOD = launch_events(
    JOB_A,
    [
        ChildPlan(pending=True, blocked=True),
        ChildPlan(attempts=(AttemptPlan("exit", 1), AttemptPlan("nostart"))),
        ChildPlan(attempts=(AttemptPlan("exit", 137), AttemptPlan())),
    ],
) + launch_events(JOB_B, [ChildPlan(pending=True)])


def _samples_of(job_id: str) -> list[dict]:
    """The sample events, as events of ``job_id`` (so that the fakes know the job)."""
    out = []
    for path in sorted(FIXTURES.glob("*.json")):
        e = json.loads(path.read_text())
        own = e["detail"]["jobId"].split(":")[0]
        out.append(json.loads(json.dumps(e).replace(own, job_id)))
    return out


SAMPLES = _samples_of(JOB_A) + _samples_of(JOB_B)
BASES = SAMPLES + GOOD

# ------------------------------------------------------------------ mutations
BIG_TEXT = ["x" * 300_000, "²" * 150_000, "\U0001f642" * 75_000]  # 300 KB of UTF-8 each
WEIRD_TEXT = [
    "",
    " ",
    "²",
    "٣",
    "১",
    f"{JOB_A}:²",
    f"{JOB_A}:٣",
    f"{JOB_A}:0012",
    f"{JOB_A}:2",
    f"{JOB_B}:0",
    "1",
    "-1",
    "1.5",
    "NaN",
    "null",
    "true",
    *STATUSES,
    "HIBERNATING",
    "\x00",
    "\u202e",
    "arn:aws-cn:x",
]
NUMBERS = [
    -1,
    0,
    1,
    2,
    12,
    MAX_INDEX,
    MAX_INDEX + 1,
    MAX_ARRAY_SIZE,
    MAX_ARRAY_SIZE + 1,
    MIN_EXIT_CODE,
    MIN_EXIT_CODE - 1,
    MAX_EXIT_CODE,
    MAX_EXIT_CODE + 1,
    2**63,
    10**40,
    -(10**40),
    MAX_EPOCH_MS,
    MAX_EPOCH_MS + 1,
    1_700_000_000_000,
]
FIELD_NAMES = [
    "jobId",
    "status",
    "statusReason",
    "attempts",
    "container",
    "exitCode",
    "reason",
    "logStreamName",
    "startedAt",
    "stoppedAt",
    "createdAt",
    "arrayProperties",
    "index",
    "size",
    "statusSummary",
    "statusSummaryLastUpdatedAt",
    "logConfiguration",
    "options",
    "awslogs-group",
    "tags",
    "retryStrategy",
    "jobArn",
    "jobQueue",
    "region",
    "resources",
    "source",
    "detail-type",
    "detail",
]


def _nested(depth: int):
    value: object = 0
    for level in range(depth):
        value = [value] if level % 2 else {"a": value}
    return value


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(NUMBERS),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(WEIRD_TEXT),
    st.sampled_from(BIG_TEXT),
)
garbage = st.one_of(
    st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), inner, max_size=3),
        ),
        max_leaves=8,
    ),
    st.integers(150, 400).map(_nested),  # deeper than a JSON parser's recursion limit
)
# Values for each kind of field: mostly well-typed but absurd (what a type check alone lets through),
# else the wrong type.
numbers = st.one_of(
    st.sampled_from(NUMBERS), st.integers(-(10**45), 10**45), st.floats(), st.sampled_from(["1", True, None])
)
texts = st.one_of(
    st.sampled_from(BIG_TEXT), st.sampled_from(WEIRD_TEXT), st.text(max_size=12), st.sampled_from([None, 1, [], {}])
)
job_ids = st.one_of(
    st.builds(
        "{}:{}".format,
        st.sampled_from([JOB_A, JOB_B]),
        st.one_of(
            # digits to str.isdigit() that are not ASCII: decimal ones (int() reads them), superscripts (it raises)
            st.text(st.characters(categories=["Nd", "No"], exclude_characters="0123456789"), min_size=1, max_size=4),
            st.integers(-1, 20_000).map(str),
        ),
    ),
    texts,
)
statuses = st.sampled_from([*STATUSES, "HIBERNATING", "running", "", None, 1])

# The values the status path reads (created where missing), with what to put there.
A0 = ("detail", "attempts", 0)
AP = ("detail", "arrayProperties")
MODELLED = [
    *[(path, job_ids) for path in [("detail", "jobId")] * 3],
    (("detail", "status"), statuses),
    *[
        (path, numbers)
        for path in [
            (*A0, "container", "exitCode"),
            ("detail", "container", "exitCode"),
            (*A0, "startedAt"),
            (*A0, "stoppedAt"),
            ("detail", "createdAt"),
            ("detail", "startedAt"),
            ("detail", "stoppedAt"),
            (*AP, "index"),
            (*AP, "size"),
            (*AP, "statusSummary", "SUCCEEDED"),
            (*AP, "statusSummaryLastUpdatedAt"),
            ("detail", "retryStrategy", "attempts"),
        ]
    ],
    *[
        (path, texts)
        for path in [
            ("region",),
            ("detail", "statusReason"),
            ("detail", "jobArn"),
            ("detail", "jobQueue"),
            (*A0, "container", "reason"),
            (*A0, "container", "logStreamName"),
            (*A0, "statusReason"),
            ("detail", "container", "reason"),
            ("detail", "container", "logStreamName"),
            ("detail", "container", "logConfiguration", "options", "awslogs-group"),
            ("detail", "tags", "resourceArn"),
        ]
    ],
    *[
        (path, garbage)
        for path in [
            ("source",),
            ("detail-type",),
            ("time",),
            ("resources",),
            ("detail",),
            ("detail", "attempts"),
            A0,
            (*A0, "container"),
            ("detail", "container"),
            AP,
            (*AP, "statusSummary"),
            ("detail", "tags"),
        ]
    ],
]


def _containers(value, path=()):
    """Every dict and list inside ``value`` (itself included), with its path."""
    if isinstance(value, dict):
        yield path, value
        for k, v in value.items():
            yield from _containers(v, (*path, k))
    elif isinstance(value, list):
        yield path, value
        for i, v in enumerate(value):
            yield from _containers(v, (*path, i))


def _set(event: dict, path: tuple, value) -> None:
    """``event[path] = value``, making the dicts / lists on the way; no-op across a scalar."""
    node = event
    for key, following in zip(path[:-1], path[1:]):
        fresh = [{}] if isinstance(following, int) else {}
        if isinstance(node, dict):
            node = node.setdefault(key, fresh)
        elif isinstance(node, list) and isinstance(key, int):
            if not node:
                node.append(fresh)
            node = node[min(key, len(node) - 1)]
        if not isinstance(node, (dict, list)):
            return
    last = path[-1]
    if isinstance(node, dict):
        node[last] = value
    elif isinstance(node, list) and isinstance(last, int):
        if node:
            node[min(last, len(node) - 1)] = value
        else:
            node.append(value)


@st.composite
def mutated_events(draw) -> dict:
    event = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["aim", "aim", "aim", "aim", "drop", "walk"]))
        if how == "aim":  # a value the status path reads
            path, values = draw(st.sampled_from(MODELLED))
            _set(event, path, copy.deepcopy(draw(values)))  # never share a drawn object between examples
            continue
        if how == "drop":  # e.g. arrayProperties: the index then comes from the job id
            *parent, key = draw(st.sampled_from(MODELLED))[0]
            node = dict(_containers(event)).get(tuple(parent))
            if isinstance(node, dict):
                node.pop(key, None)
            continue
        _, node = draw(st.sampled_from(list(_containers(event))))
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        op = draw(st.sampled_from(["replace", "delete", "add"] if keys else ["add"]))
        if op == "add":
            if isinstance(node, dict):
                node[draw(st.sampled_from(FIELD_NAMES) | st.text(max_size=8))] = copy.deepcopy(draw(garbage))
            else:
                node.append(copy.deepcopy(draw(garbage)))
            continue
        key = draw(st.sampled_from(keys))
        if op == "delete":
            del node[key]
        else:
            node[key] = copy.deepcopy(draw(garbage))
    return event


def as_delivered(event: dict, draw) -> str | dict:
    """As an SQS body (JSON text, NaN and non-ASCII as json.dumps writes them) or as a dict (the
    reconciler's synthetic events)."""
    if draw(st.booleans()):
        return event
    return json.dumps(event, ensure_ascii=draw(st.booleans()))


# ------------------------------------------------------------------ the limits
_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_#.-]{0,127}")
_PARTITION = re.compile(r"aws(-[a-z]+)*")
# The largest child item: every text at its limit in 4-byte characters, plus the numbers and keys.
MAX_CHILD_ITEM_BYTES = 4 * (MAX_ATTEMPTS * (2 * MAX_TEXT + MAX_LOG_NAME) + 2 * MAX_TEXT + MAX_LOG_NAME) + 4096


def _epoch_ms(v) -> bool:
    return v is None or (isinstance(v, int) and 0 < v <= MAX_EPOCH_MS)  # 0 ("never started") reads as None


def _text(v, limit: int) -> bool:
    return v is None or (isinstance(v, str) and 0 < len(v) <= limit)


def assert_within_limits(obs) -> None:
    assert _JOB_ID.fullmatch(obs.job_id)
    assert (obs.region == "" or _text(obs.region, MAX_TEXT)) and _PARTITION.fullmatch(obs.partition)
    if obs.child is not None:
        c = obs.child
        assert isinstance(c.index, int) and 0 <= c.index <= MAX_INDEX
        assert c.status in STATUSES and 0 <= c.n <= MAX_ATTEMPTS and len(c.attempts) <= MAX_ATTEMPTS
        assert _text(c.status_reason, MAX_TEXT) and _text(c.blocked, MAX_TEXT) and _text(c.log_group, MAX_LOG_NAME)
        for a in c.attempts:
            assert a.exit_code is None or (
                isinstance(a.exit_code, int)
                and not isinstance(a.exit_code, bool)
                and MIN_EXIT_CODE <= a.exit_code <= MAX_EXIT_CODE
            )
            assert _text(a.reason, MAX_TEXT) and _text(a.status_reason, MAX_TEXT) and _text(a.log_stream, MAX_LOG_NAME)
            assert _epoch_ms(a.started_at) and _epoch_ms(a.stopped_at)
        item = c.to_item()
        assert dynamodb_item_bytes(item) <= MAX_CHILD_ITEM_BYTES
    else:
        p = obs.parent
        assert p.status in STATUSES and (p.size is None or 2 <= p.size <= MAX_ARRAY_SIZE)
        assert all(k in STATUSES and 0 <= v <= MAX_ARRAY_SIZE for k, v in p.status_summary)
        assert 0 <= p.summary_at <= MAX_EPOCH_MS
        assert _text(p.status_reason, MAX_TEXT) and _text(p.blocked, MAX_TEXT)
        item = p.to_item()
        assert dynamodb_item_bytes(item) <= 4 * 2 * MAX_TEXT + 4096


def test_the_largest_child_item_is_far_under_dynamodbs_limit():
    assert MAX_CHILD_ITEM_BYTES < DYNAMODB_ITEM_BYTES / 3


def _read(body):
    """observe(body): the observation, or the exception, which must be ForeignEvent/MalformedEvent."""
    try:
        return observe(body)
    except (ForeignEvent, MalformedEvent) as exc:
        assert 0 < len(str(exc)) <= 2000  # a reason fit for one log line
        return exc


@FUZZ
@given(mutated_events(), st.data())
def test_a_mutated_event_is_read_within_the_limits_or_rejected_as_malformed_or_foreign(event, data):
    result = _read(as_delivered(event, data.draw))
    if not isinstance(result, Exception):
        assert_within_limits(result)


# ------------------------------------------------------------------ a mixed batch through the service
garbage_bodies = st.one_of(
    st.text(max_size=40),
    st.sampled_from(BIG_TEXT + ["[1, 2]", "null", "{}", '"x"', "{not json", "[" * 500]),
    garbage.map(json.dumps),
)


@st.composite
def mixed_batches(draw):
    """(message id, body) of good events and bad ones (mutated, garbage) in any order."""
    good = [
        (f"good-{i}", json.dumps(GOOD[i]))
        for i in draw(st.lists(st.integers(0, len(GOOD) - 1), min_size=1, max_size=len(GOOD), unique=True))
    ]
    bad = [
        (f"bad-{i}", json.dumps(draw(mutated_events())) if draw(st.booleans()) else draw(garbage_bodies))
        for i in range(draw(st.integers(1, 8)))
    ]
    return draw(st.permutations(good + bad))


def _contained(store, launch_id: str, obs) -> bool:
    """Folding ``obs`` again into what the store holds adds nothing: it has been folded."""
    if obs.child is not None:
        stored = store.child(launch_key(None, launch_id), obs.child.index)
        return stored is not None and not merge_child(stored, obs.child)[1]
    stored = store.parent(launch_key(None, launch_id))
    return stored is not None and not merge_parent(stored, obs.parent)[1]


@settings(FUZZ, max_examples=80)
@given(mixed_batches(), st.booleans())
def test_bad_records_never_fail_a_good_batchmate(batch, b_is_broken):
    store = FakeStatusStore(*LAUNCHES, broken=(launch_key(None, "L-B"),) if b_is_broken else ())
    svc = service(store)
    read = {message_id: _read(body) for message_id, body in batch}
    unreadable = {m for m, r in read.items() if isinstance(r, Exception)}
    # B's messages that its write carries: of its job, or of a child it has (B is a plain job: an
    # array child's event of it is dropped before any read, so it cannot fail).
    of_b = {
        m
        for m, r in read.items()
        if not isinstance(r, Exception) and r.job_id == JOB_B and (r.child is None or r.child.index < LAUNCHES[1].size)
    }

    failures = svc.process(batch)

    # Only a launch whose write fails has failed messages: its own, and all of them.
    assert set(failures) == (of_b if b_is_broken else set())
    assert set(svc.log.skipped()) == unreadable
    assert svc.metrics.counts["StatusEventMalformed"] >= len(unreadable)
    for message_id, _ in batch:
        obs = read[message_id]
        if message_id.startswith("good-") and not (b_is_broken and obs.job_id == JOB_B):
            assert _contained(store, "L-A" if obs.job_id == JOB_A else "L-B", obs), message_id
