"""The execution, log, state and templating tasks, end to end through the engine (both stores).

Each test covers a task's properties and outputs, and one bad property: refused at save (a 422
naming it, through the API's ``parse_for_save``) or a FAILED task with the reason in its logs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.engine.conftest import Harness

from lanner.domain.kv import KVType, KVValue
from lanner.domain.logs import LogEntry, LogLevel
from lanner.domain.murmur import hash_to_string
from lanner.domain.states import StateType
from lanner.engine.feeds import ChangeFeed
from lanner.engine.service import Engine
from lanner.errors import InvalidFlowError
from lanner.flows.runnability import parse_for_save
from lanner.storage import LocalStorage, path_of
from lanner.store import Store

S = StateType
EXE = "io.kestra.plugin.core.execution"
LOG = "io.kestra.plugin.core.log.Log"
RET = "io.kestra.plugin.core.debug.Return"
FLOWS = "io.kestra.plugin.core.flow"


def flow(tasks: str, extra: str = "", flow_id: str = "f", namespace: str = "company.team") -> str:
    return f"id: {flow_id}\nnamespace: {namespace}\n{extra}tasks:\n{tasks}"


async def messages(harness: Harness, execution_id: str, task_id: str) -> list[str]:
    logs = await harness.store.list_logs("main", execution_id, task_id=task_id)
    return [line.message for line in logs]


def refused(source: str) -> dict[str, str]:
    """The problems of a flow refused at save, by path."""
    with pytest.raises(InvalidFlowError) as caught:
        parse_for_save(source)
    return {detail.path: detail.message for detail in caught.value.details}


async def test_labels(harness: Harness) -> None:
    source = flow(
        f"""
  - id: by_map
    type: {EXE}.Labels
    labels:
      customer: "{{{{ 40 + 2 }}}}"
      team: data
  - id: by_list
    type: io.kestra.core.tasks.executions.Labels
    labels:
      - key: "{{{{ 'order' }}}}"
        value: first
      - key: team
        value: ops
  - id: by_json
    type: {EXE}.Labels
    labels: '{{{{ {{"mode": "json"}} | json }}}}'
  - id: seen
    type: {RET}
    format: "{{{{ labels.customer }}}} {{{{ labels.team }}}} {{{{ labels.mode }}}}"
  - id: system
    type: {EXE}.Labels
    labels:
      system.correlationId: nope
"""
    )
    execution_id = await harness.start(source)
    execution = await harness.wait_for(execution_id)
    assert execution.state.current is S.FAILED
    labels = {label.key: label.value for label in execution.labels}
    assert labels == {"customer": "42", "team": "ops", "order": "first", "mode": "json"}
    runs = await harness.runs(execution_id)
    assert runs["seen"].outputs == {"value": "42 ops json"}
    assert runs["system"].state.current is S.FAILED
    assert any(
        "System labels can only be set by Kestra itself, offending label: "
        "system.correlationId=nope" in line
        for line in await messages(harness, execution_id, "system")
    )
    stored = await harness.store.get_execution("main", execution_id)
    assert stored is not None
    assert {lb.key for lb in stored.labels} >= {"customer", "mode"}
    assert "tasks[0].labels" in refused(flow(f"  - id: t\n    type: {EXE}.Labels\n"))


async def test_set_variables(harness: Harness) -> None:
    source = flow(
        f"""
  - id: set
    type: {EXE}.SetVariables
    variables:
      message: Hello
      nested:
        b: "{{{{ 1 + 1 }}}}"
  - id: hello
    type: {RET}
    format: "{{{{ vars.message }}}} {{{{ vars.name }}}} {{{{ vars.nested.a }}}}{{{{ vars.nested.b }}}}"
  - id: again
    type: {EXE}.SetVariables
    overwrite: false
    variables:
      name: other
