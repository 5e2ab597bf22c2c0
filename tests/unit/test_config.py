"""Settings precedence and validation."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path

import pytest

from lanner.config import load_settings
from lanner.errors import ConfigError


def test_defaults() -> None:
    settings = load_settings({}, environ={})
    assert settings.host == "127.0.0.1"
    assert settings.port == 8080
    assert settings.data_dir == Path("~/.lanner").expanduser()
    assert settings.effective_database_url.startswith("sqlite:///")
    assert settings.effective_database_url.endswith("/.lanner/lanner.db")
    assert not settings.is_basic_auth_enabled


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    config = tmp_path / "lanner.yaml"
    config.write_text("port: 9000\nhost: 0.0.0.0\ndata-dir: /srv/lanner\n")
    env = {"LANNER_CONFIG": str(config), "LANNER_PORT": "9100"}
    settings = load_settings({"port": 9200}, environ=env)
    assert settings.port == 9200
    assert settings.host == "0.0.0.0"
    assert settings.data_dir == Path("/srv/lanner")
    assert load_settings({}, environ=env).port == 9100


def test_basic_auth_and_database_from_environment() -> None:
    env = {
        "LANNER_BASIC_AUTH_USERNAME": "u",
        "LANNER_BASIC_AUTH_PASSWORD": "p",
        "LANNER_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test",
    }
    settings = load_settings({}, environ=env)
    assert settings.is_basic_auth_enabled
    assert settings.effective_database_url == env["LANNER_DATABASE_URL"]


def test_basic_auth_from_file(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text("basic_auth:\n  username: a\n  password: b\n")
    assert load_settings({"config_file": config}, environ={}).basic_auth_password == "b"


@pytest.mark.parametrize(
    ("flags", "env", "fragment"),
    [
        ({"port": "abc"}, {}, "port must be an integer"),
        ({}, {"LANNER_PORT": "70000"}, "between 0 and 65535"),
        ({}, {"LANNER_DATABASE_URL": "mysql://x"}, "database URL"),
        ({}, {"LANNER_BASIC_AUTH_USERNAME": "only-user"}, "needs both"),
        ({"config_file": "/nonexistent/lanner.yaml"}, {}, "cannot read config file"),
    ],
)
def test_bad_settings_fail_with_one_line(
    flags: dict[str, object], env: dict[str, str], fragment: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(flags, environ=env)
    assert fragment in caught.value.message
    assert "\n" not in caught.value.message


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("- a list\n", "must hold a mapping"),
        ("unknown: 1\n", "unknown setting"),
        ("a: [\n", "not valid YAML"),
    ],
)
def test_bad_config_file(tmp_path: Path, content: str, fragment: str) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(content)
    with pytest.raises(ConfigError) as caught:
        load_settings({"config_file": config}, environ={})
    assert fragment in caught.value.message


def test_public_url() -> None:
    assert load_settings({"port": 9}, environ={}).public_url == "http://localhost:9"
    assert (
        load_settings({}, environ={"LANNER_URL": "https://k.example/"}).public_url
        == "https://k.example"
    )


# --- secrets, envs, globals, encryption key --------------------------------------------------


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_secrets_come_base64_decoded_by_upper_case_key() -> None:
    env = {"SECRET_MY_TOKEN": b64("tok-123"), "SECRET_multi": b64("a\nb"), "SECRET_": "eA=="}
    settings = load_settings({}, environ=env)
    assert settings.secrets == {"MY_TOKEN": "tok-123", "MULTI": "a\nb"}
    assert "tok-123" not in repr(settings)


def test_bad_base64_secret_names_the_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({}, environ={"SECRET_DB_PASSWORD": "not base64!"})
    assert "SECRET_DB_PASSWORD" in caught.value.message
    assert "base64" in caught.value.message
    assert "not base64!" not in caught.value.message


def test_kestra_environment_is_kept_for_envs_without_client_credentials() -> None:
    env = {"KESTRA_GREETING": "hi", "KESTRA_TOKEN": "t", "KESTRA_PASSWORD": "p", "OTHER": "x"}
    assert load_settings({}, environ=env).kestra_environ == {"KESTRA_GREETING": "hi"}


def test_globals_come_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "lanner.yaml"
    config.write_text("globals:\n  team: data\n  limits: {rows: 10}\n")
    settings = load_settings({"config_file": config}, environ={})
    assert settings.globals == {"team": "data", "limits": {"rows": 10}}
    config.write_text("globals: [1, 2]\n")
    with pytest.raises(ConfigError, match="globals must be a mapping"):
        load_settings({"config_file": config}, environ={})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (base64.b64encode(bytes(range(32))).decode(), bytes(range(32))),
        ("a-32-character-secret-key-here!!", b"a-32-character-secret-key-here!!"),
        (base64.b64encode(b"k" * 16).decode(), b"k" * 16),
    ],
)
def test_encryption_key_is_base64_or_text_of_an_aes_size(raw: str, expected: bytes) -> None:
    settings = load_settings({}, environ={"LANNER_ENCRYPTION_KEY": raw})
    assert settings.encryption_key == expected
    assert raw not in repr(settings)


def test_encryption_key_from_file_and_bad_key(tmp_path: Path) -> None:
    config = tmp_path / "lanner.yaml"
    config.write_text(f"encryption-key: {'x' * 24}\n")
    assert load_settings({"config_file": config}, environ={}).encryption_key == b"x" * 24
    with pytest.raises(ConfigError) as caught:
        load_settings({}, environ={"LANNER_ENCRYPTION_KEY": "short"})
    assert "16, 24 or 32" in caught.value.message
    assert load_settings({}, environ={}).encryption_key is None


def test_history_settings_come_from_the_environment() -> None:
    defaults = load_settings({}, environ={})
    env = {
        "LANNER_EXECUTION_RETENTION": "P90D",
        "LANNER_MAX_EXECUTIONS": "100000",
        "LANNER_SEARCH_COUNT_BOUND": "500",
    }
    settings = load_settings({}, environ=env)

    assert (defaults.execution_retention, defaults.max_executions) == (None, None)
    assert defaults.search_count_bound == 10_000
    assert settings.execution_retention == timedelta(days=90)
    assert settings.max_executions == 100_000
    assert settings.search_count_bound == 500
    with pytest.raises(ConfigError, match="search-count-bound"):
        load_settings({}, environ={"LANNER_SEARCH_COUNT_BOUND": "0"})


def test_worker_lease_and_outage_limit_take_seconds_or_durations() -> None:
    defaults = load_settings({}, environ={})
    assert (defaults.worker_lease, defaults.store_outage_limit) == (10.0, 300.0)
    env = {"LANNER_WORKER_LEASE": "PT4S", "LANNER_STORE_OUTAGE_LIMIT": "90"}
    settings = load_settings({}, environ=env)
    assert (settings.worker_lease, settings.store_outage_limit) == (4.0, 90.0)
    with pytest.raises(ConfigError, match="worker-lease"):
        load_settings({}, environ={"LANNER_WORKER_LEASE": "0"})
    with pytest.raises(ConfigError, match="store-outage-limit"):
        load_settings({}, environ={"LANNER_STORE_OUTAGE_LIMIT": "soon"})
