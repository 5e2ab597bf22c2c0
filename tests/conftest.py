"""Fixtures shared by every test directory: the database backends and a started store.

``database_url`` is parametrized over ``sqlite`` (a file in the test's tmp dir, a copy of one
migrated once per session) and ``postgres`` (a database created for this session on the server
named by ``LANNER_TEST_POSTGRES_URL`` and dropped at its end; emptied before each test). Both
hand out a schema already at head with no rows; ``fresh_database_url`` has no table at all. Without that variable the postgres parameter
skips, unless ``CI=true``, where it fails. ``store`` is a started store for ``database_url``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from lanner.store import Store, open_store

POSTGRES_URL_ENV = "LANNER_TEST_POSTGRES_URL"


def is_ci() -> bool:
    """True in CI, where missing prerequisites fail instead of skipping."""
    return os.environ.get("CI", "").lower() == "true"


def libpq_url(url: str) -> str:
    """``url`` as libpq understands it (no SQLAlchemy ``+driver`` suffix)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql"))


def with_database(url: str, database: str) -> str:
    """``url`` pointing at another database on the same server."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def _user_tables(conn: psycopg.Connection[tuple[str]]) -> list[str]:
    rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    return [name for (name,) in rows]


# Sequences owned by a column of one of the tables given (serial/identity ids), once used.
_USED_SEQUENCES = """
SELECT seq.relname FROM pg_class seq
JOIN pg_depend dep ON dep.classid = 'pg_class'::regclass AND dep.objid = seq.oid
  AND dep.refclassid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i')
JOIN pg_class owner ON owner.oid = dep.refobjid
JOIN pg_sequences used ON used.schemaname = current_schema() AND used.sequencename = seq.relname
WHERE seq.relkind = 'S' AND seq.relnamespace = current_schema()::regnamespace
  AND owner.relname = ANY(%s) AND used.last_value IS NOT NULL
"""


def empty_postgres(url: str, *, drop: bool) -> None:
    """Delete every row (keeping the migrated schema) or, with ``drop``, every table."""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        tables = _user_tables(conn)
        if drop:
            for table in tables:
                conn.execute(f'DROP TABLE IF EXISTS "{table}" CASCADE')
            return
        data_tables = [table for table in tables if table != "alembic_version"]
        if not data_tables:
            return
        # TRUNCATE costs a new file per table, rows or not: only the tables holding rows are
        # truncated, and the sequences of the others restarted (what RESTART IDENTITY would do).
        probe = " UNION ALL ".join(
            f"SELECT '{table}' WHERE EXISTS (SELECT FROM \"{table}\")" for table in data_tables
        )
        filled = [f'"{table}"' for (table,) in conn.execute(probe)]
        if filled:
            conn.execute(f"TRUNCATE {', '.join(filled)} RESTART IDENTITY CASCADE")
        used = conn.execute(_USED_SEQUENCES, (data_tables,)).fetchall()
        for (sequence,) in used:
            conn.execute(f'ALTER SEQUENCE "{sequence}" RESTART')


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    """A PostgreSQL database created for this test session, dropped at its end."""
    server_url = os.environ.get(POSTGRES_URL_ENV)
    if not server_url:
        if is_ci():
            pytest.fail(
                f"{POSTGRES_URL_ENV} is not set: with CI=true the PostgreSQL tests must run"
            )
        pytest.skip(f"{POSTGRES_URL_ENV} is not set")
    name = f"lanner_test_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(libpq_url(server_url), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.fail(f"cannot reach PostgreSQL at {POSTGRES_URL_ENV}: {exc}".strip())
    try:
        yield with_database(server_url, name)
    finally:
        with psycopg.connect(libpq_url(server_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _migrate(url: str) -> None:
    started = open_store(url)
    await started.start()
    await started.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head by a store's start, once per session: each test gets a
    copy, as the PostgreSQL tests get the session's migrated database emptied (the migration
    itself is tested on ``fresh_database_url``)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "lanner.db"
    asyncio.run(_migrate(f"sqlite:///{path}"))
    leftovers = [p.name for p in path.parent.iterdir() if p != path]
    assert leftovers == [], f"the closed template left {leftovers} beside it"
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL per backend, migrated to head, with no rows in it."""
    if request.param == "sqlite":
        path = tmp_path / "data" / "lanner.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_database_url")
    empty_postgres(url, drop=False)
    return url


@pytest.fixture
def fresh_database_url(database_url: str) -> str:
    """``database_url`` without any table at all: nothing migrated yet."""
    if database_url.startswith("postgresql"):
        empty_postgres(database_url, drop=True)
    else:
        Path(database_url.removeprefix("sqlite:///")).unlink()
    return database_url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """A started store on ``database_url``, closed after the test."""
    started = open_store(database_url)
    await started.start()
    try:
        yield started
    finally:
        await started.close()
