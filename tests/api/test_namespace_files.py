"""``/namespaces/{namespace}/files``: upload, download, list, move, delete, stats, search."""

from __future__ import annotations

from pathlib import Path

import httpx

from lanner.config import Settings


def files_url(ns: str, suffix: str = "") -> str:
    return f"/api/v1/namespaces/{ns}/files{suffix}"


async def upload(client: httpx.AsyncClient, ns: str, path: str, data: bytes) -> httpx.Response:
    return await client.post(
        files_url(ns), params={"path": path}, files={"fileContent": ("x.bin", data)}
    )


async def test_multipart_and_raw_uploads_then_download(
    client: httpx.AsyncClient, ns: str, settings: Settings
) -> None:
    response = await upload(client, ns, "/scripts/run.py", b"print('hi')\n")
    assert (response.status_code, response.content) == (200, b"")
    raw = await client.post(
        files_url(ns), params={"path": "/notes.txt"}, content=b"hello",
        headers={"Content-Type": "text/plain"},
    )  # fmt: skip
    assert raw.status_code == 200
    got = await client.get(files_url(ns), params={"path": "/scripts/run.py"})
    assert got.status_code == 200
    assert got.content == b"print('hi')\n"
    assert got.headers["content-type"] == "application/octet-stream"
    assert (await client.get(files_url(ns), params={"path": "notes.txt"})).content == b"hello"
    # Stored where Kestra stores them: <storage>/<tenant>/<ns as path>/_files/<path>
    on_disk = settings.storage_dir / "main" / Path(*ns.split(".")) / "_files" / "notes.txt"
    assert on_disk.read_bytes() == b"hello"


async def test_listing_the_root_and_directories(client: httpx.AsyncClient, ns: str) -> None:
    assert (await client.get(files_url(ns, "/directory"))).json() == []  # root auto-created
    await upload(client, ns, "/a/b/c.txt", b"abc")
    await upload(client, ns, "/top.txt", b"t")
    root = (await client.get(files_url(ns, "/directory"))).json()
    assert [(e["fileName"], e["type"]) for e in root] == [("a", "Directory"), ("top.txt", "File")]
    top = root[1]
    assert top["size"] == 1
    assert isinstance(top["lastModifiedTime"], int)
    assert isinstance(top["creationTime"], int)
    assert top["metadata"] == {}
    nested = (await client.get(files_url(ns, "/directory"), params={"path": "/a/b"})).json()
    assert [e["fileName"] for e in nested] == ["c.txt"]
    # The user's reference: GET …/files without path lists the root.
    listed = (await client.get(files_url(ns))).json()
    assert [e["fileName"] for e in listed] == ["a", "top.txt"]
    missing = await client.get(files_url(ns, "/directory"), params={"path": "/nope"})
    assert missing.status_code == 404


async def test_stats_and_search(client: httpx.AsyncClient, ns: str) -> None:
    await upload(client, ns, "/dir/report.csv", b"1,2,3")
    await upload(client, ns, "/other.csv", b"x")
    await upload(client, ns, "/readme.md", b"x")
    stats = (await client.get(files_url(ns, "/stats"), params={"path": "/dir/report.csv"})).json()
    assert (stats["fileName"], stats["type"], stats["size"]) == ("report.csv", "File", 5)
    directory = (await client.get(files_url(ns, "/stats"), params={"path": "/dir"})).json()
    assert directory["type"] == "Directory"
    found = (await client.get(files_url(ns, "/search"), params={"q": ".csv"})).json()
    assert found == ["/dir/report.csv", "/other.csv"]
    assert (await client.get(files_url(ns, "/search"), params={"q": "zzz"})).json() == []


async def test_move_and_delete_prune_empty_directories(client: httpx.AsyncClient, ns: str) -> None:
    await upload(client, ns, "/a/b/c.txt", b"abc")
    moved = await client.put(files_url(ns), params={"from": "/a/b/c.txt", "to": "/x/y.txt"})
    assert moved.status_code == 200, moved.text
    assert (await client.get(files_url(ns), params={"path": "/x/y.txt"})).content == b"abc"
    root = (await client.get(files_url(ns, "/directory"))).json()
    assert [e["fileName"] for e in root] == ["x"]  # a/b was emptied, then pruned
    await upload(client, ns, "/x/z.txt", b"z")
    assert (await client.delete(files_url(ns), params={"path": "/x/y.txt"})).status_code == 200
    assert [
        e["fileName"]
        for e in (await client.get(files_url(ns, "/directory"), params={"path": "x"})).json()
    ] == ["z.txt"]
    assert (await client.delete(files_url(ns), params={"path": "/x"})).status_code == 200
    assert (await client.get(files_url(ns, "/directory"))).json() == []
    assert (await client.delete(files_url(ns), params={"path": "/x"})).status_code == 404
    await upload(client, ns, "/p.txt", b"p")
    await upload(client, ns, "/q.txt", b"q")
    taken = await client.put(files_url(ns), params={"from": "/p.txt", "to": "/q.txt"})
    assert taken.status_code == 409
    absent = await client.put(files_url(ns), params={"from": "/nope", "to": "/r.txt"})
    assert absent.status_code == 404


async def test_directories_can_be_created(client: httpx.AsyncClient, ns: str) -> None:
    assert (
        await client.post(files_url(ns, "/directory"), params={"path": "/empty"})
    ).status_code == 200
    raw = await client.post(files_url(ns), params={"path": "/other/"}, content=b"")
    assert raw.status_code == 200
    root = (await client.get(files_url(ns, "/directory"))).json()
    assert [(e["fileName"], e["type"]) for e in root] == [
        ("empty", "Directory"), ("other", "Directory"),
    ]  # fmt: skip


async def test_unsafe_and_reserved_paths_are_refused(client: httpx.AsyncClient, ns: str) -> None:
    for path in ("/../escape.txt", "/a/../../b", "/_flows/f.yml", "a\\b"):
        response = await upload(client, ns, path, b"x")
        assert response.status_code == 422, (path, response.text)
    assert (
        await client.get(files_url(ns), params={"path": "/../../etc/passwd"})
    ).status_code == 422
    assert (await client.get(files_url(ns), params={"path": "/missing.txt"})).status_code == 404
    assert (await client.post(files_url(ns), content=b"x")).status_code == 422
    assert (await client.put(files_url(ns), params={"to": "/x"})).status_code == 422


async def test_tenant_prefix_and_auth(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, ns: str
) -> None:
    response = await client.post(
        f"/api/v1/acme/namespaces/{ns}/files", params={"path": "/t.txt"}, content=b"acme"
    )
    assert response.status_code == 200
    assert (await client.get(files_url(ns), params={"path": "/t.txt"})).status_code == 404
    got = await client.get(f"/api/v1/acme/namespaces/{ns}/files", params={"path": "/t.txt"})
    assert got.content == b"acme"
    assert (await anonymous.get(files_url(ns, "/directory"))).status_code == 401