""",
        "variables:\n  name: World\n  nested:\n    a: 1\n",
    )
    execution_id = await harness.start(source)
    execution = await harness.wait_for(execution_id)
    assert execution.state.current is S.FAILED
    runs = await harness.runs(execution_id)
    assert runs["hello"].outputs == {"value": "Hello World 12"}
    assert execution.variables == {"name": "World", "message": "Hello", "nested": {"a": 1, "b": 2}}
    assert any(
        "`overwrite` is set to false and the following variables already exist: name" in line
        for line in await messages(harness, execution_id, "again")
    )
    problems = refused(flow(f"  - id: t\n    type: {EXE}.SetVariables\n    variables: [1]\n"))
    assert "tasks[0].variables" in problems


async def test_unset_variables(harness: Harness) -> None:
    source = flow(
        f"""
  - id: unset
    type: {EXE}.UnsetVariables
    variables:
      - name
      - nested.a
  - id: after
    type: {RET}
    format: "{{{{ vars.name | default('gone') }}}} {{{{ vars.nested }}}} {{{{ vars.keep }}}}"
  - id: tolerant
    type: {EXE}.UnsetVariables
    ignoreMissing: true
    variables: [missing]
  - id: strict
    type: {EXE}.UnsetVariables
    variables: [missing]
""",
        "variables:\n  name: World\n  keep: k\n  nested:\n    a: 1\n    b: 2\n",
    )
    execution_id = await harness.start(source)
    execution = await harness.wait_for(execution_id)
    assert execution.state.current is S.FAILED
    runs = await harness.runs(execution_id)
    assert runs["after"].outputs == {"value": 'gone {"b":2} k'}
    assert runs["tolerant"].state.current is S.SUCCESS
    assert execution.variables == {"keep": "k", "nested": {"b": 2}}
    assert any(
        "The variable 'missing' does not exist" in line
        for line in await messages(harness, execution_id, "strict")
    )


async def test_exit(harness: Harness) -> None:
    source = flow(
        f"""
  - id: if
    type: {FLOWS}.If
    condition: "{{{{ inputs.stop }}}}"
    then:
      - id: exit
        type: {EXE}.Exit
        state: "{{{{ inputs.state }}}}"
  - id: never
    type: {LOG}
    message: not reached
""",
        "inputs:\n  - id: stop\n    type: BOOLEAN\n  - id: state\n    type: STRING\n",
    )
    execution_id = await harness.start(source, {"stop": True, "state": "WARNING"})
    execution = await harness.wait_for(execution_id)
    assert execution.state.current is S.WARNING
    runs = await harness.runs(execution_id)
    assert runs["exit"].state.current is S.WARNING
    assert runs["if"].state.current is S.WARNING
    assert "never" not in runs
    killed = await harness.run_flow(source, {"stop": True, "state": "KILLED"})
    assert killed.state.current is S.KILLED
    bad = await harness.start(source, {"stop": True, "state": "DONE"})
    assert (await harness.wait_for(bad)).state.current is S.FAILED
    assert any("'DONE' is not one of" in m for m in await messages(harness, bad, "exit"))
    problems = refused(flow(f"  - id: t\n    type: {EXE}.Exit\n    state: DONE\n"))
    assert "tasks[0].state" in problems


async def test_kill(harness: Harness) -> None:
    paused = await harness.start(flow(f"  - id: wait\n    type: {FLOWS}.Pause\n", flow_id="paused"))
    await harness.wait_for(paused, S.PAUSED)
    source = flow(
        f"""
  - id: other
    type: {EXE}.Kill
    executionId: "{{{{ inputs.target }}}}"
  - id: parallel
    type: {FLOWS}.Parallel
    tasks:
      - id: sleep
        type: {FLOWS}.Sleep
        duration: PT30S
      - id: kill
        type: io.kestra.plugin.core.execution.Kill
        propagateKill: true
""",
        "inputs:\n  - id: target\n    type: STRING\n",
    )
    execution_id = await harness.start(source, {"target": paused})
    execution = await harness.wait_for(execution_id)
    assert execution.state.current is S.KILLED
    runs = await harness.runs(execution_id)
    assert runs["other"].state.current is S.SUCCESS
    assert runs["kill"].state.current is S.KILLED
    assert runs["sleep"].state.current is S.KILLED
    assert (await harness.wait_for(paused)).state.current is S.KILLED
    unknown = await harness.start(source, {"target": "nope"})
    assert (await harness.wait_for(unknown)).state.current is S.FAILED
    assert any(
        "No execution found for execution id nope" in line
        for line in await messages(harness, unknown, "other")
    )


async def test_resume(harness: Harness) -> None:
    paused_source = flow(
        f"""
  - id: wait
    type: {FLOWS}.Pause
    onResume:
      - id: answer
        type: INT
  - id: after
    type: {RET}
    format: "{{{{ outputs.wait.onResume.answer + 1 }}}}"
