"""The :class:`~lanner.mcp.backend.Backend` in process: the REST routes' own functions.

The built-in server (``/api/v1[/{tenant}]/mcp``) calls the functions behind each REST route
with the app's :class:`~lanner.api.context.Services`, no HTTP in between. Routes that read their
query string or body from the request get a request built here with the same query string the
REST backend would send (``lanner.mcp.queries``), so both parse it with the same code.
Kestra's errors (:class:`~lanner.errors.LannerError`) become :class:`BackendError`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from types import SimpleNamespace
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlencode

from starlette.requests import Request

from lanner.api import (
    execution_actions,
    execution_edits,
    executions,
    flows,
    kv,
    logs,
    namespace_files,
)
from lanner.api.context import Services
from lanner.api.execution_create import submit_and_answer
from lanner.api.revisions import SaveMode, save_source, set_disabled
from lanner.api.wire import flow_json, flows_json
from lanner.domain.labels import Label
from lanner.engine.submit import FlowRef
from lanner.errors import LannerError
from lanner.mcp import queries
from lanner.mcp.backend import BackendError

P = ParamSpec("P")
T = TypeVar("T")


def _refusals(method: Callable[P, Awaitable[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    @functools.wraps(method)
    async def call(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(*args, **kwargs)
        except LannerError as error:
            details = [(d.path, d.message) for d in error.details]
            raise BackendError(error.message, details) from None

    return call


class LocalBackend:
    """Kestra's operations on ``services`` for ``tenant``."""

    def __init__(self, services: Services, tenant: str) -> None:
        self.services = services
        self.tenant = tenant
        # What the routes' form readers look up on ``request.app``.
        self._app = SimpleNamespace(state=SimpleNamespace(services=services))

    def _request(
        self,
        params: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str | None = None,
    ) -> Request:
        headers = [(b"content-type", content_type.encode())] if content_type else []
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/",
            "headers": headers,
            "query_string": urlencode(list(params)).encode(),
            "app": self._app,
        }
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return Request(scope, receive)

    # --- flows ---------------------------------------------------------------------------

    @_refusals
    async def search_flows(
        self, q: str | None, namespace: str | None, page: int, size: int
    ) -> dict[str, Any]:
        request = self._request(queries.flow_search(q, namespace))
        result: dict[str, Any] = await flows.search_flows(
            request, self.services, self.tenant, page=page, size=size
        )
        return result

    @_refusals
    async def all_flows(self) -> list[dict[str, Any]]:
        return flows_json(await self.services.store.list_flows(self.tenant))

    async def flows_version(self) -> Any:
        return await self.services.store.flows_version()

    @_refusals
    async def get_flow(self, namespace: str, flow_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await flows.get_flow(
            namespace, flow_id, self.services, self.tenant, source=True
        )
        return result

    @_refusals
    async def save_flow(self, source: str, namespace: str, flow_id: str) -> dict[str, Any]:
        stored = await save_source(
            self.services.store, self.tenant, source, SaveMode.UPSERT,
            settings=self.services.settings, namespace=namespace, flow_id=flow_id,
        )  # fmt: skip
        return flow_json(stored, with_source=True)

    @_refusals
    async def delete_flow(self, namespace: str, flow_id: str) -> None:
        await flows.remove_flow(namespace, flow_id, self.services, self.tenant)

    @_refusals
    async def set_flow_disabled(self, namespace: str, flow_id: str, disabled: bool) -> int:
        stored = await set_disabled(
            self.services.store, self.tenant, namespace, flow_id, disabled,
            self.services.settings,
        )  # fmt: skip
        return 0 if stored is None else 1

    # --- executions ----------------------------------------------------------------------

    @_refusals
    async def run_flow(
        self,
        namespace: str,
        flow_id: str,
        inputs: Mapping[str, Any],
        labels: Mapping[str, str],
        *,
        wait: bool,
    ) -> dict[str, Any]:
        submitter = self.services.submitter
        stored = await submitter.flow_of(FlowRef(self.tenant, namespace, flow_id, None))
        return await submit_and_answer(
            self.services, self.tenant, stored, inputs,
            labels=[Label(key, value) for key, value in labels.items()], wait=wait,
        )  # fmt: skip

    @_refusals
    async def get_execution(self, execution_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await executions.get_execution(
            execution_id, self.services, self.tenant
        )
        return result

    @_refusals
    async def search_executions(
        self,
        namespace: str | None,
        flow_id: str | None,
        states: Sequence[str],
        labels: Mapping[str, str],
        page: int,
        size: int,
    ) -> dict[str, Any]:
        request = self._request(queries.execution_search(namespace, flow_id, states, labels))
        result: dict[str, Any] = await executions.search_executions(
            request, self.services, self.tenant, page=page, size=size
        )
        return result

    @_refusals
    async def kill(self, execution_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await execution_actions.kill_action(
            execution_id, self.services, self.tenant
        )
        return result

    @_refusals
    async def restart(self, execution_id: str, task_run_id: str | None) -> dict[str, Any]:
        result: dict[str, Any] = await execution_actions.restart(
            execution_id, self.services, self.tenant, taskRunId=task_run_id
        )
        return result

    @_refusals
    async def replay(self, execution_id: str, task_run_id: str | None) -> dict[str, Any]:
        result: dict[str, Any] = await execution_edits.replay(
            execution_id, self.services, self.tenant, taskRunId=task_run_id
        )
        return result

    @_refusals
    async def resume(self, execution_id: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in inputs.items()}
        request = self._request(
            body=urlencode(form).encode(), content_type="application/x-www-form-urlencoded"
        )
        result: dict[str, Any] = await execution_actions.resume_action(
            execution_id, request, self.services, self.tenant
        )
        return result

    @_refusals
    async def set_labels(self, execution_id: str, labels: Mapping[str, str]) -> dict[str, Any]:
        body = json.dumps([{"key": k, "value": v} for k, v in labels.items()]).encode()
        request = self._request(body=body, content_type="application/json")
        result: dict[str, Any] = await execution_edits.set_labels(
            execution_id, request, self.services, self.tenant
        )
        return result

    @_refusals
    async def outputs(self, execution_id: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await executions.outputs_of_execution(
            execution_id, self.services, self.tenant
        )
        return result

    # --- logs ----------------------------------------------------------------------------

    @_refusals
    async def execution_logs(
        self, execution_id: str, min_level: str | None, limit: int
    ) -> list[dict[str, Any]]:
        await executions.get_execution(execution_id, self.services, self.tenant)  # 404
        lines = await self.services.store.list_logs(
            self.tenant, execution_id, min_level=logs.parse_level(min_level), limit=limit
        )
        return [logs.log_json(entry) for entry in lines]

    @_refusals
    async def search_logs(
        self,
        namespace: str | None,
        flow_id: str | None,
        q: str | None,
        min_level: str | None,
        page: int,
        size: int,
    ) -> dict[str, Any]:
        request = self._request(queries.log_search(namespace, flow_id, q, min_level))
        result: dict[str, Any] = await logs.search_logs(
            request, self.services, self.tenant, page=page, size=size
        )
        return result

    # --- KV and namespace files ------------------------------------------------------------

    @_refusals
    async def kv_list(self, namespace: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await kv.list_keys(namespace, self.services, self.tenant)
        return result

    @_refusals
    async def kv_get(self, namespace: str, key: str) -> dict[str, Any]:
        result: dict[str, Any] = await kv.get_value(namespace, key, self.services, self.tenant)
        return result

    @_refusals
    async def kv_set(self, namespace: str, key: str, value: Any, ttl: str | None) -> None:
        request = self._request(body=json.dumps(value).encode(), content_type="application/json")
        await kv.put_value(
            namespace, key, request, self.services, self.tenant, ttl=ttl or "", description=None
        )

    @_refusals
    async def kv_delete(self, namespace: str, key: str) -> bool:
        return bool(await kv.delete_value(namespace, key, self.services, self.tenant))

    @_refusals
    async def files_list(self, namespace: str, path: str | None) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await namespace_files.list_directory(
            namespace, self.services, self.tenant, path=path
        )
        return result

    @_refusals
    async def file_read(self, namespace: str, path: str) -> bytes:
        files = namespace_files.files_of(self.services)
        attributes = await files.stats(self.tenant, namespace, path)
        if attributes.is_directory:
            raise BackendError(f"'{path}' is a directory", [("path", "a directory")])
        return await files.read(self.tenant, namespace, path)

    @_refusals
    async def file_write(self, namespace: str, path: str, content: bytes) -> None:
        request = self._request(body=content, content_type="application/octet-stream")
        await namespace_files.upload_file(namespace, request, self.services, self.tenant, path=path)

    @_refusals
    async def file_delete(self, namespace: str, path: str) -> None:
        await namespace_files.delete_file(namespace, self.services, self.tenant, path=path)
