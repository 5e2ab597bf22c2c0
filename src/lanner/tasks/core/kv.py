"""Core ``kv.*`` tasks (namespace key-value store) and the deprecated ``state.*`` tasks.

``kv.Set`` (and 1.x ``kv.Put``), ``kv.Get``, ``kv.Delete`` and ``kv.GetKeys`` run against the
context's KV store; ``namespace`` defaults to the flow's. A value's type is inferred as Kestra
does (``kvType`` forces one); ``ttl`` is an ISO-8601 duration. ``kv.PurgeKV`` and the
``state.*`` tasks have no runtime yet. Imports the domain, the errors and ``lanner.tasks`` only
(the store for type checking).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from lanner.domain.kv import InvalidKVValue, KVType, check_key, convert_value, infer_value
from lanner.domain.times import parse_duration
from lanner.errors import ConflictError
from lanner.tasks.base import DYNAMIC, AnyMap, Bool, Duration, StrList, Task, Text
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


class KvPurge(Task):
    """Purge expired (or all matching) KV entries (1.x)."""

    TYPE: ClassVar[str] = f"{CORE}.kv.PurgeKV"

    expiredOnly: Bool = True
    keyPattern: Text | None = None
    namespaces: StrList | None = None
    namespacePattern: Text | None = None
    includeChildNamespaces: Bool = True


class _State(Task):
    DEPRECATED: ClassVar[bool] = True

    name: Text = "default"
    namespace: Bool = False
    taskrunValue: Bool = True


class StateSet(_State):
    """Deprecated: merge ``data`` into a state file."""

    TYPE: ClassVar[str] = f"{CORE}.state.Set"
    ALIASES: ClassVar[tuple[str, ...]] = ("io.kestra.core.tasks.states.Set",)

    data: AnyMap | None = None


class StateGet(_State):
    """Deprecated: read a state file."""

    TYPE: ClassVar[str] = f"{CORE}.state.Get"
    ALIASES: ClassVar[tuple[str, ...]] = ("io.kestra.core.tasks.states.Get",)

    errorOnMissing: Bool = False


class StateDelete(_State):
    """Deprecated: delete a state file."""

    TYPE: ClassVar[str] = f"{CORE}.state.Delete"
    ALIASES: ClassVar[tuple[str, ...]] = ("io.kestra.core.tasks.states.Delete",)

    errorOnMissing: Bool = False


MODELS: tuple[type[Task], ...] = (
    KvSet, KvPut, KvGet, KvGetKeys, KvDelete, KvPurge, StateSet, StateGet, StateDelete,
)  # fmt: skip
