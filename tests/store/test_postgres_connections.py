"""PostgreSQL only: the store survives the server dropping its connections."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest
from tests.conftest import libpq_url

from lanner.errors import StoreUnavailableError
from lanner.store import DEFAULT_TENANT, NewFlowRevision, open_store

NewFlow = Callable[..., NewFlowRevision]

pytestmark = pytest.mark.postgres


def drop_connections(url: str) -> int:
    """Terminate every other session on ``url``'s database; how many there were."""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


async def test_dropped_connections_fail_one_write_and_no_read(
    postgres_database_url: str, new_flow: NewFlow
) -> None:
    store = open_store(postgres_database_url)
    await store.start()
    try:
        await store.add_flow_revision(new_flow("reconnect", "a"), expected_revision=None)
        assert len(await store.list_flows(DEFAULT_TENANT, "reconnect")) == 1
        assert drop_connections(postgres_database_url) >= 2

        listed = await store.list_flows(DEFAULT_TENANT, "reconnect")
        with pytest.raises(StoreUnavailableError, match="database unavailable"):
            await store.add_flow_revision(new_flow("reconnect", "b"), expected_revision=None)
        retried = await store.add_flow_revision(new_flow("reconnect", "b"), expected_revision=None)
    finally:
        await store.close()

    assert [f.id for f in listed] == ["a"]
    assert retried.revision == 1
