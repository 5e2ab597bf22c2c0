"""Core ``http.*`` tasks: ``Request`` (the response becomes the outputs) and ``Download`` (the
response body goes to internal storage), on ``httpx``.

Properties and defaults are Kestra's (``AbstractHttp`` with ``HttpConfiguration`` under
``options``): ``contentType`` defaults to ``application/json`` (sent as the request's
``Content-Type`` even without a body), ``formData`` is URL-encoded unless ``contentType`` is
``multipart/form-data`` (a ``kestra://`` value or a ``{name, content}`` map is sent as a file),
``options.timeout`` (``connectTimeout``, ``readIdleTimeout`` = PT5M), ``auth`` (``BASIC``,
``BEARER``, ``DIGEST``), ``proxy``, ``ssl``, ``followRedirects`` (true), ``allowFailed``,
``allowedResponseCodes``, ``defaultCharset``, ``logs``; Kestra's deprecated spellings are still
read (``options.connectTimeout``/``readTimeout``/``proxy*``/``basicAuth*``/``logLevel``, a
top-level ``allowFailed`` and ``sslOptions``). A status >= 400 fails the task ("Failed http
request with response code '404' and body: ...") unless failures are allowed.

Every call has a timeout (connect 3 minutes as Apache's client, read idle 5 minutes by default).
The response size is bounded: ``options.maxContentLength`` (Kestra 0.1x), by default 10 MiB for
``Request``, whose body is kept in the outputs, and unbounded for ``Download``, which streams to
a file; a larger response fails the task naming the limit. The HTTP trigger lives in
``trigger``. Imports httpx, the domain and ``lanner.tasks`` only.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import unquote, urlsplit

import httpx

from lanner.domain.logs import LogLevel
from lanner.domain.times import parse_duration
from lanner.tasks.base import DYNAMIC, AnyMap, Bool, Duration, Int, Strict, Task, Text
from lanner.tasks.context import Outputs, RunContext
from lanner.tasks.failures import TaskFailure
from lanner.tasks.values import as_flag

CORE = "io.kestra.plugin.core.http"
LEGACY = "io.kestra.plugin.fs.http"
KESTRA = "kestra://"

DEFAULT_CONNECT_TIMEOUT_S = 180.0
DEFAULT_READ_IDLE_TIMEOUT_S = 300.0
REQUEST_MAX_CONTENT_LENGTH = 10 * 1024 * 1024
USER_AGENT = "Kestra"

Method = Annotated[
    Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT"], DYNAMIC
]
LogType = Literal["REQUEST_HEADERS", "REQUEST_BODY", "RESPONSE_HEADERS", "RESPONSE_BODY"]


class Auth(Strict):
    type: Annotated[Literal["BASIC", "BEARER", "DIGEST"], DYNAMIC]
    username: Text | None = None
    password: Text | None = None
    token: Text | None = None


class Ssl(Strict):
    insecureTrustAllCertificates: Bool | None = None


class Timeouts(Strict):
    connectTimeout: Duration | None = None
    readIdleTimeout: Duration | None = None


class Proxy(Strict):
    type: Annotated[Literal["DIRECT", "HTTP", "SOCKS"], DYNAMIC] = "DIRECT"
    address: Text | None = None
    port: Int | None = None
    username: Text | None = None
    password: Text | None = None


class RequestOptions(Strict):
    timeout: Timeouts | None = None
    proxy: Proxy | None = None
    auth: Auth | None = None
    ssl: Ssl | None = None
    followRedirects: Bool | None = None
    allowFailed: Bool | None = None
    allowedResponseCodes: Annotated[list[Int], DYNAMIC] | None = None
    defaultCharset: Text | None = None
    logs: list[LogType] | None = None
    # Kestra's deprecated spellings (still read)
    connectTimeout: Duration | None = None
    readTimeout: Duration | None = None
    readIdleTimeout: Duration | None = None
    connectionPoolIdleTimeout: Duration | None = None
    maxContentLength: Int | None = None
    proxyType: Text | None = None
    proxyAddress: Text | None = None
    proxyPort: Int | None = None
    proxyUsername: Text | None = None
    proxyPassword: Text | None = None
    basicAuthUser: Text | None = None
    basicAuthPassword: Text | None = None
    logLevel: Text | None = None


class HttpProperties(Strict):
    """Request properties shared by the HTTP tasks and trigger."""

    uri: Text
    method: Method = "GET"
    body: Any = None
    formData: AnyMap | None = None
    contentType: Text | None = "application/json"
    headers: AnyMap | None = None
    options: RequestOptions | None = None
    sslOptions: Ssl | None = None
    allowFailed: Bool | None = None
    """Deprecated: ``options.allowFailed``."""
    encryptBody: Bool = False
    """``Request`` and the trigger only (refused: no encrypted outputs here)."""


@dataclass
class _Config:
    """The rendered client settings of one task run."""

    timeout: httpx.Timeout
    follow_redirects: bool = True
    allow_failed: bool = False
    allowed_codes: list[int] | None = None
    verify: bool = True
    proxy: str | None = None
    auth: httpx.Auth | None = None
    charset: str = "UTF-8"
    logs: set[str] = field(default_factory=set)
    max_length: int | None = None


async def _seconds(ctx: RunContext, value: Any, name: str) -> float | None:
    text = await ctx.render(value)
    if not text:
        return None
    duration = parse_duration(text)
    if duration is None or duration.total_seconds() < 0:
        raise TaskFailure(f"{name} must be an ISO-8601 duration, got '{text}'", retryable=False)
    return duration.total_seconds()


async def _flag(ctx: RunContext, value: Any) -> bool | None:
    return None if value is None else as_flag(await ctx.render_typed(value))


async def _int(ctx: RunContext, value: Any, name: str) -> int | None:
    if value is None:
        return None
    rendered = await ctx.render_typed(value)
    try:
        return int(str(rendered).strip())
    except ValueError:
        raise TaskFailure(f"{name} must be an integer, got '{rendered}'", retryable=False) from None


_LEVEL_LOGS = {
    "TRACE": {"REQUEST_HEADERS", "REQUEST_BODY", "RESPONSE_HEADERS", "RESPONSE_BODY"},
    "DEBUG": {"REQUEST_HEADERS", "RESPONSE_HEADERS"},
    "INFO": {"RESPONSE_HEADERS"},
}


async def _config(task: HttpProperties, ctx: RunContext, default_max: int | None) -> _Config:
    options = task.options or RequestOptions()
    timeouts = options.timeout or Timeouts()
    connect = await _seconds(
        ctx, timeouts.connectTimeout or options.connectTimeout, "connectTimeout"
    )
    read = await _seconds(ctx, timeouts.readIdleTimeout or options.readTimeout, "readIdleTimeout")
    connect = DEFAULT_CONNECT_TIMEOUT_S if connect is None else connect
    read = DEFAULT_READ_IDLE_TIMEOUT_S if read is None else read
    config = _Config(timeout=httpx.Timeout(read, connect=connect, pool=connect))
    redirects = await _flag(ctx, options.followRedirects)
    config.follow_redirects = True if redirects is None else redirects
    allow = await _flag(ctx, options.allowFailed)
    if allow is None:
        allow = await _flag(ctx, task.allowFailed)
    config.allow_failed = bool(allow)
    if options.allowedResponseCodes is not None:
        codes = await ctx.render_typed(options.allowedResponseCodes)
        if not isinstance(codes, list):
            codes = json.loads(str(codes)) if str(codes).strip().startswith("[") else [codes]
        config.allowed_codes = [int(str(code)) for code in codes] or None
    ssl = options.ssl or task.sslOptions
    if ssl is not None and await _flag(ctx, ssl.insecureTrustAllCertificates):
        config.verify = False
    config.proxy = await _proxy(ctx, options)
    config.auth = await _auth(ctx, options)
    config.charset = (await ctx.render(options.defaultCharset) or "UTF-8").strip()
    if options.logs is not None:
        config.logs = set(options.logs)
    elif options.logLevel:
        config.logs = _LEVEL_LOGS.get((await ctx.render(options.logLevel) or "").upper(), set())
    limit = await _int(ctx, options.maxContentLength, "maxContentLength")
    config.max_length = default_max if limit is None else limit
    if task.method == "HEAD":
        config.max_length = None
    return config


async def _proxy(ctx: RunContext, options: RequestOptions) -> str | None:
    proxy = options.proxy or Proxy()
    kind = (
        await ctx.render(proxy.type if options.proxy else options.proxyType) or "DIRECT"
    ).upper()
    address = await ctx.render(proxy.address if options.proxy else options.proxyAddress)
    if not address:
        return None
    port = await _int(ctx, proxy.port if options.proxy else options.proxyPort, "proxy port")
    if port is None:
        raise TaskFailure("a proxy address needs a proxy port", retryable=False)
    if kind == "DIRECT":
        return None
    user = await ctx.render(proxy.username if options.proxy else options.proxyUsername)
    password = await ctx.render(proxy.password if options.proxy else options.proxyPassword)
    scheme = "socks5" if kind == "SOCKS" else "http"
    credentials = f"{user}:{password}@" if user is not None and password is not None else ""
    return f"{scheme}://{credentials}{address}:{port}"


async def _auth(ctx: RunContext, options: RequestOptions) -> httpx.Auth | None:
    auth = options.auth
    if auth is not None:
        kind = (await ctx.render(auth.type) or "").upper()
        if kind == "BEARER":
            return _Bearer(await ctx.render(auth.token) or "")
        user = await ctx.render(auth.username) or ""
        password = await ctx.render(auth.password) or ""
        return (
            httpx.DigestAuth(user, password)
            if kind == "DIGEST"
            else httpx.BasicAuth(user, password)
        )
    if options.basicAuthUser is not None and options.basicAuthPassword is not None:
        return httpx.BasicAuth(
            await ctx.render(options.basicAuthUser) or "",
            await ctx.render(options.basicAuthPassword) or "",
        )
    return None


class _Bearer(httpx.Auth):
    def __init__(self, token: str) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Any:
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


@dataclass
class _Prepared:
    """A rendered request: what ``httpx`` sends."""

    method: str
    url: str
    headers: dict[str, str]
    content: bytes | None = None
    data: dict[str, str] | None = None
    files: list[tuple[str, tuple[str, bytes]]] | None = None


async def _prepare(task: HttpProperties, ctx: RunContext, config: _Config) -> _Prepared:
    url = (await ctx.render(task.uri) or "").strip().replace(" ", "%20")
    if not url.lower().startswith(("http://", "https://")):
        raise TaskFailure(f"uri must be an http:// or https:// URL, got '{url}'", retryable=False)
    method = (await ctx.render(task.method) or "GET").upper()
    content_type = await ctx.render(task.contentType)
    prepared = _Prepared(method, url, {"User-Agent": USER_AGENT})
    form = await ctx.render_typed(task.formData) if task.formData is not None else None
    if form:
        if not isinstance(form, Mapping):
            raise TaskFailure("formData must be a map", retryable=False)
        if content_type == "multipart/form-data":
            prepared.data, prepared.files = await _multipart(ctx, form)
        else:
            prepared.data = {str(k): _form_text(v) for k, v in form.items()}
    elif task.body is not None:
        rendered = await ctx.render_typed(task.body)
        body = rendered if isinstance(rendered, str) else json.dumps(rendered, default=str)
        prepared.content = body.encode(config.charset)
        if content_type:
            charset = "" if "charset" in content_type.lower() else f"; charset={config.charset}"
            prepared.headers["Content-Type"] = content_type + charset
    elif content_type:
        prepared.headers["Content-Type"] = content_type
    headers = await ctx.render_typed(task.headers) if task.headers is not None else None
    for name, value in (headers or {}).items():
        prepared.headers[str(name)] = (
            ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        )
    return prepared


def _form_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value)


async def _multipart(
    ctx: RunContext, form: Mapping[str, Any]
) -> tuple[dict[str, str], list[tuple[str, tuple[str, bytes]]]]:
    data: dict[str, str] = {}
    files: list[tuple[str, tuple[str, bytes]]] = []
    for key, value in form.items():
        if isinstance(value, str) and value.startswith(KESTRA):
            name = PurePosixPath(unquote(urlsplit(value).path)).name or str(key)
            files.append((str(key), (name, await ctx.read_file(value))))
        elif isinstance(value, Mapping) and "name" in value and "content" in value:
            files.append(
                (str(key), (str(value["name"]), await ctx.read_file(str(value["content"]))))
            )
        elif isinstance(value, str):
            data[str(key)] = value
        else:
            data[str(key)] = json.dumps(value)
    return data, files


@asynccontextmanager
async def _exchange(
    ctx: RunContext, config: _Config, prepared: _Prepared
) -> AsyncIterator[httpx.Response]:
    """Send the request; yields the response with its body not read yet."""
    try:
        client = httpx.AsyncClient(
            timeout=config.timeout,
            follow_redirects=config.follow_redirects,
            verify=config.verify,
            proxy=config.proxy,
            auth=config.auth,
            trust_env=False,
        )
    except ImportError as error:  # a SOCKS proxy without the socksio package
        raise TaskFailure(
            f"this proxy type is not supported here: {error}", retryable=False
        ) from None
    async with client:
        request = client.build_request(
            prepared.method, prepared.url, headers=prepared.headers, content=prepared.content,
            data=prepared.data, files=prepared.files,
        )  # fmt: skip
        _log_request(ctx, config, request)
        try:
            response = await client.send(request, stream=True)
        except httpx.TimeoutException as error:
            raise TaskFailure(f"Request '{prepared.url}' timed out: {_reason(error)}") from None
        except httpx.HTTPError as error:
            raise TaskFailure(f"Request '{prepared.url}' failed: {_reason(error)}") from None
        try:
            ctx.logger.log(
                LogLevel.DEBUG,
                f"Request '{prepared.url}' with the response code '{response.status_code}'",
            )
            _log_response(ctx, config, response)
            yield response
        finally:
            await response.aclose()


def _reason(error: Exception) -> str:
    return str(error) or type(error).__name__


def _log_request(ctx: RunContext, config: _Config, request: httpx.Request) -> None:
    if "REQUEST_HEADERS" in config.logs:
        ctx.logger.log(
            LogLevel.DEBUG, f"request:\n    method: {request.method}\n    uri: {request.url}"
        )
        ctx.logger.log(LogLevel.DEBUG, _headers_entry("request", request.headers.raw))
    if "REQUEST_BODY" in config.logs:
        try:
            body = request.content.decode("utf-8", errors="replace")
        except httpx.RequestNotRead:  # a streamed (multipart) body
            body = "(streamed)"
        ctx.logger.log(LogLevel.TRACE, f"request body:\n{body}")


def _log_response(ctx: RunContext, config: _Config, response: httpx.Response) -> None:
    if "RESPONSE_HEADERS" in config.logs:
        ctx.logger.log(LogLevel.DEBUG, f"response:\n    status: {response.status_code}")
        ctx.logger.log(LogLevel.DEBUG, _headers_entry("response", response.headers.raw))


def _headers_entry(kind: str, raw: list[tuple[bytes, bytes]]) -> str:
    lines = [f"{kind} headers:"]
    for name, value in raw:
        shown = "******" if name.lower() in (b"authorization", b"proxy-authorization") else value
        lines.append(
            f"    {name.decode('latin-1')}: {shown if isinstance(shown, str) else shown.decode('latin-1')}"
        )
    return "\n".join(lines)


def response_headers(response: httpx.Response) -> dict[str, list[str]]:
    """The response's headers as Kestra outputs them: each name (first spelling seen) to
    its values."""
    grouped: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for raw_name, raw_value in response.headers.raw:
        name = raw_name.decode("latin-1")
        key = names.setdefault(name.lower(), name)
        grouped.setdefault(key, []).append(raw_value.decode("latin-1"))
    return grouped


async def _read_body(response: httpx.Response, limit: int | None, url: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if limit is not None and size > limit:
            raise _too_large(url, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(url: str, limit: int) -> TaskFailure:
    return TaskFailure(
        f"The response of '{url}' is larger than the limit of {limit} bytes "
        "(options.maxContentLength)",
        retryable=False,
    )


def _check_status(config: _Config, response: httpx.Response, body: bytes | None) -> None:
    code = response.status_code
    failed = (not config.allow_failed and code >= 400) or (
        config.allowed_codes is not None and code not in config.allowed_codes
    )
    if failed:
        message = f"Failed http request with response code '{code}'"
        if body:
            message += " and body:\n" + body.decode("utf-8", errors="replace")
        raise TaskFailure(message)


def _metrics(ctx: RunContext, prepared: _Prepared, response: httpx.Response, length: int) -> None:
    url = urlsplit(prepared.url)
    tags = {
        "request.method": prepared.method,
        "request.scheme": url.scheme,
        "request.hostname": url.hostname or "",
        "response.code": str(response.status_code),
    }
    ctx.metric("response.length", length, tags=tags)


class Request(Task, HttpProperties):
    """Send an HTTP request; the response becomes the outputs."""

    TYPE: ClassVar[str] = f"{CORE}.Request"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.Request",)

    async def run(self, ctx: RunContext) -> Outputs:
        if as_flag(await ctx.render_typed(self.encryptBody)):
            raise TaskFailure(
                "encryptBody: encrypted outputs are not supported by this server yet",
                retryable=False,
            )
        config = await _config(self, ctx, REQUEST_MAX_CONTENT_LENGTH)
        prepared = await _prepare(self, ctx, config)
        async with _exchange(ctx, config, prepared) as response:
            declared = response.headers.get("content-length", "")
            if config.max_length is not None and declared.isdigit():
                if int(declared) > config.max_length:
                    raise _too_large(prepared.url, config.max_length)
            body = await _read_body(response, config.max_length, prepared.url)
            _check_status(config, response, body)
            if "RESPONSE_BODY" in config.logs:
                ctx.logger.log(LogLevel.TRACE, "response body:\n" + body.decode(errors="replace"))
            _metrics(ctx, prepared, response, len(body))
            return {
                "uri": prepared.url,  # the URI requested (Kestra), not a redirect's
                "code": response.status_code,
                "headers": response_headers(response),
                "body": body.decode(response.encoding or "utf-8", errors="replace")
                if body
                else None,
            }


class Download(Task, HttpProperties):
    """Download a URL into internal storage."""

    TYPE: ClassVar[str] = f"{CORE}.Download"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.Download",)

    failOnEmptyResponse: Bool = True
    saveAs: Text | None = None

    async def run(self, ctx: RunContext) -> Outputs:
        config = await _config(self, ctx, None)
        prepared = await _prepare(self, ctx, config)
        target = ctx.working_directory() / f"download-{uuid.uuid4().hex}"
        async with _exchange(ctx, config, prepared) as response:
            size = await _stream_to(response, target, config.max_length, prepared.url)
            if response.status_code >= 400 or config.allowed_codes is not None:
                body = await asyncio.to_thread(target.read_bytes) if size <= 64 * 1024 else None
                _check_status(config, response, body)
            headers = response_headers(response)
            disposition = response.headers.get("content-disposition")
        if size == 0:
            if as_flag(await ctx.render_typed(self.failOnEmptyResponse)):
                if not config.allow_failed:
                    raise TaskFailure("No response from server")
            else:
                ctx.logger.log(LogLevel.WARN, f"File '{prepared.url}' is empty")
        name = await ctx.render(self.saveAs) if self.saveAs else None
        name = name or _filename(disposition) or _temp_name(prepared.url)
        ctx.logger.log(LogLevel.DEBUG, f"File '{prepared.url}' downloaded with size '{size}'")
        _metrics(ctx, prepared, response, size)
        try:
            uri = await ctx.put_file(name, target)
        finally:
            await asyncio.to_thread(target.unlink, True)
        return {"code": response.status_code, "uri": uri, "headers": headers, "length": size}


async def _stream_to(response: httpx.Response, target: Path, limit: int | None, url: str) -> int:
    size = 0
    handle = await asyncio.to_thread(target.open, "wb")
    try:
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if limit is not None and size > limit:
                raise _too_large(url, limit)
            await asyncio.to_thread(handle.write, chunk)
    finally:
        await asyncio.to_thread(handle.close)
    return size


def _filename(disposition: str | None) -> str | None:
    """The file name of a ``Content-Disposition`` header (``filename*`` wins), its last path
    segment only."""
    if not disposition:
        return None
    name: str | None = None
    for part in disposition.split(";"):
        item = part.strip()
        if item.lower().startswith("filename*="):
            value = item.split("=", 1)[1]
            name = unquote(value.split("'", 2)[-1]).strip('"')
            break
        if item.lower().startswith("filename="):
            name = item.split("=", 1)[1].strip().strip('"')
    if not name:
        return None
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    return name if name not in ("", ".", "..") else None


def _temp_name(url: str) -> str:
    """A random name keeping the extension of the URL's last path segment (Kestra)."""
    segment = PurePosixPath(urlsplit(url).path).name
    extension = segment[segment.rindex(".") :] if "." in segment else ".tmp"
    return f"{uuid.uuid4().int % 10**19}{extension}"


MODELS: tuple[type[Task], ...] = (Request, Download)
