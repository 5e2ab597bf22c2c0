"""``Store``: every persistence protocol behind one object with a lifecycle.

Imports only the standard library and the store's protocol modules.
"""

from __future__ import annotations

from typing import Protocol

from lanner.store.protocols.executions import ExecutionStore
from lanner.store.protocols.flow_triggers import FlowTriggerStore
from lanner.store.protocols.flows import FlowStore
from lanner.store.protocols.kv import KVStore
from lanner.store.protocols.logs import LogStore
from lanner.store.protocols.tokens import TokenStore


class Store(FlowStore, TokenStore, ExecutionStore, LogStore, KVStore, FlowTriggerStore, Protocol):
    """Everything persistent, behind one object with a lifecycle."""

    async def start(self) -> None:
        """Connect, apply migrations (Alembic, to head) and start the writer."""
        ...

    async def close(self) -> None:
        """Flush pending writes, stop the writer, close every connection."""
        ...
