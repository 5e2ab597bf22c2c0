"""Trigger state: a revision for compare-and-set writes (the scheduler and the API).

Revision ID: 0003_triggers
Revises: 0004_flow_triggers
Create Date: 2026-12-03 17:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_triggers"
down_revision: str | None = "0004_flow_triggers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("triggers") as batch:
        batch.add_column(
            sa.Column("revision", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("triggers") as batch:
        batch.drop_column("revision")
