"""Kestra's wire format: JSON encoding, paged results and the Flow/FlowWithSource bodies.

Jackson (Kestra's serializer) omits nulls and writes instants as ISO-8601 with ``Z``; this module
is the one place those habits live.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote

import orjson
from starlette.responses import JSONResponse, Response

from lanner.store import Page, StoredFlow

_ORJSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


def dumps(value: Any) -> bytes:
    """Encode ``value`` as Kestra does (UTC instants with ``Z``)."""
    return orjson.dumps(value, option=_ORJSON_OPTIONS)


class JsonResponse(JSONResponse):
    """A JSON response encoded with orjson (a ``JSONResponse``, so the document shows its model)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


def content_disposition(filename: str) -> str:
    """``attachment`` naming ``filename`` per RFC 6266: an ASCII fallback and ``filename*``.

    Header values travel as Latin-1; any name (quotes, control or non-Latin-1 characters) is
    safe here, the exact name going in ``filename*=UTF-8''<percent-encoded>``.
    """
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\%' else "_" for c in filename)
    encoded = quote(filename, safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def flow_json(flow: StoredFlow, *, with_source: bool = False) -> dict[str, Any]:
    """Kestra's ``Flow`` body (``FlowWithSource`` when ``with_source``)."""
    body: dict[str, Any] = {"id": flow.id, "namespace": flow.namespace, "revision": flow.revision}
    body.update(flow.document)
    body["id"] = flow.id
    body["namespace"] = flow.namespace
    body["revision"] = flow.revision
    body["disabled"] = flow.disabled
    body["deleted"] = flow.deleted
    body["draft"] = False  # Kestra 2.0's SDK requires it; 1.3 clients ignore it
    body["tenantId"] = flow.tenant_id
    body["updated"] = flow.updated
    if with_source:
        body["source"] = flow.source
    return body


def flows_json(flows: Iterable[StoredFlow], *, with_source: bool = False) -> list[dict[str, Any]]:
    return [flow_json(flow, with_source=with_source) for flow in flows]


def paged(page: Page[Any], results: Sequence[Any]) -> dict[str, Any]:
    """Kestra's ``PagedResults``: ``{"results": [...], "total": n}``."""
    return {"results": list(results), "total": page.total}


class BinaryResponse(Response):
    """Bytes to download; named as a route's ``response_class`` so the document says so."""

    media_type = "application/octet-stream"


class EventStreamResponse(Response):
    """Server-sent events; named as a route's ``response_class`` so the document says so."""

    media_type = "text/event-stream"
