"""Namespace files: ``kestra:///<namespace as path>/_files/<path>`` in internal storage.

A namespace file path is ``/``-separated and relative to the namespace's root (a leading ``/``
is optional); the same path-safety rules as every storage path apply, and ``/_flows`` is
refused (Kestra reserves it for flow sources). Directories are real directories; deleting the
last file of one prunes the empty parents, as Kestra does. Blocking calls run in threads.
Must not import the store, the engine or the API.
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from lanner.errors import ConflictError, ErrorDetail, IllegalArgumentError, NotFoundError
from lanner.storage.local import LocalStorage, write_file
from lanner.storage.uris import namespace_path, safe_path, uri_of

FILES_DIR = "_files"
FLOWS_DIR = "_flows"
PART_SUFFIX = ".part"


@dataclass(frozen=True, slots=True)
class FileAttributes:
    """Kestra's ``FileAttributes`` of one file or directory."""

    file_name: str
    last_modified_ms: int
    creation_ms: int
    is_directory: bool
    size: int

    def to_json(self) -> dict[str, Any]:
        return {
            "fileName": self.file_name,
            "lastModifiedTime": self.last_modified_ms,
            "creationTime": self.creation_ms,
            "type": "Directory" if self.is_directory else "File",
            "size": self.size,
            "metadata": {},
        }


def files_root(namespace: str) -> PurePosixPath:
    """The storage path of a namespace's files (``<ns as path>/_files``)."""
    return namespace_path(namespace) / FILES_DIR


def file_path(namespace: str, path: str) -> PurePosixPath:
    """The storage path of namespace file ``path`` (never the root itself)."""
    relative = relative_path(path)
    if relative is None:
        raise IllegalArgumentError(
            "Illegal argument: a namespace file path is required", [ErrorDetail("path", "empty")]
        )
    return files_root(namespace) / relative


def file_uri(namespace: str, path: str) -> str:
    """``kestra:///<ns>/_files/<path>``."""
    return uri_of(file_path(namespace, path))


def relative_path(path: str | None) -> PurePosixPath | None:
    """A safe path below the namespace root; None for the root (``""`` or ``/``)."""
    text = (path or "").strip().strip("/")
    if not text:
        return None
    relative = safe_path(text)
    if relative.parts[0] == FLOWS_DIR:
        raise IllegalArgumentError(
            "Illegal argument: Forbidden path: /_flows is reserved for flows",
            [ErrorDetail("path", "/_flows is reserved")],
        )
    return relative


class NamespaceFiles:
    """The namespace-file operations of the API and of ``read()``, over :class:`LocalStorage`."""

    def __init__(self, storage: LocalStorage) -> None:
        self.storage = storage

    def _local(self, tenant: str, namespace: str, path: str | None) -> Path:
        relative = relative_path(path)
        root = files_root(namespace)
        return self.storage.local_path(tenant, root / relative if relative else root)

    def root_path(self, tenant: str, namespace: str) -> Path:
        """The local directory of a namespace's files (it may not exist)."""
        return self._local(tenant, namespace, None)

    async def read(self, tenant: str, namespace: str, path: str) -> bytes:
        return await self.storage.read_bytes(tenant, file_path(namespace, path))

    async def write(self, tenant: str, namespace: str, path: str, source: BinaryIO | bytes) -> int:
        target = self.storage.local_path(tenant, file_path(namespace, path))
        return await asyncio.to_thread(_write_file, target, source, path)

    async def make_directory(self, tenant: str, namespace: str, path: str | None) -> None:
        target = self._local(tenant, namespace, path)
        await asyncio.to_thread(_make_directory, target, path or "/")

    async def move(self, tenant: str, namespace: str, source: str, target: str) -> None:
        origin = self.storage.local_path(tenant, file_path(namespace, source))
        destination = self.storage.local_path(tenant, file_path(namespace, target))
        root = self._local(tenant, namespace, None)
        await asyncio.to_thread(_move, origin, destination, root, source, target)

    async def delete(self, tenant: str, namespace: str, path: str, *, prune: bool = True) -> bool:
        """Delete a file or directory; ``prune`` also removes the parents it left empty."""
        target = self.storage.local_path(tenant, file_path(namespace, path))
        root = self._local(tenant, namespace, None)
        return await asyncio.to_thread(_delete_and_prune, target, root, prune)

    async def exists(self, tenant: str, namespace: str, path: str) -> bool:
        """Whether the file ``path`` exists."""
        return await self.storage.exists(tenant, file_path(namespace, path))

    async def list_files(self, tenant: str, namespace: str) -> list[str]:
        """Every file's path below the namespace root (``a/b.txt``), sorted."""
        root = self._local(tenant, namespace, None)
        return [p.lstrip("/") for p in await asyncio.to_thread(_search, root, "")]

    async def list_directory(
        self, tenant: str, namespace: str, path: str | None
    ) -> list[FileAttributes]:
        """The entries of a directory; the root is created when missing (Kestra)."""
        target = self._local(tenant, namespace, path)
        is_root = relative_path(path) is None
        return await asyncio.to_thread(_list_directory, target, is_root, path or "/")

    async def stats(self, tenant: str, namespace: str, path: str | None) -> FileAttributes:
        target = self._local(tenant, namespace, path)
        is_root = relative_path(path) is None
        return await asyncio.to_thread(_stats, target, is_root, path or "/")

    async def search(self, tenant: str, namespace: str, query: str) -> list[str]:
        """Paths (``/a/b.txt``) of the files whose path contains ``query``."""
        root = self._local(tenant, namespace, None)
        return await asyncio.to_thread(_search, root, query)


