"""Executions API: create (inputs, files, labels), get, search, list, delete — without engine."""

from __future__ import annotations

import re

import httpx
import pytest
from tests.api.executions_support import create, deploy, log_flow, move

from lanner.api.context import Services
from lanner.config import Settings
from lanner.domain.states import StateType
from lanner.engine.feeds import WORK_TOPIC

pytestmark = pytest.mark.asyncio

INPUTS_FLOW = """\
id: inputs
namespace: {ns}
labels:
  team: data
variables:
  greeting: hi
inputs:
  - id: name
    type: STRING
    validator: "^[A-Za-z]+$"
  - id: count
    type: INT
    min: 1
    max: 10
  - id: ratio
    type: FLOAT
    required: false
  - id: flag
    type: BOOLEAN
    defaults: false
  - id: when
    type: DATETIME
    required: false
  - id: wait
    type: DURATION
    defaults: PT1M
  - id: user.email
    type: EMAIL
    required: false
  - id: color
    type: SELECT
    values: [red, green]
    defaults: red
  - id: data
    type: JSON
    required: false
  - id: items
    type: ARRAY
    itemType: INT
    required: false
  - id: file
    type: FILE
    required: false
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ inputs.name }}}}"
"""

ID_RE = re.compile(r"^[0-9A-Za-z]{1,22}$")


async def test_create_returns_the_created_execution(
    api: httpx.AsyncClient, services: Services, ns: str
) -> None:
    await deploy(api, log_flow(ns, extra="labels:\n  team: data\nvariables:\n  v: 1\n"))
    with services.feed.subscribe(WORK_TOPIC) as woken:
        body = await create(api, ns, params={"labels": ["env:prod", "team:ops"]})
        assert await woken.wait(1), "the engine must be woken"
    assert ID_RE.match(body["id"])
    assert body["namespace"] == ns
    assert body["flowId"] == "hello"
    assert body["flowRevision"] == 1
    assert body["tenantId"] == "main"
    assert body["state"]["current"] == "CREATED"
    assert [h["state"] for h in body["state"]["histories"]] == ["CREATED"]
    assert body["state"]["startDate"].endswith("Z")
    assert "endDate" not in body["state"]
    assert "duration" not in body["state"]
    assert body["labels"] == [
        {"key": "team", "value": "ops"},
        {"key": "env", "value": "prod"},
        {"key": "system.correlationId", "value": body["id"]},
    ]
    assert body["variables"] == {"v": 1}
    assert body["originalId"] == body["id"]
    assert body["deleted"] is False
    assert body["metadata"]["attemptNumber"] == 1
    assert body["metadata"]["originalCreatedDate"] == body["state"]["startDate"]
    assert body["url"] == f"http://localhost:8080/ui/main/executions/{ns}/hello/{body['id']}"
    assert "taskRunList" not in body
    assert "inputs" not in body
    assert "parentId" not in body
    fetched = (await api.get(f"/api/v1/executions/{body['id']}")).json()
    assert fetched["state"]["current"] == "CREATED"
    assert "url" not in fetched


async def test_create_tenant_prefixed_and_deprecated_trigger_path(
    api: httpx.AsyncClient, ns: str
) -> None:
    await deploy(api, log_flow(ns))
    first = await api.post(f"/api/v1/main/executions/{ns}/hello")
    assert first.status_code == 200, first.text
    second = await api.post(f"/api/v1/executions/trigger/{ns}/hello")
    assert second.status_code == 200, second.text
    assert first.json()["id"] != second.json()["id"]
    fetched = await api.get(f"/api/v1/main/executions/{second.json()['id']}")
    assert fetched.status_code == 200


async def test_create_coerces_every_input(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, INPUTS_FLOW.format(ns=ns))
    data = {
        "name": "Ada",
        "count": "3",
        "ratio": "0.5",
        "when": "2024-05-06T07:08:09+02:00",
        "user.email": "ada@example.com",
        "data": '{"k": [1, 2]}',
        "items": "[1, 2, 3]",
        "unknown": "ignored",
    }
    body = await create(api, ns, "inputs", data=data)
    assert body["inputs"] == {
        "name": "Ada",
        "count": 3,
        "ratio": 0.5,
        "flag": False,
        "when": "2024-05-06T05:08:09Z",
        "wait": "PT1M",
        "user": {"email": "ada@example.com"},
        "color": "red",
        "data": {"k": [1, 2]},
        "items": [1, 2, 3],
        "file": None,
    }
    assert body["variables"] == {"greeting": "hi"}
    assert {"key": "team", "value": "data"} in body["labels"]


