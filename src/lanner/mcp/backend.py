"""What a tool needs from Kestra's API: one protocol, implemented in process and over REST.

Every method answers Kestra's JSON shapes (the REST API's bodies), so a tool reads the same data
from either implementation. A refusal raises :class:`BackendError` with Kestra's message and the
``(path, message)`` of each problem a validation error named.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class BackendError(Exception):
    """Kestra refused the call (its message), or could not be reached."""

    def __init__(
        self, message: str, details: Sequence[tuple[str, str]] = (), *, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = tuple(details)
        self.status = status


class Backend(Protocol):
    """Kestra's operations for one tenant (see the REST route named by each method)."""

    async def search_flows(
        self, q: str | None, namespace: str | None, page: int, size: int
    ) -> dict[str, Any]:
        """``GET /flows/search``: ``{"results": [...], "total": n}``."""
        ...

    async def all_flows(self) -> list[dict[str, Any]]:
        """Every flow of the tenant (their JSON with ``triggers``; no source)."""
        ...

    async def flows_version(self) -> Any:
        """A value that changes whenever a flow changes; None when not known (REST)."""
        ...

    async def get_flow(self, namespace: str, flow_id: str) -> dict[str, Any]:
        """``GET /flows/{namespace}/{id}?source=true``."""
        ...

    async def save_flow(self, source: str, namespace: str, flow_id: str) -> dict[str, Any]:
        """``PUT /flows/{namespace}/{id}`` (creates it when absent)."""
        ...

    async def delete_flow(self, namespace: str, flow_id: str) -> None: ...

    async def set_flow_disabled(self, namespace: str, flow_id: str, disabled: bool) -> int:
        """``POST /flows/{disable|enable}/by-ids``: how many flows changed."""
        ...

    async def run_flow(
        self,
        namespace: str,
        flow_id: str,
        inputs: Mapping[str, Any],
        labels: Mapping[str, str],
        *,
        wait: bool,
    ) -> dict[str, Any]:
        """``POST /executions/{namespace}/{id}[?wait=true]``."""
        ...

    async def get_execution(self, execution_id: str) -> dict[str, Any]: ...

    async def search_executions(
        self,
        namespace: str | None,
        flow_id: str | None,
        states: Sequence[str],
        labels: Mapping[str, str],
        page: int,
        size: int,
    ) -> dict[str, Any]: ...

    async def kill(self, execution_id: str) -> dict[str, Any]: ...

    async def restart(self, execution_id: str, task_run_id: str | None) -> dict[str, Any]: ...

    async def replay(self, execution_id: str, task_run_id: str | None) -> dict[str, Any]: ...

    async def resume(self, execution_id: str, inputs: Mapping[str, Any]) -> dict[str, Any]: ...

    async def set_labels(self, execution_id: str, labels: Mapping[str, str]) -> dict[str, Any]: ...

    async def outputs(self, execution_id: str) -> list[dict[str, Any]]:
        """``GET /outputs/{executionId}``: each task run's outputs."""
        ...

    async def execution_logs(
        self, execution_id: str, min_level: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """The first ``limit`` lines of an execution (at least ``min_level``)."""
        ...

    async def search_logs(
        self,
        namespace: str | None,
        flow_id: str | None,
        q: str | None,
        min_level: str | None,
        page: int,
        size: int,
    ) -> dict[str, Any]: ...

    async def kv_list(self, namespace: str) -> list[dict[str, Any]]: ...

    async def kv_get(self, namespace: str, key: str) -> dict[str, Any]: ...

    async def kv_set(self, namespace: str, key: str, value: Any, ttl: str | None) -> None: ...

    async def kv_delete(self, namespace: str, key: str) -> bool: ...

    async def files_list(self, namespace: str, path: str | None) -> list[dict[str, Any]]: ...

    async def file_read(self, namespace: str, path: str) -> bytes: ...

    async def file_write(self, namespace: str, path: str, content: bytes) -> None: ...

    async def file_delete(self, namespace: str, path: str) -> None: ...
