"""Core ``http.*`` tasks (``Request``, ``Download``): properties only, no runtime yet.

The HTTP trigger lives in ``trigger``. Imports ``lanner.tasks`` only.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from lanner.tasks.base import DYNAMIC, AnyMap, Bool, Duration, Int, Strict, Task, Text

CORE = "io.kestra.plugin.core.http"
LEGACY = "io.kestra.plugin.fs.http"

Method = Annotated[
    Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT"], DYNAMIC
]


class Auth(Strict):
    type: Text | None = None
    username: Text | None = None
    password: Text | None = None
    token: Text | None = None


class Ssl(Strict):
    insecureTrustAllCertificates: Bool | None = None


class RequestOptions(Strict):
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
    defaultCharset: Text | None = None
    followRedirects: Bool | None = None
    logLevel: Text | None = None
    logs: list[Text] | None = None
    basicAuthUser: Text | None = None
    basicAuthPassword: Text | None = None
    auth: Auth | None = None
    ssl: Ssl | None = None
    allowFailed: Bool | None = None
    allowedResponseCodes: list[Int] | None = None


class HttpProperties(Strict):
    """Request properties shared by the HTTP tasks and trigger."""

    uri: Text
    method: Method = "GET"
    body: Any = None
    formData: AnyMap | None = None
    contentType: Text | None = None
    headers: AnyMap | None = None
    options: RequestOptions | None = None
    sslOptions: Ssl | None = None
    encryptBody: Bool = False


class Request(Task, HttpProperties):
    """Send an HTTP request; the response becomes the outputs."""

    TYPE: ClassVar[str] = f"{CORE}.Request"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.Request",)

    allowFailed: Bool = False


class Download(Task, HttpProperties):
    """Download a URL into internal storage."""

    TYPE: ClassVar[str] = f"{CORE}.Download"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.Download",)

    allowFailed: Bool = False
    failOnEmptyResponse: Bool = True
    saveAs: Text | None = None


MODELS: tuple[type[Task], ...] = (Request, Download)
