"""Kestra's flow corpus on a real in-process server (SQLite), against the expectation table.

Every row of ``src/lanner/conformance/expectations.tsv`` that states an expectation must match,
except rows marked ``pending: <what is missing>``; the ratio of matching runnable flows is
printed (``-s``) and kept in the JSON report next to the test's tmp files.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
from pathlib import Path

import pytest

from lanner.conformance import Report, load_expectations, run_corpus
from lanner.conformance.expectations import Expectation
from lanner.conformance.runner import compare, corpus_files

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(
    os.environ.get("LANNER_CONFORMANCE_DIR", ROOT.parent / "shared/conformance/kestra-flows")
)
VALID = CORPUS / "valid"

needs_corpus = pytest.mark.skipif(not VALID.is_dir(), reason=f"no Kestra corpus at {VALID}")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    result = asyncio.run(run_corpus(VALID, concurrency=8, timeout_s=20.0))
    out = tmp_path_factory.mktemp("conformance")
    (out / "report.json").write_text(result.to_json(), encoding="utf-8")
    (out / "report.md").write_text(result.to_markdown(), encoding="utf-8")
    return result


def test_the_table_loads_and_states_its_statuses() -> None:
    rows = load_expectations()
    assert rows, "empty table"
    for row in rows.values():
        assert row.kestra_test, row.file
        assert row.status in ("run", "pending", "triggered", "skip")
        if row.status == "skip":
            assert row.reason, row.file
        else:
            assert row.state, row.file


def test_a_bad_row_is_refused(tmp_path: Path) -> None:
    table = tmp_path / "t.tsv"
    header = "file\tkestra_test\tstatus\tstate\ttask_runs\ttask_states\tinputs\treason\n"
    table.write_text(header + "a.yaml\tT#t\tmaybe\tSUCCESS\t\t\t\t\n", encoding="utf-8")
    with pytest.raises(ValueError, match="status must be one of"):
        load_expectations(table)
    table.write_text(header + "a.yaml\tT#t\tpending\tSUCCESS\t\t\t\t\n", encoding="utf-8")
    with pytest.raises(ValueError, match="pending: <what is missing>"):
        load_expectations(table)


def test_compare_checks_state_count_and_task_states() -> None:
    row = Expectation(
        "f.yaml", "T#t", "run", state="FAILED", task_runs=2, task_states={"b": "FAILED"}
    )
    body = {
        "state": {"current": "FAILED"},
        "taskRunList": [
            {"taskId": "a", "state": {"current": "SUCCESS"}},
            {"taskId": "b", "state": {"current": "FAILED"}},
        ],
    }
    assert compare(row, body) == (True, "FAILED, 2 task runs, b=FAILED")
    body["taskRunList"][1]["state"]["current"] = "SUCCESS"
    assert compare(row, body)[0] is False


@needs_corpus
def test_the_table_has_one_row_per_corpus_file() -> None:
    assert sorted(load_expectations()) == corpus_files(VALID)
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8", newline="") as handle:
        manifest = [
            r["file"] for r in csv.DictReader(handle, delimiter="\t") if r["set"] == "valid"
        ]
    assert sorted(manifest) == corpus_files(VALID)


@needs_corpus
def test_every_row_with_an_expectation_matches(report: Report) -> None:
    runnable = report.runnable
    matching = sum(o.match for o in runnable)
    print(f"\nconformance: {matching}/{len(runnable)} runnable flows match ({report.ratio:.1%})")
    unexpected = [f"{o.file}: expected {o.expected}, got {o.got}" for o in report.unexpected()]
    assert unexpected == []
    assert len(report.outcomes) == len(corpus_files(VALID))


@needs_corpus
def test_the_command_writes_its_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m lanner.conformance DIR --only F --json J --markdown M``."""
    from lanner.conformance.__main__ import main

    out_json, out_md = tmp_path / "r.json", tmp_path / "r.md"
    argv = [
        str(VALID),
        "--only",
        "minimal.yaml",
        "--json",
        str(out_json),
        "--markdown",
        str(out_md),
    ]
    assert main(argv) == 0
    body = json.loads(out_json.read_text(encoding="utf-8"))
    assert body["runnable"] == 1
    assert body["matching"] == 1
    assert body["outcomes"][0]["got"] == "SUCCESS, 1 task runs"
    assert "1/1 runnable flows match (100.0%)" in out_md.read_text(encoding="utf-8")
    assert "| minimal.yaml |" in capsys.readouterr().out
