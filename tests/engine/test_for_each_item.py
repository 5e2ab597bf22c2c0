"""flow.ForEachItem end to end on the embedded server (both backends): batches of an uploaded
file into subflow executions, ``iterations``, merged outputs, ``{{ taskrun.items }}``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from lanner.conformance.runner import Corpus

pytestmark = pytest.mark.asyncio
YAML = {"Content-Type": "application/x-yaml"}
NS = "io.lanner.fei"

CHILD = f"""\
id: child
namespace: {NS}
inputs:
  - id: items
    type: STRING
  - id: n
    type: INT
tasks:
  - id: read
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ read(inputs.items) | trim }}}}"
outputs:
  - id: lines
    type: STRING
    value: "{{{{ outputs.read.value }}}}#{{{{ inputs.n }}}}"
"""

FAILING_CHILD = f"""\
id: failing-child
namespace: {NS}
inputs:
  - id: items
    type: STRING
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
"""


def parent(flow_id: str, subflow: str, extra: str = "", batch: str = "rows: 2") -> str:
    return f"""\
id: {flow_id}
namespace: {NS}
inputs:
  - id: file
    type: FILE
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    items: "{{{{ inputs.file }}}}"
    batch:
      {batch}
    namespace: {NS}
    flowId: {subflow}
    labels:
      - key: batch
        value: "{{{{ taskrun.iteration }}}}"
    inputs:
      items: "{{{{ taskrun.items }}}}"
      n: "{{{{ taskrun.iteration }}}}"
{extra}  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ outputs.each_items.numberOfBatches }}}}|{{{{ read(outputs.each_merge.subflowOutputs) }}}}"
"""


@pytest.fixture
async def corpus(tmp_path: Path, database_url: str) -> AsyncIterator[Corpus]:
    async with Corpus(tmp_path, tmp_path / "data", database_url) as running:
        for source in (CHILD, FAILING_CHILD):
            response = await running.http.post("/api/v1/flows", content=source, headers=YAML)
            assert response.status_code == 200, response.text
        yield running


async def run(corpus: Corpus, source: str, content: bytes = b"1\n2\n3\n4\n5\n") -> dict[str, Any]:
    response = await corpus.http.post("/api/v1/flows", content=source, headers=YAML)
    assert response.status_code == 200, response.text
    flow_id = response.json()["id"]
    started = await corpus.http.post(
        f"/api/v1/executions/{NS}/{flow_id}", files={"file": ("f.txt", content)}
    )
    assert started.status_code == 200, started.text
    return await corpus.wait(started.json()["id"], None, 20.0)


async def children(corpus: Corpus, parent_id: str) -> list[dict[str, Any]]:
    response = await corpus.http.get(
        "/api/v1/executions/search", params={"namespace": NS, "flowId": "child", "size": 50}
    )
    results = response.json()["results"]
    found = [e for e in results if e["trigger"]["variables"]["executionId"] == parent_id]
    return sorted(found, key=lambda e: int(e["inputs"]["n"]))


async def test_batches_become_subflow_executions_with_merged_outputs(corpus: Corpus) -> None:
    body = await run(corpus, parent("batches", "child"))
    assert body["state"]["current"] == "SUCCESS"
    runs = {r["taskId"]: r for r in body["taskRunList"]}
    assert list(runs) == ["each", "each_split", "each_items", "each_merge", "after"]
    assert runs["each_items"]["outputs"]["numberOfBatches"] == 3
    assert runs["each_items"]["outputs"]["iterations"] == {"CREATED": 0, "RUNNING": 0, "SUCCESS": 3}
    kids = await children(corpus, body["id"])
    assert [k["state"]["current"] for k in kids] == ["SUCCESS"] * 3
    assert all("/tasks/each_split/" in k["inputs"]["items"] for k in kids)
    batches = [{lb["key"]: lb["value"] for lb in k["labels"]}.get("batch") for k in kids]
    assert batches == ["1", "2", "3"]  # labels as Kestra's list, rendered per batch
    merged = runs["after"]["outputs"]["value"]
    assert merged == '3|{"lines":"1\\n2#1"}\n{"lines":"3\\n4#2"}\n{"lines":"5#3"}\n'


async def test_a_failed_subflow_fails_the_task_unless_not_transmitted(corpus: Corpus) -> None:
    body = await run(corpus, parent("fails", "failing-child"))
    assert body["state"]["current"] == "FAILED"
    runs = {r["taskId"]: r for r in body["taskRunList"]}
    assert list(runs) == ["each", "each_split", "each_items"]
    assert runs["each_items"]["outputs"]["iterations"]["FAILED"] == 3
    quiet = parent("quiet", "failing-child").replace(
        "    inputs:\n      items", "    transmitFailed: false\n    inputs:\n      items"
    )
    quiet = quiet.replace('      n: "{{ taskrun.iteration }}"\n', "")
    body = await run(corpus, quiet.replace("|{{ read(outputs.each_merge.subflowOutputs) }}", ""))
    assert body["state"]["current"] == "SUCCESS"


async def test_empty_file_and_bad_batch_properties(corpus: Corpus) -> None:
    """An empty file starts no subflow; an unknown batch property is refused at save; a zero
    row count fails the split with the reason in its logs."""
    source = parent("empty", "child").replace("|{{ read(outputs.each_merge.subflowOutputs) }}", "")
    source = source.replace("{{ outputs.each_items.numberOfBatches }}", "done")
    body = await run(corpus, source, content=b"")
    assert body["state"]["current"] == "SUCCESS"
    runs = {r["taskId"]: r for r in body["taskRunList"]}
    assert runs["each_items"].get("outputs") in (None, {})
    assert await children(corpus, body["id"]) == []
    bad = parent("bad", "child", batch="lines: 3")
    response = await corpus.http.post("/api/v1/flows", content=bad, headers=YAML)
    assert response.status_code == 422
    assert "tasks[0].batch.lines" in response.text
    body = await run(corpus, parent("zero", "child", batch="rows: 0"))
    assert body["state"]["current"] == "FAILED"
    error = await corpus.first_error(body["id"])
    assert "batch.rows: must be greater than 0" in error
