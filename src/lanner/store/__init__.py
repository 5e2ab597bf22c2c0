"""Persistence: protocols here, implementations (SQLAlchemy Core on SQLite/PostgreSQL) beside.

Importing this package does not import SQLAlchemy; :func:`open_store` does, lazily.
"""

from __future__ import annotations

from lanner.domain.logs import LogEntry, LogLevel
from lanner.store.executions_protocol import (
    ExecutionQuery,
    ExecutionStep,
    ExecutionStore,
    ExecutorEvent,
    Job,
    JobClaim,
    JobGoneError,
    NewEvent,
    NewJob,
)
from lanner.store.kv_protocol import KVStore
from lanner.store.logs_protocol import LogQuery, LogStore
from lanner.store.protocols import (
    DEFAULT_TENANT,
    ApiToken,
    FlowQuery,
    FlowStore,
    NewFlowRevision,
    Page,
    StoredFlow,
    TokenStore,
)
from lanner.store.store_protocol import Store

__all__ = [
    "DEFAULT_TENANT",
    "ApiToken",
    "ExecutionQuery",
    "ExecutionStep",
    "ExecutionStore",
    "ExecutorEvent",
    "FlowQuery",
    "FlowStore",
    "Job",
    "JobClaim",
    "JobGoneError",
    "KVStore",
    "LogEntry",
    "LogLevel",
    "LogQuery",
    "LogStore",
    "NewEvent",
    "NewFlowRevision",
    "NewJob",
    "Page",
    "Store",
    "StoredFlow",
    "TokenStore",
    "open_store",
]


def open_store(database_url: str) -> Store:
    """A not-yet-started store for ``database_url`` (``sqlite:///path`` or ``postgresql://…``)."""
    from lanner.store.sql import SqlStore

    return SqlStore(database_url)