""",
        flow_id="paused",
    )
    paused = await harness.start(paused_source)
    await harness.wait_for(paused, S.PAUSED)
    source = flow(
        f"""
  - id: resume
    type: {EXE}.Resume
    namespace: company.team
    flowId: paused
    executionId: "{{{{ inputs.target }}}}"
    inputs:
      answer: "{{{{ inputs.answer }}}}"
  - id: seen
    type: {RET}
    format: "{{{{ vars.resumedExecution.flowId }}}}"
""",
        "inputs:\n  - id: target\n    type: STRING\n  - id: answer\n    type: STRING\n",
    )
    execution_id = await harness.start(source, {"target": paused, "answer": "42"})
    execution = await harness.wait_for(execution_id)
    assert execution.state.current is S.SUCCESS
    assert execution.variables["resumedExecution"] == {
        "id": paused, "namespace": "company.team", "flowId": "paused",
    }  # fmt: skip
    assert (await harness.runs(execution_id))["seen"].outputs == {"value": "paused"}
    resumed = await harness.wait_for(paused)
    assert resumed.state.current is S.SUCCESS
    assert (await harness.runs(paused))["after"].outputs == {"value": "43"}  # typed INT
    again = await harness.start(source, {"target": paused, "answer": "1"})  # ended: not paused
    assert (await harness.wait_for(again)).state.current is S.FAILED
    assert any("is not paused" in m for m in await messages(harness, again, "resume"))
    other = await harness.start(paused_source)
    await harness.wait_for(other, S.PAUSED)
    bad = await harness.start(source, {"target": other, "answer": "many"})
    assert (await harness.wait_for(bad)).state.current is S.FAILED
    assert any(
        "Invalid resume inputs: inputs.answer" in m for m in await messages(harness, bad, "resume")
    )
    assert (await harness.store.get_execution("main", other)).state.current is S.PAUSED  # type: ignore[union-attr]
    mixed = flow(f"  - id: t\n    type: {EXE}.Resume\n    flowId: paused\n")
    refused_run = await harness.start(mixed)
    assert (await harness.wait_for(refused_run)).state.current is S.FAILED
    assert any(
        "`namespace` and `flowId` should only be set when `executionId` is set." in m
        for m in await messages(harness, refused_run, "t")
    )


async def test_assert(harness: Harness) -> None:
    source = flow(
        f"""
  - id: ok
    type: {EXE}.Assert
    conditions:
      - "{{{{ inputs.n == 2 }}}}"
      - "yes"
  - id: ko
    type: {EXE}.Assert
    errorMessage: "n was {{{{ inputs.n }}}}"
    conditions:
      - "{{{{ inputs.n == 3 }}}}"
      - "0"
      - "{{{{ true }}}}"
""",
        "inputs:\n  - id: n\n    type: INT\n",
    )
    execution_id = await harness.start(source, {"n": 2})
    assert (await harness.wait_for(execution_id)).state.current is S.FAILED
    runs = await harness.runs(execution_id)
    assert runs["ok"].state.current is S.SUCCESS
    lines = await messages(harness, execution_id, "ko")
    assert "Assertion `{{ inputs.n == 3 }}` failed!" in lines
    assert "Assertion `0` failed!" in lines
    assert any(line == "2 assertions failed!\nn was 2" for line in lines)
    assert "tasks[0].conditions" in refused(flow(f"  - id: t\n    type: {EXE}.Assert\n"))


async def test_count(harness: Harness) -> None:
    counted = flow(f"  - id: t\n    type: {LOG}\n    message: hi\n", flow_id="counted")
    for _ in range(2):
        await harness.run_flow(counted)
    await harness.deploy(flow(f"  - id: t\n    type: {LOG}\n    message: hi\n", flow_id="idle"))
    source = flow(
        f"""
  - id: by_flows
    type: {EXE}.Count
    expression: "{{{{ count >= 0 }}}}"
    startDate: "{{{{ now() | dateAdd(-1, 'HOURS') }}}}"
    states: [SUCCESS]
    flows:
      - namespace: company.team
        flowId: counted
      - namespace: company.team
        flowId: idle
  - id: by_namespace
    type: io.kestra.core.tasks.executions.Counts
    expression: "{{{{ count >= 2 }}}}"
    startDate: "{{{{ now() | dateAdd(-1, 'HOURS') }}}}"
    endDate: "{{{{ now() | dateAdd(1, 'HOURS') }}}}"
    namespaces: [company.team]
  - id: neither
    type: {EXE}.Count
    expression: "{{{{ true }}}}"
    startDate: "{{{{ now() }}}}"
