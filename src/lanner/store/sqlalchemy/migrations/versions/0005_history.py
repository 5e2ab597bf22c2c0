"""History at scale: indexes matching the searches, full-text log search

Revision ID: 0005_history
Revises: 0002_metrics
Create Date: 2026-12-03 17:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from sqlalchemy import Connection, text

revision: str = "0005_history"
down_revision: str | None = "0002_metrics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


FTS_TABLE = "logs_fts"
TRGM_INDEX = "ix_logs_message_trgm"

SQLITE_FTS_DDL = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5(message, content='logs', "
    "content_rowid='id', tokenize='trigram case_sensitive 0', detail=none, columnsize=0)",
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",
)
SQLITE_FTS_DROP = (f"DROP TABLE IF EXISTS {FTS_TABLE}",)


def create_text_index(conn: Connection) -> None:
    """Build the backend's message index over the lines already stored."""
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


# (dropped, created): the search indexes end with ``deleted`` (index-only bounded counts).
REPLACED_INDEXES = [
    (
        (
            "ix_executions_tenant_id_namespace_flow_id_start_date",
            ["tenant_id", "namespace", "flow_id", "start_date"],
        ),
        (
            "ix_executions_tenant_id_namespace_flow_id_start_date_deleted",
            ["tenant_id", "namespace", "flow_id", "start_date", "deleted"],
        ),
    ),
    (
        ("ix_executions_tenant_id_start_date", ["tenant_id", "start_date"]),
        ("ix_executions_tenant_id_start_date_deleted", ["tenant_id", "start_date", "deleted"]),
    ),
    (
        ("ix_executions_tenant_id_state_start_date", ["tenant_id", "state", "start_date"]),
        (
            "ix_executions_tenant_id_state_start_date_deleted",
            ["tenant_id", "state", "start_date", "deleted"],
        ),
    ),
]
NEW_INDEXES = [
    (
        "executions",
        "ix_executions_tenant_id_flow_id_start_date_deleted",
        ["tenant_id", "flow_id", "start_date", "deleted"],
    ),
    ("logs", "ix_logs_tenant_id_timestamp", ["tenant_id", "timestamp"]),
]


def upgrade() -> None:
    for (old_name, _), (new_name, new_columns) in REPLACED_INDEXES:
        op.drop_index(old_name, table_name="executions")
        op.create_index(new_name, "executions", new_columns, unique=False)
    for table, name, columns in NEW_INDEXES:
        op.create_index(name, table, columns, unique=False)
    # The message index: SQLite FTS5 trigram table (external content, kept in sync by the store in bulk),
    # PostgreSQL pg_trgm GIN on lower(message); see ``lanner.store.sqlalchemy.textsearch``.
    create_text_index(op.get_bind())


def downgrade() -> None:
    drop_text_index(op.get_bind())
    for table, name, _ in reversed(NEW_INDEXES):
        op.drop_index(name, table_name=table)
    for (old_name, old_columns), (new_name, _) in reversed(REPLACED_INDEXES):
        op.drop_index(new_name, table_name="executions")
        op.create_index(old_name, "executions", old_columns, unique=False)
