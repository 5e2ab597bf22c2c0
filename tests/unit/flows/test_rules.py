"""One test per validation rule, each on a minimal flow."""

from __future__ import annotations

import pytest

from lanner.errors import InvalidFlowError
from lanner.flows import parse_flow

from .conftest import has, rejection

HEAD = "id: f\nnamespace: company.team\n"
LOG = "type: io.kestra.plugin.core.log.Log\n"


def flow(body: str) -> str:
    return HEAD + body


def test_minimal_flow_parses() -> None:
    parsed = parse_flow(flow("tasks:\n  - id: a\n    " + LOG + "    message: hi\n"))
    assert parsed.id == "f"
    assert parsed.namespace == "company.team"
    assert parsed.tasks[0].type == "io.kestra.plugin.core.log.Log"
    assert parsed.tasks[0].properties["message"] == "hi"
    assert parsed.tasks[0].path == "tasks[0]"


def test_error_message_is_kestra_style_with_every_problem() -> None:
    with pytest.raises(InvalidFlowError) as caught:
        parse_flow("id: 'bad id'\nnamespace: ns\ntasks:\n  - id: a\n    type: io.kestra.x\n")
    message = caught.value.message
    assert message.startswith("Invalid entity: id: must match")
    assert "tasks[0].type: Invalid type: io.kestra.x (line 5, column 11)" in message


@pytest.mark.parametrize(
    ("field", "value"),
    [("id", "my#flow"), ("id", "-start"), ("namespace", "MY$NS"), ("namespace", "Upper")],
)
def test_illegal_id_and_namespace_characters(field: str, value: str) -> None:
    values = {"id": "f", "namespace": "ns", field: value}
    source = f"id: '{values['id']}'\nnamespace: '{values['namespace']}'\n"
    source += "tasks:\n  - id: a\n    " + LOG + "    message: x\n"
    assert has(rejection(source), field, "must match")


def test_task_id_with_dot_is_rejected() -> None:
    details = rejection(flow("tasks:\n  - id: a.b\n    " + LOG + "    message: x\n"))
    assert has(details, "tasks[0].id", "must match")


def test_empty_id_and_namespace() -> None:
    details = rejection("id: ''\nnamespace: ''\ntasks:\n  - id: a\n    " + LOG + "    message: x\n")
    assert has(details, "id", "must not be empty")
    assert has(details, "namespace", "must not be empty")


def test_missing_tasks_and_empty_tasks() -> None:
    assert has(rejection(HEAD), "tasks", "must not be empty")
    assert has(rejection(flow("tasks: []\n")), "tasks", "must not be empty")


def test_unknown_top_level_property() -> None:
    details = rejection(flow("foo: 1\ntasks:\n  - id: a\n    " + LOG + "    message: x\n"))
    assert has(details, "foo", 'Unrecognized field "foo"')


def test_unknown_task_property_names_the_nested_path() -> None:
    source = flow(
        "tasks:\n  - id: s\n    type: io.kestra.plugin.core.flow.Sequential\n    tasks:\n"
        "      - id: a\n        " + LOG + "        message: x\n        bogus: 1\n"
    )
    assert has(rejection(source), "tasks[0].tasks[0].bogus", 'Unrecognized field "bogus"')


def test_required_property_missing() -> None:
    details = rejection(flow("tasks:\n  - id: a\n    " + LOG))
    assert has(details, "tasks[0].message", "must not be null")


def test_unknown_type_everywhere() -> None:
    details = rejection(
        flow(
            "tasks:\n  - id: a\n    type: x.Y\n"
            "triggers:\n  - id: t\n    type: x.Trigger\n"
            "errors:\n  - id: e\n    type: x.Z\n"
        )
    )
    assert has(details, "tasks[0].type", "Invalid type: x.Y")
    assert has(details, "triggers[0].type", "Invalid type: x.Trigger")
    assert has(details, "errors[0].type", "Invalid type: x.Z")


def test_trigger_type_is_not_a_task_type() -> None:
    details = rejection(
        flow("tasks:\n  - id: a\n    type: io.kestra.plugin.core.trigger.Schedule\n")
    )
    assert has(details, "tasks[0].type", "Invalid type")


def test_duplicate_task_ids_across_branches() -> None:
    source = flow(
        "tasks:\n  - id: a\n    " + LOG + "    message: x\n"
        "  - id: p\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n"
        "      - id: b\n        " + LOG + "        message: x\n"
        "finally:\n  - id: a\n    " + LOG + "    message: x\n"
        "afterExecution:\n  - id: b\n    " + LOG + "    message: x\n"
    )
    details = rejection(source)
    assert has(details, "finally[0]", "Duplicate task id with name [a]")
    assert has(details, "afterExecution[0]", "Duplicate task id with name [b]")


def test_duplicate_trigger_ids() -> None:
    trigger = "  - id: t\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: k\n"
    source = flow("tasks:\n  - id: a\n    " + LOG + "    message: x\ntriggers:\n" + trigger * 2)
    assert has(rejection(source), "triggers[1]", "Duplicate trigger id with name [t]")


