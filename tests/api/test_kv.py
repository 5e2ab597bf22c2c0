"""``/namespaces/{namespace}/kv``: Kestra 1.3 shapes over the real store (both backends)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from lanner.api.context import Services
from lanner.domain.kv import KVType, KVValue

JSON = {"Content-Type": "application/json"}


def kv_url(ns: str, key: str = "", *, tenant: str | None = None) -> str:
    base = f"/api/v1/{tenant}" if tenant else "/api/v1"
    return f"{base}/namespaces/{ns}/kv" + (f"/{key}" if key else "")


@pytest.mark.parametrize(
    ("body", "kind", "value"),
    [
        ('"my-value"', "STRING", "my-value"),
        ("42", "NUMBER", 42),
        ("4.5", "NUMBER", 4.5),
        ("true", "BOOLEAN", True),
        ('{"a": {"b": [1, 2]}}', "JSON", {"a": {"b": [1, 2]}}),
        ("[1, 2]", "JSON", [1, 2]),
        ("2021-09-01", "DATE", "2021-09-01"),
        ("2021-09-01T01:02:03Z", "DATETIME", "2021-09-01T01:02:03Z"),
        ('"PT5S"', "DURATION", "PT5S"),
    ],
)
async def test_put_then_get_every_type(
    client: httpx.AsyncClient, ns: str, body: str, kind: str, value: object
) -> None:
    put = await client.put(kv_url(ns, "my_key"), content=body, headers=JSON)
    assert put.status_code == 200, put.text
    assert put.content == b""
    got = await client.get(kv_url(ns, "my_key"))
    assert got.status_code == 200
    detail = got.json()
    assert (detail["type"], detail["value"], detail["revision"]) == (kind, value, 1)
    assert detail["updated"].endswith("Z")


async def test_text_plain_body_and_overwrite_bumps_the_revision(
    client: httpx.AsyncClient, ns: str
) -> None:
    headers = {"Content-Type": "text/plain"}
    assert (await client.put(kv_url(ns, "k"), content='"a"', headers=headers)).status_code == 200
    assert (await client.put(kv_url(ns, "k"), content="7", headers=headers)).status_code == 200
    detail = (await client.get(kv_url(ns, "k"))).json()
    assert (detail["type"], detail["value"], detail["revision"]) == ("NUMBER", 7, 2)


async def test_list_shows_metadata_and_hides_expired_entries(
    client: httpx.AsyncClient, services: Services, ns: str
) -> None:
    await client.put(kv_url(ns, "b"), content='"x"', headers={**JSON, "ttl": "PT1H"})
    await client.put(kv_url(ns, "a"), content="1", headers={**JSON, "description": "the answer"})
    await services.store.put_kv("main", ns, "old", KVValue(KVType.STRING, "x"), ttl=None)
    await services.store.put_kv("main", ns, "gone", KVValue(KVType.STRING, "x"), ttl=timedelta(0))
    listed = (await client.get(kv_url(ns))).json()
    assert [entry["key"] for entry in listed] == ["a", "b", "old"]
    first, second = listed[0], listed[1]
    assert first["description"] == "the answer"
    assert first["namespace"] == ns
    assert first["version"] == 1
    assert {"creationDate", "updateDate"} <= set(first)
    assert "expirationDate" not in first
    assert second["expirationDate"].endswith("Z")
    expired = await client.get(kv_url(ns, "gone"))
    assert expired.status_code == 410
    assert expired.json()["message"].startswith("Resource has expired")


async def test_missing_key_is_404_and_delete_answers_a_boolean(
    client: httpx.AsyncClient, ns: str
) -> None:
    missing = await client.get(kv_url(ns, "nope"))
    assert missing.status_code == 404
    assert "nope" in missing.json()["message"]
    await client.put(kv_url(ns, "k"), content='"v"', headers=JSON)
    first = await client.delete(kv_url(ns, "k"))
    assert (first.status_code, first.json()) == (200, True)
    again = await client.delete(kv_url(ns, "k"))
    assert (again.status_code, again.json()) == (200, False)


async def test_delete_several_keys(client: httpx.AsyncClient, ns: str) -> None:
    for key in ("a", "b", "c"):
        await client.put(kv_url(ns, key), content="1", headers=JSON)
    response = await client.request("DELETE", kv_url(ns), json={"keys": ["a", "c", "zz"]})
    assert response.status_code == 200
    assert response.json() == {"keys": ["a", "c"]}
    assert [e["key"] for e in (await client.get(kv_url(ns))).json()] == ["b"]
    bad = await client.request("DELETE", kv_url(ns), json={"nokeys": 1})
    assert bad.status_code == 422


@pytest.mark.parametrize(
    ("key", "body", "headers", "fragment"),
    [
        ("k", "{broken", {}, "Invalid JSON value"),
        ("k", "", {}, "Invalid JSON value"),
        ("k", "null", {}, "null"),
        ("k", '"v"', {"ttl": "-PT1H"}, "ttl"),
        ("k", '"v"', {"ttl": "soon"}, "ttl"),
        ("-bad", '"v"', {}, "Key must start"),
    ],
)
async def test_bad_puts_are_422(
    client: httpx.AsyncClient, ns: str, key: str, body: str, headers: dict[str, str], fragment: str
) -> None:
    response = await client.put(kv_url(ns, key), content=body, headers={**JSON, **headers})
    assert response.status_code == 422, response.text
    assert fragment in response.json()["message"]
    assert (await client.get(kv_url(ns))).json() == []


async def test_tenants_are_separate_and_auth_is_required(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, ns: str
) -> None:
    await client.put(kv_url(ns, "k", tenant="main"), content='"main"', headers=JSON)
    await client.put(kv_url(ns, "k", tenant="acme"), content='"acme"', headers=JSON)
    assert (await client.get(kv_url(ns, "k"))).json()["value"] == "main"
    assert (await client.get(kv_url(ns, "k", tenant="acme"))).json()["value"] == "acme"
    assert (await anonymous.get(kv_url(ns, "k"))).status_code == 401
