"""Kestra's ``http()`` template function: call a URL while rendering, get its decoded body.

``http(uri, method='GET', query={}, body, contentType='application/json',
headers={}, options={}, accept='application/json')``: ``body`` is sent as it is when it is a
string, else written as JSON (YAML for a YAML content type, URL-encoded for a form one);
``options`` takes the HTTP tasks' ``timeout`` (``connectTimeout``, ``readIdleTimeout``),
``auth`` (``BASIC``/``BEARER``), ``followRedirects``, ``allowFailed`` and ``ssl``. The body
comes back parsed: YAML for a YAML content type, else JSON; a body that is not JSON comes back
as text (Kestra fails on it). A status >= 400 fails rendering, as Kestra does, unless
``allowFailed``. Every call is bounded (connect 3 minutes, read idle 5 minutes, a 10 MiB body)
and blocks, so it is one of the functions rendered off the event loop. Imports httpx (at the
first call: most processes never render one), yaml, orjson, the standard library and this
package.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import orjson
import yaml

from .errors import TemplateRenderError

if TYPE_CHECKING:
    import httpx
    from jinja2.runtime import Context

CONNECT_TIMEOUT_S = 180.0
READ_IDLE_TIMEOUT_S = 300.0
MAX_BODY_BYTES = 10 * 1024 * 1024
JSON = "application/json"
_DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$", re.IGNORECASE)


def _seconds(value: Any, default: float) -> float:
    if value is None:
        return default
    match = _DURATION.match(str(value).strip())
    if match is None or not any(match.groups()):
        raise TemplateRenderError(f"http(): invalid duration '{value}' in options.timeout")
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


def _flag(value: Any, default: bool) -> bool:
    if value is None:
        return default
    return value if isinstance(value, bool) else str(value).strip().lower() == "true"


def _content(body: Any, content_type: str) -> bytes:
    if isinstance(body, str):
        return body.encode("utf-8")
    kind = content_type.split(";", 1)[0].strip().lower()
    if "yaml" in kind:
        return yaml.safe_dump(body, sort_keys=False).encode("utf-8")
    if kind == "application/x-www-form-urlencoded" and isinstance(body, Mapping):
        return urlencode({str(k): str(v) for k, v in body.items()}).encode("ascii")
    return orjson.dumps(body, default=str)


def _auth(
    options: Mapping[str, Any],
) -> httpx.Auth | Callable[[httpx.Request], httpx.Request] | None:
    import httpx

    auth = options.get("auth")
    if not isinstance(auth, Mapping):
        return None
    kind = str(auth.get("type", "")).upper()
    if kind == "BEARER":
        return _bearer(str(auth.get("token", "")))
    if kind == "BASIC":
        return httpx.BasicAuth(str(auth.get("username", "")), str(auth.get("password", "")))
    raise TemplateRenderError(f"http(): unsupported options.auth.type '{auth.get('type')}'")


def _bearer(token: str) -> Callable[[httpx.Request], httpx.Request]:
    def authorize(request: httpx.Request) -> httpx.Request:
        request.headers["Authorization"] = f"Bearer {token}"
        return request

    return authorize  # httpx takes a callable as an auth


def http(
    context: Context,
    uri: Any = None,
    method: Any = "GET",
    query: Any = None,
    body: Any = None,
    contentType: Any = None,
    headers: Any = None,
    options: Any = None,
    accept: Any = None,
) -> Any:
    import httpx

    if uri is None:
        raise TemplateRenderError("The 'http' function expects an argument 'uri'.")
    settings: Mapping[str, Any] = options if isinstance(options, Mapping) else {}
    timeouts = settings.get("timeout") if isinstance(settings.get("timeout"), Mapping) else {}
    assert isinstance(timeouts, Mapping)
    connect = _seconds(timeouts.get("connectTimeout"), CONNECT_TIMEOUT_S)
    read = _seconds(timeouts.get("readIdleTimeout"), READ_IDLE_TIMEOUT_S)
    ssl = settings.get("ssl") if isinstance(settings.get("ssl"), Mapping) else {}
    assert isinstance(ssl, Mapping)
    content_type = str(contentType or JSON)
    sent: dict[str, str] = {"User-Agent": "Kestra"}
    for name, value in (headers or {}).items() if isinstance(headers, Mapping) else ():
        if str(name).lower() != "content-type":
            sent[str(name)] = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    sent["Accept"] = str(accept or JSON)
    content = None
    if body is not None:
        content = _content(body, content_type)
        sent["Content-Type"] = content_type
    params = {str(k): str(v) for k, v in query.items()} if isinstance(query, Mapping) else None
    try:
        with (
            httpx.Client(
                timeout=httpx.Timeout(read, connect=connect, pool=connect),
                follow_redirects=_flag(settings.get("followRedirects"), True),
                verify=not _flag(ssl.get("insecureTrustAllCertificates"), False),
                auth=_auth(settings),
                trust_env=False,
            ) as client,
            client.stream(
                str(method or "GET").upper(), str(uri), params=params, headers=sent, content=content
            ) as response,
        ):
            data = bytearray()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > MAX_BODY_BYTES:
                    raise TemplateRenderError(
                        f"http(): the response of '{uri}' is larger than {MAX_BODY_BYTES} bytes"
                    )
    except httpx.HTTPError as error:
        raise TemplateRenderError(f"Failed to execute HTTP request: {error}") from None
    if response.status_code >= 400 and not _flag(settings.get("allowFailed"), False):
        raise TemplateRenderError(
            "Failed to execute HTTP Request, server respond with status "
            f"{response.status_code} : {response.reason_phrase}"
        )
    return _decode(bytes(data), response.headers.get("content-type", ""))


def _decode(data: bytes, content_type: str) -> Any:
    if not data:
        return None
    if "yaml" in content_type.lower():
        try:
            return yaml.safe_load(data)
        except yaml.YAMLError as error:
            raise TemplateRenderError(
                f"http(): the YAML response cannot be read: {error}"
            ) from None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return data.decode("utf-8", errors="replace")
