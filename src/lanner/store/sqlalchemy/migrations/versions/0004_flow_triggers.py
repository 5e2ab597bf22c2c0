"""Flow triggers: the transitions they react to and the windows of their multiple conditions

Revision ID: 0004_flow_triggers
Revises: 0001
Create Date: 2026-12-03 17:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_flow_triggers"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types frozen here rather than imported from lanner.store.sqlalchemy.schema.
TIMESTAMP = sa.DateTime(timezone=True)
JSON_DOCUMENT = sa.Text()
IDENTIFIER = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")
AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "flow_trigger_transitions",
        sa.Column("tenant_id", sa.String(length=255), nullable=False),
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("execution_id", sa.String(length=64), nullable=False),
        sa.Column("namespace", IDENTIFIER, nullable=False),
        sa.Column("flow_id", IDENTIFIER, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_trigger_transitions")),
    )
    op.create_table(
        "flow_trigger_windows",
        sa.Column("tenant_id", sa.String(length=255), nullable=False),
        sa.Column("namespace", IDENTIFIER, nullable=False),
        sa.Column("flow_id", IDENTIFIER, nullable=False),
        sa.Column("trigger_id", sa.String(length=255), nullable=False),
        sa.Column("condition_id", sa.String(length=255), nullable=False),
        sa.Column("start_date", TIMESTAMP, nullable=False),
        sa.Column("end_date", TIMESTAMP, nullable=False),
        sa.Column("results", JSON_DOCUMENT, nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id",
            "namespace",
            "flow_id",
            "trigger_id",
            "condition_id",
            name=op.f("pk_flow_trigger_windows"),
        ),
    )
    op.create_index(
        op.f("ix_flow_trigger_windows_end_date"),
        "flow_trigger_windows",
        ["end_date"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_flow_trigger_windows_end_date"), table_name="flow_trigger_windows")
    op.drop_table("flow_trigger_windows")
    op.drop_table("flow_trigger_transitions")
