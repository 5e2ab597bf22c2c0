"""Input ``validator`` patterns in Java's syntax: accepted at save, checked (in bounded time) on
the values an execution is created with."""

from __future__ import annotations

import httpx
import pytest
from tests.api.executions_support import YAML, create, deploy

pytestmark = pytest.mark.asyncio

JAVA_FLOW = """\
id: java
namespace: {ns}
inputs:
  - id: name
    type: STRING
    validator: "^(?<word>\\\\p{{Alpha}}+)\\\\h\\\\p{{Digit}}+$"
  - id: code
    type: STRING
    required: false
    validator: "(?<c>\\\\p{{Lower}})\\\\k<c>"
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: hi
"""

SLOW_FLOW = """\
id: slow
namespace: {ns}
inputs:
  - id: name
    type: STRING
    validator: "(a|aa)+b"
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: hi
"""


async def test_java_named_groups_and_classes_are_accepted_and_checked(
    api: httpx.AsyncClient, ns: str
) -> None:
    flow = await deploy(api, JAVA_FLOW.format(ns=ns))
    assert flow["inputs"][0]["validator"] == "^(?<word>\\p{Alpha}+)\\h\\p{Digit}+$"
    body = await create(api, ns, "java", data={"name": "Ada 3", "code": "xx"})
    assert body["inputs"] == {"name": "Ada 3", "code": "xx"}
    for data, path in (({"name": "Adé 3"}, "inputs.name"), ({"name": "A 1", "code": "xy"}, "inputs.code")):  # fmt: skip
        refused = await api.post(f"/api/v1/executions/{ns}/java", data=data)
        assert refused.status_code == 422, refused.text
        assert refused.json()["_embedded"]["errors"][0]["path"] == path
        assert "must match the pattern" in refused.json()["message"]


async def test_invalid_java_pattern_is_refused_at_save(api: httpx.AsyncClient, ns: str) -> None:
    source = JAVA_FLOW.format(ns=ns).replace("(?<c>", "(?<c")
    response = await api.post("/api/v1/flows", content=source, headers=YAML)
    assert response.status_code == 422, response.text
    assert "inputs[1].validator" in response.text
    assert "invalid pattern" in response.text


async def test_catastrophic_pattern_on_a_long_value_is_a_422_not_a_hang(
    api: httpx.AsyncClient, ns: str
) -> None:
    await deploy(api, SLOW_FLOW.format(ns=ns))
    response = await api.post(f"/api/v1/executions/{ns}/slow", data={"name": "a" * 5000})
    assert response.status_code == 422, response.text
    assert response.json()["_embedded"]["errors"][0]["path"] == "inputs.name"
    assert "took too long" in response.json()["message"]
    search = await api.get("/api/v1/executions/search", params={"namespace": ns})
    assert search.json()["total"] == 0
