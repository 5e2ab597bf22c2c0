"""``secret()``, ``kv()``, ``read()``, ``errorLogs()``, the ``kv.*`` tasks, SECRET inputs,
``envs`` and ``globals``: flows run by an engine wired as ``bootstrap`` wires it, on the real
store (SQLite and PostgreSQL) and local storage."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.engine.conftest import Harness

from lanner.bootstrap import build_engine
from lanner.config import Settings
from lanner.domain.executions import Execution, State, new_id
from lanner.domain.kv import KVType, KVValue
from lanner.domain.logs import LogLevel
from lanner.domain.states import StateType
from lanner.encryption import SecretCipher, secret_encrypter
from lanner.engine.feeds import WORK_TOPIC, ChangeFeed
from lanner.engine.runtime_functions import EngineRuntime, SecretMasks
from lanner.flows import parse_flow
from lanner.storage import LocalStorage, NamespaceFiles, input_file_path, uri_of
from lanner.store import Store
from lanner.templating import RuntimeScope

S = StateType
NS = "company.team"
RET = "io.kestra.plugin.core.debug.Return"
LOG = "io.kestra.plugin.core.log.Log"
KEY = bytes(range(32))


def flow(tasks: str, extra: str = "", flow_id: str = "f") -> str:
    return f"id: {flow_id}\nnamespace: {NS}\n{extra}tasks:\n{tasks}"


def ret(task_id: str, expression: str) -> str:
    return f'  - id: {task_id}\n    type: {RET}\n    format: "{expression}"\n'


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        secrets={"MY_TOKEN": "tok-3x4mple", "JSON_KEY": '{"a": 1}'},
        encryption_key=KEY,
        kestra_environ={"KESTRA_REGION": "eu-west"},
        globals={"team": "data", "limits": {"rows": 10}},
    )


@pytest.fixture
async def harness(store: Store, settings: Settings) -> AsyncIterator[Harness]:
    feed = ChangeFeed()
    engine = build_engine(settings, store, feed)
    await engine.start()
    try:
        yield Harness(store, feed, engine)
    finally:
        await engine.stop(grace_s=2.0)


@pytest.fixture
def files(settings: Settings) -> NamespaceFiles:
    return NamespaceFiles(LocalStorage(settings.storage_dir))


async def outputs_of(harness: Harness, source: str, **inputs: object) -> dict[str, object]:
    execution = await harness.run_flow(source, inputs)
    runs = await harness.runs(execution.id)
    errors = await messages(harness, execution.id, LogLevel.ERROR)
    assert execution.state.current is S.SUCCESS, errors
    return {task_id: (run.outputs or {}).get("value") for task_id, run in runs.items()}


async def messages(harness: Harness, execution_id: str, level: LogLevel) -> list[str]:
    logs = await harness.store.list_logs("main", execution_id, min_level=level)
    return [entry.message for entry in logs if entry.level is level]


# --- secret(), envs, globals ------------------------------------------------------------------


async def test_secret_envs_and_globals(harness: Harness) -> None:
    source = flow(
        ret("token", "{{ secret('my_token') }}")
        + ret("json", "{{ fromJson(secret('JSON_KEY')).a }}")
        + ret("context", "{{ envs.region }}/{{ globals.team }}/{{ globals.limits.rows }}")
    )
    assert await outputs_of(harness, source) == {
        "token": "tok-3x4mple",
        "json": "1",
        "context": "eu-west/data/10",
    }


async def test_a_secret_never_reaches_the_logs(harness: Harness) -> None:
    source = flow(
        f"  - id: log\n    type: {LOG}\n    message: \"token={{{{ secret('MY_TOKEN') }}}}\"\n"
    )
    execution = await harness.run_flow(source)
    assert execution.state.current is S.SUCCESS
    assert "token=******" in await messages(harness, execution.id, LogLevel.INFO)


async def test_an_unknown_secret_fails_the_task(harness: Harness) -> None:
    execution = await harness.run_flow(flow(ret("r", "{{ secret('NOPE') }}")))
    assert execution.state.current is S.FAILED
    errors = await messages(harness, execution.id, LogLevel.ERROR)
    assert any("Cannot find secret for key 'NOPE'." in message for message in errors)


# --- kv() and the kv.* tasks ------------------------------------------------------------------


async def test_kv_function_reads_the_store(harness: Harness) -> None:
    store = harness.store
    await store.put_kv("main", NS, "greeting", KVValue(KVType.STRING, "hi"))
    await store.put_kv("main", NS, "conf", KVValue(KVType.JSON, {"rows": [1, 2]}))
    await store.put_kv("main", "other.ns", "k", KVValue(KVType.NUMBER, 7))
    await store.put_kv("main", NS, "old", KVValue(KVType.STRING, "x"), ttl=timedelta(0))
    source = flow(
        ret("plain", "{{ kv('greeting') }}")
        + ret("json", "{{ kv('conf').rows | length }}")
        + ret("other", "{{ kv('k', 'other.ns') + 1 }}")
        + ret("missing", "{{ kv('absent') ?? 'none' }}")
        + ret("expired", "{{ kv('old') ?? 'gone' }}")
    )
    assert await outputs_of(harness, source) == {
        "plain": "hi", "json": "2", "other": "8", "missing": "none", "expired": "gone",
    }  # fmt: skip
    failing = flow(ret("r", "{{ kv('absent', errorOnMissing=true) }}"), flow_id="g")
    execution = await harness.run_flow(failing)
    assert execution.state.current is S.FAILED
    errors = await messages(harness, execution.id, LogLevel.ERROR)
    assert any("The key 'absent' does not exist" in message for message in errors)


async def test_kv_tasks_set_get_list_and_delete(harness: Harness) -> None:
    kv = "io.kestra.plugin.core.kv"
    source = flow(
        f"""  - id: set
    type: {kv}.Set
    key: "user_{{{{ 1 + 1 }}}}"
    value: {{"name": "ada", "tags": [1, 2]}}
  - id: set_number
    type: {kv}.Set
    key: count
    value: "{{{{ 40 + 2 }}}}"
    ttl: PT1H
  - id: set_duration
    type: {kv}.Set
    key: wait
    value: PT5S
    kvType: DURATION
  - id: get
    type: {kv}.Get
    key: user_2
  - id: keys
    type: {kv}.GetKeys
    prefix: user
  - id: delete
    type: {kv}.Delete
    key: count
  - id: delete_again
    type: {kv}.Delete
    key: count
  - id: read_back
    type: {RET}
    format: "{{{{ outputs.get.value.name }}}} {{{{ kv('wait') }}}}"
