"""The infrastructure-failure reasons agree on both sides: every attempt the status path classes
``spot-reclaimed`` is one that Batch retried under retryOn "infrastructure" (the launcher's
evaluateOnExit), for reasons as Batch writes them: the host-gone text opens the statusReason."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from batchlane.common.host_gone import HOST_GONE_PATTERN, HOST_GONE_REASONS
from batchlane.launch.planner import INFRASTRUCTURE_RETRY
from batchlane.status.failures import SPOT_RECLAIMED, classify


def glob_matches(glob: str, text: str) -> bool:
    """Batch's evaluateOnExit matching: the whole text, a trailing "*" matching any rest."""
    return text.startswith(glob[:-1]) if glob.endswith("*") else text == glob


def batch_action(rules, status_reason: str, reason: str) -> str | None:
    """The action of the first rule whose conditions all match (Batch evaluates them in order)."""
    for rule in rules:
        if ("onStatusReason" not in rule or glob_matches(rule["onStatusReason"], status_reason)) and (
            "onReason" not in rule or glob_matches(rule["onReason"], reason)
        ):
            return rule["action"]
    return None


host_gone = st.tuples(st.from_regex(HOST_GONE_PATTERN, fullmatch=True), st.text(max_size=40)).map("".join)


@given(status_reason=host_gone, reason=st.text(max_size=40), exit_code=st.none() | st.integers(-1, 255))
def test_every_reason_classed_spot_reclaimed_is_one_batch_retries(status_reason, reason, exit_code):
    assert classify(status_reason, reason or None, exit_code) == SPOT_RECLAIMED
    assert batch_action(INFRASTRUCTURE_RETRY, status_reason, reason) == "RETRY"


@given(status_reason=st.text(max_size=60), reason=st.text(max_size=40))
def test_batch_retries_only_reasons_that_open_like_a_host_gone_reason(status_reason, reason):
    retried = batch_action(INFRASTRUCTURE_RETRY, status_reason, reason) == "RETRY"
    assert retried == any(status_reason.startswith(r.prefix) for r in HOST_GONE_REASONS)


def test_the_reasons_batch_writes_are_retried_and_classed_spot_reclaimed():
    for status_reason in (
        "Host EC2 (instance i-0123456789abcdef0) terminated.",
        "Your Spot Task was interrupted.",
    ):
        assert classify(status_reason, None, None) == SPOT_RECLAIMED
        assert batch_action(INFRASTRUCTURE_RETRY, status_reason, "") == "RETRY"
    assert classify("Host EC2 (instance i-1) was unhealthy", None, 1) != SPOT_RECLAIMED
    assert batch_action(INFRASTRUCTURE_RETRY, "Essential container in task exited", "") == "EXIT"
