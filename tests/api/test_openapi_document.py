"""Regressions found by the schemathesis run (tests/api/test_openapi_fuzz.py), one per kind.

The document: answers described by Kestra's models, errors by one shared ``JsonError`` on every
status a route can answer; ``Allow`` on 405 naming every method of the path; ids checked against
Kestra's patterns before any look-up; ``Content-Disposition`` safe for any file name.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest

from lanner.api.auth import is_open_path
from lanner.api.wire import content_disposition

ERROR_REF = "#/components/schemas/JsonError"


async def _document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/api/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _json_schema(response: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = response["content"]["application/json"]["schema"]
    return schema


async def test_every_error_status_is_kestras_error_body(client: httpx.AsyncClient) -> None:
    document = await _document(client)
    assert "HTTPValidationError" not in document["components"]["schemas"]
    error = document["components"]["schemas"]["JsonError"]
    assert set(error["required"]) == {"message", "_links"}
    seen = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if path.startswith("/api/v1/") and not is_open_path(path):  # webhooks are open
                assert "401" in responses, (method, path)
            for status, response in responses.items():
                if int(status) >= 400:
                    assert _json_schema(response) == {"$ref": ERROR_REF}, (method, path, status)
                    seen += 1
    assert seen > 100


async def test_routes_document_the_statuses_they_answer(client: httpx.AsyncClient) -> None:
    paths = (await _document(client))["paths"]
    assert {"404", "422"} <= set(paths["/api/v1/executions/{executionId}"]["get"]["responses"])
    assert "409" in paths["/api/v1/executions/{executionId}/kill"]["delete"]["responses"]
    assert "410" in paths["/api/v1/namespaces/{namespace}/kv/{key}"]["get"]["responses"]
    assert "400" in paths["/api/v1/flows/import"]["post"]["responses"]
    assert "413" in paths["/api/v1/flows"]["post"]["responses"]


async def test_bodies_are_described_by_kestras_models(client: httpx.AsyncClient) -> None:
    paths = (await _document(client))["paths"]

    def ok_schema(path: str, method: str) -> dict[str, Any]:
        return _json_schema(paths[path][method]["responses"]["200"])

    assert ok_schema("/api/v1/configs", "get")["$ref"] == "#/components/schemas/Configs"
    for path in ("/api/v1/flows/enable/by-ids", "/api/v1/flows/disable/by-query"):
        assert ok_schema(path, "post")["$ref"] == "#/components/schemas/BulkResponse"
    assert ok_schema("/api/v1/flows/distinct-namespaces", "get")["items"] == {"type": "string"}
    assert "$ref" in ok_schema("/api/v1/executions/search", "get")
    # Empty answers document no body, downloads their own media type.
    assert "content" not in paths["/api/v1/logs/{executionId}"]["delete"]["responses"]["200"]
    download = paths["/api/v1/logs/{executionId}/download"]["get"]["responses"]["200"]
    assert set(download["content"]) == {"text/plain"}
    follow = paths["/api/v1/executions/{executionId}/follow"]["get"]["responses"]["200"]
    assert set(follow["content"]) == {"text/event-stream"}


async def test_answers_match_their_documented_shape(client: httpx.AsyncClient, ns: str) -> None:
    configs = (await client.get("/api/v1/configs")).json()
    schemas = (await _document(client))["components"]["schemas"]
    assert set(schemas["Configs"]["required"]) <= set(configs)
    answer = await client.post("/api/v1/flows/enable/by-ids", json=[])
    assert answer.json() == {"count": 0}


async def test_405_allows_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    # GET and DELETE /executions/{id} come from two routers; /logs/search is not /logs/{id}.
    response = await client.request("OPTIONS", "/api/v1/executions/abc")
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {"DELETE", "GET"}
    assert response.json()["message"] == "Method Not Allowed"
    logs = await client.request("OPTIONS", "/api/v1/logs/search")
    assert logs.headers["allow"] == "GET"
    tenant = await client.request("PATCH", "/api/v1/main/flows/io.x/f")
    assert set(tenant.headers["allow"].split(", ")) == {"DELETE", "GET", "PUT"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/flows/Bad%20Namespace/f",
        "/api/v1/flows/io.x/-starts-with-dash",
        "/api/v1/executions/%C3%A9t%C3%A9",
        "/api/v1/executions/abc%E2%9C%93/file/metas?path=x",
        "/api/v1/logs/%E2%9C%93",
        "/api/v1/namespaces/UPPER/kv",
    ],
)
async def test_malformed_ids_are_422_before_any_lookup(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 422, response.text
    assert response.json()["message"].startswith("Invalid entity")


async def test_well_formed_unknown_ids_are_still_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/executions/nope")).status_code == 404
    assert (await client.get("/api/v1/flows/io.lanner/doesNotExist")).status_code == 404


async def test_log_download_with_a_non_latin1_id_is_not_a_500(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/logs/%E2%9C%93caf%C3%A9/download")
    assert response.status_code == 422


@pytest.mark.parametrize("name", ["report.csv", "café ✓.txt", 'quote"and\\slash%.log', "日本.yml"])
def test_content_disposition_is_rfc6266_for_any_name(name: str) -> None:
    header = content_disposition(name)
    header.encode("latin-1")  # what a header must be; a UnicodeEncodeError was the 500
    assert header.startswith('attachment; filename="')
    assert header.endswith("filename*=UTF-8''" + quote(name, safe=""))
    fallback = header.split('filename="', 1)[1].split('";', 1)[0]
    assert '"' not in fallback
    assert fallback.isascii()


async def test_a_non_latin1_namespace_file_downloads(client: httpx.AsyncClient, ns: str) -> None:
    url = f"/api/v1/namespaces/{ns}/files"
    saved = await client.post(url, params={"path": "/café✓.txt"}, content=b"hello")
    assert saved.status_code == 200, saved.text
    response = await client.get(url, params={"path": "/café✓.txt"})
    assert response.status_code == 200
    assert response.content == b"hello"
    assert "filename*=UTF-8''caf%C3%A9%E2%9C%93.txt" in response.headers["content-disposition"]


@pytest.mark.parametrize("item", [{"namespace": "io.x", "id": [None]}, {"namespace": 1, "id": "f"}])
async def test_bulk_ids_must_be_strings(client: httpx.AsyncClient, item: dict[str, Any]) -> None:
    response = await client.post("/api/v1/flows/disable/by-ids", json=[item])
    assert response.status_code == 422
    assert response.json()["message"] == "Invalid json mapping"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/flows/io.x/f?revision=-203328196349731143680",
        "/api/v1/flows/io.x/f/tasks/t?revision=99999999999999999999",
        "/api/v1/flows/search?page=99999999999999999999",
        "/api/v1/logs/abc?attempt=99999999999999999999",
    ],
)
async def test_ints_beyond_kestras_are_refused(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("body", [b"\x03\xff\x00\xfe", b"{not json"])
async def test_a_body_that_is_not_json_is_422(client: httpx.AsyncClient, body: bytes) -> None:
    response = await client.post(
        "/api/v1/executions/abc/state",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["message"].startswith("Invalid json")


async def test_the_document_names_its_auth(client: httpx.AsyncClient) -> None:
    document = await _document(client)
    assert set(document["components"]["securitySchemes"]) == {"basicAuth", "bearerAuth"}
    assert {"basicAuth": []} in document["security"]
    assert document["paths"]["/health"]["get"]["security"] == []
    assert "security" not in document["paths"]["/api/v1/configs"]["get"]
