"""``GET /health`` of the roles without the API: the role's fields, the queue's depth and the
store's state (503 once the store no longer answers); one route."""

from __future__ import annotations

import httpx

from lanner.health import HealthServer
from lanner.store import Store, open_store


async def test_health_reports_the_role_the_queue_and_the_store(database_url: str) -> None:
    store: Store = open_store(database_url)
    await store.start()
    health = HealthServer(
        store, role="worker", node="n1", host="127.0.0.1", port=0, describe=lambda: {"x": 1}
    )
    await health.start()
    base = f"http://127.0.0.1:{health.port}"
    try:
        async with httpx.AsyncClient(base_url=base) as client:
            up = await client.get("/health")
            missing = await client.get("/metrics")
            await store.close()
            down = await client.get("/health")
    finally:
        await health.close()
        await store.close()

    assert up.status_code == 200
    body = up.json()
    assert (body["status"], body["role"], body["node"], body["x"]) == ("UP", "worker", "n1", 1)
    assert body["store"] == {"status": "UP"}
    assert body["jobs"] == {"queued": 0, "running": 0}
    assert isinstance(body["pid"], int)
    assert missing.status_code == 404
    assert down.status_code == 503
    assert down.json()["status"] == "DOWN"
    assert down.json()["store"]["status"] == "DOWN"
