"""Alembic environment: runs on the connection :mod:`lanner.store.sqlalchemy.migrations` hands over."""

from __future__ import annotations

from alembic import context

from lanner.store.sqlalchemy.migrations import include_name
from lanner.store.sqlalchemy.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run Lanner's migrations through lanner.store.sqlalchemy.migrations.upgrade_to_head "
        "(or `lanner admin`), not the alembic command line"
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_name=include_name,
)
with context.begin_transaction():
    context.run_migrations()
