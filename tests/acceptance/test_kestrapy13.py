"""The official SDK `kestrapy` 1.3.x, unchanged, drives the flow CRUD round trip against Lanner.

kestrapy falls back to `model_construct` when a response does not validate, so a wrong shape
would not raise in the SDK: every response body is also validated strictly with the SDK's
own models (`Model.from_dict`), which is what a correct Kestra 1.3 answer passes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
import requests
from kestrapy import KestraClient
from kestrapy.exceptions import (
    NotFoundException,
    UnauthorizedException,
    UnprocessableEntityException,
)
from kestrapy.models.flow import Flow
from kestrapy.models.flow_with_source import FlowWithSource
from kestrapy.models.paged_results_flow import PagedResultsFlow

if TYPE_CHECKING:
    from conftest import LannerServer

TENANT = "main"
FLOW_ID = "hello_sdk"


class ResponseLog:
    """Keeps the raw HTTP responses the SDK received (observation only, the SDK is untouched)."""

    def __init__(self) -> None:
        self.responses: list[requests.Response] = []

    def __call__(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.responses.append(response)

    def last_json(self) -> Any:
        assert self.responses, "the SDK sent no request"
        return self.responses[-1].json()

    def last_request_line(self) -> str:
        request = self.responses[-1].request
        return f"{request.method} {request.url}"


@pytest.fixture
def sdk(lanner_server: LannerServer) -> Iterator[tuple[Any, ResponseLog]]:
    client = KestraClient(
        host=lanner_server.url, username=lanner_server.username, password=lanner_server.password
    )
    log = ResponseLog()
    # The client's requests.Session is private; a response hook only observes traffic.
    client._session.hooks["response"].append(log)
    yield client, log
    client.close()


def assert_strict(model: Any, raw: Any, request_line: str) -> None:
    """The raw JSON validates against the SDK model without the SDK's lenient fallback."""
    try:
        model.from_dict(raw)
    except Exception as exc:  # pydantic.ValidationError or the oneOf ValueError
        pytest.fail(f"{request_line}: response does not validate as {model.__name__}: {exc}\n{raw}")


def assert_flow(flow: Any, *, namespace: str, revision: int, source: str | None) -> None:
    assert type(flow) is FlowWithSource
    assert flow.id == FLOW_ID
    assert flow.namespace == namespace
    assert flow.revision == revision
    assert flow.disabled is False
    assert flow.deleted is False
    assert flow.additional_properties.get("tenantId") == TENANT
    assert flow.updated is not None
    assert flow.updated.tzinfo is not None
    assert flow.description == "Deployed by the acceptance tests through a real client"
    assert [(label.key, label.value) for label in flow.labels] == [("team", "acceptance")]
    assert [(i.id, i.type.value) for i in flow.inputs] == [("greeting", "STRING")]
    assert flow.inputs[0].defaults.actual_instance == "hello"
    assert [(t.id, t.type) for t in flow.tasks] == [("say", "io.kestra.plugin.core.log.Log")]
    if source is not None:
        assert flow.source == source


