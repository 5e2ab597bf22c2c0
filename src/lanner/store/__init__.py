"""Persistence: the contracts in ``protocols/``, their SQLAlchemy Core implementation (SQLite and
PostgreSQL) in ``sqlalchemy/``. The rest of Lanner imports the names below from here.

Importing this package does not import SQLAlchemy; :func:`open_store` does, lazily.
"""

from __future__ import annotations

from lanner.domain.logs import LogEntry, LogLevel
from lanner.store.protocols.executions import (
    ExecutionQuery,
    ExecutionStep,
    ExecutionStore,
    LiveExecution,
)
from lanner.store.protocols.flow_triggers import (
    FlowTriggerStore,
    Transition,
    TriggerWindow,
    WindowKey,
)
from lanner.store.protocols.flows import FlowQuery, FlowStore, NewFlowRevision, StoredFlow
from lanner.store.protocols.kv import KVStore
from lanner.store.protocols.logs import LogQuery, LogStore
from lanner.store.protocols.pages import DEFAULT_TENANT, Page
from lanner.store.protocols.queue import (
    ExecutorEvent,
    Job,
    JobClaim,
    JobGoneError,
    NewEvent,
    NewJob,
    QueueStore,
)
from lanner.store.protocols.store import Store
from lanner.store.protocols.tokens import ApiToken, TokenStore

__all__ = [
    "DEFAULT_TENANT",
    "ApiToken",
    "ExecutionQuery",
    "ExecutionStep",
    "ExecutionStore",
    "ExecutorEvent",
    "FlowQuery",
    "FlowStore",
    "FlowTriggerStore",
    "Job",
    "JobClaim",
    "JobGoneError",
    "KVStore",
    "LiveExecution",
    "LogEntry",
    "LogLevel",
    "LogQuery",
    "LogStore",
    "NewEvent",
    "NewFlowRevision",
    "NewJob",
    "Page",
    "QueueStore",
    "Store",
    "StoredFlow",
    "TokenStore",
    "Transition",
    "TriggerWindow",
    "WindowKey",
    "open_store",
]


def open_store(database_url: str) -> Store:
    """A not-yet-started store for ``database_url`` (``sqlite:///path`` or ``postgresql://…``)."""
    from lanner.store.sqlalchemy.store import SqlStore

    return SqlStore(database_url)