async def test_file_input_is_stored_and_downloadable(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, INPUTS_FLOW.format(ns=ns))
    files = {"ignored-name": ("file", b"a,b\n1,2\n", "text/csv")}  # Kestra: keyed by filename
    body = await create(api, ns, "inputs", data={"name": "Ada", "count": "1"}, files=files)
    uri = body["inputs"]["file"]
    prefix = f"kestra:///{ns.replace('.', '/')}/inputs/executions/{body['id']}/inputs/file/"
    assert uri == prefix + "file"
    download = await api.get(f"/api/v1/executions/{body['id']}/file", params={"path": uri})
    assert download.status_code == 200
    assert download.content == b"a,b\n1,2\n"
    assert download.headers["content-type"] == "application/octet-stream"
    assert 'filename="file"' in download.headers["content-disposition"]
    metas = await api.get(f"/api/v1/executions/{body['id']}/file/metas", params={"path": uri})
    assert metas.json() == {"size": 8}


async def test_file_input_by_part_name_keeps_its_filename(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, INPUTS_FLOW.format(ns=ns))
    files = {"file": ("data.csv", b"x", "text/csv")}  # curl -F file=@data.csv
    body = await create(api, ns, "inputs", data={"name": "Ada", "count": "1"}, files=files)
    assert body["inputs"]["file"].endswith(f"/executions/{body['id']}/inputs/file/data.csv")


async def test_file_download_errors(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, log_flow(ns))
    body = await create(api, ns)
    base = f"/api/v1/executions/{body['id']}/file"
    own = f"kestra:///{ns.replace('.', '/')}/hello/executions/{body['id']}"
    missing = await api.get(base, params={"path": own + "/nothing.txt"})
    assert missing.status_code == 404
    other = await api.get(base, params={"path": "kestra:///other/flow/executions/X/a.txt"})
    assert other.status_code == 422
    assert "Invalid prefix path" in other.json()["message"]
    escape = await api.get(base, params={"path": own + "/../../x"})
    assert escape.status_code == 422
    no_path = await api.get(base)
    assert no_path.status_code == 400
    unknown = await api.get("/api/v1/executions/nope/file", params={"path": own + "/a"})
    assert unknown.status_code == 404
    metas = await api.get(base + "/metas", params={"path": own + "/nothing.txt"})
    assert metas.status_code == 404


@pytest.mark.parametrize(
    ("data", "path", "fragment"),
    [
        ({"count": "1"}, "inputs.name", "missing required input"),
        ({"name": "Ada"}, "inputs.count", "missing required input"),
        ({"name": "Ada!", "count": "1"}, "inputs.name", "must match the pattern"),
        ({"name": "Ada", "count": "99"}, "inputs.count", "must be less than `10`"),
        ({"name": "Ada", "count": "x"}, "inputs.count", "must be an integer"),
        ({"name": "Ada", "count": "1", "color": "blue"}, "inputs.color", "must match the values"),
        ({"name": "Ada", "count": "1", "when": "soon"}, "inputs.when", "date-time"),
        ({"name": "Ada", "count": "1", "items": '[1, "a"]'}, "inputs.items", "integer"),
        ({"name": "Ada", "count": "1", "file": "/etc/passwd"}, "inputs.file", "file"),
    ],
)
async def test_bad_inputs_are_422_naming_the_input(
    api: httpx.AsyncClient, ns: str, data: dict[str, str], path: str, fragment: str
) -> None:
    await deploy(api, INPUTS_FLOW.format(ns=ns))
    response = await api.post(f"/api/v1/executions/{ns}/inputs", data=data)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["message"].startswith(f"Invalid entity: {path}: ")
    assert fragment in body["message"]
    assert body["_embedded"]["errors"][0]["path"] == path
    # Nothing half-created.
    search = await api.get("/api/v1/executions/search", params={"namespace": ns})
    assert search.json()["total"] == 0


