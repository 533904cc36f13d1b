"""Hypothesis strategies: plans of launches whose event histories cover arrays, retries,
failures before the container starts, terminations, queue-blocked events and parents with
stale statusSummary."""

from hypothesis import strategies as st

from batchlane.sandbox.simulate import AttemptPlan, ChildPlan
from batchlane.status.states import RANK, Attempt, ChildState, ParentState

failed_attempt = st.one_of(
    st.builds(AttemptPlan, outcome=st.just("exit"), exit_code=st.sampled_from([1, 2, 137])),
    st.just(AttemptPlan("nostart")),
)
last_attempt = st.one_of(st.just(AttemptPlan("ok")), failed_attempt)


@st.composite
def child_plans(draw, max_attempts: int = 3):
    failures = draw(st.lists(failed_attempt, max_size=max_attempts - 1))
    terminated = draw(st.booleans()) and draw(st.booleans())  # about 1 in 4
    if terminated:
        attempts = tuple(failures)  # terminated while waiting for its next attempt
    else:
        attempts = (*failures, draw(last_attempt))
    return ChildPlan(attempts=attempts, pending=draw(st.booleans()), blocked=draw(st.booleans()), terminated=terminated)


launch_plans = st.lists(child_plans(), min_size=1, max_size=5)
ratios = st.sampled_from([1, 1.0, 0.5, 0.7, 0.0, "0.34"])


# Arbitrary states, inconsistent ones included (conflicting values for one attempt, a terminal
# state with fewer attempts than a running one): the join laws must hold for them too.
_small = st.one_of(st.none(), st.sampled_from(["a", "b"]))
_num = st.one_of(st.none(), st.integers(0, 2))
attempts_ = st.builds(
    Attempt, exit_code=_num, reason=_small, status_reason=_small, log_stream=_small, started_at=_num, stopped_at=_num
)
any_child_state = st.builds(
    ChildState,
    index=st.just(0),
    status=st.sampled_from(sorted(RANK)),
    n=st.integers(0, 3),
    status_reason=_small,
    blocked=_small,
    log_group=_small,
    attempts=st.lists(attempts_, max_size=3).map(tuple),
)
any_parent_state = st.builds(
    ParentState,
    status=st.sampled_from(sorted(RANK)),
    status_reason=_small,
    size=_num,
    status_summary=st.sampled_from([(), (("RUNNING", 1),), (("SUCCEEDED", 2),)]),
    summary_at=st.integers(0, 2),
    blocked=_small,
)
