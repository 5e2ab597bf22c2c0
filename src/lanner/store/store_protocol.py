"""``Store``: every persistence protocol behind one object with a lifecycle.

Apart from ``protocols`` because it aggregates the protocol modules that import it
(``executions_protocol``, ``logs_protocol``, ``kv_protocol``). Imports only the standard library and the store's
protocol modules.
"""

from __future__ import annotations

from typing import Protocol

from lanner.store.executions_protocol import ExecutionStore
from lanner.store.kv_protocol import KVStore
from lanner.store.logs_protocol import LogStore
from lanner.store.protocols import FlowStore, TokenStore


class Store(FlowStore, TokenStore, ExecutionStore, LogStore, KVStore, Protocol):
    """Everything persistent, behind one object with a lifecycle."""

    async def start(self) -> None:
        """Connect, apply migrations (Alembic, to head) and start the writer."""
        ...

    async def close(self) -> None:
        """Flush pending writes, stop the writer, close every connection."""
        ...
