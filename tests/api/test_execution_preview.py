"""``GET /executions/{id}/file/preview``: Kestra's ``{extension, type, content}`` of a file of
the execution, with the same path rules as ``/file`` — on both backends."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from tests.api.executions_support import create, deploy, log_flow

from lanner.api.context import Services
from lanner.storage import LocalStorage, path_of
from lanner.store import DEFAULT_TENANT

pytestmark = pytest.mark.asyncio


async def execution_with_file(
    api: httpx.AsyncClient, services: Services, ns: str, name: str, data: bytes
) -> tuple[str, str]:
    """A new execution and the ``kestra://`` URI of ``data`` stored under its prefix."""
    await deploy(api, log_flow(ns))
    execution_id: str = (await create(api, ns))["id"]
    return execution_id, await store_file(services, ns, execution_id, name, data)


async def store_file(services: Services, ns: str, execution_id: str, name: str, data: bytes) -> str:
    """The ``kestra://`` URI of ``data``, stored as a task output of the execution."""
    uri = f"kestra:///{ns.replace('.', '/')}/hello/executions/{execution_id}/tasks/t/r/{name}"
    await LocalStorage(services.settings.storage_dir).put(DEFAULT_TENANT, path_of(uri), data)
    return uri


async def preview(
    api: httpx.AsyncClient, execution_id: str, uri: str, **params: Any
) -> httpx.Response:
    return await api.get(
        f"/api/v1/executions/{execution_id}/file/preview", params={"path": uri, **params}
    )


async def test_text_file_shows_its_first_rows(
    api: httpx.AsyncClient, services: Services, ns: str
) -> None:
    lines = [f"{i},value{i}" for i in range(250)]
    execution_id, uri = await execution_with_file(
        api, services, ns, "data.csv", ("\r\n".join(lines) + "\r\n").encode()
    )

    default = await preview(api, execution_id, uri)
    few = await preview(api, execution_id, uri, maxRows=3)
    everything = await preview(api, execution_id, uri, maxRows=1000)

    assert default.status_code == 200, default.text
    body = default.json()
    assert (body["extension"], body["type"]) == ("csv", "TEXT")
    assert body["content"] == "\n".join(lines[:100])
    assert few.json()["content"] == "0,value0\n1,value1\n2,value2"
    assert few.json()["truncated"] is True
    assert everything.json()["content"] == "\n".join(lines)
    assert everything.json()["truncated"] is False


async def test_max_rows_is_capped_at_5000(
    api: httpx.AsyncClient, services: Services, ns: str
) -> None:
    data = "".join(f"{i}\n" for i in range(6000)).encode()
    execution_id, uri = await execution_with_file(api, services, ns, "big.log", data)

    body = (await preview(api, execution_id, uri, maxRows=99999)).json()

    assert body["content"].split("\n") == [str(i) for i in range(5000)]
    assert body["truncated"] is True


async def test_encoding_decodes_the_text(
    api: httpx.AsyncClient, services: Services, ns: str
) -> None:
    execution_id, uri = await execution_with_file(
        api, services, ns, "latin.txt", "café\nnaïve\n".encode("latin-1")
    )

    latin = await preview(api, execution_id, uri, encoding="ISO-8859-1")
    unknown = await preview(api, execution_id, uri, encoding="no-such-charset")

    assert latin.json()["content"] == "café\nnaïve"
    assert unknown.status_code == 422


async def test_ion_records_are_a_list_and_other_files_text(
    api: httpx.AsyncClient, services: Services, ns: str
) -> None:
    execution_id, ion = await execution_with_file(
        api, services, ns, "rows.ion", b'{"a": 1}\n{"a": 2}\n'
    )
    raw_ion = await store_file(services, ns, execution_id, "raw.ion", b"{a: 1}\n")
    image = await store_file(services, ns, execution_id, "x.png", b"\x89PNG")

    rows = (await preview(api, execution_id, ion)).json()
    raw = await preview(api, execution_id, raw_ion)
    png = (await preview(api, execution_id, image)).json()

    assert rows == {
        "extension": "ion",
        "type": "LIST",
        "content": [{"a": 1}, {"a": 2}],
        "truncated": False,
    }
    assert raw.json()["type"] == "TEXT"
    assert raw.json()["content"] == "{a: 1}"
    assert (png["type"], base64.b64decode(png["content"])) == ("IMAGE", b"\x89PNG")


async def test_path_rules_are_those_of_file(
    api: httpx.AsyncClient, services: Services, ns: str
) -> None:
    execution_id, uri = await execution_with_file(api, services, ns, "a.txt", b"a\n")
    own = uri.rsplit("/", 1)[0]

    missing = await preview(api, execution_id, own + "/nothing.txt")
    other = await preview(api, execution_id, "kestra:///other/flow/executions/X/a.txt")
    escape = await preview(api, execution_id, own + "/../../../../../../x.txt")
    unknown = await preview(api, "nope", uri)
    bad_rows = await preview(api, execution_id, uri, maxRows=0)
    no_path = await api.get(f"/api/v1/executions/{execution_id}/file/preview")

    assert missing.status_code == 404
    assert other.status_code == 422
    assert "Invalid prefix path" in other.json()["message"]
    assert escape.status_code == 422
    assert unknown.status_code == 404
    assert bad_rows.status_code == 422
    assert no_path.status_code == 400
