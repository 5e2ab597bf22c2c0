"""Every table of the store, in one ``MetaData``: the schema Alembic's migrations must produce.

Every table carries ``tenant_id``. Tables the engine fills later (executions, task runs, jobs,
executor events, logs, KV, triggers, leases) are designed here for the queries "the database is
the queue" needs (DESIGN.md). Imports SQLAlchemy and the store's column types only.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

from lanner.store.sqlalchemy.columns import JsonDocument, UtcDateTime

ID_LEN = 64
NAME_LEN = 255
STATE_LEN = 16


# Namespaces and flow ids sort and compare byte-wise on both backends (as SQLite's BINARY does),
# whatever the PostgreSQL database's default collation; "C" also lets prefix LIKE use the index.
Identifier = String(NAME_LEN).with_variant(String(NAME_LEN, collation="C"), "postgresql")


def _tenant() -> Column[str]:
    return Column("tenant_id", String(NAME_LEN), nullable=False)


# SQLite only makes ``INTEGER PRIMARY KEY`` an auto-increment rowid alias.
AutoId = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# --- flows -------------------------------------------------------------------------------------

# The current (latest) revision of every flow, deleted or not: "latest" reads are one row.
flows = Table(
    "flows",
    metadata,
    _tenant(),
    Column("namespace", Identifier, nullable=False),
    Column("flow_id", Identifier, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("source", Text, nullable=False),
    Column("document", JsonDocument, nullable=False),
    Column("labels", JsonDocument, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("updated", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "namespace", "flow_id"),
)

# Every revision, written in the same transaction as the ``flows`` row.
flow_revisions = Table(
    "flow_revisions",
    metadata,
    _tenant(),
    Column("namespace", Identifier, nullable=False),
    Column("flow_id", Identifier, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("source", Text, nullable=False),
    Column("document", JsonDocument, nullable=False),
    Column("labels", JsonDocument, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("updated", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "namespace", "flow_id", "revision"),
)

# Labels of the current revision, one row each, so label filters are indexed joins.
flow_labels = Table(
    "flow_labels",
    metadata,
    _tenant(),
    Column("namespace", Identifier, nullable=False),
    Column("flow_id", Identifier, nullable=False),
    Column("key", String(NAME_LEN), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("tenant_id", "namespace", "flow_id", "key"),
    Index(None, "tenant_id", "key", "value"),
)

# --- auth --------------------------------------------------------------------------------------

api_tokens = Table(
    "api_tokens",
    metadata,
    _tenant(),
    Column("id", String(ID_LEN), nullable=False),
    Column("name", String(NAME_LEN), nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("created", UtcDateTime, nullable=False),
    Column("expires", UtcDateTime, nullable=True),
    Column("revoked", Boolean, nullable=False),
    PrimaryKeyConstraint("id"),
    UniqueConstraint("tenant_id", "name"),
    UniqueConstraint("token_hash"),
)

# --- executions and task runs (filled by the engine) -------------------------------------------

executions = Table(
    "executions",
    metadata,
    _tenant(),
    Column("id", String(ID_LEN), nullable=False),
    Column("namespace", Identifier, nullable=False),
    Column("flow_id", Identifier, nullable=False),
    Column("flow_revision", Integer, nullable=False),
    Column("state", String(STATE_LEN), nullable=False),
    Column("state_histories", JsonDocument, nullable=False),
    Column("labels", JsonDocument, nullable=False),
    Column("inputs", JsonDocument, nullable=True),
    Column("outputs", JsonDocument, nullable=True),
    Column("variables", JsonDocument, nullable=True),
    Column("trigger", JsonDocument, nullable=True),
    Column("parent_id", String(ID_LEN), nullable=True),
    Column("original_id", String(ID_LEN), nullable=True),
    Column("kind", String(STATE_LEN), nullable=True),
    Column("attempt_number", Integer, nullable=False, server_default=text("1")),
    Column("scheduled_date", UtcDateTime, nullable=True),
    Column("original_created_date", UtcDateTime, nullable=True),
    Column("start_date", UtcDateTime, nullable=False),
    # The domain's ``State.end_date``: set once terminated (or paused), as Kestra shows it.
    Column("end_date", UtcDateTime, nullable=True),
    Column("deleted", Boolean, nullable=False, server_default=false()),
    # Bumped on every write: optimistic checks and cheap "changed since" polling.
    Column("version", Integer, nullable=False, server_default=text("1")),
    Column("updated", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("id"),
    # One per search shape (tenant; namespace; flow; state), ordered by start date, ending with
    # ``deleted`` so the bounded count of a search reads the index only.
    Index(None, "tenant_id", "namespace", "flow_id", "start_date", "deleted"),
    Index(None, "tenant_id", "start_date", "deleted"),
    Index(None, "tenant_id", "state", "start_date", "deleted"),
    Index(None, "tenant_id", "flow_id", "start_date", "deleted"),
    Index(None, "parent_id"),
    Index(None, "original_id"),
    # Start-up re-drive of every non-terminal execution reads this small subset only.
    Index(
        "ix_executions_unfinished",
        "state",
        postgresql_where=text("end_date IS NULL"),
        sqlite_where=text("end_date IS NULL"),
    ),
)

# Labels of every execution, one row each, so label filters are indexed joins (the
# ``executions.labels`` document keeps the list as given, order and all).
execution_labels = Table(
    "execution_labels",
    metadata,
    _tenant(),
    Column("execution_id", String(ID_LEN), nullable=False),
    Column("key", String(NAME_LEN), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("execution_id", "key", "value"),
    ForeignKeyConstraint(["execution_id"], ["executions.id"], ondelete="CASCADE"),
    Index(None, "tenant_id", "key", "value"),
)

# Task runs are rows, so a ForEach over 10,000 items costs linear time (DESIGN.md).
task_runs = Table(
    "task_runs",
    metadata,
    _tenant(),
    Column("id", String(ID_LEN), nullable=False),
    Column("execution_id", String(ID_LEN), nullable=False),
    Column("namespace", Identifier, nullable=False),
    Column("flow_id", Identifier, nullable=False),
    Column("task_id", String(NAME_LEN), nullable=False),
    Column("parent_task_run_id", String(ID_LEN), nullable=True),
    Column("value", Text, nullable=True),
    Column("iteration", Integer, nullable=True),
    # Creation order within the execution: the API assembles ``taskRunList`` by it.
    Column("position", Integer, nullable=False),
    Column("state", String(STATE_LEN), nullable=False),
    Column("state_histories", JsonDocument, nullable=False),
    Column("attempts", JsonDocument, nullable=False),
    Column("outputs", JsonDocument, nullable=True),
    Column("is_dynamic", Boolean, nullable=False, server_default=false()),
    # Which branch of its parent created it (``then``, ``errors``...), and the executor's
    # private data for flowable task runs: both read back by the executor only.
    Column("branch", String(NAME_LEN), nullable=True),
    Column("internal", JsonDocument, nullable=True),
    Column("start_date", UtcDateTime, nullable=False),
    Column("end_date", UtcDateTime, nullable=True),
    Column("updated", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("id"),
    ForeignKeyConstraint(["execution_id"], ["executions.id"], ondelete="CASCADE"),
    Index(None, "execution_id", "position"),
    Index(None, "execution_id", "task_id"),
    Index(None, "parent_task_run_id"),
)

# --- the queue ---------------------------------------------------------------------------------

# Worker jobs. Claimed with FOR UPDATE SKIP LOCKED on PostgreSQL; a running job whose lease
# expired (dead worker) goes back to QUEUED.
jobs = Table(
    "jobs",
    metadata,
    _tenant(),
    Column("id", String(ID_LEN), nullable=False),
    Column("execution_id", String(ID_LEN), nullable=True),
    Column("task_run_id", String(ID_LEN), nullable=True),
    Column("kind", String(32), nullable=False),
    Column("payload", JsonDocument, nullable=False),
    Column("status", String(STATE_LEN), nullable=False),
    Column("priority", Integer, nullable=False, server_default=text("0")),
    Column("worker_id", String(ID_LEN), nullable=True),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("available_at", UtcDateTime, nullable=False),
    Column("heartbeat_at", UtcDateTime, nullable=True),
    Column("lease_expires_at", UtcDateTime, nullable=True),
    Column("created", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("id"),
    Index(
        "ix_jobs_claimable",
        "priority",
        "available_at",
        postgresql_where=text("status = 'QUEUED'"),
        sqlite_where=text("status = 'QUEUED'"),
    ),
    Index(
        "ix_jobs_leased",
        "lease_expires_at",
        postgresql_where=text("status = 'RUNNING'"),
        sqlite_where=text("status = 'RUNNING'"),
    ),
    Index(None, "worker_id"),
    Index(None, "execution_id"),
)

# The executor's inbox: messages keyed by execution, taken in id order, many per transaction.
executor_events = Table(
    "executor_events",
    metadata,
    _tenant(),
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("execution_id", String(ID_LEN), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("payload", JsonDocument, nullable=False),
    # Delayed events (retries with a delay, pause timeouts, scheduled starts) wait for this.
    Column("available_at", UtcDateTime, nullable=False),
    Column("created", UtcDateTime, nullable=False),
    Index(None, "available_at", "id"),
    Index(None, "execution_id", "id"),
)

# --- flow triggers -----------------------------------------------------------------------------

# State changes Flow triggers react to, written with the change; the flow-trigger role deletes
# each once handled (the id orders them).
flow_trigger_transitions = Table(
    "flow_trigger_transitions",
    metadata,
    _tenant(),
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("execution_id", String(ID_LEN), nullable=False),
    Column("namespace", Identifier, nullable=False),
    Column("flow_id", Identifier, nullable=False),
    Column("state", String(STATE_LEN), nullable=False),
    Column("at", UtcDateTime, nullable=False),
)

# The results a Flow trigger's multiple condition (``preconditions``, ``MultipleCondition``)
# gathered in its current time window.
flow_trigger_windows = Table(
    "flow_trigger_windows",
    metadata,
    _tenant(),
    Column("namespace", Identifier, nullable=False),
    Column("flow_id", Identifier, nullable=False),
    Column("trigger_id", String(NAME_LEN), nullable=False),
    Column("condition_id", String(NAME_LEN), nullable=False),
    Column("start_date", UtcDateTime, nullable=False),
    Column("end_date", UtcDateTime, nullable=False),
    Column("results", JsonDocument, nullable=False),
    PrimaryKeyConstraint("tenant_id", "namespace", "flow_id", "trigger_id", "condition_id"),
    Index(None, "end_date"),
)

# --- logs --------------------------------------------------------------------------------------

logs = Table(
    "logs",
    metadata,
    _tenant(),
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("namespace", Identifier, nullable=False),
    Column("flow_id", Identifier, nullable=True),
    Column("execution_id", String(ID_LEN), nullable=True),
    # Gapless per-execution order for followers: allocated from ``log_sequences`` in the
    # writing transaction, so a higher seq never commits before a lower one.
    Column("seq", BigInteger, nullable=True),
    Column("task_run_id", String(ID_LEN), nullable=True),
    Column("task_id", String(NAME_LEN), nullable=True),
    Column("trigger_id", String(NAME_LEN), nullable=True),
    Column("attempt_number", Integer, nullable=True),
    Column("level", String(8), nullable=False),
    Column("thread", String(NAME_LEN), nullable=True),
    Column("message", Text, nullable=False),
    Column("timestamp", UtcDateTime, nullable=False),
    UniqueConstraint("execution_id", "seq"),
    Index(None, "tenant_id", "namespace", "flow_id", "timestamp"),
    Index(None, "tenant_id", "timestamp"),
    Index(None, "timestamp"),
)

# Per-execution log counters, apart from ``executions`` so log writers never wait on the
# executor's row lock.
log_sequences = Table(
    "log_sequences",
    metadata,
    _tenant(),
    Column("execution_id", String(ID_LEN), nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    PrimaryKeyConstraint("execution_id"),
)

# --- metrics -----------------------------------------------------------------------------------

metrics = Table(
    "metrics",
    metadata,
    _tenant(),
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("namespace", Identifier, nullable=False),
    Column("flow_id", Identifier, nullable=False),
    Column("execution_id", String(ID_LEN), nullable=False),
    Column("task_id", String(NAME_LEN), nullable=True),
    Column("task_run_id", String(ID_LEN), nullable=True),
    Column("type", String(16), nullable=False),
    Column("name", String(NAME_LEN), nullable=False),
    Column("value", Float, nullable=False),
    Column("tags", JsonDocument, nullable=False),
    Column("timestamp", UtcDateTime, nullable=False),
    Index(None, "tenant_id", "execution_id"),
    Index(None, "tenant_id", "namespace", "flow_id", "name"),
)

# --- KV, triggers, leases ----------------------------------------------------------------------

kv_entries = Table(
    "kv_entries",
    metadata,
    _tenant(),
    Column("namespace", Identifier, nullable=False),
    Column("key", String(NAME_LEN), nullable=False),
    Column("value_type", String(STATE_LEN), nullable=False),
    Column("value", JsonDocument, nullable=False),
    Column("description", Text, nullable=True),
    Column("expires", UtcDateTime, nullable=True),
    Column("created", UtcDateTime, nullable=False),
    Column("updated", UtcDateTime, nullable=False),
    Column("revision", Integer, nullable=False),
    PrimaryKeyConstraint("tenant_id", "namespace", "key"),
    Index(None, "expires"),
)

triggers = Table(
    "triggers",
    metadata,
    _tenant(),
    Column("namespace", Identifier, nullable=False),
    Column("flow_id", Identifier, nullable=False),
    Column("trigger_id", String(NAME_LEN), nullable=False),
    Column("flow_revision", Integer, nullable=True),
    Column("next_execution_date", UtcDateTime, nullable=True),
    Column("last_evaluated", UtcDateTime, nullable=True),
    Column("execution_id", String(ID_LEN), nullable=True),
    Column("disabled", Boolean, nullable=False, server_default=false()),
    Column("backfill", JsonDocument, nullable=True),
    Column("context", JsonDocument, nullable=True),
    Column("updated", UtcDateTime, nullable=False),
    # Compare-and-set: the scheduler and the API never lose each other's writes.
    Column("revision", Integer, nullable=False, server_default=text("0")),
    PrimaryKeyConstraint("tenant_id", "namespace", "flow_id", "trigger_id"),
    Index(None, "next_execution_date"),
)

# Expiring named leases (the scheduler's, a node's liveness).
leases = Table(
    "leases",
    metadata,
    _tenant(),
    Column("name", String(NAME_LEN), nullable=False),
    Column("holder", String(NAME_LEN), nullable=False),
    Column("acquired", UtcDateTime, nullable=False),
    Column("expires", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "name"),
)