async def test_missing_required_input_message_is_kestras(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, INPUTS_FLOW.format(ns=ns))
    response = await api.post(f"/api/v1/executions/{ns}/inputs")
    assert response.status_code == 422
    message = response.json()["message"]
    assert message.startswith("Invalid entity: inputs.name: missing required input")
    assert "inputs.count: missing required input" in message


DEPENDENT_INPUTS_FLOW = """\
id: dependent
namespace: {ns}
inputs:
  - id: region
    type: SELECT
    values: [eu, us]
  - id: bucket
    type: STRING
    dependsOn:
      inputs: [region]
      condition: "{{{{ inputs.region == 'eu' }}}}"
  - id: label
    type: STRING
    defaults: "{{{{ flow.id }}}}-{{{{ inputs.region }}}}"
    dependsOn:
      inputs: [region]
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ inputs.region }}}}"
"""


async def test_dependent_input_is_absent_when_its_condition_is_false(
    api: httpx.AsyncClient, ns: str
) -> None:
    await deploy(api, DEPENDENT_INPUTS_FLOW.format(ns=ns))
    body = await create(api, ns, "dependent", data={"region": "us", "bucket": "ignored"})
    assert body["inputs"] == {"region": "us", "label": "dependent-us"}
    fetched = (await api.get(f"/api/v1/executions/{body['id']}")).json()
    assert "bucket" not in fetched["inputs"]


async def test_dependent_input_enabled_is_coerced_and_required(
    api: httpx.AsyncClient, ns: str
) -> None:
    await deploy(api, DEPENDENT_INPUTS_FLOW.format(ns=ns))
    body = await create(api, ns, "dependent", data={"region": "eu", "bucket": "b1"})
    assert body["inputs"] == {"region": "eu", "bucket": "b1", "label": "dependent-eu"}
    response = await api.post(f"/api/v1/executions/{ns}/dependent", data={"region": "eu"})
    assert response.status_code == 422, response.text
    assert response.json()["message"] == "Invalid entity: inputs.bucket: missing required input"
    assert response.json()["_embedded"]["errors"][0]["path"] == "inputs.bucket"


async def test_invalid_inputs_leave_no_uploaded_file(
    api: httpx.AsyncClient, ns: str, settings: Settings
) -> None:
    await deploy(api, INPUTS_FLOW.format(ns=ns))
    files = {"x": ("file", b"data", "text/plain")}
    response = await api.post(f"/api/v1/executions/{ns}/inputs", files=files, data={"count": "1"})
    assert response.status_code == 422
    stored = list(settings.storage_dir.rglob("*")) if settings.storage_dir.exists() else []
    assert [p for p in stored if p.is_file()] == []


async def test_create_errors(api: httpx.AsyncClient, ns: str) -> None:
    missing = await api.post(f"/api/v1/executions/{ns}/nope")
    assert missing.status_code == 404
    assert missing.json()["message"] == "Not Found: Requested Flow is not found."
    await deploy(api, log_flow(ns, extra="disabled: true\n"))
    disabled = await api.post(f"/api/v1/executions/{ns}/hello")
    assert disabled.status_code == 409
    assert "disabled" in disabled.json()["message"]
    await deploy(api, log_flow(ns, "other"))
    system = await api.post(
        f"/api/v1/executions/{ns}/other", params={"labels": "system.readOnly:true"}
    )
    assert system.status_code == 422
    assert "system.readOnly" in system.json()["message"]
    bad_label = await api.post(f"/api/v1/executions/{ns}/other", params={"labels": "nocolon"})
    assert bad_label.status_code == 422
    bad_wait = await api.post(f"/api/v1/executions/{ns}/other", params={"wait": "maybe"})
    assert bad_wait.status_code == 400
    bad_date = await api.post(f"/api/v1/executions/{ns}/other", params={"scheduleDate": "x"})
    assert bad_date.status_code == 422
    bad_kind = await api.post(f"/api/v1/executions/{ns}/other", params={"kind": "WEIRD"})
    assert bad_kind.status_code == 422
    unknown_revision = await api.post(f"/api/v1/executions/{ns}/other", params={"revision": 9})
    assert unknown_revision.status_code == 404


