"""Database URLs: normalization, bad URLs (ConfigError), unreachable servers (StoreUnavailable)."""

from __future__ import annotations

import socket

import pytest

from lanner.errors import ConfigError, StoreUnavailableError
from lanner.store import open_store
from lanner.store.sqlalchemy.engines import normalize_url


@pytest.mark.parametrize(
    ("given", "driver", "database"),
    [
        ("sqlite:///data/lanner.db", "sqlite+pysqlite", "data/lanner.db"),
        ("sqlite:////abs/lanner.db", "sqlite+pysqlite", "/abs/lanner.db"),
        ("sqlite+pysqlite:///x.db", "sqlite+pysqlite", "x.db"),
        ("postgresql://postgres@127.0.0.1:5432/test", "postgresql+psycopg", "test"),
        ("postgres://u:p@db/lanner", "postgresql+psycopg", "lanner"),
        ("postgresql+psycopg://u@db/lanner", "postgresql+psycopg", "lanner"),
    ],
)
def test_urls_are_normalized_to_the_installed_drivers(
    given: str, driver: str, database: str
) -> None:
    url = normalize_url(given)

    assert url.drivername == driver
    assert url.database == database


@pytest.mark.parametrize(
    "given",
    [
        "not a url",
        "mysql://root@localhost/db",
        "postgresql+psycopg2://u@db/lanner",
        "sqlite://",
        "sqlite:///:memory:",
        "postgresql://u@db",
    ],
)
def test_unusable_urls_are_config_errors(given: str) -> None:
    with pytest.raises(ConfigError) as caught:
        open_store(given)

    assert "\n" not in caught.value.message


def test_config_error_hides_the_password() -> None:
    with pytest.raises(ConfigError) as caught:
        open_store("mysql://user:hunter2@localhost/db")

    assert "hunter2" not in caught.value.message


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unreachable_postgresql_fails_start_with_one_line() -> None:
    store = open_store(f"postgresql://lanner:hunter2@127.0.0.1:{_closed_port()}/lanner")

    with pytest.raises(StoreUnavailableError) as caught:
        await store.start()

    message = caught.value.message
    assert message.startswith("cannot connect to postgresql+psycopg://lanner:***@127.0.0.1:")
    assert "\n" not in message
    assert "hunter2" not in message
