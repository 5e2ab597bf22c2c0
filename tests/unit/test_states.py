"""State types, groups and the transition table, checked pairwise."""

from __future__ import annotations

import itertools

import pytest

from lanner.domain.states import TERMINATED, TRANSITIONS, StateType, can_transition

S = StateType


def test_every_state_has_a_transition_row() -> None:
    assert set(TRANSITIONS) == set(StateType)


def test_terminal_group_is_kestras() -> None:
    assert {s.value for s in TERMINATED} == {
        "SUCCESS",
        "WARNING",
        "FAILED",
        "KILLED",
        "CANCELLED",
        "RETRIED",
        "SKIPPED",
        "RESUBMITTED",
    }


EXPECTED_ALLOWED = {
    (S.CREATED, S.RUNNING),
    (S.CREATED, S.QUEUED),
    (S.QUEUED, S.RUNNING),
    (S.QUEUED, S.CANCELLED),
    (S.RUNNING, S.SUCCESS),
    (S.RUNNING, S.FAILED),
    (S.RUNNING, S.WARNING),
    (S.RUNNING, S.PAUSED),
    (S.RUNNING, S.KILLING),
    (S.RUNNING, S.RETRYING),
    (S.PAUSED, S.RUNNING),
    (S.KILLING, S.KILLED),
    (S.FAILED, S.RESTARTED),
    (S.RESTARTED, S.RUNNING),
    (S.RETRYING, S.RUNNING),
    (S.CREATED, S.SKIPPED),
    (S.SUBMITTED, S.RUNNING),
}
EXPECTED_FORBIDDEN = {
    (S.SUCCESS, S.RUNNING),
    (S.KILLED, S.RUNNING),
    (S.KILLING, S.SUCCESS),
    (S.RETRIED, S.RUNNING),
    (S.SKIPPED, S.RUNNING),
    (S.FAILED, S.RUNNING),
    (S.RUNNING, S.CREATED),
    (S.PAUSED, S.CREATED),
}


@pytest.mark.parametrize(("current", "target"), sorted(EXPECTED_ALLOWED))
def test_allowed(current: StateType, target: StateType) -> None:
    assert can_transition(current, target)


@pytest.mark.parametrize(("current", "target"), sorted(EXPECTED_FORBIDDEN))
def test_forbidden(current: StateType, target: StateType) -> None:
    assert not can_transition(current, target)


def test_pairwise_table_is_consistent() -> None:
    for current, target in itertools.product(StateType, repeat=2):
        expected = current is target or target in TRANSITIONS[current]
        assert can_transition(current, target) is expected
        if current in (S.RETRIED, S.SKIPPED, S.RESUBMITTED) and current is not target:
            assert not can_transition(current, target), "final states never move"


def test_groups() -> None:
    assert S.RUNNING.is_running
    assert S.KILLING.is_running
    assert S.CREATED.is_created
    assert S.RESTARTED.is_created
    assert S.PAUSED.is_paused
    assert not S.PAUSED.is_terminated
    assert S.FAILED.is_failed
    assert S.FAILED.is_terminated
