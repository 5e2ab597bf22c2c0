"""Runtime of the ``kv.*`` tasks: ``kv.Set`` (and 1.x ``kv.Put``), ``kv.Get``, ``kv.Delete``,
``kv.GetKeys``, against the task context's :class:`~lanner.store.KVStore`.

Properties are rendered like every runnable's; ``namespace`` defaults to the flow's. A value's
type is inferred as Kestra does (``kvType`` forces one); ``ttl`` is an ISO-8601 duration.
Imports the domain, the store protocols and this package (``runnables`` registers these).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lanner.domain.kv import InvalidKVValue, KVType, check_key, convert_value, infer_value
from lanner.domain.times import parse_duration
from lanner.errors import ConflictError
from lanner.store import KVStore

if TYPE_CHECKING:
    from lanner.engine.runnables import Runnable, TaskContext

KV = "io.kestra.plugin.core.kv."
FLOW_NAMESPACE = "{{ flow.namespace }}"


class KVTaskFailure(Exception):
    """A ``kv.*`` task failed; the message is logged at ERROR as it is."""


def _store(ctx: TaskContext) -> KVStore:
    if ctx.kv is None:
        raise KVTaskFailure("the KV store is not available to this worker")
    return ctx.kv


async def _key_and_namespace(ctx: TaskContext) -> tuple[str, str]:
    key = await ctx.text("key") or ""
    namespace = await ctx.text("namespace", FLOW_NAMESPACE) or ctx.execution.namespace
    try:
        return check_key(key), namespace
    except InvalidKVValue as error:
        raise KVTaskFailure(str(error)) from None


async def _flag(ctx: TaskContext, name: str, default: bool) -> bool:
    value = await ctx.typed(name, default)
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


async def run_set(ctx: TaskContext) -> None:
    key, namespace = await _key_and_namespace(ctx)
    if "value" not in ctx.spec.properties:
        raise KVTaskFailure("kv.Set needs a value")
    raw = await ctx.typed("value")
    kind = await ctx.text("kvType")
    ttl_text = await ctx.text("ttl")
    ttl = parse_duration(ttl_text) if ttl_text else None
    if ttl_text and (ttl is None or ttl.total_seconds() < 0):
        raise KVTaskFailure(f"ttl must be a positive ISO-8601 duration, got '{ttl_text}'")
    try:
        value = convert_value(raw, KVType(kind.upper())) if kind else infer_value(raw)
    except (InvalidKVValue, ValueError) as error:
        raise KVTaskFailure(f"invalid value for key '{key}': {error}") from None
    try:
        await _store(ctx).put_kv(
            ctx.execution.tenant_id,
            namespace,
            key,
            value,
            ttl=ttl,
            description=await ctx.text("kvDescription"),
            overwrite=await _flag(ctx, "overwrite", True),
        )
    except ConflictError:
        raise KVTaskFailure(
            f"Cannot set value for this key '{key}' as this key already exists and "
            "overwrite is false"
        ) from None
    return None


async def run_get(ctx: TaskContext) -> Mapping[str, Any]:
    key, namespace = await _key_and_namespace(ctx)
    entry = await _store(ctx).get_kv(ctx.execution.tenant_id, namespace, key)
    if entry is None or entry.is_expired(datetime.now(UTC)):
        if await _flag(ctx, "errorOnMissing", False):
            raise KVTaskFailure(f"The key '{key}' does not exist in the namespace '{namespace}'.")
        return {"value": None}
    return {"value": entry.value}


async def run_delete(ctx: TaskContext) -> Mapping[str, Any]:
    key, namespace = await _key_and_namespace(ctx)
    deleted = await _store(ctx).delete_kv(ctx.execution.tenant_id, namespace, [key])
    if not deleted and await _flag(ctx, "errorOnMissing", False):
        raise KVTaskFailure(f"The key '{key}' does not exist in the namespace '{namespace}'.")
    return {"deleted": bool(deleted)}


async def run_get_keys(ctx: TaskContext) -> Mapping[str, Any]:
    namespace = await ctx.text("namespace", FLOW_NAMESPACE) or ctx.execution.namespace
    prefix = await ctx.text("prefix") or ""
    entries = await _store(ctx).list_kv(ctx.execution.tenant_id, namespace)
    return {"keys": [entry.key for entry in entries if entry.key.startswith(prefix)]}


KV_RUNNABLES: dict[str, Runnable] = {
    KV + "Set": run_set,
    KV + "Put": run_set,
    KV + "Get": run_get,
    KV + "Delete": run_delete,
    KV + "GetKeys": run_get_keys,
}
"""The ``kv.*`` runnables by canonical task type."""
