"""The engine's one door: ``Submitter.submit`` against the real store (both backends)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.engine.conftest import Harness

from lanner.domain.executions import ExecutionTrigger
from lanner.domain.kv import infer_value
from lanner.domain.labels import Label
from lanner.domain.states import StateType
from lanner.encryption import NOT_CONFIGURED, SecretCipher, secret_encrypter
from lanner.engine.feeds import WORK_TOPIC, ChangeFeed
from lanner.engine.runtime_functions import EngineRuntime
from lanner.engine.submit import FileUpload, FlowRef, Submitter, rerun_of
from lanner.errors import ConflictError, NotFoundError, StoreUnavailableError, ValidationError
from lanner.flows import flow_document, parse_flow
from lanner.storage import LocalStorage, execution_prefix, input_file_path, path_of
from lanner.store import NewFlowRevision, Store, StoredFlow
from lanner.templating import TemplateEngine

NS = "company.team"
KEY = bytes(range(32))
SOURCE = """
id: inputs
namespace: company.team
labels:
  team: data
variables:
  greeting: hi
inputs:
  - id: count
    type: INT
  - id: name
    type: STRING
    defaults: "{{ flow.id }}-{{ inputs.count }}"
  - id: extra
    type: STRING
    required: false
    dependsOn:
      inputs: [count]
      condition: "{{ inputs.count > 1 }}"
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.name }}"
"""


def source_with(inputs: str, flow_id: str = "other") -> str:
    return (
        f"id: {flow_id}\nnamespace: {NS}\ninputs:\n{inputs}"
        "tasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    )


async def deploy(store: Store, source: str, *, disabled: bool = False) -> StoredFlow:
    flow = parse_flow(source)
    current = await store.get_flow("main", flow.namespace, flow.id)
    revision = NewFlowRevision(
        "main", flow.namespace, flow.id, source, flow_document(flow), disabled=disabled
    )
    return await store.add_flow_revision(
        revision, expected_revision=current.revision if current else None
    )


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "storage")


@pytest.fixture
def feed() -> ChangeFeed:
    return ChangeFeed()


@pytest.fixture
def submitter(store: Store, feed: ChangeFeed, storage: LocalStorage) -> Submitter:
    return Submitter(store, feed, storage=storage, encrypt=secret_encrypter(KEY))


async def test_submit_makes_stores_and_queues_the_execution(
    store: Store, feed: ChangeFeed, submitter: Submitter
) -> None:
    stored = await deploy(store, SOURCE)
    trigger = ExecutionTrigger("hook", "io.kestra.plugin.core.trigger.Webhook", {"a": 1})
    at = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    with feed.subscribe(WORK_TOPIC) as woken:
        execution = await submitter.submit(
            FlowRef("main", NS, "inputs"),
            {"count": "2", "extra": "x", "undeclared": "ignored"},
            labels=[Label("env", "prod"), Label("team", "ops")],
            trigger=trigger,
            schedule_date=at,
            kind="TEST",
        )
        assert await woken.wait(1), "the engine must be woken"
    assert execution.flow_revision == stored.revision
    assert execution.state.current is StateType.CREATED
    assert execution.inputs == {"count": 2, "name": "inputs-2", "extra": "x"}
    assert execution.labels == (
        Label("team", "ops"),
        Label("env", "prod"),
        Label("system.correlationId", execution.id),
    )
    assert execution.variables == {"greeting": "hi"}
    assert execution.original_id == execution.id
    assert execution.original_created_date == execution.state.start_date
    read = await store.get_execution("main", execution.id)
    assert read is not None
    assert (read.inputs, read.labels, read.trigger) == (
        execution.inputs,
        execution.labels,
        trigger,
    )
    assert (read.schedule_date, read.kind, read.parent_id) == (at, "TEST", None)


async def test_a_stored_revision_is_taken_as_given(store: Store, submitter: Submitter) -> None:
    first = await deploy(store, SOURCE)
    await deploy(store, SOURCE.replace("greeting: hi", "greeting: hello"))
    execution = await submitter.submit(first, {"count": 1})
    assert (execution.flow_revision, execution.variables) == (first.revision, {"greeting": "hi"})
    assert "extra" not in execution.inputs  # its condition is false: disabled, absent


async def test_a_missing_or_disabled_flow_is_refused(store: Store, submitter: Submitter) -> None:
    with pytest.raises(NotFoundError, match="Requested Flow is not found"):
        await submitter.submit(FlowRef("main", NS, "nope"))
    await deploy(store, SOURCE, disabled=True)
    with pytest.raises(ConflictError, match="disabled flow"):
        await submitter.submit(FlowRef("main", NS, "inputs"), {"count": 1})


async def test_invalid_inputs_are_one_422_and_nothing_is_written(
    store: Store, feed: ChangeFeed, storage: LocalStorage, tmp_path: Path
) -> None:
    await deploy(store, source_with("  - id: n\n    type: INT\n  - id: f\n    type: FILE\n"))
    spy = SpyStore(store)
    submitter = Submitter(spy, feed, storage=storage)  # type: ignore[arg-type]
    upload = FileUpload("f", "a.txt", b"data")
    with feed.subscribe(WORK_TOPIC) as woken, pytest.raises(ValidationError) as caught:
        await submitter.submit(FlowRef("main", NS, "other"), {"n": "many"}, files=[upload])
    assert caught.value.message.startswith("Invalid entity: inputs.n: ")
    assert [d.path for d in caught.value.details] == ["inputs.n"]
    assert spy.created == []
    assert not await woken.wait(0.05)
    assert not (tmp_path / "storage").exists()


async def test_file_inputs_are_stored_at_their_input_path(
    store: Store, submitter: Submitter, storage: LocalStorage
) -> None:
    await deploy(store, source_with("  - id: f\n    type: FILE\n"))
    upload = FileUpload("f", "data.csv", io.BytesIO(b"a,b\n1,2\n"))
    execution = await submitter.submit(FlowRef("main", NS, "other"), files=[upload])
    path = input_file_path(NS, "other", execution.id, "f", "data.csv")
    assert path_of(execution.inputs["f"]) == path
    assert await storage.read_bytes("main", path) == b"a,b\n1,2\n"


async def test_stored_files_go_again_when_the_commit_fails(
    store: Store, feed: ChangeFeed, storage: LocalStorage
) -> None:
    await deploy(store, source_with("  - id: f\n    type: FILE\n"))
    spy = SpyStore(store, fail=StoreUnavailableError("down"))
    submitter = Submitter(spy, feed, storage=storage)  # type: ignore[arg-type]
    upload = FileUpload("f", "data.csv", b"payload")
    with pytest.raises(StoreUnavailableError):
        await submitter.submit(FlowRef("main", NS, "other"), files=[upload])
    [attempted] = spy.created
    assert not await storage.exists("main", path_of(attempted.inputs["f"]))
    assert not storage.local_path("main", execution_prefix(NS, "other", attempted.id)).exists()


async def test_secret_inputs_are_encrypted_with_the_server_key(
    store: Store, feed: ChangeFeed, submitter: Submitter
) -> None:
    await deploy(store, source_with("  - id: password\n    type: SECRET\n"))
    execution = await submitter.submit(FlowRef("main", NS, "other"), {"password": "hunter2"})
    encrypted = execution.inputs["password"]
    assert encrypted != "hunter2"
    assert SecretCipher(KEY).decrypt(encrypted) == "hunter2"
    keyless = Submitter(store, feed, encrypt=secret_encrypter(None))
    with pytest.raises(ValidationError, match=NOT_CONFIGURED):
        await keyless.submit(FlowRef("main", NS, "other"), {"password": "hunter2"})


async def test_a_given_id_makes_the_submit_idempotent(store: Store, submitter: Submitter) -> None:
    await deploy(store, SOURCE)
    ref = FlowRef("main", NS, "inputs")
    first = await submitter.submit(ref, {"count": 1}, parent_id="parent", execution_id="child1")
    again = await submitter.submit(ref, {"count": 5}, parent_id="parent", execution_id="child1")
    assert (first.id, first.parent_id) == ("child1", "parent")
    assert again.inputs == first.inputs == {"count": 1, "name": "inputs-1"}
    fresh = await submitter.submit(ref, {"count": 1})
    assert fresh.id not in ("child1", "")


async def test_server_functions_in_defaults_are_rendered_off_the_loop(
    store: Store, feed: ChangeFeed, storage: LocalStorage
) -> None:
    await store.put_kv("main", NS, "region", infer_value("eu"))
    runtime = EngineRuntime(store, storage, {"TOKEN": "t0ken"})
    submitter = Submitter(store, feed, templates=TemplateEngine(runtime=runtime))
    inputs = (
        "  - id: region\n    type: STRING\n    defaults: \"{{ kv('region') }}\"\n"
        "  - id: token\n    type: STRING\n    defaults: \"{{ secret('TOKEN') }}\"\n"
    )
    await deploy(store, source_with(inputs))
    execution = await submitter.submit(FlowRef("main", NS, "other"))
    assert execution.inputs == {"region": "eu", "token": "t0ken"}


async def test_rerun_and_resubmit_copy_an_execution(
    store: Store, feed: ChangeFeed, submitter: Submitter
) -> None:
    await deploy(store, SOURCE)
    original = await submitter.submit(FlowRef("main", NS, "inputs"), {"count": 1})
    now = datetime.now(UTC)
    copy = rerun_of(original, "rerun1", now, flow_revision=7)
    assert (copy.id, copy.flow_revision, copy.attempt_number) == ("rerun1", 7, 2)
    assert (copy.parent_id, copy.original_id) == (original.id, original.id)
    assert (copy.inputs, copy.labels) == (original.inputs, original.labels)
    assert copy.state.current is StateType.CREATED
    assert copy.state.start_date == now
    assert rerun_of(original, "rerun2", now).flow_revision == original.flow_revision
    with feed.subscribe(WORK_TOPIC) as woken:
        await submitter.resubmit(copy)
        assert await woken.wait(1)
    read = await store.get_execution("main", "rerun1")
    assert read is not None
    assert read.attempt_number == 2


class SpyStore:
    """The real store, recording (and optionally failing) ``create_execution``."""

    def __init__(self, store: Store, fail: Exception | None = None) -> None:
        self._store = store
        self._fail = fail
        self.created: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def create_execution(self, execution: Any) -> None:
        self.created.append(execution)
        if self._fail is not None:
            raise self._fail
        await self._store.create_execution(execution)


# --- subflows submit their children through the same door ---------------------------------------

CHILD = """
id: child
namespace: company.team
labels:
  layer: child
