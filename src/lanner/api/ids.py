"""Kestra's id patterns as path parameters: a malformed id is refused (422) before any look-up.

Namespaces and flow ids follow the flow parser's rules (so every saved flow is reachable), task
ids the task rules, KV keys the KV rules. Execution and task-run ids are Kestra's base62 "friendly
ids"; any short word of letters, digits, ``_`` and ``-`` passes, so test ids such as ``nope`` are
answered 404 as before. All are ASCII: nothing else reaches the store or a header.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from lanner.domain.kv import KEY_PATTERN
from lanner.flows.parser import FLOW_ID_MAX, FLOW_ID_RE, NAMESPACE_MAX, NAMESPACE_RE
from lanner.flows.specs import TASK_ID_RE

RUN_ID_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$"
RUN_ID_MAX = 100

NamespacePath = Annotated[str, Path(pattern=f"^{NAMESPACE_RE.pattern}$", max_length=NAMESPACE_MAX)]
FlowIdPath = Annotated[str, Path(pattern=f"^{FLOW_ID_RE.pattern}$", max_length=FLOW_ID_MAX)]
TaskIdPath = Annotated[str, Path(pattern=f"^{TASK_ID_RE.pattern}$", max_length=FLOW_ID_MAX)]
ExecutionIdPath = Annotated[str, Path(pattern=RUN_ID_PATTERN, max_length=RUN_ID_MAX)]
TaskRunIdPath = Annotated[str, Path(pattern=RUN_ID_PATTERN, max_length=RUN_ID_MAX)]
# Documented only: ``lanner.api.kv`` checks keys itself, with Kestra's message.
KVKeyPath = Annotated[str, Path(json_schema_extra={"pattern": KEY_PATTERN.pattern})]
