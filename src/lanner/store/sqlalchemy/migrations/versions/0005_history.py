"""History at scale: indexes matching the searches, full-text log search

Revision ID: 0005_history
Revises: 0001
Create Date: 2026-12-03 17:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from sqlalchemy import Connection, text

revision: str = "0005_history"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


FTS_TABLE = "logs_fts"
TRGM_INDEX = "ix_logs_message_trgm"

SQLITE_FTS_DDL = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5(message, content='logs', "
    "content_rowid='id', tokenize='trigram case_sensitive 0', detail=none, columnsize=0)",
    f"CREATE TRIGGER IF NOT EXISTS logs_fts_insert AFTER INSERT ON logs BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, message) VALUES (new.id, new.message); END",
    f"CREATE TRIGGER IF NOT EXISTS logs_fts_delete AFTER DELETE ON logs BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, message) "
    f"VALUES ('delete', old.id, old.message); END",
    f"CREATE TRIGGER IF NOT EXISTS logs_fts_update AFTER UPDATE OF message ON logs BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, message) "
    f"VALUES ('delete', old.id, old.message); "
    f"INSERT INTO {FTS_TABLE}(rowid, message) VALUES (new.id, new.message); END",
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",
)
SQLITE_FTS_DROP = (
    "DROP TRIGGER IF EXISTS logs_fts_insert",
    "DROP TRIGGER IF EXISTS logs_fts_delete",
    "DROP TRIGGER IF EXISTS logs_fts_update",
    f"DROP TABLE IF EXISTS {FTS_TABLE}",
)


def create_text_index(conn: Connection) -> None:
    """Build the backend's message index (and its triggers) over the lines already stored."""
    if conn.dialect.name == "sqlite":
        for statement in SQLITE_FTS_DDL:
            conn.execute(text(statement))
        return
    available = conn.execute(
        text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
    ).first()
    if available is None:  # no pg_trgm on this server: text search scans, as before
        return
    conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    conn.execute(
        text(
            f"CREATE INDEX IF NOT EXISTS {TRGM_INDEX} ON logs "
            "USING gin (lower(message) gin_trgm_ops)"
        )
    )


def drop_text_index(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        for statement in SQLITE_FTS_DROP:
            conn.execute(text(statement))
    else:
        conn.execute(text(f"DROP INDEX IF EXISTS {TRGM_INDEX}"))


def upgrade() -> None:
    # The message index: SQLite FTS5 trigram table (external content, synced by triggers),
    # PostgreSQL pg_trgm GIN on lower(message); see ``lanner.store.sqlalchemy.textsearch``.
    create_text_index(op.get_bind())


def downgrade() -> None:
    drop_text_index(op.get_bind())
