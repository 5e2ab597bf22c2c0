"""Kestra's ``::{...}::`` script output protocol, and script task properties, without a process
engine: outputs merge into ``vars``, log entries keep their level, metrics are recorded, a bad
line is a warning, anything else is logged (stdout INFO, stderr ERROR)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import ValidationError
from tests.unit.tasks.test_task_classes import FakeContext

from lanner.tasks.registry import default_registry
from lanner.tasks.scripts.protocol import OutputConsumer


@dataclass
class MetricContext(FakeContext):
    metrics: list[tuple[str, float, str, dict[str, str]]] = field(default_factory=list)

    def metric(
        self,
        name: str,
        value: float,
        *,
        kind: str = "counter",
        tags: Mapping[str, str] | None = None,
    ) -> None:
        self.metrics.append((name, value, kind, dict(tags or {})))


async def test_protocol_lines_become_outputs_logs_and_metrics() -> None:
    ctx = MetricContext()
    consumer = OutputConsumer(ctx)
    lines = [
        '::{"outputs": {"a": 1, "b": {"c": [2]}}}::',
        '::{"outputs": {"a": 3}}::  ',
        '::{"logs": [{"level": "DEBUG", "message": "dbg"}, {"message": "plain"}]}::',
        '::{"logs": [{"level": "WARNING", "message": "w"}, {"level": "CRITICAL", "message": "c"}]}::',
        '::{"metrics": [{"name": "rows", "type": "counter", "value": 5, "tags": {"t": 1}}]}::',
        "::{not json}::",
        "hello ::{}::",
    ]
    for line in lines:
        await consumer.accept(line, is_stderr=False)
    await consumer.accept("boom", is_stderr=True)
    assert consumer.vars == {"a": 3, "b": {"c": [2]}}
    assert ctx.metrics == [("rows", 5.0, "counter", {"t": "1"})]
    levels = ctx.logger.lines
    assert levels[:4] == [("DEBUG", "dbg"), ("INFO", "plain"), ("WARN", "w"), ("ERROR", "c")]
    assert levels[4][0] == "WARN"
    assert levels[4][1].startswith("Invalid outputs")
    assert levels[5:] == [("INFO", "hello ::{}::"), ("ERROR", "boom")]
    assert (consumer.stdout_lines, consumer.stderr_lines) == (7, 1)


def script(**properties: Any) -> dict[str, Any]:
    return {"id": "s", "type": "io.kestra.plugin.scripts.shell.Commands", **properties}


@pytest.mark.parametrize(
    "properties",
    [
        {"commands": ["echo"], "commandz": []},
        {},
        {"commands": ["echo"], "runner": "KUBERNETES"},
        {"commands": ["echo"], "taskRunner": {"type": "io.example.Nope"}},
        {"commands": ["echo"], "targetOS": "MACOS"},
        {"commands": ["echo"], "namespaceFiles": {"enabled": True, "bogus": 1}},
    ],
)
def test_script_properties_are_strict(properties: dict[str, Any]) -> None:
    model = default_registry.resolve("io.kestra.plugin.scripts.shell.Commands")
    assert model is not None
    with pytest.raises(ValidationError):
        model.model.model_validate(script(**properties))


def test_script_properties_accept_kestra_shapes() -> None:
    model = default_registry.resolve("io.kestra.plugin.scripts.python.Script")
    assert model is not None
    task = model.model.model_validate(
        {
            "id": "p",
            "type": model.type,
            "script": "print(1)",
            "containerImage": "python:3.13-slim",
            "taskRunner": {"type": "io.kestra.plugin.core.runner.Process"},
            "inputFiles": "{{ outputs.x.files | json }}",
            "outputFiles": ["*.csv"],
            "namespaceFiles": {"enabled": True, "include": ["a/**"]},
            "dependencies": ["requests"],
            "docker": {"pullPolicy": "NEVER"},
            "env": {"N": 1},
            "timeout": "PT5M",
            "failFast": "{{ inputs.strict }}",
        }
    )
    assert task.model_dump(include={"env"}) == {"env": {"N": "1"}}
