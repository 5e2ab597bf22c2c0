"""Kestra's own flow corpus: every valid flow parses, every invalid one fails for its reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from lanner.errors import InvalidFlowError
from lanner.flows import flow_document, parse_flow

REPO_ROOT = Path(__file__).resolve().parents[3]
CORPUS = REPO_ROOT.parent / "shared" / "conformance" / "kestra-flows"
VALID = sorted((CORPUS / "valid").glob("*.y*ml"))
INVALID = sorted((CORPUS / "invalid").glob("*.y*ml"))

# file -> (path of one expected detail, substring of its message)
EXPECTED_REJECTIONS: dict[str, tuple[str, str]] = {
    "dag-cyclicdependency.yaml": ("tasks[0]", "Cyclic dependency detected: task1, task2"),
    "dag-notexist-task.yaml": ("tasks[0]", "Not existing task id in dependency: taskX"),
    "duplicate-inputs.yaml": ("inputs[1]", "Duplicate input with name [first_input]"),
    "duplicate-key.yaml": ("tasks[0].data.variables.tf", 'Duplicate field "variables.tf"'),
    "duplicate-parallel.yaml": (
        "tasks[1].tasks[3].tasks[0].tasks[0].tasks[0].tasks[0]",
        "Duplicate task id with name [t3]",
    ),
    "duplicate.yaml": ("triggers[1]", "Duplicate trigger id with name [trigger]"),
    "empty.yaml": ("tasks", "must not be empty"),
    "inputs-bad-type.yaml": ("inputs[0].type", "Invalid type: FOO"),
    "inputs-bad-validator-syntax.yaml": ("inputs[0].validator", "invalid pattern [\\]"),
    "inputs-validation.yaml": ("inputs[1].itemType", "`itemType` cannot be `ARRAY`"),
    "inputs.yaml": ("inputs[0].type", "must not be null"),
    "invalid-parallel.yaml": ("tasks[1].tasks", "must not be empty"),
    "invalid-property.yaml": ("tasks[0].invalid", 'Unrecognized field "invalid"'),
    "invalid-task.yaml": (
        "listeners[0].tasks[0].type",
        "Invalid type: io.kestra.plugin.core.debug.MissingOne",
    ),
    "invalid.yaml": ("namespace", "must match"),
    "listener.yaml": ("listeners[1].tasks", "must not be empty"),
    "recursive-flow.yaml": ("tasks[0]", "Recursive call to flow [io.kestra.tests.recursive-flow]"),
    "switch-invalid.yaml": ("tasks[0]", "No task defined, neither cases or default"),
    "system-labels.yaml": ("labels", "offending label: system.label=system_key"),
    "worker-group.yaml": ("tasks[0].workerGroup", "Enterprise Edition"),
    "workingdirectory-invalid.yaml": ("tasks[0]", "Only runnable tasks are allowed"),
    "workingdirectory-no-tasks.yaml": ("tasks[0]", "The 'tasks' property cannot be empty"),
}


def test_corpus_is_complete() -> None:
    assert CORPUS.is_dir(), f"conformance corpus not found at {CORPUS}"
    assert len(VALID) == 169
    assert len(INVALID) == 22
    assert {f.name for f in INVALID} == set(EXPECTED_REJECTIONS)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_flow_parses(path: Path) -> None:
    flow = parse_flow(path.read_text(encoding="utf-8"))
    doc = flow_document(flow)
    assert doc["id"] == flow.id
    assert doc["tasks"]


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_flow_is_rejected_for_its_reason(path: Path) -> None:
    expected_path, expected_message = EXPECTED_REJECTIONS[path.name]
    with pytest.raises(InvalidFlowError) as caught:
        parse_flow(path.read_text(encoding="utf-8"))
    details = [(d.path, d.message) for d in caught.value.details]
    assert any(p == expected_path and expected_message in m for p, m in details), details
    assert caught.value.message.startswith("Invalid entity: ")