inputs:
  - id: x
    type: STRING
  - id: shout
    type: STRING
    defaults: "{{ inputs.x }}! from {{ flow.id }}"
tasks:
  - id: c
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.shout }}"
"""
PARENT = """
id: parent
namespace: company.team
tasks:
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: child
    inputs:
      x: hey
    labels:
      from: parent
"""


async def test_a_subflow_child_is_submitted_with_labels_trigger_and_defaults(
    harness: Harness,
) -> None:
    await harness.deploy(CHILD)
    await harness.deploy(PARENT)
    door = Submitter(harness.store, harness.feed)
    parent = await door.submit(FlowRef("main", NS, "parent"))
    assert (await harness.wait_for(parent.id)).state.current is StateType.SUCCESS
    run = (await harness.runs(parent.id))["sub"]
    child = await harness.store.get_execution("main", run.outputs["executionId"])  # type: ignore[index]
    assert child is not None
    assert child.parent_id == parent.id
    assert child.inputs == {"x": "hey", "shout": "hey! from child"}
    assert child.labels == (
        Label("layer", "child"),
        Label("system.correlationId", parent.id),  # one correlation id along the tree
        Label("from", "parent"),
    )
    assert child.trigger is not None
    assert (child.trigger.id, child.trigger.variables["executionId"]) == ("sub", parent.id)
    assert child.trigger.variables["taskRunId"] == run.id


async def test_a_subflow_of_a_disabled_flow_fails_its_task(harness: Harness) -> None:
    await deploy(harness.store, CHILD, disabled=True)
    await harness.deploy(PARENT)
    parent = await Submitter(harness.store, harness.feed).submit(FlowRef("main", NS, "parent"))
    assert (await harness.wait_for(parent.id)).state.current is StateType.FAILED
    logs = await harness.store.list_logs("main", parent.id)
    assert any("Cannot execute a disabled flow" in entry.message for entry in logs)
