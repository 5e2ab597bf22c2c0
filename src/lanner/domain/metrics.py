"""A task run's metric as stored and served (Kestra's ``MetricEntry``): a ``counter`` or a
``timer``, with string tags. A timer's ``value`` is in milliseconds, as Kestra stores it (tasks
record timers in seconds)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

COUNTER = "counter"
TIMER = "timer"


@dataclass(frozen=True, slots=True)
class MetricEntry:
    tenant_id: str
    namespace: str
    flow_id: str
    execution_id: str
    task_id: str | None
    task_run_id: str | None
    type: str
    name: str
    value: float
    timestamp: datetime
    tags: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Kestra's JSON of a ``MetricEntry`` (the tenant id is hidden, as there)."""
        return {
            "namespace": self.namespace,
            "flowId": self.flow_id,
            "taskId": self.task_id,
            "executionId": self.execution_id,
            "taskRunId": self.task_run_id,
            "type": self.type,
            "name": self.name,
            "value": self.value,
            "timestamp": self.timestamp.isoformat().replace("+00:00", "Z"),
            "tags": dict(self.tags),
            "deleted": False,
        }
