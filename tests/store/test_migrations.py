"""Contract: Alembic migrations build exactly the schema of ``lanner.store.sqlalchemy.schema``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from lanner.store import open_store
from lanner.store.sqlalchemy.engines import check_connection, create_sync_engine, normalize_url
from lanner.store.sqlalchemy.migrations import (
    alembic_config,
    current_revision,
    head_revisions,
    include_name,
    is_at_head,
    upgrade_to_head,
)
from lanner.store.sqlalchemy.schema import metadata


@pytest.fixture
def engine(fresh_database_url: str) -> Iterator[Engine]:
    engine = create_sync_engine(normalize_url(fresh_database_url), pool_size=2)
    check_connection(engine)  # creates the SQLite file's directory
    yield engine
    engine.dispose()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def schema_differences(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_name": include_name,
            },
        )
        return list(compare_metadata(context, metadata))


async def test_start_migrates_an_empty_database_to_head(
    fresh_database_url: str, engine: Engine
) -> None:
    assert current_revision(engine) is None

    store = open_store(fresh_database_url)
    await store.start()
    await store.close()

    assert current_revision(engine) == head_revision()
    assert set(inspect(engine).get_table_names()) >= set(metadata.tables)


async def test_migrated_schema_matches_the_schema_module(
    fresh_database_url: str, engine: Engine
) -> None:
    store = open_store(fresh_database_url)
    await store.start()
    await store.close()

    assert schema_differences(engine) == []


def test_every_table_carries_the_tenant() -> None:
    assert [t.name for t in metadata.sorted_tables if "tenant_id" not in t.c] == []


def test_upgrade_is_idempotent_and_downgrade_reverses_it(engine: Engine) -> None:
    upgrade_to_head(engine)
    upgrade_to_head(engine)
    assert current_revision(engine) == head_revision()

    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert set(inspect(engine).get_table_names()) & set(metadata.tables) == set()

    upgrade_to_head(engine)
    assert schema_differences(engine) == []


def test_identifiers_are_byte_ordered(engine: Engine) -> None:
    # Alembic does not compare collations; PostgreSQL's database default may not sort like
    # SQLite's BINARY, so names carry COLLATE "C" there.
    upgrade_to_head(engine)
    if engine.dialect.name == "sqlite":
        # SQLite's default BINARY collation is byte order: nothing may override it.
        columns = inspect(engine).get_columns("flows")
        assert [getattr(c["type"], "collation", None) for c in columns] == [None] * len(columns)
        return
    expected = {
        (table.name, column.name)
        for table in metadata.tables.values()
        for column in table.c
        if column.name in ("namespace", "flow_id")
    }
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT table_name, column_name, collation_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND column_name IN ('namespace', 'flow_id')"
        ).all()

    assert {(t, c) for t, c, _ in rows} == expected
    assert {collation for _, _, collation in rows} == {"C"}


def test_the_heads_read_from_the_version_files_are_alembics() -> None:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert head_revisions() == frozenset(heads)


def test_a_database_is_at_head_only_after_the_upgrade(engine: Engine) -> None:
    assert not is_at_head(engine)
    upgrade_to_head(engine)
    assert is_at_head(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    try:
        assert not is_at_head(engine)
    finally:
        # The database is the session's (PostgreSQL): the next test must find it at head again.
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE alembic_version SET version_num = :v"), {"v": head_revision()}
            )
    assert is_at_head(engine)
