"""Core ``kv.*`` tasks (namespace key-value store) and the deprecated ``state.*`` tasks.

``kv.Set`` (and 1.x ``kv.Put``), ``kv.Get``, ``kv.Delete`` and ``kv.GetKeys`` run against the
context's KV store; ``namespace`` defaults to the flow's. A value's type is inferred as Kestra
does (``kvType`` forces one); ``ttl`` is an ISO-8601 duration. ``kv.PurgeKV`` deletes keys (expired ones by default) across
namespaces. The deprecated ``state.*`` tasks keep a JSON map in the flow's namespace KV store,
as Kestra's ``StateStore`` does, under ``<flow-slug>_states_tasks-states_<name>`` (without the
flow part when ``namespace: true``; with ``_<murmur3 of taskrun.value>`` inside a loop).
Imports the domain, the errors and ``lanner.tasks`` only (the store for type checking).
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import Field

from lanner.domain.kv import (
    InvalidKVValue,
    KVType,
    KVValue,
    check_key,
    convert_value,
    infer_value,
)
from lanner.domain.murmur import hash_to_string
from lanner.domain.times import parse_duration
from lanner.errors import ConflictError
from lanner.tasks.base import DYNAMIC, AnyMap, Bool, Duration, Int, Strict, StrList, Task, Text
from lanner.tasks.context import Outputs, RunContext
from lanner.tasks.failures import TaskFailure
from lanner.tasks.values import as_flag

if TYPE_CHECKING:
    from lanner.store import KVStore

CORE = "io.kestra.plugin.core"

KvType = Annotated[
    Literal["STRING", "NUMBER", "BOOLEAN", "DATETIME", "DATE", "DURATION", "JSON"], DYNAMIC
]


def _store(ctx: RunContext) -> KVStore:
    if ctx.kv is None:
        raise TaskFailure("the KV store is not available to this worker", retryable=False)
    return ctx.kv


async def _namespace(ctx: RunContext, namespace: str) -> str:
    return await ctx.render(namespace) or ctx.execution.namespace


async def _key_and_namespace(ctx: RunContext, key: str, namespace: str) -> tuple[str, str]:
    rendered = await ctx.render(key) or ""
    try:
        return check_key(rendered), await _namespace(ctx, namespace)
    except InvalidKVValue as error:
        raise TaskFailure(str(error)) from None


def _missing(key: str, namespace: str) -> TaskFailure:
    return TaskFailure(f"The key '{key}' does not exist in the namespace '{namespace}'.")


class KvSet(Task):
    """Store ``value`` under ``key`` in a namespace's KV store."""

    TYPE: ClassVar[str] = f"{CORE}.kv.Set"

    key: Text
    value: Any
    namespace: Text = "{{ flow.namespace }}"
    overwrite: Bool = True
    ttl: Duration | None = None
    kvType: KvType | None = None
    kvDescription: Text | None = None

    async def run(self, ctx: RunContext) -> Outputs:
        key, namespace = await _key_and_namespace(ctx, self.key, self.namespace)
        if "value" not in self.model_fields_set:
            raise TaskFailure("kv.Set needs a value", retryable=False)
        raw = await ctx.render_typed(self.value)
        kind = await ctx.render(self.kvType)
        ttl_text = await ctx.render(self.ttl)
        ttl = parse_duration(ttl_text) if ttl_text else None
        if ttl_text and (ttl is None or ttl.total_seconds() < 0):
            raise TaskFailure(f"ttl must be a positive ISO-8601 duration, got '{ttl_text}'")
        try:
            value = convert_value(raw, KVType(kind.upper())) if kind else infer_value(raw)
        except (InvalidKVValue, ValueError) as error:
            raise TaskFailure(f"invalid value for key '{key}': {error}") from None
        try:
            await _store(ctx).put_kv(
                ctx.execution.tenant_id,
                namespace,
                key,
                value,
                ttl=ttl,
                description=await ctx.render(self.kvDescription),
                overwrite=as_flag(await ctx.render_typed(self.overwrite)),
            )
        except ConflictError:
            raise TaskFailure(
                f"Cannot set value for this key '{key}' as this key already exists and "
                "overwrite is false"
            ) from None
        return None


class KvPut(KvSet):
    """1.x spelling of ``kv.Set``."""

    TYPE: ClassVar[str] = f"{CORE}.kv.Put"


