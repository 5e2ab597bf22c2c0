"""``http.Request``, ``http.Download`` and the ``http()`` template function end to end on the
real engine, store (both backends) and storage, against a real HTTP server on 127.0.0.1 (no
outside network): methods, bodies, forms, auth, redirects, allowed failures, the size limit,
timeouts, failures with their reason in the logs, and bad properties refused at save."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from tests.engine.conftest import Harness

from lanner.domain.states import StateType
from lanner.engine.feeds import ChangeFeed
from lanner.engine.service import Engine
from lanner.errors import InvalidFlowError
from lanner.flows.runnability import parse_for_save
from lanner.storage import LocalStorage, path_of
from lanner.store import Store

S = StateType
HTTP = "io.kestra.plugin.core.http"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # quiet
        return

    def _send(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _echo(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", errors="replace")
        echoed = {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body,
        }
        self._send(200, json.dumps(echoed).encode(), {"Content-Type": "application/json"})

    def do_GET(self) -> None:
        if self.path == "/json":
            self._send(200, b'{"hello": "world"}', {"Content-Type": "application/json"})
        elif self.path == "/redirect":
            self._send(302, b"", {"Location": "/json"})
        elif self.path == "/missing":
            self._send(404, b"nope", {"Content-Type": "text/plain"})
        elif self.path == "/big":
            self._send(200, b"x" * 2000)
        elif self.path == "/data":
            headers = {"Content-Disposition": 'attachment; filename="report.csv"'}
            self._send(200, b"a,b\n1,2\n", headers)
        elif self.path == "/empty":
            self._send(200, b"")
        elif self.path == "/slow":
            time.sleep(1.0)
            self._send(200, b"late")
        else:
            self._echo()

    do_POST = do_PUT = do_DELETE = do_PATCH = _echo

    def do_HEAD(self) -> None:
        self._send(200, b"", {"X-Head": "yes"})


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        return  # a client that hung up early (the size limit) is expected here


@pytest.fixture
def server() -> Iterator[str]:
    httpd = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "storage")


@pytest.fixture
async def harness(store: Store, storage: LocalStorage) -> AsyncIterator[Harness]:
    feed = ChangeFeed()
    engine = Engine(store, feed, worker_concurrency=8, storage=storage)
    await engine.start()
    try:
        yield Harness(store, feed, engine)
    finally:
        await engine.stop(grace_s=2.0)


def flow(tasks: str) -> str:
    return f"id: http\nnamespace: company.team\ntasks:\n{tasks}"


async def messages(harness: Harness, execution_id: str, task_id: str) -> list[str]:
    return [e.message for e in await harness.store.list_logs("main", execution_id, task_id=task_id)]


async def test_requests_send_bodies_forms_auth_and_read_the_response(
    harness: Harness, server: str
) -> None:
    source = flow(
        f"  - id: get\n    type: {HTTP}.Request\n    uri: {server}/json\n"
        f"  - id: post\n    type: {HTTP}.Request\n    uri: {server}/echo\n    method: POST\n"
        "    body: '{{ {\"a\": 1} | json }}'\n    headers:\n      X-Test: '{{ 1 + 1 }}'\n"
        "    options:\n      auth:\n        type: BASIC\n        username: user\n"
        "        password: pass\n"
        f"  - id: bearer\n    type: {HTTP}.Request\n    uri: {server}/echo\n    method: PUT\n"
        "    contentType: text/plain\n    body: hi\n"
        "    options:\n      auth: {type: BEARER, token: tok}\n"
        f"  - id: legacy_auth\n    type: io.kestra.plugin.fs.http.Request\n    uri: {server}/echo\n"
        "    options: {basicAuthUser: old, basicAuthPassword: pw, readTimeout: PT10S}\n"
        f"  - id: map_body\n    type: {HTTP}.Request\n    uri: {server}/echo\n    method: PATCH\n"
        "    body: \"{{ {'b': 2} }}\"\n"
        f"  - id: form\n    type: {HTTP}.Request\n    uri: {server}/echo\n    method: POST\n"
        "    formData:\n      user: John Doe\n      n: 2\n"
        f"  - id: write\n    type: io.kestra.plugin.core.storage.Write\n    content: filedata\n"
        "    extension: .txt\n"
        f"  - id: multipart\n    type: {HTTP}.Request\n    uri: {server}/echo\n    method: POST\n"
        "    contentType: multipart/form-data\n"
        "    formData:\n      field: plain\n      upload: '{{ outputs.write.uri }}'\n"
        "      named:\n        name: my-file.txt\n        content: '{{ outputs.write.uri }}'\n"
        f"  - id: head\n    type: {HTTP}.Request\n    uri: {server}/json\n    method: HEAD\n"
        f"  - id: redirected\n    type: {HTTP}.Request\n    uri: {server}/redirect\n"
        f"  - id: not_followed\n    type: {HTTP}.Request\n    uri: {server}/redirect\n"
        "    options: {followRedirects: false}\n"
        f"  - id: allowed\n    type: {HTTP}.Request\n    uri: {server}/missing\n"
        "    options: {allowFailed: true}\n"
        f"  - id: allowed_legacy\n    type: {HTTP}.Request\n    uri: {server}/missing\n"
        "    allowFailed: true\n"
        "  - id: fn\n    type: io.kestra.plugin.core.output.OutputValues\n"
        f"    values:\n      hello: \"{{{{ http(uri='{server}/json').hello }}}}\"\n"
        f"      echoed: \"{{{{ http(uri='{server}/echo', method='POST', body={{'k': 'v'}}).body }}}}\"\n"
    )
    execution = await harness.run_flow(source)
    errors = [e.message for e in await harness.store.list_logs("main", execution.id)]
    assert execution.state.current is S.SUCCESS, errors
    runs = await harness.runs(execution.id)
    get = runs["get"].outputs
    assert get["code"] == 200
    assert get["uri"] == f"{server}/json"
    assert json.loads(get["body"]) == {"hello": "world"}
    assert get["headers"]["Content-Type"] == ["application/json"]
    post = json.loads(runs["post"].outputs["body"])
    assert post["method"] == "POST"
    assert json.loads(post["body"]) == {"a": 1}
    assert post["headers"]["x-test"] == "2"
    assert post["headers"]["content-type"].startswith("application/json")
    assert post["headers"]["authorization"] == "Basic dXNlcjpwYXNz"
    assert post["headers"]["user-agent"] == "Kestra"
    bearer = json.loads(runs["bearer"].outputs["body"])
    assert bearer["headers"]["authorization"] == "Bearer tok"
    assert bearer["headers"]["content-type"].startswith("text/plain")
    assert bearer["body"] == "hi"
    legacy = json.loads(runs["legacy_auth"].outputs["body"])
    assert legacy["headers"]["authorization"] == "Basic b2xkOnB3"
    assert legacy["headers"]["content-type"] == "application/json"  # Kestra's default
    map_body = json.loads(runs["map_body"].outputs["body"])
    assert json.loads(map_body["body"]) == {"b": 2}  # a map is sent as JSON
    assert map_body["headers"]["content-type"] == "application/json; charset=UTF-8"
    form = json.loads(runs["form"].outputs["body"])
    assert form["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert form["body"] == "user=John+Doe&n=2"
    multipart = json.loads(runs["multipart"].outputs["body"])
    assert multipart["headers"]["content-type"].startswith("multipart/form-data; boundary=")
    assert 'name="field"\r\n\r\nplain' in multipart["body"]
    assert 'name="upload"; filename="' in multipart["body"]
    assert 'name="named"; filename="my-file.txt"' in multipart["body"]
    assert multipart["body"].count("filedata") == 2
    head = runs["head"].outputs
    assert (head["code"], head["body"], head["headers"]["X-Head"]) == (200, None, ["yes"])
    assert runs["redirected"].outputs["code"] == 200
    assert runs["redirected"].outputs["uri"] == f"{server}/redirect"  # the URI requested
    assert json.loads(runs["redirected"].outputs["body"]) == {"hello": "world"}
    assert runs["not_followed"].outputs["code"] == 302
    assert runs["not_followed"].outputs["headers"]["Location"] == ["/json"]
    assert runs["allowed"].outputs["code"] == 404
    assert runs["allowed"].outputs["body"] == "nope"
    assert runs["allowed_legacy"].outputs["code"] == 404
    assert runs["fn"].outputs["values"]["hello"] == "world"
    assert json.loads(runs["fn"].outputs["values"]["echoed"]) == {"k": "v"}


async def test_download_writes_the_body_to_storage_and_failures_are_logged(
    harness: Harness, server: str, storage: LocalStorage
) -> None:
    source = flow(
        f"  - id: download\n    type: {HTTP}.Download\n    uri: {server}/data\n"
        f"  - id: legacy\n    type: io.kestra.plugin.fs.http.Download\n    uri: {server}/big\n"
        f"  - id: empty_ok\n    type: {HTTP}.Download\n    uri: {server}/empty\n"
        "    failOnEmptyResponse: false\n"
        f"  - id: empty\n    type: {HTTP}.Download\n    uri: {server}/empty\n"
        "    allowFailure: true\n"
        f"  - id: missing\n    type: {HTTP}.Request\n    uri: {server}/missing\n"
        "    allowFailure: true\n"
        f"  - id: too_large\n    type: {HTTP}.Request\n    uri: {server}/big\n"
        "    options: {maxContentLength: 100}\n    allowFailure: true\n"
        f"  - id: slow\n    type: {HTTP}.Request\n    uri: {server}/slow\n"
        "    options:\n      timeout: {readIdleTimeout: PT0.2S}\n    allowFailure: true\n"
        f"  - id: refused\n    type: {HTTP}.Request\n    uri: http://127.0.0.1:9/\n"
        "    options:\n      timeout: {connectTimeout: PT2S}\n    allowFailure: true\n"
        f"  - id: encrypted\n    type: {HTTP}.Request\n    uri: {server}/json\n"
        "    encryptBody: true\n    allowFailure: true\n"
        "  - id: fn\n    type: io.kestra.plugin.core.log.Log\n    allowFailure: true\n"
        f"    message: \"{{{{ http(uri='{server}/missing') }}}}\"\n"
    )
    execution = await harness.run_flow(source)
    assert execution.state.current is S.WARNING
    runs = await harness.runs(execution.id)
    download = runs["download"].outputs
    assert download["uri"].endswith("/report.csv")
    assert (download["code"], download["length"]) == (200, 8)
    assert download["headers"]["Content-Length"] == ["8"]
    assert await storage.read_bytes("main", path_of(download["uri"])) == b"a,b\n1,2\n"
    legacy = runs["legacy"].outputs
    assert legacy["length"] == 2000
    assert legacy["uri"].endswith(".tmp")
    assert runs["empty_ok"].outputs["length"] == 0
    assert any("is empty" in m for m in await messages(harness, execution.id, "empty_ok"))
    reasons = {
        "empty": "No response from server",
        "missing": "Failed http request with response code '404' and body:\nnope",
        "too_large": "is larger than the limit of 100 bytes (options.maxContentLength)",
        "slow": "timed out",
        "refused": "failed",
        "encrypted": "encryptBody",
        "fn": "Failed to execute HTTP Request, server respond with status 404 : Not Found",
    }
    for task_id, reason in reasons.items():
        assert runs[task_id].state.current is S.WARNING, task_id  # failed, allowFailure
        logged = await messages(harness, execution.id, task_id)
        assert any(reason in m for m in logged), (task_id, logged)


def test_bad_http_properties_are_refused_at_save_naming_them() -> None:
    source = flow(
        f"  - id: a\n    type: {HTTP}.Request\n    uri: http://x\n    method: FETCH\n"
        f"  - id: b\n    type: {HTTP}.Request\n    uri: http://x\n"
        "    options:\n      auth: {type: KERBEROS}\n"
        f"  - id: c\n    type: {HTTP}.Download\n    uri: http://x\n"
        "    options:\n      timeout: {connectTimeout: soon}\n"
        f"  - id: d\n    type: {HTTP}.Request\n    method: GET\n"
    )
    with pytest.raises(InvalidFlowError) as caught:
        parse_for_save(source)
    paths = " ".join(d.path for d in caught.value.details)
    assert "tasks[0].method" in paths
    assert "tasks[1].options.auth.type" in paths
    assert "tasks[2].options.timeout.connectTimeout" in paths
    assert "tasks[3].uri" in paths
