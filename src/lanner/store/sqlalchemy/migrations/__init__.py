"""Alembic migrations of the store, applied in code: no ``alembic.ini`` at run time.

:func:`upgrade_to_head` brings a database to the newest revision under ``versions/``; on
PostgreSQL an advisory lock lets several nodes start at once. Imports SQLAlchemy, and Alembic
only when there is something to migrate: a database already at head (every start but the first
after an upgrade) is checked with one query against the revisions ``versions/`` declares, which
keeps Alembic, Mako and Pygments (~8 MB) out of every server process.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent
# pg_advisory_xact_lock key: "LANNER" in ASCII, an arbitrary constant shared by every node.
MIGRATION_LOCK_KEY = 0x4C414E4E4552
_REVISION_LINE = re.compile(r'^(down_revision|revision)\b[^=\n]*=\s*"([^"]+)"', re.MULTILINE)


def include_name(name: str | None, type_: str, _parent: Any) -> bool:
    """Alembic's filter of what autogenerate compares: not the tables of the SQLite full-text
    index of log messages, nor PostgreSQL's trigram index of them (both made by the revision
    ``0005_history`` outside the schema module)."""
    if type_ == "table" and name is not None:
        return not (name == "logs_fts" or name.startswith("logs_fts_"))
    return not (type_ == "index" and name == "ix_logs_message_trgm")


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic ``Config`` for Lanner's migrations, bound to ``connection`` when given."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


def head_revisions() -> frozenset[str]:
    """The revisions no other revises, read from the ``revision = "…"`` and
    ``down_revision = "…"`` lines of ``versions/*.py`` (without importing Alembic)."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        for name, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8")):
            (revisions if name == "revision" else revised).add(value)
    return frozenset(revisions - revised)


def is_at_head(engine: Engine) -> bool:
    """Whether the database's Alembic revisions are exactly the heads of ``versions/``."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return False
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
        return frozenset(rows) == head_revisions()


def upgrade_to_head(engine: Engine) -> None:
    """Apply every pending migration, in one transaction (blocking)."""
    if is_at_head(engine):
        return
    from alembic import command

    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        command.upgrade(alembic_config(conn), "head")


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (``None`` before the first migration)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
