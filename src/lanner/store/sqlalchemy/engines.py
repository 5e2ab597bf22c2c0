"""Database URLs and SQLAlchemy engines for SQLite and PostgreSQL (one sync code path).

Normalizes the URLs users give (``sqlite:///path``, ``postgresql://user@host/db``) to the
installed drivers, configures SQLite (WAL, ``synchronous=NORMAL``, busy timeout, foreign keys,
transactions that SAVEPOINT works in) and turns "cannot connect" into
:class:`~lanner.errors.StoreUnavailableError`. Imports SQLAlchemy, never the engine or the API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, StatementError

from lanner.errors import ConfigError, StoreUnavailableError
from lanner.store.sqlalchemy.bulk import driver_execute

SQLITE_BUSY_TIMEOUT_MS = 10_000
PG_CONNECT_TIMEOUT_S = 5
# Execution option naming the statement that opens a SQLite transaction on a connection.
SQLITE_BEGIN_OPTION = "lanner_sqlite_begin"

APPLICATION_NAME_MAX = 63  # PostgreSQL's NAMEDATALEN - 1
_application_name = "lanner"


def set_application_name(name: str) -> None:
    """The ``application_name`` of this process's PostgreSQL sessions from now on (a role
    names itself ``lanner <role> <host> <pid>``: ``lanner cluster status`` reads them)."""
    global _application_name
    _application_name = name[:APPLICATION_NAME_MAX]


def application_name() -> str:
    return _application_name


_POSTGRES_NAMES = {"postgresql", "postgres", "postgresql+psycopg"}
_SQLITE_NAMES = {"sqlite", "sqlite+pysqlite"}


def normalize_url(database_url: str) -> URL:
    """The SQLAlchemy URL with the driver Lanner uses; :class:`ConfigError` when unusable."""
    try:
        url = make_url(database_url)
    except ArgumentError:
        raise ConfigError(f"invalid database URL: {_redact(database_url)!r}") from None
    if url.drivername in _SQLITE_NAMES:
        if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
            raise ConfigError("a SQLite database URL needs a file path: sqlite:///path/to/db")
        return url.set(drivername="sqlite+pysqlite")
    if url.drivername in _POSTGRES_NAMES:
        if not url.database:
            raise ConfigError(
                f"a PostgreSQL URL needs a database name: {url.render_as_string(True)}"
            )
        return url.set(drivername="postgresql+psycopg")
    raise ConfigError(
        f"unsupported database URL scheme {url.drivername!r}: use sqlite:///path "
        "or postgresql://user@host:5432/db"
    )


def describe(url: URL) -> str:
    """The URL without its password, for messages."""
    return url.render_as_string(hide_password=True)


def create_sync_engine(url: URL, *, pool_size: int) -> Engine:
    """An engine for ``url`` (already normalized), its pool sized for the store's threads."""
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, pool_size)
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=4,
        pool_pre_ping=False,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        connect_args={
            "connect_timeout": PG_CONNECT_TIMEOUT_S,
            "application_name": _application_name,
        },
    )


def check_connection(engine: Engine) -> None:
    """Connect once; :class:`StoreUnavailableError` with a one-line reason when impossible."""
    if engine.dialect.name == "sqlite" and engine.url.database:
        try:
            Path(engine.url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the database directory: {exc}") from None
    try:
        with engine.connect() as conn:
            conn.execution_options(**{SQLITE_BEGIN_OPTION: "BEGIN"}).execute(text("SELECT 1"))
    except DBAPIError as exc:
        raise StoreUnavailableError(
            f"cannot connect to {describe(engine.url)}: {first_line(exc.orig)}"
        ) from None


def unavailable(exc: BaseException) -> BaseException:
    """The error callers see for ``exc``: a :class:`StoreUnavailableError` when it means
    "database unreachable"; the caller's own ``TypeError``/``ValueError`` when a value could
    not be bound (not JSON-able, a naive datetime); otherwise ``exc`` itself."""
    if isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        error = StoreUnavailableError(f"database unavailable: {first_line(exc.orig)}")
        error.__cause__ = exc
        return error
    if (
        isinstance(exc, StatementError)
        and not isinstance(exc, DBAPIError)
        and isinstance(exc.orig, TypeError | ValueError)
    ):
        return exc.orig
    return exc


def first_line(exc: BaseException | None) -> str:
    """The first non-empty line of an exception's message."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _sqlite_engine(url: URL, pool_size: int) -> Engine:
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=4,
        connect_args={"check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's "begin" event below: pysqlite's own
        # implicit BEGIN breaks SAVEPOINT and transactional DDL.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # Takes effect on a new database only (before its first table): freed pages then go
        # back to the file system with ``PRAGMA incremental_vacuum`` (history retention).
        cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock up front (IMMEDIATE) so a busy database waits on
        # busy_timeout instead of failing at the first write; readers open with a deferred BEGIN.
        # On the driver's cursor: ``exec_driver_sql`` would cost more than the BEGIN.
        driver_execute(
            conn, conn.get_execution_options().get(SQLITE_BEGIN_OPTION, "BEGIN IMMEDIATE"), [()]
        )

    return engine


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _redact(database_url: str) -> str:
    head, sep, tail = database_url.rpartition("@")
    if not sep or "://" not in head:
        return database_url
    scheme, _, userinfo = head.partition("://")
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{tail}" if ":" in userinfo else database_url
