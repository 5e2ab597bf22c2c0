"""Store methods that hand one query function to the writer or a reader: written once.

A query function is a sync function of a SQLAlchemy ``Connection`` whose other parameters are
the store method's own (same names, kinds and defaults), so ``get_flow = reads(flows.get_flow)``
in :class:`~lanner.store.sqlalchemy.store.SqlStore` is the async method of the protocol, and
mypy checks it against the protocol. ``writes`` makes every call ONE writer operation (one
transaction, or one savepoint when the writer replays a failed batch); the ``…_at_now`` faces
read the store's clock once per call, before the operation (which the writer may run twice),
and pass it right after the connection. Imports SQLAlchemy and the store's own modules only.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any, Concatenate, Literal, ParamSpec, Protocol, TypeAlias, TypeVar

from sqlalchemy import Connection

from lanner.store.sqlalchemy.readers import ReaderPool
from lanner.store.sqlalchemy.writer import Writer

P = ParamSpec("P")
R = TypeVar("R")


class Backend(Protocol):
    """What a forwarded method needs of its store: the writer, the readers, the clock."""

    @property
    def writer(self) -> Writer: ...

    @property
    def readers(self) -> ReaderPool: ...

    def now(self) -> datetime: ...


StoreMethod: TypeAlias = Callable[Concatenate[Backend, P], Coroutine[Any, Any, R]]


def reads(query: Callable[Concatenate[Connection, P], R]) -> StoreMethod[P, R]:
    """A store method running ``query`` with the caller's arguments on a reader thread."""
    return _forward(query, via="readers", clocked=False)


def writes(query: Callable[Concatenate[Connection, P], R]) -> StoreMethod[P, R]:
    """A store method running ``query`` with the caller's arguments as ONE writer operation."""
    return _forward(query, via="writer", clocked=False)


def reads_at_now(query: Callable[Concatenate[Connection, datetime, P], R]) -> StoreMethod[P, R]:
    """Like :func:`reads`, ``query`` also getting the store's current time after ``conn``."""
    return _forward(query, via="readers", clocked=True)


def writes_at_now(query: Callable[Concatenate[Connection, datetime, P], R]) -> StoreMethod[P, R]:
    """Like :func:`writes`, ``query`` also getting the store's current time after ``conn``."""
    return _forward(query, via="writer", clocked=True)


def _forward(
    query: Callable[..., R], *, via: Literal["writer", "readers"], clocked: bool
) -> Callable[..., Coroutine[Any, Any, R]]:
    async def method(store: Backend, /, *args: Any, **kwargs: Any) -> R:
        lead = (store.now(),) if clocked else ()

        def operation(conn: Connection) -> R:
            return query(conn, *lead, *args, **kwargs)

        if via == "writer":
            return await store.writer.submit(operation)
        return await store.readers.run(operation)

    method.__name__ = query.__name__
    method.__doc__ = query.__doc__
    return method