def test_duplicate_outputs() -> None:
    output = "  - id: o\n    type: STRING\n    value: x\n"
    source = flow("tasks:\n  - id: a\n    " + LOG + "    message: x\noutputs:\n" + output * 2)
    assert has(rejection(source), "outputs[1]", "Duplicate output with name [o]")


def test_recursive_subflow_and_other_subflow() -> None:
    subflow = "tasks:\n  - id: s\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: company.team\n"
    assert has(rejection(flow(subflow + "    flowId: f\n")), "tasks[0]", "Recursive call")
    assert parse_flow(flow(subflow + "    flowId: other\n")).tasks[0].is_executable


def test_parallel_needs_tasks() -> None:
    source = flow("tasks:\n  - id: p\n    type: io.kestra.plugin.core.flow.Parallel\n")
    assert has(rejection(source), "tasks[0].tasks", "must not be null")


def test_switch_without_cases_or_defaults() -> None:
    source = flow(
        "tasks:\n  - id: s\n    type: io.kestra.plugin.core.flow.Switch\n    value: x\n    cases: {}\n"
    )
    assert has(rejection(source), "tasks[0]", "No task defined")


def test_dag_unknown_dependency_and_cycle() -> None:
    def dag(deps_a: str, deps_b: str) -> str:
        return flow(
            "tasks:\n  - id: d\n    type: io.kestra.plugin.core.flow.Dag\n    tasks:\n"
            f"      - task: {{id: a, type: io.kestra.plugin.core.log.Log, message: x}}\n"
            f"        dependsOn: {deps_a}\n"
            f"      - task: {{id: b, type: io.kestra.plugin.core.log.Log, message: x}}\n"
            f"        dependsOn: {deps_b}\n"
        )

    assert has(rejection(dag("[z]", "[]")), "tasks[0]", "Not existing task id in dependency: z")
    assert has(rejection(dag("[b]", "[a]")), "tasks[0]", "Cyclic dependency detected: a, b")
    parsed = parse_flow(dag("[]", "[a]"))
    assert [t.depends_on for t in parsed.tasks[0].branch("tasks")] == [(), ("a",)]


def test_working_directory_rules() -> None:
    wd = "tasks:\n  - id: w\n    type: io.kestra.plugin.core.flow.WorkingDirectory\n"
    assert has(rejection(flow(wd)), "tasks[0]", "cannot be empty")
    child = "      - id: s\n        type: io.kestra.plugin.core.flow.Subflow\n"
    child += "        namespace: a\n        flowId: b\n"
    assert has(rejection(flow(wd + "    tasks:\n" + child)), "tasks[0]", "Only runnable tasks")


def test_worker_group_is_enterprise_only() -> None:
    source = flow(
        "tasks:\n  - id: a\n    " + LOG + "    message: x\n    workerGroup:\n      key: k\n"
    )
    assert has(rejection(source), "tasks[0].workerGroup", "Enterprise Edition")


def test_listener_with_empty_tasks() -> None:
    source = flow("tasks:\n  - id: a\n    " + LOG + "    message: x\nlisteners:\n  - tasks: []\n")
    assert has(rejection(source), "listeners[0].tasks", "must not be empty")


def test_system_labels_rejected_but_read_only_allowed() -> None:
    task = "tasks:\n  - id: a\n    " + LOG + "    message: x\n"
    assert has(rejection(flow("labels:\n  system.x: y\n" + task)), "labels", "system.x=y")
    parsed = parse_flow(flow("labels:\n  system.readOnly: true\n" + task))
    assert parsed.labels[0].value == "true"


def test_typed_properties_accept_literals_and_expressions() -> None:
    sleep = "tasks:\n  - id: s\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: "
    assert parse_flow(flow(sleep + "PT1S\n"))
    assert parse_flow(flow(sleep + "'{{ vars.d }}'\n"))
    assert has(rejection(flow(sleep + "soon\n")), "tasks[0].duration", "ISO-8601")
    parallel = "tasks:\n  - id: p\n    type: io.kestra.plugin.core.flow.Parallel\n"
    parallel += "    tasks:\n      - id: a\n        " + LOG + "        message: x\n    concurrent: "
    assert parse_flow(flow(parallel + "3\n"))
    assert parse_flow(flow(parallel + "'3'\n"))
    assert parse_flow(flow(parallel + "'{{ x }}'\n"))
    assert has(rejection(flow(parallel + "many\n")), "tasks[0].concurrent", "integer")


def test_enum_property_rejects_unknown_value() -> None:
    source = flow("tasks:\n  - id: a\n    " + LOG + "    message: x\n    level: LOUD\n")
    assert has(rejection(source), "tasks[0].level", "TRACE")


def test_retry_is_validated() -> None:
    task = "tasks:\n  - id: a\n    " + LOG + "    message: x\n    retry:\n"
    assert parse_flow(
        flow(task + "      type: constant\n      interval: PT1S\n      maxAttempt: 3\n")
    )
    details = rejection(flow(task + "      type: constant\n      maxAttempt: 3\n"))
    assert has(details, "tasks[0].retry.interval", "must not be null")


def test_yaml_syntax_error_is_invalid_flow() -> None:
    details = rejection("id: [\n")
    assert details[0][1].startswith("Invalid YAML")


def test_non_mapping_document() -> None:
    assert rejection("- a\n- b\n")
