"""Webhook triggers: ``GET|POST|PUT /executions/webhook/{namespace}/{flowId}/{key}`` start an
execution the tasks read as ``trigger.body|headers|parameters`` — on both backends, without
credentials although basic auth is on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from tests.api.executions_support import deploy

from lanner.api.context import Services
from lanner.api.limits import body_limit
from lanner.api.webhooks import request_body

pytestmark = pytest.mark.asyncio

DEADLINE_S = 20.0
KEY = "my-secret-key"

READER = """\
id: my-flow
namespace: {ns}
{extra}labels:
  team: data
tasks:
  - id: read
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ trigger.body.x }}}}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: {key}
"""

ECHO = """\
id: echo
namespace: {ns}
inputs:
  - id: who
    type: STRING
    defaults: nobody
tasks:
  - id: body
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ trigger.body }}}}"
  - id: who
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ inputs.who }}}}"
triggers:
  - id: off
    type: io.kestra.plugin.core.trigger.Webhook
    key: off-key
    disabled: true
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: "{{{{ flow.id }}}}-key"
    inputs:
      who: "{{{{ trigger.parameters.who[0] }}}}"
"""

WAITING = """\
id: {flow_id}
namespace: {ns}
tasks:
  - id: read
    type: io.kestra.plugin.core.debug.Return
    format: "got {{{{ trigger.body.x }}}}"
outputs:
  - id: got
    type: STRING
    value: "{{{{ outputs.read.value }}}}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: wait-key
    wait: true
    returnOutputs: {return_outputs}