def _not_found(path: str) -> NotFoundError:
    return NotFoundError(f"Not Found: namespace file '{path}' not found")


def _write_file(target: Path, source: BinaryIO | bytes, path: str) -> int:
    if target.is_dir():
        raise ConflictError(f"Illegal state: '{path}' is a directory")
    return write_file(target, source)


def _make_directory(target: Path, path: str) -> None:
    if target.is_file():
        raise ConflictError(f"Illegal state: '{path}' is a file")
    target.mkdir(parents=True, exist_ok=True)


def _move(origin: Path, destination: Path, root: Path, source: str, target: str) -> None:
    if not origin.exists():
        raise _not_found(source)
    if destination.exists():
        raise ConflictError(f"Illegal state: '{target}' already exists")
    if origin == destination or origin in destination.parents:
        raise IllegalArgumentError(
            f"Illegal argument: cannot move '{source}' into itself",
            [ErrorDetail("to", "inside the source")],
        )
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(origin, destination)
    _prune(origin.parent, root)


def _delete_and_prune(target: Path, root: Path, prune: bool = True) -> bool:
    if target.is_dir():
        shutil.rmtree(target)
    else:
        try:
            target.unlink()
        except FileNotFoundError:
            return False
    if prune:
        _prune(target.parent, root)
    return True


def _prune(directory: Path, root: Path) -> None:
    """Remove empty directories from ``directory`` up to (not including) ``root``."""
    while directory != root and root in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent


def _attributes(target: Path) -> FileAttributes:
    info = target.stat()
    created = getattr(info, "st_birthtime", info.st_ctime)
    return FileAttributes(
        file_name=target.name,
        last_modified_ms=int(info.st_mtime * 1000),
        creation_ms=int(created * 1000),
        is_directory=target.is_dir(),
        size=0 if target.is_dir() else info.st_size,
    )


def _list_directory(target: Path, is_root: bool, path: str) -> list[FileAttributes]:
    if is_root:
        target.mkdir(parents=True, exist_ok=True)
    if not target.is_dir():
        raise _not_found(path)
    entries = [p for p in target.iterdir() if not p.name.endswith(PART_SUFFIX)]
    return [_attributes(p) for p in sorted(entries, key=lambda p: (not p.is_dir(), p.name))]


def _stats(target: Path, is_root: bool, path: str) -> FileAttributes:
    if is_root:
        target.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        raise _not_found(path)
    return _attributes(target)


def _search(root: Path, query: str) -> list[str]:
    if not root.is_dir():
        return []
    found = []
    for item in root.rglob("*"):
        if item.is_file() and not item.name.endswith(PART_SUFFIX):
            relative = "/" + item.relative_to(root).as_posix()
            if query in relative:
                found.append(relative)
    return sorted(found)
