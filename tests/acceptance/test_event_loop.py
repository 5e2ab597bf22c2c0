"""The server process runs on uvloop's event loop where uvloop is installed."""

from __future__ import annotations

import importlib.util

import httpx
from tests.acceptance.conftest import LannerServer


def test_the_server_runs_on_uvloop(lanner_server: LannerServer) -> None:
    response = httpx.get(f"{lanner_server.url}/health/streams", auth=lanner_server.auth)
    assert response.status_code == 200, response.text
    expected = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    assert response.json()["eventLoop"] == expected
