"""Settings: defaults → YAML file → ``LANNER_*`` environment → CLI flags, frozen once built.

This is the only module that reads the environment for server settings. Bad settings raise
:class:`lanner.errors.ConfigError` with a one-line message; the CLI prints it and exits 2.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from lanner.errors import ConfigError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_DATA_DIR = "~/.lanner"
SQLITE_FILE_NAME = "lanner.db"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a Lanner process is configured with."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    data_dir: Path = field(default_factory=lambda: Path(DEFAULT_DATA_DIR).expanduser())
    database_url: str | None = None
    basic_auth_username: str | None = None
    basic_auth_password: str | None = None
    url: str | None = None
    config_file: Path | None = None

    @property
    def effective_database_url(self) -> str:
        """The configured URL, or the SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / SQLITE_FILE_NAME}"

    @property
    def is_basic_auth_enabled(self) -> bool:
        return bool(self.basic_auth_username and self.basic_auth_password)

    @property
    def public_url(self) -> str:
        """Base URL used in links returned to clients (``url`` of an execution)."""
        if self.url:
            return self.url.rstrip("/")
        host = "localhost" if self.host in ("0.0.0.0", "127.0.0.1", "::") else self.host
        return f"http://{host}:{self.port}"

    @property
    def storage_dir(self) -> Path:
        """Internal storage root (``kestra://`` files, namespace files)."""
        return self.data_dir / "storage"


# Environment variable → settings field.
ENVIRONMENT: dict[str, str] = {
    "LANNER_HOST": "host",
    "LANNER_PORT": "port",
    "LANNER_DATA_DIR": "data_dir",
    "LANNER_DATABASE_URL": "database_url",
    "LANNER_BASIC_AUTH_USERNAME": "basic_auth_username",
    "LANNER_BASIC_AUTH_PASSWORD": "basic_auth_password",
    "LANNER_URL": "url",
}

_FIELD_NAMES = frozenset(f.name for f in fields(Settings))


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping")
    values: dict[str, Any] = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name == "basic_auth" and isinstance(value, dict):
            values["basic_auth_username"] = value.get("username")
            values["basic_auth_password"] = value.get("password")
        elif name in _FIELD_NAMES and name != "config_file":
            values[name] = value
        else:
            raise ConfigError(f"config file {path}: unknown setting {key!r}")
    return values


def _coerce(values: Mapping[str, Any], source: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        if name == "port":
            try:
                port = int(value)
            except (TypeError, ValueError):
                raise ConfigError(f"{source}: port must be an integer, got {value!r}") from None
            if not 0 <= port <= 65535:
                raise ConfigError(f"{source}: port must be between 0 and 65535, got {port}")
            out[name] = port
        elif name in ("data_dir", "config_file"):
            out[name] = Path(str(value)).expanduser()
        elif name == "database_url":
            url = str(value)
            if not url.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
                raise ConfigError(
                    f"{source}: database URL must start with sqlite:// or postgresql://, got {url!r}"
                )
            out[name] = url
        else:
            out[name] = str(value)
    return out


def load_settings(
    flags: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Build the settings from every source, most specific last.

    ``flags`` holds CLI values (``None`` = not given); ``environ`` defaults to ``os.environ``.
    """
    env = os.environ if environ is None else environ
    flags = dict(flags or {})
    config_file = flags.get("config_file") or env.get("LANNER_CONFIG")
    merged: dict[str, Any] = {}
    if config_file:
        path = Path(str(config_file)).expanduser()
        merged.update(_coerce(_read_config_file(path), f"config file {path}"))
        merged["config_file"] = path
    merged.update(_coerce({name: env.get(var) for var, name in ENVIRONMENT.items()}, "environment"))
    merged.update(
        _coerce(
            {k: v for k, v in flags.items() if k in _FIELD_NAMES and k != "config_file"}, "flag"
        )
    )
    settings = replace(Settings(), **merged)
    if bool(settings.basic_auth_username) != bool(settings.basic_auth_password):
        raise ConfigError(
            "basic auth needs both LANNER_BASIC_AUTH_USERNAME and LANNER_BASIC_AUTH_PASSWORD"
        )
    return settings
