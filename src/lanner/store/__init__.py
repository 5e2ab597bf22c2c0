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
    PurgedExecution,
    TaskRunOutline,
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
from lanner.store.protocols.metrics import MetricQuery, MetricStore
from lanner.store.protocols.pages import DEFAULT_TENANT, Page
from lanner.store.protocols.queue import (
    JOB_LOST,
    ClusterNode,
    ExecutorEvent,
    ExpiredJobs,
    Fence,
    Job,
    JobClaim,
    JobGoneError,
    NewEvent,
    NewJob,
    QueueStore,
)
from lanner.store.protocols.store import Store
from lanner.store.protocols.tokens import ApiToken, TokenStore
from lanner.store.protocols.triggers import (
    Backfill,
    LeaseStore,
    TriggerQuery,
    TriggerState,
    TriggerStore,
)

__all__ = [
    "DEFAULT_TENANT",
    "JOB_LOST",
    "ApiToken",
    "Backfill",
    "ClusterNode",
    "ExecutionQuery",
    "ExecutionStep",
    "ExecutionStore",
    "ExecutorEvent",
    "ExpiredJobs",
    "Fence",
    "FlowQuery",
    "FlowStore",
    "FlowTriggerStore",
    "Job",
    "JobClaim",
    "JobGoneError",
    "KVStore",
    "LeaseStore",
    "LiveExecution",
    "LogEntry",
    "LogLevel",
    "LogQuery",
    "LogStore",
    "MetricQuery",
    "MetricStore",
    "NewEvent",
    "NewFlowRevision",
    "NewJob",
    "Page",
    "PurgedExecution",
    "QueueStore",
    "Store",
    "StoredFlow",
    "TaskRunOutline",
    "TokenStore",
    "Transition",
    "TriggerQuery",
    "TriggerState",
    "TriggerStore",
    "TriggerWindow",
    "WindowKey",
    "open_store",
]


def open_store(database_url: str, *, count_bound: int | None = None) -> Store:
    """A not-yet-started store for ``database_url`` (``sqlite:///path`` or ``postgresql://…``);
    search totals are exact up to ``count_bound`` matches (default 10,000), estimated beyond."""
    from lanner.store.sqlalchemy.store import SqlStore

    if count_bound is None:
        return SqlStore(database_url)
    return SqlStore(database_url, count_bound=count_bound)
