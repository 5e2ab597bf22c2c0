"""Log retention: the setting, the server's periodic purge and ``lanner admin logs purge``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lanner.admin import purge_logs
from lanner.cli.main import app
from lanner.config import Settings, load_settings
from lanner.domain.logs import LogEntry, LogLevel
from lanner.engine.retention import LogRetention, start_log_retention
from lanner.errors import ConfigError
from lanner.store import DEFAULT_TENANT, open_store

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


class PurgeRecorder:
    def __init__(self) -> None:
        self.cutoffs: list[datetime] = []
        self.thrice = asyncio.Event()

    async def purge_logs(self, before: datetime, **_: object) -> int:
        self.cutoffs.append(before)
        if len(self.cutoffs) >= 3:
            self.thrice.set()
        return 3


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("P30D", timedelta(days=30)), ("PT12H", timedelta(hours=12)), ("off", None)],
)
def test_retention_setting(raw: str, expected: timedelta | None) -> None:
    assert load_settings(environ={"LANNER_LOG_RETENTION": raw}).log_retention == expected
    assert load_settings(environ={}).log_retention is None


@pytest.mark.parametrize("raw", ["thirty days", "-P1D", "PT0S"])
def test_bad_retention_fails_at_start(raw: str) -> None:
    with pytest.raises(ConfigError, match="log retention"):
        load_settings(environ={"LANNER_LOG_RETENTION": raw})


@pytest.mark.asyncio
async def test_the_server_purges_periodically() -> None:
    store = PurgeRecorder()
    retention = LogRetention(
        store,  # type: ignore[arg-type]
        timedelta(days=30),
        first_after_s=0,
        every_s=0.01,
        clock=lambda: NOW,
    )
    retention.start()
    try:
        async with asyncio.timeout(5):
            await store.thrice.wait()
    finally:
        await retention.stop()

    assert set(store.cutoffs) == {NOW - timedelta(days=30)}
    assert retention.purged >= 9


@pytest.mark.asyncio
async def test_no_retention_no_purger() -> None:
    assert start_log_retention(PurgeRecorder(), None) is None  # type: ignore[arg-type]


def lines(ages: Sequence[timedelta]) -> list[LogEntry]:
    now = datetime.now(UTC)
    return [
        LogEntry(
            tenant_id=DEFAULT_TENANT,
            namespace="company.team",
            flow_id="f",
            execution_id="e1",
            level=LogLevel.INFO,
            message=f"{age.days} days old",
            timestamp=now - age,
        )
        for age in ages
    ]


async def seeded(tmp_path: Path) -> Settings:
    settings = Settings(data_dir=tmp_path)
    store = open_store(settings.effective_database_url)
    await store.start()
    try:
        await store.add_logs(lines([timedelta(days=40), timedelta(days=31), timedelta(days=1)]))
    finally:
        await store.close()
    return settings


async def remaining(settings: Settings) -> list[str]:
    store = open_store(settings.effective_database_url)
    await store.start()
    try:
        return [e.message for e in await store.list_logs(DEFAULT_TENANT, "e1")]
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_admin_purge(tmp_path: Path) -> None:
    settings = await seeded(tmp_path)

    assert await purge_logs(settings, timedelta(days=35)) == 1
    assert await purge_logs(settings, timedelta(days=30), namespace="other") == 0
    assert await purge_logs(settings, timedelta(days=30), levels=(LogLevel.INFO,)) == 1

    assert await remaining(settings) == ["1 days old"]


def test_cli_purge(tmp_path: Path) -> None:
    settings = asyncio.run(seeded(tmp_path))
    runner = CliRunner()

    done = runner.invoke(
        app, ["admin", "logs", "purge", "--older-than", "P30D", "--data-dir", str(tmp_path)]
    )
    bad = runner.invoke(
        app, ["admin", "logs", "purge", "--older-than", "soon", "--data-dir", str(tmp_path)]
    )

    assert done.exit_code == 0, done.output
    assert "purged 2 log lines older than P30D" in done.output
    assert bad.exit_code == 2
    assert asyncio.run(remaining(settings)) == ["1 days old"]
