"""``Settings.event_loop`` and the loop a server runs on."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from lanner.cli.main import loop_factory
from lanner.config import load_settings
from lanner.errors import ConfigError


def test_auto_and_uvloop_run_uvloop_asyncio_runs_the_standard_loop() -> None:
    assert loop_factory("auto") is uvloop.new_event_loop
    assert loop_factory("uvloop") is uvloop.new_event_loop
    assert loop_factory("asyncio") is None
    factory = loop_factory("auto")
    assert factory is not None
    with asyncio.Runner(loop_factory=factory) as runner:
        assert runner.run(_loop_module()) == "uvloop"


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__.split(".")[0]


def test_event_loop_setting_is_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANNER_EVENT_LOOP", "AsyncIO")
    assert load_settings({}).event_loop == "asyncio"
    monkeypatch.setenv("LANNER_EVENT_LOOP", "trio")
    with pytest.raises(ConfigError, match="event loop must be one of auto, uvloop, asyncio"):
        load_settings({})