"""


@pytest.fixture
async def engine(services: Services) -> AsyncIterator[Any]:
    """The real engine over the test's store and feed."""
    from lanner.engine import Engine  # type: ignore[attr-defined]

    running = Engine(services.store, services.feed)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def poll(
    api: httpx.AsyncClient, execution_id: str, is_reached: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while True:
        body: dict[str, Any] = (await api.get(f"/api/v1/executions/{execution_id}")).json()
        if is_reached(body):
            return body
        assert loop.time() < deadline, f"execution stuck in {body['state']['current']}"
        await asyncio.sleep(0.02)


def ended(body: dict[str, Any]) -> bool:
    return body["state"]["current"] in ("SUCCESS", "FAILED", "WARNING", "KILLED")


def outputs_of(execution: dict[str, Any]) -> dict[str, Any]:
    return {run["taskId"]: run["outputs"] for run in execution["taskRunList"]}


@pytest.mark.usefixtures("engine")
async def test_json_body_is_read_by_a_task(
    api: httpx.AsyncClient, anonymous_api: httpx.AsyncClient, ns: str
) -> None:
    await deploy(api, READER.format(ns=ns, key=KEY, extra=""))
    response = await anonymous_api.post(
        f"/api/v1/executions/webhook/{ns}/my-flow/{KEY}",
        json={"x": "forty-two"},
        headers={"X-Custom": "yes"},
        params={"a": ["1", "2"]},
    )
    assert response.status_code == 200, response.text
    created = response.json()
    assert created["url"].endswith(f"/executions/{ns}/my-flow/{created['id']}")
    assert created["state"]["current"] == "CREATED"
    trigger = created["trigger"]
    assert (trigger["id"], trigger["type"]) == ("hook", "io.kestra.plugin.core.trigger.Webhook")
    assert trigger["variables"]["body"] == {"x": "forty-two"}
    assert trigger["variables"]["headers"]["x-custom"] == ["yes"]
    assert trigger["variables"]["parameters"] == {"a": ["1", "2"]}
    assert {"key": "team", "value": "data"} in created["labels"]
    final = await poll(api, created["id"], ended)
    assert final["state"]["current"] == "SUCCESS"
    assert outputs_of(final)["read"] == {"value": "forty-two"}


@pytest.mark.usefixtures("engine")
async def test_raw_body_rendered_key_inputs_get_and_put(
    api: httpx.AsyncClient, anonymous_api: httpx.AsyncClient, ns: str
) -> None:
    await deploy(api, ECHO.format(ns=ns))
    url = f"/api/v1/executions/webhook/{ns}/echo/echo-key"
    raw = await anonymous_api.put(
        url, content=b"plain {not json", headers={"Content-Type": "text/plain"},
        params={"who": "ada"},
    )  # fmt: skip
    assert raw.status_code == 200, raw.text
    assert raw.json()["trigger"]["variables"]["body"] == "plain {not json"
    assert raw.json()["inputs"] == {"who": "ada"}
    final = await poll(api, raw.json()["id"], ended)
    assert outputs_of(final) == {"body": {"value": "plain {not json"}, "who": {"value": "ada"}}
    got = await anonymous_api.get(url, params={"who": "bob"})
    assert got.status_code == 200, got.text
    assert got.json()["trigger"]["variables"]["body"] is None
    assert got.json()["trigger"]["variables"]["parameters"] == {"who": ["bob"]}
    final = await poll(api, got.json()["id"], ended)
    assert outputs_of(final)["who"] == {"value": "bob"}
    # The disabled trigger's key does not open the flow.
    off = await anonymous_api.post(f"/api/v1/executions/webhook/{ns}/echo/off-key")
    assert off.status_code == 404


async def test_wrong_key_and_unknown_flow_get_the_same_404(
    api: httpx.AsyncClient, anonymous_api: httpx.AsyncClient, ns: str
) -> None:
    await deploy(api, READER.format(ns=ns, key=KEY, extra=""))
    wrong = await anonymous_api.post(f"/api/v1/executions/webhook/{ns}/my-flow/wrong-key")
    unknown = await anonymous_api.post(f"/api/v1/executions/webhook/{ns}/nope/{KEY}")
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json()["message"] == "Not Found: Webhook not found"

    def without_self(body: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in body.items() if k != "_links"}

    assert without_self(wrong.json()) == without_self(unknown.json())
    searched = await api.get("/api/v1/executions/search", params={"namespace": ns})
    assert searched.json()["total"] == 0
    delete = await anonymous_api.delete(f"/api/v1/executions/webhook/{ns}/my-flow/{KEY}")
    assert delete.status_code in (404, 405)


async def test_disabled_flow_is_refused(
    api: httpx.AsyncClient, anonymous_api: httpx.AsyncClient, ns: str
) -> None:
    await deploy(api, READER.format(ns=ns, key=KEY, extra="disabled: true\n"))
    refused = await anonymous_api.post(f"/api/v1/executions/webhook/{ns}/my-flow/{KEY}")
    assert refused.status_code == 409
    assert refused.json()["message"] == "Illegal state: Cannot execute a disabled flow"
    # Without the key, a disabled flow looks like any unknown one.
    probed = await anonymous_api.post(f"/api/v1/executions/webhook/{ns}/my-flow/guess")
    assert probed.status_code == 404


@pytest.mark.usefixtures("engine")
async def test_tenant_prefixed_path(
    api: httpx.AsyncClient, anonymous_api: httpx.AsyncClient, ns: str
) -> None:
    await deploy(api, READER.format(ns=ns, key=KEY, extra=""))
    response = await anonymous_api.post(
        f"/api/v1/main/executions/webhook/{ns}/my-flow/{KEY}", json={"x": 7}
    )
    assert response.status_code == 200, response.text
    assert response.json()["tenantId"] == "main"
    final = await poll(api, response.json()["id"], ended)
    assert outputs_of(final)["read"] == {"value": "7"}
    other = await anonymous_api.post(f"/api/v1/acme/executions/webhook/{ns}/my-flow/{KEY}")
    assert other.status_code == 404


@pytest.mark.usefixtures("engine")
async def test_wait_answers_the_end_and_return_outputs(
    api: httpx.AsyncClient, anonymous_api: httpx.AsyncClient, ns: str
) -> None:
    await deploy(api, WAITING.format(ns=ns, flow_id="waiting", return_outputs="false"))
    url = f"/api/v1/executions/webhook/{ns}/waiting/wait-key"
    waited = await asyncio.wait_for(anonymous_api.post(url, json={"x": 1}), DEADLINE_S)
    assert waited.status_code == 200, waited.text
    assert waited.json()["state"]["current"] == "SUCCESS"
    assert outputs_of(waited.json())["read"] == {"value": "got 1"}
    await deploy(api, WAITING.format(ns=ns, flow_id="returning", return_outputs="true"))
    url = f"/api/v1/executions/webhook/{ns}/returning/wait-key"
    outputs = await asyncio.wait_for(anonymous_api.post(url, json={"x": 2}), DEADLINE_S)
    assert outputs.status_code == 200, outputs.text
    assert outputs.json() == {"got": "got 2"}


async def test_body_over_the_limit_is_413(
    api: httpx.AsyncClient, anonymous_api: httpx.AsyncClient, services: Services, ns: str
) -> None:
    limit = body_limit(services.settings, f"/api/v1/executions/webhook/{ns}/f/k", "text/plain")
    assert (limit.setting, limit.max_bytes) == ("max-json-body-bytes", 10 * 1024 * 1024)
    await deploy(api, READER.format(ns=ns, key=KEY, extra=""))
    big = b"x" * (limit.max_bytes + 1)
    response = await anonymous_api.post(
        f"/api/v1/executions/webhook/{ns}/my-flow/{KEY}", content=big,
        headers={"Content-Type": "application/octet-stream"},
    )  # fmt: skip
    assert response.status_code == 413
    assert "max-json-body-bytes" in response.json()["message"]


async def test_request_body_parsing() -> None:
    assert request_body(b"") is None
    assert request_body(b'{"a": 1}') == {"a": 1}
    assert request_body(b"[1, 2]") == [1, 2]
    assert request_body(b"42") == "42"
    assert request_body(b"\xff\xfe") == "//4="


CONDITIONAL = """\
id: conditional
namespace: {ns}
tasks:
  - id: read
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ trigger.body.hello }}}}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: webhookKey
    conditions:
      - type: io.kestra.plugin.core.condition.ExpressionCondition
        expression: "{{{{ trigger.body.hello == 'world' }}}}"
"""

FAILING = """\
id: {flow_id}
namespace: {ns}
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: boom
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: fail-key
    wait: true
{extra}"""


async def test_false_condition_answers_204_and_starts_nothing(
    api: httpx.AsyncClient, anonymous_api: httpx.AsyncClient, ns: str
) -> None:
    await deploy(api, CONDITIONAL.format(ns=ns))
    url = f"/api/v1/executions/webhook/{ns}/conditional/webhookKey"
    skipped = await anonymous_api.post(url, json={"hello": "moon"})
    assert skipped.status_code == 204
    assert skipped.content == b""
    no_body = await anonymous_api.post(url)  # the expression fails to render: no execution
    assert no_body.status_code == 204
    searched = await api.get("/api/v1/executions/search", params={"namespace": ns})
    assert searched.json()["total"] == 0
    started = await anonymous_api.post(url, json={"hello": "world"})
    assert started.status_code == 200, started.text
    assert started.json()["flowId"] == "conditional"


@pytest.mark.usefixtures("engine")
async def test_wait_on_a_failed_execution_answers_500_or_response_code(
    api: httpx.AsyncClient, anonymous_api: httpx.AsyncClient, ns: str
) -> None:
    await deploy(api, FAILING.format(ns=ns, flow_id="failing", extra=""))
    url = f"/api/v1/executions/webhook/{ns}/failing/fail-key"
    failed = await asyncio.wait_for(anonymous_api.post(url), DEADLINE_S)
    assert failed.status_code == 500
    assert failed.json()["state"]["current"] == "FAILED"
    await deploy(api, FAILING.format(ns=ns, flow_id="coded", extra="    responseCode: 202\n"))
    url = f"/api/v1/executions/webhook/{ns}/coded/fail-key"
    coded = await asyncio.wait_for(anonymous_api.post(url), DEADLINE_S)
    assert coded.status_code == 202
    assert coded.json()["state"]["current"] == "FAILED"
