"""Kestra's state types, their groups and the allowed transitions.

Imports only the standard library.
"""

from __future__ import annotations

from enum import StrEnum


class StateType(StrEnum):
    """The state of an execution or a task run, with Kestra's names."""

    CREATED = "CREATED"
    SUBMITTED = "SUBMITTED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    RESTARTED = "RESTARTED"
    KILLING = "KILLING"
    SUCCESS = "SUCCESS"
    WARNING = "WARNING"
    FAILED = "FAILED"
    KILLED = "KILLED"
    CANCELLED = "CANCELLED"
    QUEUED = "QUEUED"
    RETRYING = "RETRYING"
    RETRIED = "RETRIED"
    SKIPPED = "SKIPPED"
    BREAKPOINT = "BREAKPOINT"
    RESUBMITTED = "RESUBMITTED"

    @property
    def is_terminated(self) -> bool:
        return self in TERMINATED

    @property
    def is_running(self) -> bool:
        return self in (StateType.RUNNING, StateType.KILLING)

    @property
    def is_created(self) -> bool:
        return self in (StateType.CREATED, StateType.RESTARTED)

    @property
    def is_paused(self) -> bool:
        return self is StateType.PAUSED

    @property
    def is_failed(self) -> bool:
        return self is StateType.FAILED


S = StateType

TERMINATED: frozenset[StateType] = frozenset(
    {S.SUCCESS, S.WARNING, S.FAILED, S.KILLED, S.CANCELLED, S.RETRIED, S.SKIPPED, S.RESUBMITTED}
)

# Allowed transitions; a state may always stay itself (no history entry is written then).
TRANSITIONS: dict[StateType, frozenset[StateType]] = {
    S.CREATED: frozenset(
        {
            S.SUBMITTED,
            S.RUNNING,
            S.QUEUED,
            S.PAUSED,
            S.KILLING,
            S.KILLED,
            S.CANCELLED,
            S.FAILED,
            S.SKIPPED,
            S.SUCCESS,
            S.WARNING,
            S.BREAKPOINT,
        }
    ),
    S.QUEUED: frozenset({S.CREATED, S.RUNNING, S.CANCELLED, S.FAILED, S.KILLING, S.KILLED}),
    S.SUBMITTED: frozenset({S.RUNNING, S.KILLING, S.KILLED, S.FAILED, S.RESUBMITTED}),
    S.BREAKPOINT: frozenset({S.RUNNING, S.KILLING, S.KILLED, S.CREATED}),
    S.RUNNING: frozenset(
        {
            S.SUCCESS,
            S.WARNING,
            S.FAILED,
            S.KILLING,
            S.KILLED,
            S.PAUSED,
            S.RETRYING,
            S.RETRIED,
            S.CANCELLED,
            S.SKIPPED,
        }
    ),
    S.PAUSED: frozenset(
        {S.RUNNING, S.KILLING, S.KILLED, S.FAILED, S.SUCCESS, S.WARNING, S.CANCELLED, S.RESTARTED}
    ),
    S.RETRYING: frozenset({S.RUNNING, S.RETRIED, S.FAILED, S.KILLING, S.KILLED, S.SUCCESS}),
    S.KILLING: frozenset({S.KILLED}),
    S.RESTARTED: frozenset({S.RUNNING, S.KILLING, S.KILLED, S.CREATED, S.QUEUED}),
    # Terminal states only leave through a restart (RESTARTED) or a forced status change.
    S.SUCCESS: frozenset({S.RESTARTED, S.WARNING, S.FAILED, S.KILLED, S.CANCELLED}),
    S.WARNING: frozenset({S.RESTARTED, S.SUCCESS, S.FAILED, S.KILLED, S.CANCELLED}),
    S.FAILED: frozenset({S.RESTARTED, S.SUCCESS, S.WARNING, S.KILLED, S.CANCELLED, S.RETRYING}),
    S.KILLED: frozenset({S.RESTARTED, S.SUCCESS, S.WARNING, S.FAILED, S.CANCELLED}),
    S.CANCELLED: frozenset({S.RESTARTED, S.SUCCESS, S.WARNING, S.FAILED, S.KILLED}),
    S.RETRIED: frozenset(),
    S.SKIPPED: frozenset(),
    S.RESUBMITTED: frozenset(),
}


def can_transition(current: StateType, target: StateType) -> bool:
    """Whether ``current`` may move to ``target`` (staying in place is always allowed)."""
    return current is target or target in TRANSITIONS[current]
