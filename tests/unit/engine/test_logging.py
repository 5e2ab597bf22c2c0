"""Task loggers, the engine's own lines and masking, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lanner.domain.executions import Attempt, Execution, State, TaskRun
from lanner.domain.logs import LogLevel
from lanner.domain.states import StateType
from lanner.engine.logging import (
    TaskLogger,
    execution_lines,
    human_duration,
    parse_level,
    simple_type,
)
from lanner.engine.runtime_functions import SecretMasks

S = StateType
L = LogLevel
T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def execution(state: StateType = S.RUNNING, *, attempt: int = 1) -> Execution:
    history = State.of(S.CREATED, T0)
    if state is not S.CREATED:
        history = history.to(S.RUNNING, T0 + timedelta(milliseconds=5))
    if state not in (S.CREATED, S.RUNNING):
        history = history.to(state, T0 + timedelta(seconds=61, milliseconds=250))
    return Execution(
        id="exec1",
        tenant_id="main",
        namespace="company.team",
        flow_id="hello",
        flow_revision=1,
        state=history,
        attempt_number=attempt,
    )


def task_run(state: StateType = S.RUNNING, at: datetime = T0, attempts: int = 1) -> TaskRun:
    return TaskRun(
        id="run1",
        tenant_id="main",
        execution_id="exec1",
        namespace="company.team",
        flow_id="hello",
        task_id="hello-task",
        state=State.of(state, at),
        attempts=tuple(Attempt(State.of(S.FAILED, at)) for _ in range(attempts)),
    )


def test_lines_carry_ids_attempt_and_a_utc_timestamp() -> None:
    logger = TaskLogger(execution(), task_run(), attempt=2)

    logger.log("info", "hello")

    (line,) = logger.lines
    assert (line.execution_id, line.task_run_id, line.task_id) == ("exec1", "run1", "hello-task")
    assert (line.namespace, line.flow_id, line.tenant_id) == ("company.team", "hello", "main")
    assert line.attempt_number == 2
    assert line.level is L.INFO
    assert line.timestamp.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("min_level", "kept"),
    [
        (L.TRACE, ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]),
        (L.INFO, ["INFO", "WARN", "ERROR"]),
        (L.ERROR, ["ERROR"]),
    ],
)
def test_log_level_of_the_task_filters(min_level: LogLevel, kept: list[str]) -> None:
    logger = TaskLogger(execution(), task_run(), attempt=1, min_level=min_level)

    for level in LogLevel:
        logger.log(level, level.value)

    assert [line.message for line in logger.lines] == kept


def test_secret_values_are_masked() -> None:
    masks = SecretMasks(["hunter22"])
    logger = TaskLogger(execution(), task_run(), attempt=1, masker=masks)
    masks.register("s3cr3t-token")

    logger.log(L.INFO, "password hunter22, token s3cr3t-token, user ada")

    assert logger.lines[0].message == "password ******, token ******, user ada"


def test_lines_logged_at_once_are_masked_each_even_holding_newlines() -> None:
    masks = SecretMasks(["hunter22", "ab\ncd"])  # lines under three characters: not masked
    logger = TaskLogger(execution(), task_run(), attempt=1, masker=masks)

    logger.log_many(L.WARN, ["a\nhunter22", "ab", "cd", "b hunter22"])
    logger.log_many(L.INFO, ["x ab", "cd y", "hunter22"])  # the secret spans two lines
    logger.log_many(L.INFO, ["one hunter22", "two ab\ncd"])

    assert [line.message for line in logger.lines] == [
        "a\n******", "ab", "cd", "b ******", "x ab", "cd y", "******", "one ******", "two ******"
    ]  # fmt: skip
    assert {line.level for line in logger.lines[:4]} == {L.WARN}
    assert logger.lines[0].timestamp == logger.lines[3].timestamp


@pytest.mark.parametrize(
    ("raw", "level"),
    [("info", L.INFO), ("WARNING", L.WARN), ("warn", L.WARN), (None, L.INFO), ("", L.INFO)],
)
def test_parse_level(raw: str | None, level: LogLevel) -> None:
    assert parse_level(raw) is level


def test_parse_level_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="LOUD"):
        parse_level("loud")


def test_kestra_wording_helpers() -> None:
    assert human_duration(timedelta(hours=1, minutes=2, seconds=3, milliseconds=45)) == (
        "01:02:03.045"
    )
    assert human_duration(None) == "00:00:00.000"
    assert simple_type("io.kestra.plugin.core.log.Log") == "Log"


def test_flow_started_when_the_execution_leaves_created() -> None:
    lines = execution_lines(execution(S.CREATED), execution(S.RUNNING), (), T0)

    assert [(line.level, line.message) for line in lines] == [(L.INFO, "Flow started")]
    assert lines[0].task_id is None
    assert lines[0].execution_id == "exec1"


def test_flow_completed_with_state_and_duration() -> None:
    lines = execution_lines(execution(S.RUNNING), execution(S.FAILED), (), T0)

    assert [line.message for line in lines] == ["Flow completed with state FAILED in 00:01:01.250"]


def test_kill_and_restart_are_logged() -> None:
    killing = execution_lines(execution(S.RUNNING), execution(S.KILLING), (), T0)
    restarted = execution_lines(execution(S.FAILED), execution(S.RESTARTED, attempt=2), (), T0)

    assert [(line.level, line.message) for line in killing] == [
        (L.WARN, "Execution is being killed")
    ]
    assert [line.message for line in restarted] == ["Execution restarted (attempt 2)"]


def test_no_line_without_a_state_change() -> None:
    assert execution_lines(execution(S.RUNNING), execution(S.RUNNING), (), T0) == []
    assert execution_lines(execution(S.RUNNING), None, (), T0) == []


def test_a_retry_is_logged_once_with_the_task_ids() -> None:
    retrying = task_run(S.RETRYING, at=T0, attempts=1)

    now = execution_lines(execution(), None, (retrying,), T0)
    later = execution_lines(execution(), None, (retrying,), T0 + timedelta(seconds=1))

    assert [(line.task_id, line.task_run_id, line.level) for line in now] == [
        ("hello-task", "run1", L.WARN)
    ]
    assert "failed on attempt 1" in now[0].message
    assert later == []