"""
    )
    execution = await harness.run_flow(source)
    runs = await harness.runs(execution.id)
    assert execution.state.current is S.SUCCESS, {k: r.state.current for k, r in runs.items()}
    assert runs["get"].outputs == {"value": {"name": "ada", "tags": [1, 2]}}
    assert runs["keys"].outputs == {"keys": ["user_2"]}
    assert runs["delete"].outputs == {"deleted": True}
    assert runs["delete_again"].outputs == {"deleted": False}
    assert runs["read_back"].outputs == {"value": "ada PT5S"}
    entries = {e.key: e for e in await harness.store.list_kv("main", NS)}
    assert sorted(entries) == ["user_2", "wait"]
    assert entries["user_2"].type is KVType.JSON
    assert entries["wait"].type is KVType.DURATION


async def test_kv_set_without_overwrite_and_get_with_error_on_missing_fail(
    harness: Harness,
) -> None:
    await harness.store.put_kv("main", NS, "taken", KVValue(KVType.STRING, "a"))
    kv = "io.kestra.plugin.core.kv"
    for flow_id, task in (
        ("nooverwrite", f"type: {kv}.Set\n    key: taken\n    value: b\n    overwrite: false"),
        ("missing", f"type: {kv}.Get\n    key: absent\n    errorOnMissing: true"),
        ("badkey", f"type: {kv}.Set\n    key: '-bad'\n    value: b"),
    ):
        source = flow(f"  - id: t\n    {task}\n", flow_id=flow_id)
        execution = await harness.run_flow(source)
        assert execution.state.current is S.FAILED, flow_id
    entry = await harness.store.get_kv("main", NS, "taken")
    assert entry is not None
    assert entry.value == "a"


# --- read(), fileSize(), fileExists() ---------------------------------------------------------


async def test_read_namespace_files_and_execution_files(
    harness: Harness, files: NamespaceFiles, settings: Settings
) -> None:
    await files.write("main", NS, "/scripts/query.sql", b"SELECT 1")
    source = flow(
        ret("ns", "{{ read('scripts/query.sql') }}")
        + ret("ns_uri", "{{ read(fileURI('/scripts/query.sql')) }}")
        + ret("nsfile", "{{ read('nsfile:///scripts/query.sql') }}")
        + ret("input", "{{ read(inputs.file) }}|{{ fileSize(inputs.file) }}")
        + ret("exists", "{{ fileExists(inputs.file) }}/{{ fileExists('nope.txt') }}"),
        "inputs:\n  - id: file\n    type: FILE\n",
    )
    revision = await harness.deploy(source)
    execution_id = new_id()
    path = input_file_path(NS, "f", execution_id, "file", "data.txt")
    await LocalStorage(settings.storage_dir).put("main", path, "héllo".encode())
    execution = Execution(
        id=execution_id, tenant_id="main", namespace=NS, flow_id="f", flow_revision=revision,
        state=State.of(S.CREATED, datetime.now(UTC)), inputs={"file": uri_of(path)},
    )  # fmt: skip
    await harness.store.create_execution(execution)
    harness.feed.publish(WORK_TOPIC)
    done = await harness.wait_for(execution_id)
    runs = await harness.runs(execution_id)
    assert done.state.current is S.SUCCESS, {k: r.state.current for k, r in runs.items()}
    values = {task_id: (run.outputs or {}).get("value") for task_id, run in runs.items()}
    assert values == {
        "ns": "SELECT 1",
        "ns_uri": "SELECT 1",
        "nsfile": "SELECT 1",
        "input": "héllo|6",
        "exists": "true/false",
    }


async def test_read_refuses_other_executions_files_and_missing_files(
    harness: Harness, settings: Settings
) -> None:
    other = input_file_path(NS, "f", "someoneelse", "file", "secret.txt")
    await LocalStorage(settings.storage_dir).put("main", other, b"not yours")
    for flow_id, expression, fragment in (
        ("a", f"{{{{ read('{uri_of(other)}') }}}}", "didn't belong to the current execution"),
        ("b", "{{ read('missing.txt') }}", "not found"),
        ("c", "{{ read('../escape.txt') }}", "illegal path segment"),
    ):
        execution = await harness.run_flow(flow(ret("r", expression), flow_id=flow_id))
        assert execution.state.current is S.FAILED, flow_id
        errors = await messages(harness, execution.id, LogLevel.ERROR)
        assert any(fragment in message for message in errors), (flow_id, errors)


# --- errorLogs() ------------------------------------------------------------------------------


async def test_error_logs_in_an_errors_branch(harness: Harness) -> None:
    source = flow(
        "  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n"
        "    errorMessage: disk on fire\n",
        "errors:\n" + ret("report", "{{ errorLogs()[0].taskId }}: {{ errorLogs()[0].message }}"),
    )
    execution = await harness.run_flow(source)
    assert execution.state.current is S.FAILED
    runs = await harness.runs(execution.id)
    assert runs["report"].state.current is S.SUCCESS
    assert runs["report"].outputs == {"value": "boom: disk on fire"}


# --- SECRET inputs ----------------------------------------------------------------------------


async def test_secret_input_is_stored_encrypted_and_rendered_clear(harness: Harness) -> None:
    source = flow(
        ret("clear", "{{ inputs.pw }}")
        + f'  - id: log\n    type: {LOG}\n    message: "pw={{{{ inputs.pw }}}}"\n',
        "inputs:\n  - id: pw\n    type: SECRET\n",
    )
    revision = await harness.deploy(source)
    from lanner.domain.input_values import coerce_inputs

    inputs = coerce_inputs(
        parse_flow(source).inputs, {"pw": "hunter22"}, encrypt=secret_encrypter(KEY)
    )
    assert inputs["pw"] != "hunter22"
    execution = Execution(
        id=new_id(), tenant_id="main", namespace=NS, flow_id="f", flow_revision=revision,
        state=State.of(S.CREATED, datetime.now(UTC)), inputs=inputs,
    )  # fmt: skip
    await harness.store.create_execution(execution)
    harness.feed.publish(WORK_TOPIC)
    done = await harness.wait_for(execution.id)
    assert done.state.current is S.SUCCESS
    assert SecretCipher(KEY).decrypt(done.inputs["pw"]) == "hunter22"
    runs = await harness.runs(execution.id)
    assert runs["clear"].outputs == {"value": "hunter22"}
    assert "pw=******" in await messages(harness, execution.id, LogLevel.INFO)


# --- the runtime itself -----------------------------------------------------------------------


async def test_runtime_calls_on_the_loop_thread_fail_fast(store: Store, tmp_path: Path) -> None:
    runtime = EngineRuntime(store, LocalStorage(tmp_path), {"A": "value-a"}, masks=SecretMasks())
    scope = RuntimeScope("main", NS, "f", "e1")
    with pytest.raises(RuntimeError, match="off the event loop"):
        runtime.kv(scope, NS, "k")
    await store.put_kv("main", NS, "k", KVValue(KVType.NUMBER, 5))
    assert await asyncio.to_thread(runtime.kv, scope, NS, "k") == 5
    with pytest.raises(LookupError):
        await asyncio.to_thread(runtime.kv, scope, NS, "absent")
    assert runtime.secret(scope, "a") == "value-a"
    assert runtime.masks.mask("x value-a y") == "x ****** y"
    assert runtime.decrypt_input("not encrypted") == "not encrypted"


async def test_flow_outputs_may_call_server_functions(harness: Harness) -> None:
    await harness.store.put_kv("main", NS, "color", KVValue(KVType.STRING, "blue"))
    outputs = (
        "outputs:\n"
        "  - id: color\n"
        "    type: STRING\n"
        "    value: \"{{ kv('color') }}-{{ outputs.r.value }}\"\n"
    )
    execution = await harness.run_flow(flow(ret("r", "sky"), extra=outputs, flow_id="outs"))
    assert execution.state.current is S.SUCCESS
    assert dict(execution.outputs) == {"color": "blue-sky"}
