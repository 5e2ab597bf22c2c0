"""Alembic migrations of the store, applied in code: no ``alembic.ini`` at run time.

:func:`upgrade_to_head` brings a database to the newest revision under ``versions/``; on
PostgreSQL an advisory lock lets several nodes start at once. Imports SQLAlchemy and Alembic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, text

MIGRATIONS_DIR = Path(__file__).resolve().parent
# pg_advisory_xact_lock key: "LANNER" in ASCII, an arbitrary constant shared by every node.
MIGRATION_LOCK_KEY = 0x4C414E4E4552


def include_name(name: str | None, type_: str, _parent: Any) -> bool:
    """Alembic's filter of what autogenerate compares: not the tables of the SQLite full-text
    index of log messages, nor PostgreSQL's trigram index of them (both made by the revision
    ``0005_history`` outside the schema module)."""
    if type_ == "table" and name is not None:
        return not (name == "logs_fts" or name.startswith("logs_fts_"))
    return not (type_ == "index" and name == "ix_logs_message_trgm")


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic ``Config`` for Lanner's migrations, bound to ``connection`` when given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


def upgrade_to_head(engine: Engine) -> None:
    """Apply every pending migration, in one transaction (blocking)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        command.upgrade(alembic_config(conn), "head")


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (``None`` before the first migration)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