class KvGet(Task):
    """Read a KV entry into the ``value`` output."""

    TYPE: ClassVar[str] = f"{CORE}.kv.Get"

    key: Text
    namespace: Text = "{{ flow.namespace }}"
    errorOnMissing: Bool = False

    async def run(self, ctx: RunContext) -> Outputs:
        key, namespace = await _key_and_namespace(ctx, self.key, self.namespace)
        entry = await _store(ctx).get_kv(ctx.execution.tenant_id, namespace, key)
        if entry is None or entry.is_expired(datetime.now(UTC)):
            if as_flag(await ctx.render_typed(self.errorOnMissing)):
                raise _missing(key, namespace)
            return {"value": None}
        return {"value": entry.value}


class KvGetKeys(Task):
    """List the keys of a namespace, optionally by ``prefix``."""

    TYPE: ClassVar[str] = f"{CORE}.kv.GetKeys"

    prefix: Text | None = None
    namespace: Text = "{{ flow.namespace }}"

    async def run(self, ctx: RunContext) -> Outputs:
        namespace = await _namespace(ctx, self.namespace)
        prefix = await ctx.render(self.prefix) or ""
        entries = await _store(ctx).list_kv(ctx.execution.tenant_id, namespace)
        return {"keys": [entry.key for entry in entries if entry.key.startswith(prefix)]}


class KvDelete(Task):
    """Delete a KV entry."""

    TYPE: ClassVar[str] = f"{CORE}.kv.Delete"

    key: Text
    namespace: Text = "{{ flow.namespace }}"
    errorOnMissing: Bool = False

    async def run(self, ctx: RunContext) -> Outputs:
        key, namespace = await _key_and_namespace(ctx, self.key, self.namespace)
        deleted = await _store(ctx).delete_kv(ctx.execution.tenant_id, namespace, [key])
        if not deleted and as_flag(await ctx.render_typed(self.errorOnMissing)):
            raise _missing(key, namespace)
        return {"deleted": bool(deleted)}


class PurgeByKey(Strict):
    type: Literal["key"]
    expiredOnly: Bool = True


class PurgeByVersion(Strict):
    type: Literal["version"]
    before: Text | None = None
    keepAmount: Int | None = None


class KvPurge(Task):
    """Purge KV entries (expired ones by default) of some namespaces (1.x); ``size`` output."""

    TYPE: ClassVar[str] = f"{CORE}.kv.PurgeKV"

    keyPattern: Text | None = None
    namespaces: StrList | None = None
    namespacePattern: Text | None = None
    behavior: Annotated[PurgeByKey | PurgeByVersion, Field(discriminator="type")] | None = None
    includeChildNamespaces: Bool = True
    expiredOnly: Bool | None = None

    async def run(self, ctx: RunContext) -> Outputs:
        store = _store(ctx)
        tenant = ctx.execution.tenant_id
        namespaces = await self._namespaces(ctx)
        ctx.logger.log("INFO", f"purging {len(namespaces)} namespaces: {namespaces}")
        behavior = self.behavior or PurgeByKey(type="key")
        expired_only = True
        if self.expiredOnly is not None:  # deprecated, wins over ``behavior``
            behavior = PurgeByKey(type="key")
            expired_only = as_flag(await ctx.render_typed(self.expiredOnly))
        elif isinstance(behavior, PurgeByKey):
            expired_only = as_flag(await ctx.render_typed(behavior.expiredOnly))
        pattern = await ctx.render(self.keyPattern)
        count = 0
        for namespace in namespaces:
            if isinstance(behavior, PurgeByVersion):
                # One version per key here: only ``keepAmount: 0`` lets a key's last one go.
                keep = await ctx.render_typed(behavior.keepAmount)
                found = []
                if behavior.before is None and keep is not None and int(keep) == 0:
                    found = [e.key for e in await store.list_kv(tenant, namespace)]
            else:
                found = await store.expired_kv_keys(tenant, namespace)
                if not expired_only:
                    found += [e.key for e in await store.list_kv(tenant, namespace)]
            keys = [key for key in found if not pattern or fnmatchcase(key, pattern)]
            if keys:
                count += len(await store.delete_kv(tenant, namespace, keys))
        ctx.logger.log("INFO", f"purged {count} keys")
        return {"size": count}

    async def _namespaces(self, ctx: RunContext) -> list[str]:
        listed = await _render_names(ctx, self.namespaces)
        pattern = await ctx.render(self.namespacePattern)
        if listed and pattern:
            raise TaskFailure(
                "Properties `namespaces` and `namespacePattern` can't be used at the same time "
                "— use one or the other."
            )
        if ctx.store is None:
            raise TaskFailure("the store is not available to this worker", retryable=False)
        known = await ctx.store.distinct_namespaces(ctx.execution.tenant_id)
        if pattern:
            return [ns for ns in known if fnmatchcase(ns, pattern)]
        if not listed:
            return known
        children = as_flag(await ctx.render_typed(self.includeChildNamespaces))
        found = [
            ns for ns in known if any(ns.startswith(n) if children else ns == n for n in listed)
        ]
        return [*found, *(n for n in listed if n not in found)]


