"""The server side of templating's runtime functions: ``secret()``, ``kv()``, ``read()``,
``fileSize()``, ``fileExists()`` and ``errorLogs()`` against the real store and storage.

The template engine calls these synchronously from a worker thread (``TaskContext`` renders
any template that uses them with ``asyncio.to_thread``). Each call that needs the store or the
storage is bridged to the engine's event loop with ``asyncio.run_coroutine_threadsafe``: the
store's writer and reader pool already settle their futures on that loop, so one code path
serves SQLite and PostgreSQL and no second connection pool is needed. A call made *on* the loop
thread would deadlock, so it fails at once with :class:`RuntimeError` instead.

Secrets are masked: every configured secret value, every value ``secret()`` hands out and every
decrypted SECRET input is registered in :class:`SecretMasks`, the engine's ``masker`` that every
task logger applies (``Engine(..., masker=runtime.masks)``).
Imports the domain, the store protocols, storage, templating and this package.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any, TypeVar

from lanner.domain.logs import LogEntry, LogLevel
from lanner.domain.times import format_instant
from lanner.encryption import DecryptionError, SecretCipher
from lanner.errors import LannerError, NotFoundError
from lanner.storage import LocalStorage, execution_prefix, files_root, is_inside, path_of
from lanner.storage.namespace_files import file_path
from lanner.store import DEFAULT_TENANT, Store
from lanner.templating import RuntimeScope

T = TypeVar("T")

MASK = "******"
MIN_SECRET_CHARS = 3
"""Shorter values are not masked: masking ``a`` or ``1`` would garble every line."""
BRIDGE_TIMEOUT_S = 60.0
NSFILE_SCHEME = "nsfile://"
KESTRA_SCHEME = "kestra://"


class SecretMasks:
    """Secret values to hide from log lines (Kestra writes ``******`` instead).

    Registration happens in rendering threads, masking anywhere: the registry is guarded by a
    lock and masking reads one immutable compiled pattern (longest values first, so a secret
    containing another is masked whole).
    """

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._values: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None
        for value in values:
            self.register(value)

    def register(self, value: str) -> None:
        """Mask ``value`` (and each line of a multi-line value) from now on."""
        candidates = {value, *(line.strip() for line in value.splitlines())}
        fresh = {c for c in candidates if len(c) >= MIN_SECRET_CHARS} - self._values
        if not fresh:
            return
        with self._lock:
            self._values = self._values | fresh
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def mask(self, text: str) -> str:
        """``text`` with every registered value replaced by ``******``."""
        pattern = self._pattern
        return text if pattern is None else pattern.sub(MASK, text)


class EngineRuntime:
    """:class:`~lanner.templating.RuntimeFunctions` over the store, storage and settings.

    Build it on the engine's event loop (``loop`` defaults to the running one).
    """

    def __init__(
        self,
        store: Store,
        storage: LocalStorage,
        secrets: Mapping[str, str],
        *,
        masks: SecretMasks | None = None,
        cipher: SecretCipher | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._store = store
        self._storage = storage
        self._secrets = {key.upper(): value for key, value in secrets.items()}
        self.masks = masks if masks is not None else SecretMasks()
        for value in self._secrets.values():
            self.masks.register(value)
        self._cipher = cipher
        self._loop = loop or asyncio.get_running_loop()

    @property
    def storage(self) -> LocalStorage:
        """The internal storage ``read()`` and friends look into."""
        return self._storage

    def decrypt_input(self, value: str) -> str:
        """A SECRET input's clear text, registered for masking.

        A value this key did not encrypt is kept as it is: a subflow's SECRET input, or one
        submitted before a key was configured, is stored clear.
        """
        if self._cipher is None:
            return value
        try:
            clear = self._cipher.decrypt(value)
        except DecryptionError:
            return value
        self.masks.register(clear)
        return clear

    # -- RuntimeFunctions ----------------------------------------------------------------------

    def secret(self, scope: RuntimeScope, key: str) -> str:
        value = self._secrets.get(key.upper())
        if value is None:
            raise LookupError(f"Cannot find secret for key '{key}'.")
        self.masks.register(value)
        return value

    def kv(self, scope: RuntimeScope, namespace: str, key: str) -> Any:
        entry = self._call(self._store.get_kv(_tenant(scope), namespace, key))
        if entry is None:
            raise LookupError(f"The key '{key}' does not exist in the namespace '{namespace}'.")
        if entry.is_expired(datetime.now(UTC)):
            raise LookupError(f"The key '{key}' has expired in the namespace '{namespace}'.")
        return entry.value

    def read(self, scope: RuntimeScope, path: str) -> str:
        data = self._storage_call(
            path, self._storage.read_bytes(_tenant(scope), self._path(scope, path))
        )
        return data.decode("utf-8", errors="replace")

    def file_size(self, scope: RuntimeScope, path: str) -> int:
        return self._storage_call(path, self._storage.size(_tenant(scope), self._path(scope, path)))

    def file_exists(self, scope: RuntimeScope, path: str) -> bool:
        return self._storage_call(
            path, self._storage.exists(_tenant(scope), self._path(scope, path))
        )

    def error_logs(self, scope: RuntimeScope) -> Sequence[Mapping[str, Any]]:
        if scope.execution_id is None:
            return []
        entries = self._call(
            self._store.list_logs(_tenant(scope), scope.execution_id, min_level=LogLevel.ERROR)
        )
        return [log_json(entry) for entry in entries if entry.level is LogLevel.ERROR]

    # -- helpers -------------------------------------------------------------------------------

    def _path(self, scope: RuntimeScope, path: str) -> PurePosixPath:
        """The storage path a ``read()`` argument names, if this execution may read it."""
        namespace = scope.namespace or ""
        try:
            if path.startswith(KESTRA_SCHEME):
                relative = path_of(path)
                if is_inside(relative, files_root(namespace)):
                    return relative
                if scope.flow_id and scope.execution_id:
                    prefix = execution_prefix(namespace, scope.flow_id, scope.execution_id)
                    if is_inside(relative, prefix):
                        return relative
                if scope.parent is not None and is_inside(
                    relative, execution_prefix(*scope.parent)
                ):  # a file of the execution that started this one (Kestra)
                    return relative
                raise LookupError(
                    f"Unable to read the file '{path}' as it didn't belong to the current execution"
                )
            if path.startswith(NSFILE_SCHEME):
                # nsfile:///a.txt (this namespace) or nsfile://other.namespace/a.txt
                rest = path[len(NSFILE_SCHEME) :]
                other, _, inner = rest.partition("/")
                return file_path(other or namespace, inner)
            return file_path(namespace, path)
        except LannerError as error:
            raise LookupError(error.message) from None

    def _storage_call(self, path: str, work: Awaitable[T]) -> T:
        try:
            return self._call(work)
        except NotFoundError:
            raise LookupError(f"File '{path}' not found") from None

    def _call(self, work: Awaitable[T]) -> T:
        """Run ``work`` on the engine's loop and wait for it (from a worker thread)."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            if asyncio.iscoroutine(work):
                work.close()
            raise RuntimeError(
                "kv(), read(), errorLogs()... must be rendered off the event loop "
                "(TemplateEngine.uses_runtime → asyncio.to_thread)"
            )
        future = asyncio.run_coroutine_threadsafe(_awaited(work), self._loop)
        return future.result(BRIDGE_TIMEOUT_S)


async def _awaited(work: Awaitable[T]) -> T:
    return await work


def _tenant(scope: RuntimeScope) -> str:
    return scope.tenant_id or DEFAULT_TENANT


def log_json(entry: LogEntry) -> dict[str, Any]:
    """A log line as Kestra's ``LogEntry`` JSON (null fields omitted)."""
    fields: dict[str, Any] = {
        "tenantId": entry.tenant_id,
        "namespace": entry.namespace,
        "flowId": entry.flow_id,
        "taskId": entry.task_id,
        "executionId": entry.execution_id,
        "taskRunId": entry.task_run_id,
        "attemptNumber": entry.attempt_number,
        "triggerId": entry.trigger_id,
        "timestamp": format_instant(entry.timestamp),
        "level": entry.level.value,
        "thread": entry.thread,
        "message": entry.message,
    }
    return {key: value for key, value in fields.items() if value is not None}
