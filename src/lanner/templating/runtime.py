"""The runtime-functions protocol: what templates need from the server.

``secret()``, ``kv()``, ``read()``, ``fileSize()``, ``fileExists()``, ``isFileEmpty()`` and
``errorLogs()`` reach storage the templating package must not import. The engine implements
:class:`RuntimeFunctions`; unit tests use in-memory fakes.

The protocol is synchronous on purpose. Pebble's ``??``, ``is defined`` and ``default`` are
compiled as ``lambda:`` thunks that catch a missing variable, and an ``await`` cannot live in a
lambda, so Jinja's async mode is out; and the common template (no server function) renders in
microseconds, cheaper than any hop to the event loop. The engine therefore renders a template
for which :meth:`TemplateEngine.uses_runtime` is true in a worker thread, and its
implementation of this protocol bridges to the loop (``asyncio.run_coroutine_threadsafe``).
Imports only the standard library.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class RuntimeScope:
    """Where a template runs, read from its ``flow`` and ``execution`` variables."""

    tenant_id: str | None
    namespace: str | None
    flow_id: str | None
    execution_id: str | None
    parent: tuple[str, str, str] | None = None
    """``(namespace, flowId, executionId)`` of the execution that started this one (a
    subflow's ``trigger``): Kestra's ``read()`` may read that execution's files too."""

    @classmethod
    def of(cls, variables: Mapping[str, Any]) -> RuntimeScope:
        flow = variables.get("flow")
        execution = variables.get("execution")
        trigger = variables.get("trigger")
        flow = flow if isinstance(flow, Mapping) else {}
        execution = execution if isinstance(execution, Mapping) else {}
        trigger = trigger if isinstance(trigger, Mapping) else {}
        parent = tuple(trigger.get(k) for k in ("namespace", "flowId", "executionId"))
        return cls(
            tenant_id=flow.get("tenantId"),
            namespace=flow.get("namespace"),
            flow_id=flow.get("id"),
            execution_id=execution.get("id"),
            parent=(
                (str(parent[0]), str(parent[1]), str(parent[2]))
                if all(isinstance(p, str) and p for p in parent)
                else None
            ),
        )


class RuntimeFunctions(Protocol):
    """Server-backed template functions; every method may block (called from a thread)."""

    def secret(self, scope: RuntimeScope, key: str) -> str:
        """The secret ``key`` of the scope's namespace; raise ``LookupError`` if unknown.

        The implementation also registers the value for masking in logs.
        """
        ...

    def kv(self, scope: RuntimeScope, namespace: str, key: str) -> Any:
        """The KV value stored under ``key`` in ``namespace``; raise ``LookupError`` if absent."""
        ...

    def read(self, scope: RuntimeScope, path: str) -> str:
        """Text of an internal-storage URI (``kestra://...``) or a namespace file path."""
        ...

    def file_size(self, scope: RuntimeScope, path: str) -> int:
        """Size in bytes of an internal-storage URI or namespace file."""
        ...

    def file_exists(self, scope: RuntimeScope, path: str) -> bool:
        """Whether an internal-storage URI or namespace file exists."""
        ...

    def error_logs(self, scope: RuntimeScope) -> Sequence[Mapping[str, Any]]:
        """The ERROR log entries of the scope's execution (Kestra's ``errorLogs()``)."""
        ...
