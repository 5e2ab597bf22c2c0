"""The opt-in JSON log format (``LANNER_LOG_FORMAT=json``) and the hardening settings."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from lanner.config import load_settings
from lanner.errors import ConfigError
from lanner.logformat import JsonFormatter, configure_logging


def test_records_become_one_json_object_a_line() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("lanner.test.json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("hello %s", "world", extra={"executionId": "e1"})
        try:
            raise ValueError("bad")
        except ValueError:
            logger.exception("it broke")
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "hello world"
    assert first["level"] == "WARNING"
    assert first["logger"] == "lanner.test.json"
    assert first["executionId"] == "e1"
    assert first["time"].endswith("+00:00")
    assert "exception" not in first
    assert second["level"] == "ERROR"
    assert "ValueError: bad" in second["exception"]


def test_configure_logging_installs_the_format_once() -> None:
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    for handler in saved:
        root.removeHandler(handler)
    stream = io.StringIO()
    try:
        installed = configure_logging("json", stream)
        assert installed is not None
        assert isinstance(installed.formatter, JsonFormatter)
        assert configure_logging("text", io.StringIO()) is None  # handlers exist: unchanged
        logging.getLogger("lanner.test.configured").info("ready")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved:
            root.addHandler(handler)
        root.setLevel(level)
    assert json.loads(stream.getvalue())["message"] == "ready"


def test_the_setting() -> None:
    assert load_settings(environ={}).log_format == "text"
    assert load_settings(environ={"LANNER_LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(ConfigError, match="log-format must be one of text, json"):
        load_settings(environ={"LANNER_LOG_FORMAT": "xml"})
    assert load_settings(environ={"LANNER_METRICS": "open"}).metrics == "open"
    with pytest.raises(ConfigError, match="metrics must be one of"):
        load_settings(environ={"LANNER_METRICS": "public"})


def test_the_config_file_takes_the_new_settings(tmp_path: Path) -> None:
    config = tmp_path / "lanner.yaml"
    config.write_text(
        "metrics: off\nrate-limit: on\nlog-format: json\nmax-task-output-bytes: 2MiB\n"
        "max-follow-streams: 5\ntemplate-timeout: 2.5\ntemplate-max-output-chars: 1000\n",
        encoding="utf-8",
    )
    settings = load_settings(environ={"LANNER_CONFIG": str(config)})
    assert settings.metrics == "off"
    assert settings.rate_limit is not None
    assert settings.rate_limit.rates["writes"] == (300, 60.0)
    assert settings.log_format == "json"
    assert settings.max_task_output_bytes == 2 * 1024 * 1024
    assert settings.max_follow_streams == 5
    assert settings.template_timeout == 2.5
    assert settings.template_max_output_chars == 1000
    overridden = load_settings(
        environ={"LANNER_CONFIG": str(config), "LANNER_RATE_LIMIT": "off", "LANNER_METRICS": "open"}
    )
    assert overridden.rate_limit is None
    assert overridden.metrics == "open"
