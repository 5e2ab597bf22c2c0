"""Task metrics: counters and timers of task runs

Revision ID: 0002_metrics
Revises: 0003_triggers
Create Date: 2026-12-03 17:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_metrics"
down_revision: str | None = "0003_triggers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types frozen here rather than imported from the schema module, so this revision never changes.
TIMESTAMP = sa.DateTime(timezone=True)
JSON_DOCUMENT = sa.Text()
IDENTIFIER = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")
AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "metrics",
        sa.Column("tenant_id", sa.String(length=255), nullable=False),
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("namespace", IDENTIFIER, nullable=False),
        sa.Column("flow_id", IDENTIFIER, nullable=False),
        sa.Column("execution_id", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.String(length=255), nullable=True),
        sa.Column("task_run_id", sa.String(length=64), nullable=True),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("tags", JSON_DOCUMENT, nullable=False),
        sa.Column("timestamp", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metrics")),
    )
    op.create_index(
        op.f("ix_metrics_tenant_id_execution_id"),
        "metrics",
        ["tenant_id", "execution_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_metrics_tenant_id_namespace_flow_id_name"),
        "metrics",
        ["tenant_id", "namespace", "flow_id", "name"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("metrics")
