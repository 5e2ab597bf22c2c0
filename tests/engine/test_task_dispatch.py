"""The engine runs a task through its class: a registered class's ``run``, and a type with no
runtime here (a flow saved before such flows were refused) fails once, without retries, on the
real store (both backends)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import pytest
from tests.engine.conftest import Harness

from lanner.domain.logs import LogLevel
from lanner.domain.states import StateType
from lanner.tasks.base import Task
from lanner.tasks.registry import default_registry

S = StateType


class NoRuntime(Task):
    """A known type with no ``run`` (every core type has one now)."""

    TYPE: ClassVar[str] = "io.lanner.tests.NoRuntime"


@pytest.fixture
def no_runtime_type() -> Iterator[None]:
    default_registry.register(NoRuntime)
    yield
    default_registry._by_name.pop(NoRuntime.TYPE.lower(), None)


@pytest.mark.usefixtures("no_runtime_type")
async def test_a_type_without_runtime_fails_once_despite_its_retry_policy(
    harness: Harness,
) -> None:
    source = (
        "id: unrunnable\nnamespace: company.team\n"
        "tasks:\n"
        "  - id: fetch\n    type: io.lanner.tests.NoRuntime\n"
        "    retry:\n      type: constant\n      interval: PT0.1S\n      maxAttempt: 5\n"
    )
    execution = await harness.run_flow(source)  # the harness stores it as parse_flow accepts it
    assert execution.state.current is S.FAILED
    run = (await harness.runs(execution.id))["fetch"]
    assert run.state.current is S.FAILED
    assert len(run.attempts) == 1
    errors = await harness.store.list_logs("main", execution.id, min_level=LogLevel.ERROR)
    assert [e.message for e in errors] == [
        "task type io.lanner.tests.NoRuntime cannot run on this server yet"
    ]


async def test_a_stored_template_task_fails_instead_of_ending_empty(harness: Harness) -> None:
    source = (
        "id: templated\nnamespace: company.team\n"
        "tasks:\n"
        "  - id: t\n    type: io.kestra.plugin.core.flow.Template\n"
        "    namespace: a\n    templateId: b\n"
    )
    execution = await harness.run_flow(source)  # saving refuses it; a stored one must not pass
    assert execution.state.current is S.FAILED
    run = (await harness.runs(execution.id))["t"]
    assert run.state.current is S.FAILED
    errors = await harness.store.list_logs("main", execution.id, min_level=LogLevel.ERROR)
    assert [e.message for e in errors] == [
        "task type io.kestra.plugin.core.flow.Template cannot run on this server yet"
    ]


async def test_core_classes_run_with_rendered_properties(harness: Harness) -> None:
    source = (
        "id: classes\nnamespace: company.team\n"
        "tasks:\n"
        "  - id: put\n    type: io.kestra.plugin.core.kv.Set\n    key: k\n    value: 42\n"
        "  - id: get\n    type: io.kestra.plugin.core.kv.Get\n    key: \"{{ 'k' }}\"\n"
        "  - id: out\n    type: io.kestra.plugin.core.output.OutputValues\n"
        "    values:\n      doubled: '{{ outputs.get.value * 2 }}'\n"
    )
    execution = await harness.run_flow(source)
    errors = await harness.store.list_logs("main", execution.id, min_level=LogLevel.ERROR)
    assert execution.state.current is S.SUCCESS, [e.message for e in errors]
    runs = await harness.runs(execution.id)
    assert runs["get"].outputs == {"value": 42}
    assert runs["out"].outputs == {"values": {"doubled": 84}}