"""
    )
    execution_id = await harness.start(source)
    assert (await harness.wait_for(execution_id)).state.current is S.FAILED
    runs = await harness.runs(execution_id)
    assert runs["by_flows"].outputs == {
        "results": [
            {"namespace": "company.team", "flowId": "counted", "count": 2},
            {"namespace": "company.team", "flowId": "idle", "count": 0},
        ],
        "total": 2,
    }
    assert runs["by_namespace"].outputs == {
        "results": [{"namespace": "company.team", "count": 3}],  # this one included
        "total": 3,
    }
    assert any(
        "You must provide a list of flows or namespaces." in line
        for line in await messages(harness, execution_id, "neither")
    )
    problems = refused(flow(f"  - id: t\n    type: {EXE}.Count\n    startDate: x\n"))
    assert "tasks[0].expression" in problems


async def test_purge_executions(harness: Harness) -> None:
    old = flow(f"  - id: t\n    type: {LOG}\n    message: old\n", flow_id="old")
    purged = [(await harness.run_flow(old)).id for _ in range(3)]
    kept = (await harness.run_flow(flow(f"  - id: t\n    type: {RET}\n    format: x\n"))).id
    source = flow(
        """
  - id: purge
    type: io.kestra.plugin.core.storage.Purge
    namespace: company
    flowId: old
    endDate: "{{ now() }}"
    states: [SUCCESS]
    batchSize: 2
""",
        flow_id="purger",
    )
    execution_id = await harness.start(source)
    assert (await harness.wait_for(execution_id)).state.current is S.SUCCESS
    outputs = (await harness.runs(execution_id))["purge"].outputs
    assert outputs is not None
    assert outputs["executionsCount"] == 3
    assert outputs["logsCount"] >= 3
    assert outputs["taskOutputsCount"] == 0
    for gone in purged:
        assert await harness.store.get_execution("main", gone) is None
        assert await harness.store.list_logs("main", gone) == []
    assert await harness.store.get_execution("main", kept) is not None
    assert "tasks[0].endDate" in refused(flow(f"  - id: t\n    type: {EXE}.PurgeExecutions\n"))


@pytest.fixture
async def files_harness(
    store: Store, tmp_path: Path
) -> AsyncIterator[tuple[Harness, LocalStorage]]:
    feed = ChangeFeed()
    storage = LocalStorage(tmp_path / "storage")
    engine = Engine(store, feed, worker_concurrency=4, storage=storage)
    await engine.start()
    try:
        yield Harness(store, feed, engine), storage
    finally:
        await engine.stop(grace_s=2.0)


async def test_fetch(files_harness: tuple[Harness, LocalStorage]) -> None:
    source = flow(
        f"""
  - id: hello
    type: {LOG}
    message: Hello World
  - id: error_message
    type: {LOG}
    level: ERROR
    message: "This is an \\"error\\""
  - id: fetch
    type: {"io.kestra.plugin.core.log.Fetch"}
    executionId: "{{{{ execution.id }}}}"
    level: ERROR
  - id: fetch_task
    type: io.kestra.core.tasks.log.Fetch
    tasksId: [hello]
