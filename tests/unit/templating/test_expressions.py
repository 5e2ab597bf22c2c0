"""Table-driven test of Pebble expressions as Kestra renders them (``expressions.yaml``)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

import lanner.templating as templating
from lanner.templating import RuntimeScope, TemplateEngine, TemplateLimits

TABLE = yaml.safe_load((Path(__file__).parent / "expressions.yaml").read_text(encoding="utf-8"))
CONTEXTS: dict[str, dict[str, Any]] = TABLE["contexts"]
CASES: list[dict[str, Any]] = TABLE["cases"]
SOURCE_PREFIXES = ("KT:", "KS:", "PS:", "PD:", "KD:", "JDK:")
NOW = dt.datetime(2026, 11, 28, 10, 15, 30, 500000, tzinfo=dt.UTC)


class FakeRuntime:
    """In-memory runtime functions."""

    def __init__(self) -> None:
        self.secrets = {"GITHUB_TOKEN": "ghp-secret"}
        self.kv_store = {
            ("company.team", "my_key"): "my value",
            ("other.ns", "my_key"): "other value",
            ("company.team", "json_key"): {"a": 1},
        }
        self.files = {
            "kestra:///company/team/hello/exec1/out.txt": "file content",
            "scripts/run.sh": "echo hi",
            "empty.txt": "",
        }

    def secret(self, scope: RuntimeScope, key: str) -> str:
        return self.secrets[key]

    def kv(self, scope: RuntimeScope, namespace: str, key: str) -> Any:
        return self.kv_store[(namespace, key)]

    def read(self, scope: RuntimeScope, path: str) -> str:
        return self.files[path]

    def file_size(self, scope: RuntimeScope, path: str) -> int:
        return len(self.files[path].encode())

    def file_exists(self, scope: RuntimeScope, path: str) -> bool:
        return path in self.files

    def error_logs(self, scope: RuntimeScope) -> Sequence[Mapping[str, Any]]:
        assert scope.execution_id == "exec1"
        return [{"level": "ERROR", "message": "boom", "taskId": "t1"}]


@pytest.fixture(scope="module")
def engine() -> TemplateEngine:
    limits = TemplateLimits(max_output_chars=100_000, max_loop_iterations=100_000)
    return TemplateEngine(FakeRuntime(), limits=limits, clock=lambda: NOW)


def _case_id(case: dict[str, Any]) -> str:
    return str(case["t"])[:60]


def test_table_is_large_and_cited() -> None:
    assert len(CASES) >= 300
    for case in CASES:
        assert str(case.get("src", "")).startswith(SOURCE_PREFIXES), case
        assert sum(key in case for key in ("out", "err", "typed", "typed_err")) == 1, case


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_expression(engine: TemplateEngine, case: dict[str, Any]) -> None:
    random.seed(7)
    context = CONTEXTS[case.get("ctx", "base")]
    template = case["t"]
    if "out" in case:
        assert engine.render(template, context) == case["out"]
    elif "typed" in case:
        assert engine.render_typed(template, context) == case["typed"]
    else:
        error_class = getattr(templating, case.get("err") or case["typed_err"])
        render = engine.render if "err" in case else engine.render_typed
        with pytest.raises(error_class) as caught:
            render(template, context)
        assert caught.value.expression == template
        if "msg" in case:
            assert case["msg"] in str(caught.value)