def test_flow_round_trip(
    sdk: tuple[Any, ResponseLog], unique_namespace: str, flow_yaml: Callable[..., str]
) -> None:
    client, log = sdk
    ns = unique_namespace
    v1 = flow_yaml("hello", flow_id=FLOW_ID, namespace=ns, message="from kestrapy 1.3")
    v2 = flow_yaml("hello", flow_id=FLOW_ID, namespace=ns, message="updated by kestrapy 1.3")

    # create
    created = client.flows.create_flow(tenant=TENANT, body=v1)
    assert_strict(FlowWithSource, log.last_json(), log.last_request_line())
    assert_flow(created, namespace=ns, revision=1, source=v1)
    message = "{{ inputs.greeting }} from kestrapy 1.3"
    assert created.tasks[0].additional_properties["message"] == message

    # read, with source
    read = client.flows.flow(namespace=ns, id=FLOW_ID, tenant=TENANT, source=True)
    assert_strict(FlowWithSource, log.last_json(), log.last_request_line())
    assert_flow(read, namespace=ns, revision=1, source=v1)

    # update: a changed source makes revision 2
    updated = client.flows.update_flow(namespace=ns, id=FLOW_ID, tenant=TENANT, body=v2)
    assert_strict(FlowWithSource, log.last_json(), log.last_request_line())
    assert_flow(updated, namespace=ns, revision=2, source=v2)
    new_message = "{{ inputs.greeting }} updated by kestrapy 1.3"
    assert updated.tasks[0].additional_properties["message"] == new_message

    latest = client.flows.flow(namespace=ns, id=FLOW_ID, tenant=TENANT, source=True)
    assert_flow(latest, namespace=ns, revision=2, source=v2)
    first = client.flows.flow(namespace=ns, id=FLOW_ID, tenant=TENANT, source=True, revision=1)
    assert_flow(first, namespace=ns, revision=1, source=v1)

    # search (1.3.1 types QueryFilter.value as a dict; plain dicts are the documented way)
    page = client.flows.search_flows(
        tenant=TENANT,
        page=1,
        size=10,
        filters=[{"field": "namespace", "operation": "EQUALS", "value": ns}],
    )
    assert_strict(PagedResultsFlow, log.last_json(), log.last_request_line())
    assert type(page) is PagedResultsFlow
    assert page.total == 1
    assert [(f.id, f.namespace, f.revision) for f in page.results] == [(FLOW_ID, ns, 2)]
    assert type(page.results[0]) is Flow
    assert page.results[0].deleted is False

    # list by namespace
    listed = client.flows.list_flows_by_namespace(namespace=ns, tenant=TENANT)
    for raw in log.last_json():
        assert_strict(Flow, raw, log.last_request_line())
    assert [(f.id, f.revision, f.disabled) for f in listed] == [(FLOW_ID, 2, False)]

    # delete, then the flow is gone
    client.flows.delete_flow(namespace=ns, id=FLOW_ID, tenant=TENANT)
    assert log.responses[-1].status_code in (200, 204)
    with pytest.raises(NotFoundException) as missing:
        client.flows.flow(namespace=ns, id=FLOW_ID, tenant=TENANT, source=True)
    assert missing.value.status == 404
    after = client.flows.search_flows(
        tenant=TENANT, filters=[{"field": "namespace", "operation": "EQUALS", "value": ns}]
    )
    assert after.total == 0
    assert after.results == []
    assert client.flows.list_flows_by_namespace(namespace=ns, tenant=TENANT) == []


def test_search_by_query_text(
    sdk: tuple[Any, ResponseLog], unique_namespace: str, flow_yaml: Callable[..., str]
) -> None:
    client, log = sdk
    source = flow_yaml("hello", flow_id=FLOW_ID, namespace=unique_namespace, message="q")
    client.flows.create_flow(tenant=TENANT, body=source)

    page = client.flows.search_flows(
        tenant=TENANT,
        filters=[
            {"field": "namespace", "operation": "EQUALS", "value": unique_namespace},
            {"field": "q", "operation": "EQUALS", "value": "hello_s"},
        ],
    )
    assert_strict(PagedResultsFlow, log.last_json(), log.last_request_line())
    assert [f.id for f in page.results] == [FLOW_ID]

    none = client.flows.search_flows(
        tenant=TENANT,
        filters=[
            {"field": "namespace", "operation": "EQUALS", "value": unique_namespace},
            {"field": "q", "operation": "EQUALS", "value": "no-such-flow"},
        ],
    )
    assert none.total == 0


def test_create_existing_id_is_unprocessable(
    sdk: tuple[Any, ResponseLog], unique_namespace: str, flow_yaml: Callable[..., str]
) -> None:
    client, _ = sdk
    source = flow_yaml("hello", flow_id=FLOW_ID, namespace=unique_namespace, message="once")
    client.flows.create_flow(tenant=TENANT, body=source)

    with pytest.raises(UnprocessableEntityException) as duplicate:
        client.flows.create_flow(tenant=TENANT, body=source)
    assert duplicate.value.status == 422
    assert "already exists" in duplicate.value.body


def test_invalid_flow_is_unprocessable(sdk: tuple[Any, ResponseLog], unique_namespace: str) -> None:
    client, _ = sdk
    source = f"id: broken\nnamespace: {unique_namespace}\ntasks: []\n"
    with pytest.raises(UnprocessableEntityException) as invalid:
        client.flows.create_flow(tenant=TENANT, body=source)
    assert invalid.value.status == 422
    with pytest.raises(NotFoundException):
        client.flows.flow(namespace=unique_namespace, id="broken", tenant=TENANT)


@pytest.mark.parametrize("password", [None, "wrong-password"])
def test_unauthorized_without_valid_credentials(
    lanner_server: LannerServer, unique_namespace: str, password: str | None
) -> None:
    client = (
        KestraClient(host=lanner_server.url)
        if password is None
        else KestraClient(
            host=lanner_server.url, username=lanner_server.username, password=password
        )
    )
    with client, pytest.raises(UnauthorizedException) as denied:
        client.flows.list_flows_by_namespace(namespace=unique_namespace, tenant=TENANT)
    assert denied.value.status == 401