"""
    )
    harness, storage = files_harness
    execution_id = await harness.start(source)
    assert (await harness.wait_for(execution_id)).state.current is S.SUCCESS
    runs = await harness.runs(execution_id)
    fetched = runs["fetch"].outputs or {}
    assert fetched["size"] == 1
    assert str(fetched["uri"]).endswith(".ion")
    assert (runs["fetch_task"].outputs or {})["size"] == 3  # started, the line, completed
    content = (await storage.read_bytes("main", path_of(str(fetched["uri"])))).decode()
    assert content.startswith("{")
    assert content.count("\n") == 1
    assert '"message":"This is an \\"error\\""' in content
    assert '"level":"ERROR"' in content
    assert '"taskId":"error_message"' in content
    assert "tasks[0].level" in refused(
        flow("  - id: t\n    type: io.kestra.plugin.core.log.Fetch\n    level: LOUD\n")
    )


async def test_purge_logs(harness: Harness) -> None:
    earlier = await harness.run_flow(
        flow(f"  - id: t\n    type: {LOG}\n    message: old\n", flow_id="noisy")
    )
    trigger_line = LogEntry(
        tenant_id="main", namespace="company.team", flow_id="noisy", trigger_id="schedule",
        level=LogLevel.INFO, message="trigger", timestamp=datetime.now(UTC) - timedelta(seconds=5),
    )  # fmt: skip
    await harness.store.add_logs([trigger_line])
    source = flow(
        """
  - id: purge_info
    type: io.kestra.plugin.core.log.PurgeLogs
    namespace: company
    flowId: noisy
    logLevels: [INFO]
    startDate: "{{ now() | dateAdd(-1, 'HOURS') }}"
    endDate: "{{ now() }}"
    purgeNonExecutionLogs: false
  - id: purge_rest
    type: io.kestra.plugin.core.log.PurgeLogs
    flowId: noisy
    namespace: company.team
    endDate: "{{ now() }}"
""",
        flow_id="purger",
    )
    execution_id = await harness.start(source)
    assert (await harness.wait_for(execution_id)).state.current is S.SUCCESS
    runs = await harness.runs(execution_id)
    first = runs["purge_info"].outputs or {}
    assert first["executionLogsCount"] >= 1
    assert first["nonExecutionLogsCount"] == 0
    assert first["count"] == first["executionLogsCount"]
    assert (runs["purge_rest"].outputs or {})["nonExecutionLogsCount"] == 1
    assert await harness.store.list_logs("main", earlier.id) == []
    assert await harness.store.list_logs("main", execution_id) != []  # another flow's
    assert "tasks[0].endDate" in refused(
        flow("  - id: t\n    type: io.kestra.plugin.core.log.PurgeLogs\n")
    )


async def test_purge_kv(harness: Harness) -> None:
    store = harness.store
    for namespace, key, ttl in (
        ("company.team", "AI_old", timedelta(seconds=-1)),
        ("company.team", "other_old", timedelta(seconds=-1)),
        ("company.team", "live_key", None),
        ("company.team.child", "AI_live", None),
        ("elsewhere", "AI_old", timedelta(seconds=-1)),
    ):
        await store.put_kv("main", namespace, key, KVValue(KVType.STRING, "v"), ttl=ttl)
    await harness.deploy(
        flow(f"  - id: t\n    type: {LOG}\n    message: x\n", "", "x", "elsewhere")
    )
    source = flow(
        """
  - id: expired
    type: io.kestra.plugin.core.kv.PurgeKV
    namespaces: [company]
    keyPattern: "AI_*"
  - id: all
    type: io.kestra.plugin.core.kv.PurgeKV
    namespacePattern: "company.*"
    behavior:
      type: key
      expiredOnly: false
  - id: both
    type: io.kestra.plugin.core.kv.PurgeKV
    namespaces: [company]
    namespacePattern: "company.*"
"""
    )
    execution_id = await harness.start(source)
    assert (await harness.wait_for(execution_id)).state.current is S.FAILED
    runs = await harness.runs(execution_id)
    assert runs["expired"].outputs == {"size": 1}
    assert runs["all"].outputs == {"size": 2}  # other_old (expired) and live_key
    assert await store.list_kv("main", "company.team") == []
    # namespaces come from the flows (as Kestra): one without flows is only purged when named
    assert [e.key for e in await store.list_kv("main", "company.team.child")] == ["AI_live"]
    assert await store.expired_kv_keys("main", "elsewhere") == ["AI_old"]
    assert any(
        "can't be used at the same time" in line
        for line in await messages(harness, execution_id, "both")
    )
    problems = refused(
        flow(
            "  - id: t\n    type: io.kestra.plugin.core.kv.PurgeKV\n    behavior:\n      type: x\n"
        )
    )
    assert any(path.startswith("tasks[0].behavior") for path in problems)


async def test_state_tasks(harness: Harness) -> None:
    source = flow(
        f"""
  - id: set
    type: io.kestra.plugin.core.state.Set
    data:
      a: "{{{{ 1 + 1 }}}}"
  - id: merge
    type: io.kestra.core.tasks.states.Set
    data:
      b: x
  - id: if
    type: {FLOWS}.If
    condition: "{{{{ true }}}}"
    then:
      - id: each
        type: {FLOWS}.ForEach
        values: ["v1", "v2"]
        tasks:
          - id: iteration
            type: io.kestra.plugin.core.state.Set
            name: loop
            data:
              value: "{{{{ taskrun.value }}}}"
          - id: read_shared
            type: io.kestra.plugin.core.state.Get
            name: chain
            taskrunValue: false
          - id: chain
            type: io.kestra.plugin.core.state.Set
            name: chain
            taskrunValue: false
            data:
              value: "{{{{ (currentEachOutput(outputs.read_shared).data.value ?? 'null') ~ '-' ~ taskrun.value }}}}"
  - id: shared
    type: io.kestra.plugin.core.state.Set
    namespace: true
    data:
      c: 1
  - id: get
    type: io.kestra.plugin.core.state.Get
  - id: delete
    type: io.kestra.plugin.core.state.Delete
  - id: deleted_again
    type: io.kestra.plugin.core.state.Delete
  - id: missing
    type: io.kestra.plugin.core.state.Get
    errorOnMissing: true
