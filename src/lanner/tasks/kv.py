"""Core ``kv.*`` tasks (namespace key-value store) and the deprecated ``state.*`` tasks."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from lanner.tasks.base import DYNAMIC, AnyMap, Bool, Duration, StrList, Task, Text

CORE = "io.kestra.plugin.core"

KvType = Annotated[
    Literal["STRING", "NUMBER", "BOOLEAN", "DATETIME", "DATE", "DURATION", "JSON"], DYNAMIC
]


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


class KvPut(KvSet):
    """1.x spelling of ``kv.Set``."""

    TYPE: ClassVar[str] = f"{CORE}.kv.Put"


class KvGet(Task):
    """Read a KV entry into the ``value`` output."""

    TYPE: ClassVar[str] = f"{CORE}.kv.Get"

    key: Text
    namespace: Text = "{{ flow.namespace }}"
    errorOnMissing: Bool = False


class KvGetKeys(Task):
    """List the keys of a namespace, optionally by ``prefix``."""

    TYPE: ClassVar[str] = f"{CORE}.kv.GetKeys"

    prefix: Text | None = None
    namespace: Text = "{{ flow.namespace }}"


class KvDelete(Task):
    """Delete a KV entry."""

    TYPE: ClassVar[str] = f"{CORE}.kv.Delete"

    key: Text
    namespace: Text = "{{ flow.namespace }}"
    errorOnMissing: Bool = False


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
