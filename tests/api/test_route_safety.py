"""Kestra's fixed paths are matched before templated ones: none of Kestra's fixed POST/PUT/DELETE
paths under ``/executions/`` and ``/flows/`` (read from ``reference/kestra-api.md``) creates an
execution or changes a flow, even when flows exist that a templated route would read them as
(``POST /executions/replay/by-ids`` is not "run the flow ``by-ids`` of namespace ``replay``")."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from tests.api.executions_support import deploy

pytestmark = pytest.mark.asyncio

REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "kestra-api.md"
EXECUTION_ID = "5dqkd0qw4ihqlhradzxbdq"  # no such execution; a valid namespace name too
_METHOD_PATH = re.compile(r"`((?:POST|PUT|DELETE)(?:\|(?:POST|PUT|DELETE))*) (/[^`\s]*)")
_BULK = re.compile(r"`(/[a-z-]+/by-(?:ids|query)(?:\|by-query)?)`")
_ACTION = re.compile(r"`/(?:\{id\}/)?([a-z-]+(?:/validate)?)`")  # `/replay-with-inputs`


def _expand(path: str) -> list[str]:
    """``/a/by-query|by-ids`` → both; ``/a/…`` → ``by-ids`` and ``by-query``."""
    if path.endswith("/…"):
        return [path[:-1] + "by-ids", path[:-1] + "by-query"]
    head, _, last = path.rpartition("/")
    return [f"{head}/{alt}" for alt in last.split("|")]


def kestra_fixed_paths() -> list[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for line in REFERENCE.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            continue
        row_method = None
        for match in _METHOD_PATH.finditer(line):
            methods, path = match.groups()
            row_method = row_method or methods.split("|")[0]
            if path.startswith(("/kill/", "/{id}/")):  # shorthands in the executions table
                path = "/executions" + path
            if not path.startswith(("/executions/", "/flows/")):
                continue
            for method in methods.split("|"):
                for one in _expand(path):
                    found.add((method, one))
        first = line.split("|")[1]
        if row_method and "/executions/{id}/" in first:
            verb = first.split("/executions/{id}/")[1].split("`")[0]
            bulk = [m.group(1) for m in _BULK.finditer(line)]
            if "bulk variants" in line:
                bulk.append(f"/{verb}/by-ids|by-query")
            for fragment in bulk:
                for one in _expand("/executions" + fragment):
                    found.add((row_method, one))
            for action in _ACTION.finditer(line):
                found.add((row_method, "/executions/{id}/" + action.group(1)))
        if "`DELETE /executions/by-ids`" in line and "`by-query`" in line:
            found.add(("DELETE", "/executions/by-query"))
    paths = {
        (m, p.replace("{id}", EXECUTION_ID).replace("{executionId}", EXECUTION_ID))
        for m, p in found
    }
    # Fixed: no placeholder left (those with one are templated routes of their own).
    return sorted((m, p) for m, p in paths if "{" not in p)


FIXED = kestra_fixed_paths()


async def test_the_reference_lists_the_paths_of_the_issue() -> None:
    assert ("POST", "/executions/replay/by-ids") in FIXED
    assert ("POST", "/executions/resume/by-ids") in FIXED
    assert ("POST", f"/executions/{EXECUTION_ID}/force-run") in FIXED
    assert ("DELETE", "/flows/delete/by-ids") in FIXED
    assert ("POST", "/flows/validate") in FIXED
    assert len(FIXED) > 30


def _decoys(fixed: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """(namespace, flow id) pairs a templated route could read a fixed path as."""
    pairs: set[tuple[str, str]] = set()
    for _, path in fixed:
        parts = path.strip("/").split("/")[1:]
        if len(parts) >= 2:
            pairs.add((parts[0], parts[1]))
        if len(parts) >= 3:
            pairs.add((parts[1], parts[2]))
        if parts:
            pairs.add((parts[0], "decoy"))
    return pairs


def _params(path: str) -> dict[str, str]:
    """Kestra's own bulk routes act on every flow without a filter: keep them from it."""
    if path.endswith("/by-query"):
        return {"namespace": "io.lanner.nothing", "q": "nothing-matches-this"}
    if path == "/flows/bulk":
        return {"delete": "false"}
    return {}


async def test_no_fixed_path_runs_a_flow_or_changes_one(api: httpx.AsyncClient) -> None:
    decoys = _decoys(FIXED)
    revisions = {}
    for namespace, flow_id in sorted(decoys):
        body = await deploy(
            api,
            f"id: {flow_id}\nnamespace: {namespace}\ntasks:\n"
            "  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: decoy\n",
        )
        revisions[(namespace, flow_id)] = body["revision"]
    statuses = {}
    for method, path in FIXED:
        for headers, content in (
            ({"Content-Type": "application/x-yaml"}, b""),
            ({"Content-Type": "application/json"}, b"[]"),
        ):
            response = await api.request(
                method, "/api/v1" + path, headers=headers, content=content, params=_params(path)
            )
            statuses[(method, path)] = response.status_code
            assert response.status_code < 500, (method, path, response.text)
    for namespace, flow_id in sorted(decoys):
        search = await api.get("/api/v1/executions/search", params={"namespace": namespace})
        assert search.json()["total"] == 0, f"{namespace}.{flow_id} was run: {statuses}"
        flow = await api.get(f"/api/v1/flows/{namespace}/{flow_id}")
        assert flow.status_code == 200, f"{namespace}.{flow_id} was deleted: {statuses}"
        assert flow.json()["revision"] == revisions[(namespace, flow_id)]
        assert flow.json().get("disabled", False) is False, f"{namespace}.{flow_id} disabled"