""",
        flow_id="My_Flow.v2",
    )
    execution_id = await harness.start(source)
    assert (await harness.wait_for(execution_id)).state.current is S.FAILED
    runs = await harness.runs(execution_id)
    assert runs["set"].outputs == {"count": 1, "key": "my-flowv2_states_tasks-states_default"}
    assert runs["merge"].outputs == {"count": 2, "key": "my-flowv2_states_tasks-states_default"}
    loop_key = f"my-flowv2_states_tasks-states_loop_{hash_to_string('v1')}"
    assert (runs["iteration[v1]"].outputs or {})["key"] == loop_key
    assert (runs["shared"].outputs or {})["key"] == "states_tasks-states_default"
    assert runs["get"].outputs == {"count": 2, "data": {"a": 2, "b": "x"}}
    assert runs["delete"].outputs == {"deleted": True}
    assert runs["deleted_again"].outputs == {"deleted": False}
    assert any(
        "State my-flowv2_states_tasks-states_default not found" in line
        for line in await messages(harness, execution_id, "missing")
    )
    chained = runs["chain[v2]"].outputs or {}
    assert chained["key"] == "my-flowv2_states_tasks-states_chain"
    chain_state = await harness.store.get_kv("main", "company.team", str(chained["key"]))
    assert chain_state is not None
    assert chain_state.value == {"value": "null-v1-v2"}
    loop_state = await harness.store.get_kv("main", "company.team", loop_key)
    assert loop_state is not None
    assert loop_state.value == {"value": "v1"}


def test_murmur3_matches_guava() -> None:
    # Guava's MurmurHash3 test vector (seed 0): h1 0xe34bbc7bbc071b6c, h2 0x7a433ca9c49a9347.
    fox = "The quick brown fox jumps over the lazy dog"
    assert hash_to_string(fox) == "6c1b07bc7bbc4be347939ac4a93c437a"


async def test_templated_task(harness: Harness) -> None:
    source = flow(
        f"""
  - id: templated
    type: io.kestra.plugin.core.templating.TemplatedTask
    spec: |
      type: {RET}
      format: "{{{{ inputs.word | upper }}}}"
  - id: recursive
    type: io.kestra.core.tasks.templating.TemplatedTask
    spec: |
      type: io.kestra.plugin.core.templating.TemplatedTask
      spec: x
""",
        "inputs:\n  - id: word\n    type: STRING\n",
    )
    execution_id = await harness.start(source, {"word": "ada"})
    assert (await harness.wait_for(execution_id)).state.current is S.FAILED
    runs = await harness.runs(execution_id)
    assert runs["templated"].outputs == {"value": "ADA"}
    assert any(
        "The templated task cannot be of type" in line
        for line in await messages(harness, execution_id, "recursive")
    )
    problems = refused(
        flow("  - id: t\n    type: io.kestra.plugin.core.templating.TemplatedTask\n")
    )
    assert "tasks[0].spec" in problems


def test_template_is_refused_with_its_reason() -> None:
    problems = refused(
        flow(f"  - id: t\n    type: {FLOWS}.Template\n    namespace: a\n    templateId: b\n")
    )
    message = problems["tasks[0].type"]
    assert "io.kestra.plugin.core.flow.Template is not supported by this server" in message
    assert "flow.Subflow" in message
