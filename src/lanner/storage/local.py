"""Internal storage on the local filesystem: ``<root>/<tenant>/<kestra path>``.

Every blocking call runs in a thread, so the event loop never waits on the disk. Paths come
from :mod:`lanner.storage.uris` and are checked again against the root before any access.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from lanner.errors import NotFoundError
from lanner.storage.uris import invalid_uri, safe_path, uri_of

CHUNK_BYTES = 256 * 1024


class LocalStorage:
    """Files of every tenant under one root directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def local_path(self, tenant: str, path: PurePosixPath) -> Path:
        """The file for ``path`` of ``tenant``; refuses anything outside the root."""
        relative = safe_path(tenant, what="tenant") / safe_path(path.as_posix())
        target = (self.root / relative).resolve()
        base = self.root.resolve()
        if target != base and base not in target.parents:
            raise invalid_uri(uri_of(path), "outside the storage root")
        return target

    async def put(self, tenant: str, path: PurePosixPath, source: BinaryIO | bytes) -> int:
        """Write ``source`` (bytes or a readable binary file) at ``path``; returns the size."""
        target = self.local_path(tenant, path)
        return await asyncio.to_thread(write_file, target, source)

    async def read_bytes(self, tenant: str, path: PurePosixPath) -> bytes:
        target = self.local_path(tenant, path)
        try:
            return await asyncio.to_thread(target.read_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFoundError(f"File '{uri_of(path)}' not found") from None

    async def size(self, tenant: str, path: PurePosixPath) -> int:
        target = self.local_path(tenant, path)
        return await asyncio.to_thread(_size, target, path)

    async def exists(self, tenant: str, path: PurePosixPath) -> bool:
        target = self.local_path(tenant, path)
        return await asyncio.to_thread(target.is_file)

    async def stream(self, tenant: str, path: PurePosixPath) -> AsyncIterator[bytes]:
        """The file's bytes in chunks; raises NotFoundError before the first chunk."""
        target = self.local_path(tenant, path)
        await asyncio.to_thread(_size, target, path)
        return _chunks(target)

    async def delete(self, tenant: str, path: PurePosixPath) -> bool:
        target = self.local_path(tenant, path)
        return await asyncio.to_thread(_delete, target)

    async def delete_tree(self, tenant: str, prefix: PurePosixPath) -> bool:
        """Remove everything under ``prefix`` (an execution's files); False when absent."""
        target = self.local_path(tenant, prefix)
        return await asyncio.to_thread(_delete, target)


def write_file(target: Path, source: BinaryIO | bytes) -> int:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with partial.open("wb") as out:
            if isinstance(source, bytes):
                out.write(source)
            else:
                shutil.copyfileobj(source, out, CHUNK_BYTES)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target.stat().st_size


def _size(target: Path, path: PurePosixPath) -> int:
    if not target.is_file():
        raise NotFoundError(f"File '{uri_of(path)}' not found")
    return target.stat().st_size


def _delete(target: Path) -> bool:
    if target.is_dir():
        shutil.rmtree(target, ignore_errors=True)
        return True
    try:
        target.unlink()
    except FileNotFoundError:
        return False
    return True


async def _chunks(target: Path) -> AsyncIterator[bytes]:
    handle = await asyncio.to_thread(target.open, "rb")
    try:
        while chunk := await asyncio.to_thread(handle.read, CHUNK_BYTES):
            yield chunk
    finally:
        await asyncio.to_thread(handle.close)
