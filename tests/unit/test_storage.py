"""Internal storage: kestra:/// URIs, path safety, and the local filesystem backend."""

from __future__ import annotations

import io
from pathlib import Path, PurePosixPath

import pytest

from lanner.errors import IllegalArgumentError, NotFoundError
from lanner.storage import (
    LocalStorage,
    execution_prefix,
    input_file_path,
    is_inside,
    path_of,
    safe_path,
    uri_of,
)


def test_layout_follows_kestra() -> None:
    path = input_file_path("io.kestra.tests", "inputs", "EXEC", "file", "data.csv")
    assert uri_of(path) == "kestra:///io/kestra/tests/inputs/executions/EXEC/inputs/file/data.csv"
    assert is_inside(path, execution_prefix("io.kestra.tests", "inputs", "EXEC"))
    assert not is_inside(path, execution_prefix("io.kestra.tests", "inputs", "OTHER"))


def test_uri_round_trip_encodes_spaces() -> None:
    path = PurePosixPath("a/b/my file.txt")
    uri = uri_of(path)
    assert uri == "kestra:///a/b/my%20file.txt"
    assert path_of(uri) == path


def test_client_file_names_lose_their_directories() -> None:
    path = input_file_path("ns", "f", "E", "in", "../../etc/passwd")
    assert path.name == "passwd"
    assert path.parent.name == "in"
    assert input_file_path("ns", "f", "E", "in", "C:\\x\\y.csv").name == "y.csv"


@pytest.mark.parametrize(
    "uri",
    [
        "kestra:///a/../b",
        "kestra:///../etc/passwd",
        "kestra:///a/%2E%2E/b",
        "kestra:///a//b",
        "kestra:///a/./b",
        "kestra:///",
        "kestra://host/a",
        "file:///etc/passwd",
        "/etc/passwd",
        "kestra:///a\\..\\b",
    ],
)
def test_unsafe_uris_are_refused(uri: str) -> None:
    with pytest.raises(IllegalArgumentError):
        path_of(uri)


def test_safe_path_refuses_escapes() -> None:
    with pytest.raises(IllegalArgumentError):
        safe_path("a/../../b")
    assert safe_path("/a/b/") == PurePosixPath("a/b")


async def test_put_read_size_stream_delete(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    path = PurePosixPath("ns/flow/executions/E/inputs/f/data.csv")
    assert await storage.put("main", path, b"a,b\n1,2\n") == 8
    assert await storage.exists("main", path)
    assert (tmp_path / "main" / path).read_bytes() == b"a,b\n1,2\n"
    assert await storage.read_bytes("main", path) == b"a,b\n1,2\n"
    assert await storage.size("main", path) == 8
    chunks = [chunk async for chunk in await storage.stream("main", path)]
    assert b"".join(chunks) == b"a,b\n1,2\n"
    assert not await storage.exists("other", path)
    assert await storage.delete_tree("main", PurePosixPath("ns/flow/executions/E"))
    assert not await storage.exists("main", path)
    assert not await storage.delete("main", path)


def partial_files(root: Path) -> list[Path]:
    return list(root.rglob("*.part"))


async def test_put_copies_file_objects_in_chunks(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    payload = bytes(range(256)) * 4096
    path = PurePosixPath("x/big.bin")
    assert await storage.put("main", path, io.BytesIO(payload)) == len(payload)
    assert await storage.read_bytes("main", path) == payload
    assert not partial_files(tmp_path)


async def test_missing_files_are_not_found(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    missing = PurePosixPath("nope/file.txt")
    with pytest.raises(NotFoundError):
        await storage.read_bytes("main", missing)
    with pytest.raises(NotFoundError):
        await storage.size("main", missing)
    with pytest.raises(NotFoundError):
        await storage.stream("main", missing)


async def test_symlinks_cannot_escape_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "main").mkdir(parents=True)
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    (root / "main" / "link").symlink_to(tmp_path)
    storage = LocalStorage(root)
    with pytest.raises(IllegalArgumentError):
        await storage.read_bytes("main", PurePosixPath("link/secret.txt"))


def test_tenant_must_be_a_single_segment(tmp_path: Path) -> None:
    with pytest.raises(IllegalArgumentError):
        LocalStorage(tmp_path).local_path("../x", PurePosixPath("a"))