async def test_create_with_revision_and_schedule_date(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, log_flow(ns))
    await api.put(f"/api/v1/flows/{ns}/hello", content=log_flow(ns, extra="description: v2\n"))
    body = await create(
        api, ns, params={"revision": 1, "scheduleDate": "2030-01-02T03:04:05+01:00"}
    )
    assert body["flowRevision"] == 1
    assert body["scheduleDate"] == "2030-01-02T02:04:05Z"
    assert "kind" not in body
    test_kind = await create(api, ns, params={"kind": "TEST"})
    assert test_kind["kind"] == "TEST"
    latest = await create(api, ns)
    assert latest["flowRevision"] == 2


async def test_correlation_label_may_be_given(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, log_flow(ns))
    body = await create(api, ns, params={"labels": "system.correlationId:abc"})
    assert body["labels"] == [{"key": "system.correlationId", "value": "abc"}]


async def test_auth_is_required(anonymous_api: httpx.AsyncClient, ns: str) -> None:
    for method, path in [
        ("POST", f"/api/v1/executions/{ns}/hello"),
        ("GET", "/api/v1/executions/some-id"),
        ("GET", "/api/v1/executions/search"),
        ("DELETE", "/api/v1/executions/some-id/kill"),
    ]:
        response = await anonymous_api.request(method, path)
        assert response.status_code == 401, path


async def test_get_and_delete(api: httpx.AsyncClient, services: Services, ns: str) -> None:
    await deploy(api, log_flow(ns))
    body = await create(api, ns, files={"f": ("f.txt", b"x", "text/plain")})
    execution_id = body["id"]
    _, runs = await move(services, execution_id, StateType.SUCCESS, {"first": StateType.SUCCESS})
    fetched = (await api.get(f"/api/v1/executions/{execution_id}")).json()
    assert fetched["state"]["current"] == "SUCCESS"
    assert fetched["state"]["duration"] == "PT2.5S"
    (run,) = fetched["taskRunList"]
    assert run["id"] == runs[0].id
    assert run["executionId"] == execution_id
    assert run["taskId"] == "first"
    assert run["outputs"] == {"value": "first-out"}
    assert run["attempts"][0]["state"]["current"] == "SUCCESS"
    assert run["state"]["duration"] == "PT0S"
    deleted = await api.delete(f"/api/v1/executions/{execution_id}")
    assert deleted.status_code == 204
    assert (await api.get(f"/api/v1/executions/{execution_id}")).status_code == 404
    assert (await api.delete(f"/api/v1/executions/{execution_id}")).status_code == 404


async def test_get_unknown_is_404(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/executions/doesNotExist")
    assert response.status_code == 404
    assert response.json()["message"].startswith("Not Found")


async def test_other_tenant_does_not_see_executions(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, log_flow(ns))
    body = await create(api, ns)
    assert (await api.get(f"/api/v1/other/executions/{body['id']}")).status_code == 404


async def test_bodies_validate_strictly_with_kestrapy_models(
    api: httpx.AsyncClient, services: Services, ns: str
) -> None:
    from kestrapy.models.execution import Execution as SdkExecution
    from kestrapy.models.execution_controller_execution_response import (
        ExecutionControllerExecutionResponse,
    )
    from kestrapy.models.paged_results_execution import PagedResultsExecution

    await deploy(api, log_flow(ns))
    created = await create(api, ns, params={"labels": "a:b"})
    assert ExecutionControllerExecutionResponse.from_dict(created).url == created["url"]
    await move(services, created["id"], StateType.FAILED, {"first": StateType.FAILED})
    fetched = (await api.get(f"/api/v1/main/executions/{created['id']}")).json()
    parsed = SdkExecution.from_dict(fetched)
    assert parsed is not None
    assert parsed.task_run_list is not None
    assert parsed.task_run_list[0].state.current.value == "FAILED"
    found = (await api.get("/api/v1/main/executions/search", params={"namespace": ns})).json()
    page = PagedResultsExecution.from_dict(found)
    assert page is not None
    assert page.total == 1
