"""The server process runs on the standard event loop unless ``LANNER_EVENT_LOOP`` asks for
uvloop (measured slower for Lanner's load; see the README)."""

from __future__ import annotations

import httpx
from tests.acceptance.conftest import LannerServer


def test_the_server_runs_on_the_standard_loop_by_default(lanner_server: LannerServer) -> None:
    response = httpx.get(f"{lanner_server.url}/health/streams", auth=lanner_server.auth)
    assert response.status_code == 200, response.text
    assert response.json()["eventLoop"] == "asyncio"
