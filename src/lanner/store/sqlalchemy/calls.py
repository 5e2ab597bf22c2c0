"""An operation handed from the event loop to a database thread, and its way back.

A :class:`Call` carries a sync function of a SQLAlchemy ``Connection`` and the asyncio future
its caller awaits. Database threads settle calls with :func:`settle`, which groups them by event
loop so a batch of results costs one ``call_soon_threadsafe`` per loop, not one per call.
Imports only the standard library and SQLAlchemy's ``Connection`` type.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection

T = TypeVar("T")

Operation = Callable[[Connection], T]


@dataclass(slots=True)
class Call(Generic[T]):
    """One operation and the future that receives its result or exception."""

    operation: Operation[T]
    future: asyncio.Future[T]
    loop: asyncio.AbstractEventLoop


@dataclass(slots=True)
class Outcome:
    """What became of a call: ``ok`` with ``value``, or failed with ``error``."""

    call: Call[Any]
    ok: bool
    value: Any = None
    error: BaseException | None = None


def new_call(operation: Operation[T]) -> Call[T]:
    """A call bound to the running loop (must be called from a coroutine)."""
    loop = asyncio.get_running_loop()
    return Call(operation, loop.create_future(), loop)


def settle(outcomes: Iterable[Outcome]) -> None:
    """Resolve every outcome's future on its own loop (thread-safe)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
    for outcome in outcomes:
        by_loop.setdefault(outcome.call.loop, []).append(outcome)
    for loop, group in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve_all, group)
        except RuntimeError:
            # The caller's loop is closed: nobody is waiting for these results any more.
            pass


def _resolve_all(outcomes: list[Outcome]) -> None:
    for outcome in outcomes:
        future = outcome.call.future
        if future.done():  # cancelled by its caller
            continue
        if outcome.ok:
            future.set_result(outcome.value)
        else:
            assert outcome.error is not None
            future.set_exception(outcome.error)
