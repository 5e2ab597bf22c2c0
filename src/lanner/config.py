"""Settings: defaults → YAML file → ``LANNER_*`` environment → CLI flags, frozen once built.

This is the only module that reads the environment for server settings. Bad settings raise
:class:`lanner.errors.ConfigError` with a one-line message; the CLI prints it and exits 2.

Beside the ``LANNER_*`` variables it reads what Kestra reads: ``SECRET_<KEY>`` (base64 values,
the OSS secrets of ``secret()``) and ``KESTRA_*`` (the template's ``envs``). The YAML file may hold
``globals:`` (the template's ``globals``); ``LANNER_ENCRYPTION_KEY`` (or ``encryption-key:``) is
the AES key of SECRET inputs: base64 of 16, 24 or 32 bytes, or 16/24/32 characters of text as in
Kestra's ``kestra.encryption.secret-key``.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from lanner.domain.times import parse_duration
from lanner.errors import ConfigError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_DATA_DIR = "~/.lanner"
SQLITE_FILE_NAME = "lanner.db"
SECRET_PREFIX = "SECRET_"
KESTRA_PREFIX = "KESTRA_"
# Client credentials of the CLI (KESTRA_URL/USER/PASSWORD/TOKEN) never reach templates' envs.
CLIENT_CREDENTIALS = frozenset({"KESTRA_PASSWORD", "KESTRA_TOKEN"})
AES_KEY_BYTES = (16, 24, 32)


METRICS_MODES = ("on", "open", "off")
LOG_FORMATS = ("text", "json")
RATE_GROUPS = ("reads", "writes", "executions", "follow")
# Requests per minute of each group for ``LANNER_RATE_LIMIT=on`` (a burst of as many).
DEFAULT_RATES: dict[str, tuple[int, float]] = {
    "reads": (1200, 60.0),
    "writes": (300, 60.0),
    "executions": (120, 60.0),
    "follow": (60, 60.0),
}
_RATE_PERIODS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "hour": 3600.0}


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Per route group: how many requests a client may make per ``period`` seconds (the
    bucket's capacity; it refills evenly over the period)."""

    rates: Mapping[str, tuple[int, float]]


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a Lanner process is configured with."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    data_dir: Path = field(default_factory=lambda: Path(DEFAULT_DATA_DIR).expanduser())
    database_url: str | None = None
    basic_auth_username: str | None = None
    basic_auth_password: str | None = field(default=None, repr=False)
    url: str | None = None
    config_file: Path | None = None
    encryption_key: bytes | None = field(default=None, repr=False)
    """AES key of SECRET inputs (decoded); None: SECRET inputs are refused."""
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    """``SECRET_<KEY>`` values, decoded, by upper-case key (``secret('key')``)."""
    kestra_environ: Mapping[str, str] = field(default_factory=dict, repr=False)
    """The ``KESTRA_*`` environment variables (the template's ``envs``)."""
    globals: Mapping[str, Any] = field(default_factory=dict)
    """The config file's ``globals:`` mapping (the template's ``globals``)."""
    log_retention: timedelta | None = None
    """Log lines older than this are purged by the server (``LANNER_LOG_RETENTION=P30D``,
    ``log-retention:``); None keeps them forever."""
    execution_retention: timedelta | None = None
    """Ended executions started longer ago than this are purged, with their task runs, logs
    and files (``LANNER_EXECUTION_RETENTION=P90D``, ``execution-retention:``)."""
    max_executions: int | None = None
    """Per tenant, ended executions beyond the newest this many are purged likewise."""
    search_count_bound: int = 10_000
    """Search totals are exact up to this many matches, an estimate beyond (README)."""
    # Input limits (README "Limits"): YAML documents, parse time, request sizes.
    yaml_max_aliases: int = 50
    yaml_max_depth: int = 100
    yaml_max_nodes: int = 100_000
    yaml_max_chars: int = 3 * 1024 * 1024
    flow_parse_timeout: float = 10.0
    """Seconds a request may spend parsing and validating flows; then 503."""
    max_flow_body_bytes: int = 4 * 1024 * 1024
    max_json_body_bytes: int = 10 * 1024 * 1024
    max_upload_bytes: int = 1024 * 1024 * 1024
    max_form_part_bytes: int = 10 * 1024 * 1024
    max_form_fields: int = 1000
    max_header_bytes: int = 64 * 1024
    max_task_output_bytes: int = 10 * 1024 * 1024
    """A task's outputs, as JSON, beyond this many bytes: the task ends FAILED."""
    max_follow_streams: int = 200
    """Follow streams (SSE) one client may hold open at once; one more is 429."""
    template_max_output_chars: int = 10_000_000
    """Characters one template render may produce (text or typed value); more is an error."""
    template_max_loop_iterations: int = 100_000
    """Loop iterations and ``range()`` items in one render; more is an error."""
    template_timeout: float = 10.0
    """Seconds one template render may take; longer is an error."""
    rate_limit: RateLimits | None = None
    """Token buckets per client and route group (README "Rate limiting"); None: off."""
    metrics: str = "on"
    """``/metrics`` (Prometheus): ``on`` behind auth, ``open`` without it, ``off`` not served."""
    log_format: str = "text"
    """The server's log lines: ``text`` or ``json`` (one JSON object a line)."""
    ui_timezone: str = "UTC"
    """The one time zone every date of the web UI is shown in (``LANNER_UI_TIMEZONE``)."""
    worker_lease: float = 10.0
    """Seconds a worker's claim on a task holds without a heartbeat (``LANNER_WORKER_LEASE``,
    ``worker-lease:``; seconds or an ISO-8601 duration): a dead worker's task runs again this
    long after its last heartbeat (heartbeats every third of it)."""
    store_outage_limit: float = 300.0
    """Seconds a role keeps retrying while the database is unreachable before it exits
    non-zero for its supervisor to restart it (``LANNER_STORE_OUTAGE_LIMIT``)."""
    health_port: int | None = None
    """Where the ``executor``, ``worker`` and ``scheduler`` roles serve ``GET /health``
    (``LANNER_HEALTH_PORT``, ``--health-port``; on ``host``); None: no health port."""
    mcp_enabled: bool = True
    """The built-in MCP server at ``/api/v1[/{tenant}]/mcp`` (``LANNER_MCP_ENABLED=false`` turns it
    off); it answers behind the API's own auth."""
    event_loop: str = "asyncio"
    """The server's event loop: ``asyncio`` (default: measured faster than uvloop for Lanner's
    load on 2026-12-03, see the README), ``uvloop``, or ``auto`` (uvloop where it imports)."""

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
    "LANNER_ENCRYPTION_KEY": "encryption_key",
    "LANNER_LOG_RETENTION": "log_retention",
    "LANNER_UI_TIMEZONE": "ui_timezone",
    "LANNER_EXECUTION_RETENTION": "execution_retention",
    "LANNER_SEARCH_COUNT_BOUND": "search_count_bound",
    "LANNER_EVENT_LOOP": "event_loop",
    "LANNER_WORKER_LEASE": "worker_lease",
    "LANNER_STORE_OUTAGE_LIMIT": "store_outage_limit",
    "LANNER_HEALTH_PORT": "health_port",
    "LANNER_MCP_ENABLED": "mcp_enabled",
    "LANNER_RATE_LIMIT": "rate_limit",
    "LANNER_METRICS": "metrics",
    "LANNER_LOG_FORMAT": "log_format",
    "LANNER_TEMPLATE_TIMEOUT": "template_timeout",
    **{f"LANNER_{name.upper()}": name for name in (
        "yaml_max_aliases", "yaml_max_depth", "yaml_max_nodes", "yaml_max_chars",
        "flow_parse_timeout", "max_flow_body_bytes", "max_json_body_bytes", "max_upload_bytes",
        "max_form_part_bytes", "max_form_fields", "max_header_bytes", "max_executions",
        "max_task_output_bytes", "max_follow_streams", "template_max_output_chars",
        "template_max_loop_iterations",
    )},
}  # fmt: skip
# Limits: positive whole numbers (sizes may say KiB/MiB/GiB); the depth has a ceiling.
_INT_LIMITS = frozenset(
    name for name in ENVIRONMENT.values() if name.startswith(("yaml_", "max_", "template_max_"))
)
_SIZE_UNITS = {
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
}
YAML_DEPTH_CEILING = 200
EVENT_LOOPS = ("auto", "uvloop", "asyncio")

