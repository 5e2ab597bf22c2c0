"""The :class:`~lanner.mcp.backend.Backend` over Kestra's REST API (``lanner mcp``, stdio).

One ``httpx`` client made by ``lanner.cli.client.open_client`` (the server, credentials and
tenant of ``kestra-ws``); every method is one request to the route its protocol method names.
Talks HTTP only: must not import ``api``, ``engine`` or ``store``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from lanner.cli.client import ClientError, call_json, send
from lanner.mcp import queries
from lanner.mcp.backend import BackendError

API = "/api/v1"
ALL_FLOWS_PAGE = 200


def _segment(value: str) -> str:
    return quote(value, safe="")


def _form_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class RestBackend:
    """Kestra's API at ``client.base_url`` (tenant paths added by the client's hook)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            return await call_json(self.client, method, API + path, **kwargs)
        except ClientError as error:
            raise BackendError(error.message, error.details, status=error.status) from None

    async def search_flows(
        self, q: str | None, namespace: str | None, page: int, size: int
    ) -> dict[str, Any]:
        params = [*queries.flow_search(q, namespace), ("page", str(page)), ("size", str(size))]
        result: dict[str, Any] = await self._call("GET", "/flows/search", params=params)
        return result

    async def all_flows(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            result = await self.search_flows(None, None, page, ALL_FLOWS_PAGE)
            found.extend(result.get("results") or [])
            if len(found) >= int(result.get("total") or 0) or not result.get("results"):
                return found
            page += 1

    async def flows_version(self) -> Any:
        return None

    async def get_flow(self, namespace: str, flow_id: str) -> dict[str, Any]:
        path = f"/flows/{_segment(namespace)}/{_segment(flow_id)}"
        result: dict[str, Any] = await self._call("GET", path, params={"source": "true"})
        return result

    async def save_flow(self, source: str, namespace: str, flow_id: str) -> dict[str, Any]:
        path = f"/flows/{_segment(namespace)}/{_segment(flow_id)}"
        result: dict[str, Any] = await self._call(
            "PUT", path, content=source.encode(), headers={"Content-Type": "application/x-yaml"}
        )
        return result

    async def delete_flow(self, namespace: str, flow_id: str) -> None:
        await self._call("DELETE", f"/flows/{_segment(namespace)}/{_segment(flow_id)}")

    async def set_flow_disabled(self, namespace: str, flow_id: str, disabled: bool) -> int:
        action = "disable" if disabled else "enable"
        body = [{"namespace": namespace, "id": flow_id}]
        result = await self._call("POST", f"/flows/{action}/by-ids", json=body)
        return int((result or {}).get("count") or 0)

    async def run_flow(
        self,
        namespace: str,
        flow_id: str,
        inputs: Mapping[str, Any],
        labels: Mapping[str, str],
        *,
        wait: bool,
    ) -> dict[str, Any]:
        params = queries.label_params(labels)
        if wait:
            params.append(("wait", "true"))
        # multipart, as Kestra's UI sends inputs; an empty form still needs a part.
        files = {name: (None, _form_value(value)) for name, value in inputs.items()}
        path = f"/executions/{_segment(namespace)}/{_segment(flow_id)}"
        result: dict[str, Any] = await self._call(
            "POST",
            path,
            params=params,
            files=files or None,
            data=None if files else {},
            timeout=None if wait else httpx.USE_CLIENT_DEFAULT,
        )
        return result

    async def get_execution(self, execution_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", f"/executions/{_segment(execution_id)}")
        return result

    async def search_executions(
        self,
        namespace: str | None,
        flow_id: str | None,
        states: Sequence[str],
        labels: Mapping[str, str],
        page: int,
        size: int,
    ) -> dict[str, Any]:
        params = queries.execution_search(namespace, flow_id, states, labels)
        params += [("page", str(page)), ("size", str(size))]
        result: dict[str, Any] = await self._call("GET", "/executions/search", params=params)
        return result

    async def _action(
        self, execution_id: str, action: str, params: Mapping[str, str] | None = None, **kw: Any
    ) -> dict[str, Any]:
        path = f"/executions/{_segment(execution_id)}/{action}"
        result: dict[str, Any] = await self._call("POST", path, params=params, **kw)
        return result

    async def kill(self, execution_id: str) -> dict[str, Any]:
        return await self._action(execution_id, "actions/kill")

    async def restart(self, execution_id: str, task_run_id: str | None) -> dict[str, Any]:
        params = {"taskRunId": task_run_id} if task_run_id else None
        return await self._action(execution_id, "actions/restart", params)

    async def replay(self, execution_id: str, task_run_id: str | None) -> dict[str, Any]:
        params = {"taskRunId": task_run_id} if task_run_id else None
        return await self._action(execution_id, "actions/replay", params)

    async def resume(self, execution_id: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        files = {name: (None, _form_value(value)) for name, value in inputs.items()}
        return await self._action(execution_id, "actions/resume", files=files or None)

    async def set_labels(self, execution_id: str, labels: Mapping[str, str]) -> dict[str, Any]:
        body = [{"key": key, "value": value} for key, value in labels.items()]
        return await self._action(execution_id, "labels", json=body)

    async def outputs(self, execution_id: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._call("GET", f"/outputs/{_segment(execution_id)}")
        return result

    async def execution_logs(
        self, execution_id: str, min_level: str | None, limit: int
    ) -> list[dict[str, Any]]:
        params = {"minLevel": min_level} if min_level else None
        lines: list[dict[str, Any]] = await self._call(
            "GET", f"/logs/{_segment(execution_id)}", params=params
        )
        return lines[:limit]

    async def search_logs(
        self,
        namespace: str | None,
        flow_id: str | None,
        q: str | None,
        min_level: str | None,
        page: int,
        size: int,
    ) -> dict[str, Any]:
        params = queries.log_search(namespace, flow_id, q, min_level)
        params += [("page", str(page)), ("size", str(size))]
        result: dict[str, Any] = await self._call("GET", "/logs/search", params=params)
        return result

    async def kv_list(self, namespace: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._call(
            "GET", f"/namespaces/{_segment(namespace)}/kv"
        )
        return result

    async def kv_get(self, namespace: str, key: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call(
            "GET", f"/namespaces/{_segment(namespace)}/kv/{_segment(key)}"
        )
        return result

    async def kv_set(self, namespace: str, key: str, value: Any, ttl: str | None) -> None:
        headers = {"Content-Type": "application/json"}
        if ttl:
            headers["ttl"] = ttl
        await self._call(
            "PUT",
            f"/namespaces/{_segment(namespace)}/kv/{_segment(key)}",
            content=json.dumps(value).encode(),
            headers=headers,
        )

    async def kv_delete(self, namespace: str, key: str) -> bool:
        result = await self._call("DELETE", f"/namespaces/{_segment(namespace)}/kv/{_segment(key)}")
        return bool(result)

    async def files_list(self, namespace: str, path: str | None) -> list[dict[str, Any]]:
        params = {"path": path} if path else None
        result: list[dict[str, Any]] = await self._call(
            "GET", f"/namespaces/{_segment(namespace)}/files/directory", params=params
        )
        return result

    async def file_read(self, namespace: str, path: str) -> bytes:
        try:
            response = await send(
                self.client,
                "GET",
                f"{API}/namespaces/{_segment(namespace)}/files",
                params={"path": path},
            )
        except ClientError as error:
            raise BackendError(error.message, error.details, status=error.status) from None
        if response.headers.get("content-type", "").startswith("application/json"):
            raise BackendError(f"'{path}' is a directory", [("path", "a directory")])
        return response.content

    async def file_write(self, namespace: str, path: str, content: bytes) -> None:
        await self._call(
            "POST",
            f"/namespaces/{_segment(namespace)}/files",
            params={"path": path},
            files={"fileContent": (path.rsplit("/", 1)[-1] or "file", content)},
        )

    async def file_delete(self, namespace: str, path: str) -> None:
        await self._call(
            "DELETE", f"/namespaces/{_segment(namespace)}/files", params={"path": path}
        )