async def _render_names(ctx: RunContext, value: Any) -> list[str]:
    rendered = await ctx.render_typed(value)
    if rendered is None:
        return []
    if isinstance(rendered, str):
        rendered = json.loads(rendered) if rendered.strip().startswith("[") else [rendered]
    return [str(item) for item in rendered]


STATES = "tasks-states"


def _slug(text: str) -> str:
    """Kestra's ``Slugify.of``: spaces and ``_`` become ``-``, other non-word characters go."""
    normalized = unicodedata.normalize("NFD", re.sub(r"\s", "-", text))
    slug = re.sub(r"[^A-Za-z0-9_-]", "", normalized).replace("_", "-")
    slug = re.sub(r"-{2,}", "-", slug).removeprefix("-").removesuffix("-")
    return slug.lower()


class _State(Task):
    DEPRECATED: ClassVar[bool] = True

    name: Text = "default"
    namespace: Bool = False
    taskrunValue: Bool = True

    async def _key(self, ctx: RunContext) -> str:
        name = await ctx.render(self.name) or "default"
        key = f"states_{STATES}_{name}"
        if not as_flag(await ctx.render_typed(self.namespace)):
            key = f"{_slug(ctx.execution.flow_id)}_{key}"
        value = ctx.task_run.value
        if as_flag(await ctx.render_typed(self.taskrunValue)) and value is not None:
            key = f"{key}_{hash_to_string(value)}"
        try:
            return check_key(key)
        except InvalidKVValue as error:
            raise TaskFailure(f"name: {error}") from None

    async def _get(self, ctx: RunContext, key: str) -> dict[str, Any] | None:
        entry = await _store(ctx).get_kv(ctx.execution.tenant_id, ctx.execution.namespace, key)
        if entry is None or entry.is_expired(datetime.now(UTC)):
            return None
        value = entry.value
        if isinstance(value, str):
            value = json.loads(value)
        return dict(value) if isinstance(value, dict) else {}


class StateSet(_State):
    """Deprecated: merge ``data`` into a state (``count`` of its entries, its ``key``)."""

    TYPE: ClassVar[str] = f"{CORE}.state.Set"
    ALIASES: ClassVar[tuple[str, ...]] = ("io.kestra.core.tasks.states.Set",)

    data: AnyMap | None = None

    async def run(self, ctx: RunContext) -> Outputs:
        key = await self._key(ctx)
        data = await ctx.render_typed(self.data) or {}
        if not isinstance(data, dict):
            raise TaskFailure(f"data must be a map, got {type(data).__name__}")
        merged = {**(await self._get(ctx, key) or {}), **data}
        await _store(ctx).put_kv(
            ctx.execution.tenant_id, ctx.execution.namespace, key, KVValue(KVType.JSON, merged)
        )
        return {"count": len(merged), "key": key}


class StateGet(_State):
    """Deprecated: read a state (``count`` of its entries and its ``data``)."""

    TYPE: ClassVar[str] = f"{CORE}.state.Get"
    ALIASES: ClassVar[tuple[str, ...]] = ("io.kestra.core.tasks.states.Get",)

    errorOnMissing: Bool = False

    async def run(self, ctx: RunContext) -> Outputs:
        key = await self._key(ctx)
        data = await self._get(ctx, key)
        if data is None:
            if as_flag(await ctx.render_typed(self.errorOnMissing)):
                raise TaskFailure(f"State {key} not found")
            data = {}
        return {"count": len(data), "data": data}


class StateDelete(_State):
    """Deprecated: delete a state (``deleted``)."""

    TYPE: ClassVar[str] = f"{CORE}.state.Delete"
    ALIASES: ClassVar[tuple[str, ...]] = ("io.kestra.core.tasks.states.Delete",)

    errorOnMissing: Bool = False

    async def run(self, ctx: RunContext) -> Outputs:
        key = await self._key(ctx)
        deleted = bool(
            await _store(ctx).delete_kv(ctx.execution.tenant_id, ctx.execution.namespace, [key])
        )
        if not deleted and as_flag(await ctx.render_typed(self.errorOnMissing)):
            name = await ctx.render(self.name)
            raise TaskFailure(f"Unable to find the state file '{name}'")
        return {"deleted": deleted}


MODELS: tuple[type[Task], ...] = (
    KvSet, KvPut, KvGet, KvGetKeys, KvDelete, KvPurge, StateSet, StateGet, StateDelete,
)  # fmt: skip