# Settings that only come from their own sources (not a file key, not a flag).
_DERIVED = frozenset({"config_file", "secrets", "kestra_environ"})

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
        elif name in _FIELD_NAMES and name not in _DERIVED:
            values[name] = value
        else:
            raise ConfigError(f"config file {path}: unknown setting {key!r}")
    return values


def _coerce(values: Mapping[str, Any], source: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        if name in ("port", "health_port"):
            key = name.replace("_", "-")
            try:
                port = int(value)
            except (TypeError, ValueError):
                raise ConfigError(f"{source}: {key} must be an integer, got {value!r}") from None
            if not 0 <= port <= 65535:
                raise ConfigError(f"{source}: {key} must be between 0 and 65535, got {port}")
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
        elif name == "encryption_key":
            out[name] = parse_encryption_key(value, source)
        elif name in ("log_retention", "execution_retention"):
            out[name] = parse_retention(value, source, name.replace("_", " "))
        elif name == "search_count_bound":
            out[name] = parse_limit(name, value, source)
        elif name in _INT_LIMITS:
            out[name] = parse_limit(name, value, source)
        elif name == "rate_limit":
            out[name] = parse_rate_limit(value, source)
        elif name in ("metrics", "log_format"):
            allowed = METRICS_MODES if name == "metrics" else LOG_FORMATS
            if isinstance(value, bool):  # YAML reads a bare on/off as a boolean
                value = "on" if value else "off"
            out[name] = str(value).strip().lower()
            if out[name] not in allowed:
                key = name.replace("_", "-")
                raise ConfigError(f"{source}: {key} must be one of {', '.join(allowed)}")
        elif name in ("flow_parse_timeout", "template_timeout"):
            try:
                out[name] = float(value)
            except (TypeError, ValueError):
                out[name] = 0.0
            if not 0 < out[name] < float("inf"):
                what = name.replace("_", " ")
                raise ConfigError(f"{source}: {what} must be positive seconds")
        elif name in ("worker_lease", "store_outage_limit"):
            out[name] = parse_seconds(value, source, name.replace("_", "-"))
        elif name == "ui_timezone":
            out[name] = parse_time_zone(value, source)
        elif name == "event_loop":
            out[name] = str(value).strip().lower()
            if out[name] not in EVENT_LOOPS:
                raise ConfigError(f"{source}: event loop must be one of {', '.join(EVENT_LOOPS)}")
        elif name == "mcp_enabled":
            out[name] = parse_flag(name, value, source)
        elif name == "globals":
            if not isinstance(value, Mapping):
                raise ConfigError(f"{source}: globals must be a mapping")
            out[name] = dict(value)
        else:
            out[name] = str(value)
    return out


def parse_seconds(value: Any, source: str, key: str) -> float:
    """Positive seconds: a number (``10``, ``2.5``) or an ISO-8601 duration (``PT10S``)."""
    text = str(value).strip()
    try:
        seconds = float(text)
    except ValueError:
        duration = parse_duration(text)
        seconds = duration.total_seconds() if duration is not None else float("nan")
    if not 0 < seconds < float("inf"):
        raise ConfigError(f"{source}: {key} must be positive seconds or a duration, got {value!r}")
    return seconds


def parse_flag(name: str, value: Any, source: str) -> bool:
    """``true``/``false`` (also ``1``/``0``, ``yes``/``no``, ``on``/``off``)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ConfigError(f"{source}: {name.replace('_', '-')} must be true or false, got {value!r}")


def parse_rate_limit(value: Any, source: str) -> RateLimits | None:
    """``off`` (None), ``on`` (the defaults), or ``group=N/period`` items separated by commas
    (``writes=100/min,executions=20/m``; groups not named keep their defaults)."""
    text = str(value).strip().lower()
    if text in ("", "off", "false", "no", "0"):
        return None
    rates = dict(DEFAULT_RATES)
    if text in ("on", "true", "yes", "1"):
        return RateLimits(rates)
    for item in text.split(","):
        group, _, spec = item.strip().partition("=")
        count, _, period = spec.strip().partition("/")
        group = group.strip()
        seconds = _RATE_PERIODS.get(period.strip() or "min")
        if group not in RATE_GROUPS or not count.strip().isdigit() or seconds is None:
            raise ConfigError(
                f"{source}: rate-limit must be on, off or items such as "
                f"'writes=100/min' (groups: {', '.join(RATE_GROUPS)}; periods: s, min, h), "
                f"got {item.strip()!r}"
            )
        if int(count) < 1:
            raise ConfigError(f"{source}: rate-limit {group} must allow at least 1 request")
        rates[group] = (int(count), seconds)
    return RateLimits(rates)


def parse_time_zone(value: Any, source: str) -> str:
    """An IANA time zone name (``Europe/Paris``, ``UTC``)."""
    name = str(value).strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{source}: ui-timezone must be a time zone name, got {name!r}") from None
    return name


def parse_limit(name: str, value: Any, source: str) -> int:
    """A positive whole number; sizes may end in KiB, MiB, GiB (or KB, MB, GB)."""
    text = str(value).strip().lower().replace(" ", "").replace("_", "")
    factor = next((f for unit, f in _SIZE_UNITS.items() if text.endswith(unit)), 1)
    digits = text[: -3 if text.endswith("ib") else -2] if factor != 1 else text
    key = name.replace("_", "-")
    if not digits.isdigit() or int(digits) < 1:
        raise ConfigError(f"{source}: {key} must be a positive whole number, got {value!r}")
    number = int(digits) * factor
    if name == "yaml_max_depth" and number > YAML_DEPTH_CEILING:
        raise ConfigError(f"{source}: {key} must be at most {YAML_DEPTH_CEILING}, got {number}")
    return number


def parse_retention(value: Any, source: str, key: str = "log retention") -> timedelta | None:
    """An ISO-8601 duration (``P30D``, ``PT12H``); ``off``/``none``/empty keeps logs forever."""
    text = str(value).strip()
    if text.lower() in ("", "off", "none", "forever"):
        return None
    duration = parse_duration(text)
    if duration is None or duration <= timedelta(0):
        raise ConfigError(
            f"{source}: {key} must be a positive ISO-8601 duration such as P30D, got {text!r}"
        )
    return duration


def parse_encryption_key(value: Any, source: str) -> bytes:
    """An AES key from base64 text (16, 24 or 32 bytes) or from 16/24/32 characters of text."""
    text = str(value).strip()
    try:
        decoded = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) in AES_KEY_BYTES:
        return decoded
    raw = text.encode("utf-8")
    if len(raw) in AES_KEY_BYTES:
        return raw
    raise ConfigError(
        f"{source}: the encryption key must be base64 of 16, 24 or 32 bytes "
        "(e.g. `openssl rand -base64 32`) or 16, 24 or 32 characters"
    )


def read_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    """``SECRET_<KEY>`` variables, base64-decoded, by ``KEY`` (Kestra OSS secrets)."""
    found: dict[str, str] = {}
    for var, value in environ.items():
        if not var.startswith(SECRET_PREFIX) or len(var) == len(SECRET_PREFIX):
            continue
        try:
            decoded = base64.b64decode("".join(value.split()), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise ConfigError(
                f"environment: {var} must hold a base64-encoded value (Kestra secrets are "
                "base64), e.g. `echo -n value | base64`"
            ) from None
        found[var[len(SECRET_PREFIX) :].upper()] = decoded
    return found


def read_kestra_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """``KESTRA_*`` variables for the template's ``envs``, without client credentials."""
    return {
        var: value
        for var, value in environ.items()
        if var.startswith(KESTRA_PREFIX) and var not in CLIENT_CREDENTIALS
    }


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
        _coerce({k: v for k, v in flags.items() if k in _FIELD_NAMES and k not in _DERIVED}, "flag")
    )
    merged["secrets"] = read_secrets(env)
    merged["kestra_environ"] = read_kestra_environ(env)
    settings = replace(Settings(), **merged)
    if bool(settings.basic_auth_username) != bool(settings.basic_auth_password):
        raise ConfigError(
            "basic auth needs both LANNER_BASIC_AUTH_USERNAME and LANNER_BASIC_AUTH_PASSWORD"
        )
    return settings
