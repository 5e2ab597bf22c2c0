"""Initial schema: flows, tokens, and the engine's tables (executions, queue, logs...)

Revision ID: 0001
Revises:
Create Date: 2026-11-28 14:23:06.489088
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types frozen here rather than imported from lanner.store.sqlalchemy.schema, so this revision never changes.
TIMESTAMP = sa.DateTime(timezone=True)
# JSON documents are orjson text on both dialects (key order kept; nothing queries inside).
JSON_DOCUMENT = sa.Text()
IDENTIFIER = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")
AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("tenant_id", sa.String(length=255), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created", TIMESTAMP, nullable=False),
        sa.Column("expires", TIMESTAMP, nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_api_tokens_tenant_id_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "executions",
        sa.Column("tenant_id", sa.String(length=255), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("namespace", IDENTIFIER, nullable=False),
        sa.Column("flow_id", IDENTIFIER, nullable=False),
        sa.Column("flow_revision", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_histories", JSON_DOCUMENT, nullable=False),
        sa.Column("labels", JSON_DOCUMENT, nullable=False),
        sa.Column("inputs", JSON_DOCUMENT, nullable=True),
        sa.Column("outputs", JSON_DOCUMENT, nullable=True),
        sa.Column("variables", JSON_DOCUMENT, nullable=True),
        sa.Column("trigger", JSON_DOCUMENT, nullable=True),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        sa.Column("original_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("attempt_number", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("scheduled_date", TIMESTAMP, nullable=True),
        sa.Column("original_created_date", TIMESTAMP, nullable=True),
        sa.Column("start_date", TIMESTAMP, nullable=False),
        sa.Column("end_date", TIMESTAMP, nullable=True),
        sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("updated", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_executions")),
    )
    op.create_index(op.f("ix_executions_original_id"), "executions", ["original_id"], unique=False)
    op.create_index(op.f("ix_executions_parent_id"), "executions", ["parent_id"], unique=False)
    op.create_index(
        op.f("ix_executions_tenant_id_namespace_flow_id_start_date"),
        "executions",
        ["tenant_id", "namespace", "flow_id", "start_date"],
        unique=False,
    )
    op.create_index(
        op.f("ix_executions_tenant_id_start_date"),
        "executions",
        ["tenant_id", "start_date"],
        unique=False,
    )
    op.create_index(
        op.f("ix_executions_tenant_id_state_start_date"),
        "executions",
        ["tenant_id", "state", "start_date"],
        unique=False,
    )
    op.create_index(
        "ix_executions_unfinished",
        "executions",
        ["state"],
        unique=False,
        postgresql_where=sa.text("end_date IS NULL"),
        sqlite_where=sa.text("end_date IS NULL"),
    )

    op.create_table(
        "execution_labels",
        sa.Column("tenant_id", sa.String(length=255), nullable=False),
        sa.Column("execution_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name=op.f("fk_execution_labels_execution_id_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("execution_id", "key", "value", name=op.f("pk_execution_labels")),
    )
    op.create_index(
        op.f("ix_execution_labels_tenant_id_key_value"),
        "execution_labels",
        ["tenant_id", "key", "value"],
        unique=False,
    )

    op.create_table(
        "executor_events",
        sa.Column("tenant_id", sa.String(length=255), nullable=False),
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("execution_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", JSON_DOCUMENT, nullable=False),
        sa.Column("available_at", TIMESTAMP, nullable=False),
        sa.Column("created", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_executor_events")),
    )
    op.create_index(
        op.f("ix_executor_events_available_at_id"),
        "executor_events",
        ["available_at", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_executor_events_execution_id_id"),
        "executor_events",
        ["execution_id", "id"],
        unique=False,
    )

    op.create_table(
        "flow_labels",
        sa.Column("tenant_id", sa.String(length=255), nullable=False),
        sa.Column("namespace", IDENTIFIER, nullable=False),
        sa.Column("flow_id", IDENTIFIER, nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "namespace", "flow_id", "key", name=op.f("pk_flow_labels")
        ),
    )
    op.create_index(
        op.f("ix_flow_labels_tenant_id_key_value"),
        "flow_labels",
        ["tenant_id", "key", "value"],
        unique=False,
    )

    op.create_table(
        "flow_revisions",
        sa.Column("tenant_id", sa.String(length=255), nullable=False),
        sa.Column("namespace", IDENTIFIER, nullable=False),
        sa.Column("flow_id", IDENTIFIER, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("document", JSON_DOCUMENT, nullable=False),
        sa.Column("labels", JSON_DOCUMENT, nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("updated", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "namespace", "flow_id", "revision", name=op.f("pk_flow_revisions")
        ),
    )
    op.create_table(
        "flows",
        sa.Column("tenant_id", sa.String(length=255), nullable=False),
        sa.Column("namespace", IDENTIFIER, nullable=False),
        sa.Column("flow_id", IDENTIFIER, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("document", JSON_DOCUMENT, nullable=False),
        sa.Column("labels", JSON_DOCUMENT, nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("updated", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "namespace", "flow_id", name=op.f("pk_flows")),
    )
    op.create_table(
        "jobs",
        sa.Column("tenant_id", sa.String(length=255), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("execution_id", sa.String(length=64), nullable=True),
        sa.Column("task_run_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", JSON_DOCUMENT, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("worker_id", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("available_at", TIMESTAMP, nullable=False),
        sa.Column("heartbeat_at", TIMESTAMP, nullable=True),
        sa.Column("lease_expires_at", TIMESTAMP, nullable=True),
        sa.Column("created", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index(
        "ix_jobs_claimable",
        "jobs",
        ["priority", "available_at"],
        unique=False,
        postgresql_where=sa.text("status = 'QUEUED'"),
        sqlite_where=sa.text("status = 'QUEUED'"),
    )
    op.create_index(op.f("ix_jobs_execution_id"), "jobs", ["execution_id"], unique=False)
    op.create_index(
        "ix_jobs_leased",
        "jobs",
        ["lease_expires_at"],
        unique=False,
        postgresql_where=sa.text("status = 'RUNNING'"),
        sqlite_where=sa.text("status = 'RUNNING'"),
    )
    op.create_index(op.f("ix_jobs_worker_id"), "jobs", ["worker_id"], unique=False)

    op.create_table(
        "kv_entries",
        sa.Column("tenant_id", sa.String(length=255), nullable=False),
        sa.Column("namespace", IDENTIFIER, nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value_type", sa.String(length=16), nullable=False),
        sa.Column("value", JSON_DOCUMENT, nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("expires", TIMESTAMP, nullable=True),
        sa.Column("created", TIMESTAMP, nullable=False),
        sa.Column("updated", TIMESTAMP, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "namespace", "key", name=op.f("pk_kv_entries")),
    )
    op.create_index(op.f("ix_kv_entries_expires"), "kv_entries", ["expires"], unique=False)

    op.create_table(
        "leases",
        sa.Column("tenant_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("holder", sa.String(length=255), nullable=False),
        sa.Column("acquired", TIMESTAMP, nullable=False),
        sa.Column("expires", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "name", name=op.f("pk_leases")),
    )
    op.create_table(
        "log_sequences",
        sa.Column("tenant_id", sa.String(length=255), nullable=False),
        sa.Column("execution_id", sa.String(length=64), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("execution_id", name=op.f("pk_log_sequences")),
    )
    op.create_table(
        "logs",
        sa.Column("tenant_id", sa.String(length=255), nullable=False),
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("namespace", IDENTIFIER, nullable=False),
        sa.Column("flow_id", IDENTIFIER, nullable=True),
        sa.Column("execution_id", sa.String(length=64), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("task_run_id", sa.String(length=64), nullable=True),
        sa.Column("task_id", sa.String(length=255), nullable=True),
        sa.Column("trigger_id", sa.String(length=255), nullable=True),
        sa.Column("attempt_number", sa.Integer(), nullable=True),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("thread", sa.String(length=255), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("timestamp", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_logs")),
        sa.UniqueConstraint("execution_id", "seq", name=op.f("uq_logs_execution_id_seq")),
    )
    op.create_index(
        op.f("ix_logs_tenant_id_namespace_flow_id_timestamp"),
        "logs",
        ["tenant_id", "namespace", "flow_id", "timestamp"],
        unique=False,
    )
    op.create_index(op.f("ix_logs_timestamp"), "logs", ["timestamp"], unique=False)

    op.create_table(
        "triggers",
        sa.Column("tenant_id", sa.String(length=255), nullable=False),
        sa.Column("namespace", IDENTIFIER, nullable=False),
        sa.Column("flow_id", IDENTIFIER, nullable=False),
        sa.Column("trigger_id", sa.String(length=255), nullable=False),
        sa.Column("flow_revision", sa.Integer(), nullable=True),
        sa.Column("next_execution_date", TIMESTAMP, nullable=True),
        sa.Column("last_evaluated", TIMESTAMP, nullable=True),
        sa.Column("execution_id", sa.String(length=64), nullable=True),
        sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("backfill", JSON_DOCUMENT, nullable=True),
        sa.Column("context", JSON_DOCUMENT, nullable=True),
        sa.Column("updated", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "namespace", "flow_id", "trigger_id", name=op.f("pk_triggers")
        ),
    )
    op.create_index(
        op.f("ix_triggers_next_execution_date"), "triggers", ["next_execution_date"], unique=False
    )

    op.create_table(
        "task_runs",
        sa.Column("tenant_id", sa.String(length=255), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("execution_id", sa.String(length=64), nullable=False),
        sa.Column("namespace", IDENTIFIER, nullable=False),
        sa.Column("flow_id", IDENTIFIER, nullable=False),
        sa.Column("task_id", sa.String(length=255), nullable=False),
        sa.Column("parent_task_run_id", sa.String(length=64), nullable=True),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("iteration", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_histories", JSON_DOCUMENT, nullable=False),
        sa.Column("attempts", JSON_DOCUMENT, nullable=False),
        sa.Column("outputs", JSON_DOCUMENT, nullable=True),
        sa.Column("is_dynamic", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("branch", sa.String(length=255), nullable=True),
        sa.Column("internal", JSON_DOCUMENT, nullable=True),
        sa.Column("start_date", TIMESTAMP, nullable=False),
        sa.Column("end_date", TIMESTAMP, nullable=True),
        sa.Column("updated", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name=op.f("fk_task_runs_execution_id_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_runs")),
    )
    op.create_index(
        op.f("ix_task_runs_execution_id_position"),
        "task_runs",
        ["execution_id", "position"],
        unique=False,
    )
    op.create_index(
        op.f("ix_task_runs_execution_id_task_id"),
        "task_runs",
        ["execution_id", "task_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_task_runs_parent_task_run_id"), "task_runs", ["parent_task_run_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("task_runs")
    op.drop_table("triggers")
    op.drop_table("logs")
    op.drop_table("log_sequences")
    op.drop_table("leases")
    op.drop_table("kv_entries")
    op.drop_table("jobs")
    op.drop_table("flows")
    op.drop_table("flow_revisions")
    op.drop_table("flow_labels")
    op.drop_table("executor_events")
    op.drop_table("execution_labels")
    op.drop_table("executions")
    op.drop_table("api_tokens")
