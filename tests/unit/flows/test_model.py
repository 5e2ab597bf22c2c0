"""Aliases, plugin defaults, labels, inputs, the Flow JSON document and the walk helpers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from lanner.domain.inputs import InputType
from lanner.flows import flow_document, legacy_type_infos, parse_flow, split_documents, walk_tasks
from lanner.tasks.base import CONDITION, TRIGGER, Plugin
from lanner.tasks.registry import TypeRegistry, default_registry

from .conftest import SAMPLES, has, rejection

LOG = "type: io.kestra.plugin.core.log.Log\n"


def sample(name: str) -> str:
    return (SAMPLES / name).read_text(encoding="utf-8")


# -- registry ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "current"),
    [
        ("io.kestra.core.tasks.log.Log", "io.kestra.plugin.core.log.Log"),
        ("IO.KESTRA.CORE.TASKS.DEBUGS.RETURN", "io.kestra.plugin.core.debug.Return"),
        ("io.kestra.core.tasks.flows.Flow", "io.kestra.plugin.core.flow.Subflow"),
        ("io.kestra.core.tasks.flows.Worker", "io.kestra.plugin.core.flow.WorkingDirectory"),
        ("io.kestra.core.tasks.executions.Counts", "io.kestra.plugin.core.execution.Count"),
        ("io.kestra.core.tasks.storages.Purge", "io.kestra.plugin.core.execution.PurgeExecutions"),
        (
            "io.kestra.plugin.core.storage.PurgeExecution",
            "io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles",
        ),
        ("io.kestra.core.tasks.states.Set", "io.kestra.plugin.core.state.Set"),
        ("io.kestra.plugin.fs.http.Request", "io.kestra.plugin.core.http.Request"),
        ("io.kestra.plugin.core.flow.WaitFor", "io.kestra.plugin.core.flow.LoopUntil"),
        ("io.kestra.core.tasks.trigger.Toggle", "io.kestra.plugin.core.trigger.Toggle"),
    ],
)
def test_task_aliases_resolve(name: str, current: str) -> None:
    resolved = default_registry.resolve(name)
    assert resolved is not None
    assert resolved.type == current
    assert resolved.is_alias


@pytest.mark.parametrize(
    ("name", "kind", "current"),
    [
        ("io.kestra.core.models.triggers.types.Schedule", TRIGGER, "io.kestra.plugin.core.trigger.Schedule"),
        ("io.kestra.plugin.fs.http.Trigger", TRIGGER, "io.kestra.plugin.core.http.Trigger"),
        ("io.kestra.core.models.conditions.types.VariableCondition", CONDITION, "io.kestra.plugin.core.condition.Expression"),
        ("io.kestra.plugin.core.condition.ExecutionFlowCondition", CONDITION, "io.kestra.plugin.core.condition.ExecutionFlow"),
    ],
)  # fmt: skip
def test_trigger_and_condition_aliases(name: str, kind: str, current: str) -> None:
    resolved = default_registry.resolve(name, kind)
    assert resolved is not None
    assert resolved.type == current


def test_every_core_type_of_the_reference_is_registered() -> None:
    names = {m.TYPE.removeprefix("io.kestra.plugin.core.") for m in default_registry.models()}
    for name in (
        "log.Log", "log.Fetch", "log.PurgeLogs", "debug.Return", "debug.Echo", "output.OutputValues",
        "execution.Fail", "execution.Labels", "execution.Count", "execution.Resume",
        "execution.PurgeExecutions", "execution.Exit", "execution.Assert", "execution.SetVariables",
        "execution.UnsetVariables", "execution.Kill", "flow.Sequential", "flow.Parallel", "flow.If",
        "flow.Switch", "flow.ForEach", "flow.EachSequential", "flow.EachParallel", "flow.Dag",
        "flow.AllowFailure", "flow.Sleep", "flow.Pause", "flow.LoopUntil", "flow.Loop",
        "flow.Subflow", "flow.ForEachItem", "flow.WorkingDirectory", "flow.Template", "kv.Set",
        "kv.Put", "kv.Get", "kv.GetKeys", "kv.Delete", "kv.PurgeKV", "state.Set", "state.Get",
        "state.Delete", "http.Request", "http.Download", "http.Trigger", "namespace.UploadFiles",
        "namespace.DownloadFiles", "namespace.DeleteFiles", "storage.Concat", "storage.Split",
        "storage.Size", "storage.Delete", "storage.Reverse", "storage.FilterItems",
        "storage.DeduplicateItems", "storage.LocalFiles", "storage.PurgeCurrentExecutionFiles",
        "templating.TemplatedTask", "trigger.Toggle", "trigger.Schedule", "trigger.ScheduleOnDates",
        "trigger.Flow", "trigger.Webhook", "condition.MultipleCondition", "condition.Weekend",
    ):  # fmt: skip
        assert name in names, name


def test_every_model_has_a_json_schema_that_forbids_extra_properties() -> None:
    for model in default_registry.models():
        schema = model.model_json_schema()
        assert schema.get("additionalProperties") is False, model.TYPE


def test_third_party_registration() -> None:
    class Custom(Plugin):
        TYPE = "com.example.Custom"
        id: str

    registry = TypeRegistry((Custom,), use_entry_points=False)
    assert registry.resolve("com.example.custom") is not None
    assert registry.resolve("io.kestra.plugin.core.log.Log") is None
    source = "id: f\nnamespace: ns\ntasks:\n  - id: a\n    type: com.example.Custom\n"
    assert parse_flow(source, registry).tasks[0].type == "com.example.Custom"


def test_legacy_type_infos() -> None:
    infos = legacy_type_infos(parse_flow(sample("legacy-names.yaml")))
    assert "io.kestra.core.tasks.log.Log is replaced by io.kestra.plugin.core.log.Log" in infos
    assert (
        "io.kestra.plugin.core.flow.WaitFor is replaced by io.kestra.plugin.core.flow.LoopUntil"
        in infos
    )
    assert any(
        i.startswith("io.kestra.core.models.conditions.types.DayWeekCondition") for i in infos
    )
    assert len(infos) == len(set(infos))


# -- plugin defaults --------------------------------------------------------------------------


def test_plugin_defaults_supply_required_properties() -> None:
    flow = parse_flow(sample("legacy-names.yaml"))
    log = flow.tasks[0]
    assert log.properties["message"] == "from defaults"
    assert "message" not in log.source_properties
    assert flow.plugin_defaults_key == "taskDefaults"


def test_plugin_defaults_prefix_and_forced() -> None:
    source = (
        "id: f\nnamespace: ns\npluginDefaults:\n"
        "  - type: io.kestra.plugin.core.log\n    values: {level: WARN, message: d}\n"
        "  - type: io.kestra.plugin.core.log.Log\n    forced: true\n    values: {level: ERROR}\n"
        "tasks:\n  - id: a\n    " + LOG + "    message: mine\n    level: INFO\n"
    )
    task = parse_flow(source).tasks[0]
    assert task.properties["message"] == "mine"
    assert task.properties["level"] == "ERROR"


def test_plugin_default_with_unknown_property_is_reported_on_the_task() -> None:
    source = (
        "id: f\nnamespace: ns\npluginDefaults:\n"
        "  - type: io.kestra.plugin.core.log.Log\n    values: {nope: 1}\n"
        "tasks:\n  - id: a\n    " + LOG + "    message: x\n"
    )
    assert has(rejection(source), "tasks[0].nope", "Unrecognized field")


# -- labels and inputs ------------------------------------------------------------------------


def test_labels_map_and_list_forms_normalize_the_same() -> None:
    tail = "tasks:\n  - id: a\n    " + LOG + "    message: x\n"
    as_map = parse_flow("id: f\nnamespace: ns\nlabels:\n  team: data\n  n: 1\n" + tail)
    as_list = parse_flow(
        "id: f\nnamespace: ns\nlabels:\n  - key: team\n    value: data\n"
        "  - key: n\n    value: 1\n" + tail
    )
    assert as_map.labels == as_list.labels
    assert flow_document(as_map)["labels"] == [
        {"key": "team", "value": "data"},
        {"key": "n", "value": "1"},
    ]


def test_inputs_of_every_type() -> None:
    types = [t for t in InputType if t not in (InputType.ENUM, InputType.SELECT, InputType.MULTISELECT, InputType.ARRAY)]  # fmt: skip
    body = "".join(f"  - id: i{n}\n    type: {t}\n" for n, t in enumerate(types))
    body += "  - id: e\n    type: ENUM\n    values: [a, b]\n"
    body += "  - id: s\n    type: SELECT\n    values: [a]\n    defaults: a\n"
    body += "  - id: arr\n    type: ARRAY\n    itemType: INT\n"
    body += "  - name: legacy\n    type: STRING\n    required: false\n    validator: '^a+$'\n"
    flow = parse_flow(
        "id: f\nnamespace: ns\ninputs:\n"
        + body
        + "tasks:\n  - id: a\n    "
        + LOG
        + "    message: x\n"
    )
    legacy = flow.inputs[-1]
    assert legacy.id == "legacy"
    assert legacy.required is False
    assert legacy.properties["validator"] == "^a+$"
    assert flow.inputs[0].required is True
    doc_inputs = flow_document(flow)["inputs"]
    assert doc_inputs[-1] == {
        "id": "legacy",
        "type": "STRING",
        "required": False,
        "validator": "^a+$",
    }


@pytest.mark.parametrize(
    ("input_yaml", "path", "fragment"),
    [
        ("  - id: x\n    type: STRING\n    min: 1\n", "inputs[0].min", "Unrecognized field"),
        ("  - id: x\n    type: ENUM\n", "inputs[0].values", "must not be null"),
        ("  - id: x\n    type: ARRAY\n", "inputs[0].itemType", "must not be null"),
        ("  - id: x\n    type: FILE\n    defaults: a\n", "inputs[0].defaults", "FILE"),
        (
            "  - id: x\n    type: STRING\n    dependsOn:\n      inputs: [y]\n",
            "inputs[0].dependsOn",
            "non-existent input 'y'",
        ),
    ],
)
def test_bad_input_definitions(input_yaml: str, path: str, fragment: str) -> None:
    source = "id: f\nnamespace: ns\ninputs:\n" + input_yaml
    source += "tasks:\n  - id: a\n    " + LOG + "    message: x\n"
    assert has(rejection(source), path, fragment)


# -- documents and walking --------------------------------------------------------------------


def test_flow_document_shape() -> None:
    flow = parse_flow(sample("hello.yaml"))
    doc = flow_document(flow)
    assert list(doc)[:2] == ["id", "namespace"]
    assert doc["disabled"] is False
    assert doc["inputs"][0] == {
        "id": "name",
        "type": "STRING",
        "required": True,
        "defaults": "world",
    }
    assert doc["tasks"][0] == {
        "id": "greet",
        "type": "io.kestra.plugin.core.log.Log",
        "message": "Hello {{ inputs.name }}",
    }
    assert doc["outputs"][0]["value"] == "{{ outputs.value.value }}"
    for key in ("revision", "tenantId", "deleted", "source"):
        assert key not in doc


def test_flow_document_round_trips_branches() -> None:
    flow = parse_flow(sample("all-branches.yaml"))
    doc = flow_document(flow)
    assert doc["tasks"][0]["else"][0]["id"] == "else-log"
    assert doc["tasks"][1]["cases"]["a"][0]["id"] == "case-a"
    assert doc["tasks"][2]["tasks"][1] == {
        "task": {"id": "second", "type": "io.kestra.plugin.core.log.Log", "message": "second"},
        "dependsOn": ["first"],
    }
    assert doc["afterExecution"][0]["runIf"] == "{{ execution.state == 'FAILED' }}"
    import yaml

    again = parse_flow(yaml.safe_dump(doc, sort_keys=False))
    assert flow_document(again) == doc


def test_walk_tasks_with_paths_and_branches() -> None:
    flow = parse_flow(sample("all-branches.yaml"))
    walked = {t.id: t.path for t in flow.all_tasks()}
    assert walked["else-log"] == "tasks[0].else[0]"
    assert walked["case-a"] == "tasks[1].cases.a[0]"
    assert walked["second"] == "tasks[2].tasks[1].task"
    assert walked["p-finally"] == "tasks[3].finally[0]"
    assert walked["notify"] == "afterExecution[0]"
    switch = flow.tasks[1]
    assert set(switch.cases) == {"a"}
    assert switch.is_flowable
    assert [t.id for t in walk_tasks(flow.tasks[3:])] == ["parallel", "p1", "p-error", "p-finally"]
    assert flow.parent_of("p1") is flow.tasks[3]
    assert flow.find_task("cleanup") is flow.finally_[0]


def test_split_documents() -> None:
    text = "---\nid: a\nnamespace: n\n---\n# only a comment\n---\nid: b\nnamespace: n\n...\n"
    assert split_documents(text) == ["id: a\nnamespace: n\n", "id: b\nnamespace: n\n"]
    assert split_documents("id: a\n") == ["id: a\n"]


def test_domain_imports_only_the_standard_library() -> None:
    domain = Path(__file__).resolve().parents[3] / "src" / "lanner" / "domain"
    for module in domain.glob("*.py"):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert (
                    top in {"__future__", "lanner"} or top in __import__("sys").stdlib_module_names
                ), (module.name, name)
                if top == "lanner":
                    assert name.startswith("lanner.domain"), (module.name, name)
