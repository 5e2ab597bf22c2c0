"""Task types as classes: the registry resolves a type to its class, builds it from a spec's
properties and the engine calls ``run`` with a :class:`RunContext` (here a small fake)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest

from lanner.domain.executions import Execution, State, TaskRun
from lanner.domain.logs import LogLevel
from lanner.domain.states import StateType
from lanner.engine.task_context import TaskContext
from lanner.flows import parse_flow
from lanner.tasks.base import Task, Text
from lanner.tasks.catalog import CORE_FAMILIES
from lanner.tasks.context import Outputs, RunContext, Runnable
from lanner.tasks.core.debug import Return
from lanner.tasks.core.execution import Fail
from lanner.tasks.core.log import Log
from lanner.tasks.failures import TaskFailure
from lanner.tasks.registry import TypeRegistry, core_models, default_registry, has_runtime
from lanner.templating import TemplateEngine, TemplateError

NOW = datetime(2026, 1, 1, tzinfo=UTC)
EXECUTION = Execution(
    id="e1", tenant_id="main", namespace="company.team", flow_id="f", flow_revision=1,
    state=State.of(StateType.RUNNING, NOW),
)  # fmt: skip


@dataclass
class FakeLog:
    lines: list[tuple[str, str]] = field(default_factory=list)

    def is_enabled(self, level: LogLevel) -> bool:
        return level is not LogLevel.TRACE

    def log(self, level: LogLevel | str, message: str) -> None:
        self.lines.append((str(level), message))

    async def alog(self, level: LogLevel | str, message: str) -> None:
        self.log(level, message)

    async def alog_many(self, level: LogLevel, messages: Sequence[str]) -> None:
        for message in messages:
            self.log(level, message)


@dataclass
class FakeContext:
    """Renders with a real template engine over ``variables``; nothing else is served."""

    variables: Mapping[str, Any] = field(default_factory=dict)
    logger: FakeLog = field(default_factory=FakeLog)
    templates: TemplateEngine = field(default_factory=TemplateEngine)
    execution: Execution = EXECUTION
    attempt: int = 1
    kv: Any = None
    store: Any = None
    effects: dict[str, Any] = field(default_factory=dict)

    @property
    def task_run(self) -> TaskRun:
        raise NotImplementedError

    async def render(self, value: Any) -> str | None:
        return None if value is None else str(self.templates.render_tree(value, self.variables))

    async def render_typed(self, value: Any) -> Any:
        return self.templates.render_tree(value, self.variables, typed=True)

    async def render_with(self, value: Any, extra: Mapping[str, Any]) -> str | None:
        variables = {**self.variables, **extra}
        return None if value is None else str(self.templates.render_tree(value, variables))

    def update_execution(self, kind: str, value: Any) -> None:
        self.effects[kind] = value

    async def delete_execution_files(self, namespace: str, flow_id: str, execution_id: str) -> bool:
        raise NotImplementedError

    async def secret(self, key: str) -> str:
        raise NotImplementedError

    def metric(
        self,
        name: str,
        value: float,
        *,
        kind: str = "counter",
        tags: Mapping[str, str] | None = None,
    ) -> None:
        raise NotImplementedError

    async def put_file(self, name: str, content: bytes | Path) -> str:
        raise NotImplementedError

    async def read_file(self, uri: str) -> bytes:
        raise NotImplementedError

    def working_directory(self) -> Path:
        raise NotImplementedError

    def output_directory(self) -> Path:
        raise NotImplementedError

    async def copy_namespace_files(
        self, target: Path, include: Sequence[str] | None, exclude: Sequence[str] | None
    ) -> list[str]:
        raise NotImplementedError

    def is_cancelled(self) -> bool:
        return False


class Greet(Task):
    """A third-party style task: one property, one output, one log line."""

    TYPE: ClassVar[str] = "com.example.Greet"

    name: Text

    async def run(self, ctx: RunContext) -> Outputs:
        who = await ctx.render(self.name)
        ctx.logger.log(LogLevel.INFO, f"greeting {who}")
        return {"greeting": f"hello {who}"}


def _properties(source_task: str) -> Mapping[str, Any]:
    flow = parse_flow(f"id: f\nnamespace: company.team\ntasks:\n{source_task}")
    return flow.tasks[0].properties


def test_the_registry_builds_the_class_from_the_spec_properties() -> None:
    properties = _properties(
        "  - id: t\n    type: io.kestra.plugin.core.debug.Return\n    format: '{{ who }}'\n"
    )
    task = default_registry.runnable("io.kestra.plugin.core.debug.Return", properties)
    assert isinstance(task, Return)
    assert task.format == "{{ who }}"  # expressions stay as declared until run renders them
    assert isinstance(task, Runnable)


async def test_run_renders_through_the_context_and_returns_outputs() -> None:
    task = default_registry.runnable(
        "io.kestra.plugin.core.debug.Return", {"id": "t", "type": "x", "format": "{{ who }}"}
    )
    assert await task.run(FakeContext({"who": "ada"})) == {"value": "ada"}


async def test_log_writes_each_message_at_its_level() -> None:
    ctx = FakeContext({"n": 2})
    task = Log(id="t", type=Log.TYPE, message=["one", "{{ n }}"], level="WARN")
    assert await task.run(ctx) is None
    assert ctx.logger.lines == [("WARN", "one"), ("WARN", "2")]


async def test_log_keeps_the_order_of_many_messages_across_chunks() -> None:
    messages: list[Any] = [f"line {i}" if i % 7 else f"{{{{ n }}}} at {i}" for i in range(1203)]
    messages[5] = 42  # a number prints as text
    ctx = FakeContext({"n": "tpl"})
    await Log(id="t", type=Log.TYPE, message=messages).run(ctx)
    expected = [f"line {i}" if i % 7 else f"tpl at {i}" for i in range(1203)]
    expected[5] = "42"
    assert ctx.logger.lines == [("INFO", text) for text in expected]


async def test_log_writes_the_messages_before_one_that_fails_to_render() -> None:
    ctx = FakeContext()
    task = Log(id="t", type=Log.TYPE, message=["one", "two", "{{ broken( }}", "never"])
    with pytest.raises(TemplateError, match="broken"):
        await task.run(ctx)
    assert ctx.logger.lines == [("INFO", "one"), ("INFO", "two")]


async def test_fail_raises_a_task_failure_only_when_its_condition_holds() -> None:
    with pytest.raises(TaskFailure, match="boom"):
        await Fail(id="t", type=Fail.TYPE, errorMessage="boom").run(FakeContext())
    quiet = Fail(id="t", type=Fail.TYPE, condition="{{ bad }}")
    assert await quiet.run(FakeContext({"bad": False})) is None


def test_a_type_without_run_or_unknown_fails_without_retry() -> None:
    for name in ("io.kestra.plugin.core.flow.Template", "com.example.Nothing"):
        with pytest.raises(TaskFailure, match="cannot run on this server yet") as caught:
            default_registry.runnable(name, {"id": "t", "type": name})
        assert caught.value.retryable is False


def test_invalid_properties_fail_without_retry() -> None:
    with pytest.raises(TaskFailure, match="invalid properties") as caught:
        default_registry.runnable(Log.TYPE, {"id": "t", "type": Log.TYPE, "mesage": "typo"})
    assert caught.value.retryable is False


async def test_a_registered_class_runs_like_a_core_one() -> None:
    registry = TypeRegistry((Greet,), families=CORE_FAMILIES, use_entry_points=False)
    task = registry.runnable("com.example.greet", {"id": "t", "type": "com.example.Greet",
                                                   "name": "{{ who }}"})  # fmt: skip
    ctx = FakeContext({"who": "ada"})
    assert await task.run(ctx) == {"greeting": "hello ada"}
    assert ctx.logger.lines == [("INFO", "greeting ada")]


def test_runtime_is_run_flowable_or_engine_resolved() -> None:
    by_type = {model.TYPE.split(".", 4)[-1]: model for model in core_models()}
    runnable = ("log.Log", "debug.Return", "output.OutputValues", "execution.Fail", "kv.Set")
    for name in (*runnable, "kv.Put", "kv.Get", "kv.GetKeys", "kv.Delete", "flow.Sleep"):
        assert has_runtime(by_type[name]), name
    flowables = ("flow.Sequential", "flow.If", "flow.ForEach", "flow.Pause", "flow.Subflow",
                 "flow.Loop")  # fmt: skip
    for name in (*flowables, "flow.ForEachItem"):
        assert has_runtime(by_type[name]), name
    runnable = ("http.Request", "http.Download", "storage.Split", "namespace.UploadFiles",
                "kv.PurgeKV", "log.PurgeLogs", "execution.PurgeExecutions", "state.Set",
                "templating.TemplatedTask", "flow.ForEachItem")  # fmt: skip
    for name in runnable:
        assert has_runtime(by_type[name]), name
    assert not has_runtime(by_type["flow.Template"])  # the only core type with no runtime


async def test_the_engine_context_is_a_run_context(tmp_path: Path) -> None:
    spec = parse_flow(
        "id: f\nnamespace: company.team\ntasks:\n  - id: t\n"
        "    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    ).tasks[0]
    run = TaskRun(
        id="r1", tenant_id="main", execution_id=EXECUTION.id, namespace="company.team",
        flow_id="f", task_id="t", state=State.of(StateType.RUNNING, NOW),
    )  # fmt: skip
    engine_ctx = TaskContext(spec, run, EXECUTION, {}, TemplateEngine(), 1, work_root=tmp_path)
    ctx: RunContext = engine_ctx
    assert ctx.task_run is run
    workdir = ctx.working_directory()
    assert workdir.is_dir()
    assert workdir.parent == tmp_path
    assert ctx.working_directory() == workdir  # one per attempt
    assert await ctx.render("{{ workingDir }}") == str(workdir)
    with pytest.raises(TaskFailure) as caught:  # no internal storage given
        await ctx.put_file("a.txt", b"x")
    assert caught.value.retryable is False
    engine_ctx.close()
    assert not workdir.exists()
