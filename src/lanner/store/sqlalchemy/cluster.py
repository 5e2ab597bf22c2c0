"""The nodes of a multi-node deployment, read from PostgreSQL's own views: no table of ours,
no heartbeat writes. Each role names its sessions ``lanner <role> <host> <pid>``
(``engines.set_application_name``); ``pg_stat_activity`` lists them (sessions, since when,
last activity), ``pg_locks`` tells which executor holds the leadership lock, the ``leases``
table which scheduler holds its lease, and ``jobs`` each worker's latest heartbeat.
Imports SQLAlchemy, the schema and the store protocols; never the engine or the API.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select, text

from lanner.store.protocols.queue import ClusterNode
from lanner.store.sqlalchemy.schema import jobs, leases

EXECUTOR_LOCK_KEY = 0x4C414E4E4558
"""The executor's leadership lock ("LANNEX" in ASCII; ``leadership`` takes it)."""
SCHEDULER_LEASE = "scheduler"

_SESSIONS = text(
    "SELECT a.application_name, count(*), min(a.backend_start),"
    " max(greatest(a.state_change, a.backend_start)), bool_or(l.pid IS NOT NULL)"
    " FROM pg_stat_activity a LEFT JOIN pg_locks l ON l.pid = a.pid"
    " AND l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
    " AND l.classid::bigint = :k_hi AND l.objid::bigint = :k_lo"
    " WHERE a.datname = current_database() AND a.application_name LIKE 'lanner %'"
    " GROUP BY a.application_name"
)
_HEARTBEATS = select(jobs.c.worker_id, func.max(jobs.c.heartbeat_at)).group_by(jobs.c.worker_id)
_SCHEDULER = select(leases.c.holder).where(
    leases.c.name == SCHEDULER_LEASE, leases.c.expires > func.now()
)


def cluster_nodes(conn: Connection) -> list[ClusterNode]:
    """Every process with a session on this database, by role, host and pid."""
    if conn.dialect.name != "postgresql":
        return []
    heartbeats: dict[str, datetime] = {
        worker_id: at for worker_id, at in conn.execute(_HEARTBEATS) if worker_id and at
    }
    schedulers = {holder for (holder,) in conn.execute(_SCHEDULER)}
    nodes: list[ClusterNode] = []
    rows = conn.execute(
        _SESSIONS, {"k_hi": EXECUTOR_LOCK_KEY >> 32, "k_lo": EXECUTOR_LOCK_KEY & 0xFFFFFFFF}
    )
    for name, sessions, since, last_active, holds_lock in rows:
        parts = str(name).split(" ")
        if len(parts) != 4 or not parts[3].isdigit():
            continue
        _, role, host, pid = parts
        beat = heartbeats.get(f"{host}/worker-{pid}")
        if beat is not None and (last_active is None or beat > last_active):
            last_active = beat
        leader = bool(holds_lock) if role == "executor" else False
        if role == "scheduler":
            leader = f"{host}/scheduler-{pid}" in schedulers
        nodes.append(ClusterNode(role, host, int(pid), int(sessions), since, last_active, leader))
    return sorted(nodes, key=lambda node: (node.role, node.host, node.pid))
