"""The opt-in JSON log format (``LANNER_LOG_FORMAT=json``) and its setting."""

from __future__ import annotations

import io
import json
import logging

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
