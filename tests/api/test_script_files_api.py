"""Script tasks through the API with the real engine: ``outputFiles`` URIs served by
``GET /executions/{id}/file``, metrics at ``GET /metrics/{executionId}`` (and the tenant twin,
names, tasks), a WorkingDirectory flow accepted and run, the kill API leaving no process."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.api.executions_support import create, deploy

from lanner.api.context import Services
from lanner.engine.service import Engine

SCRIPTS = "io.kestra.plugin.scripts"
DEADLINE_S = 30.0


@pytest.fixture
async def engine(services: Services) -> AsyncIterator[Engine]:
    running = Engine(services.store, services.feed, storage=services.storage)
    await running.start()
    try:
        yield running
    finally:
        await running.stop(grace_s=2.0)


async def wait_done(api: httpx.AsyncClient, execution_id: str) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while True:
        body: dict[str, Any] = (await api.get(f"/api/v1/executions/{execution_id}")).json()
        if body["state"]["current"] in ("SUCCESS", "FAILED", "KILLED", "WARNING"):
            return body
        assert loop.time() < deadline, f"execution stuck in {body['state']['current']}"
        await asyncio.sleep(0.05)


def outputs_of(body: dict[str, Any], task_id: str) -> dict[str, Any]:
    run = next(r for r in body["taskRunList"] if r["taskId"] == task_id)
    outputs: dict[str, Any] = run["outputs"]
    return outputs


FILES_FLOW = f"""\
id: files
namespace: {{ns}}
tasks:
  - id: make
    type: {SCRIPTS}.python.Script
    outputFiles: [report.csv]
    script: |
      from kestra import Kestra
      open("report.csv", "w").write("a,b\\n1,2\\n")
      Kestra.counter("rows", 1, {{{{"kind": "csv"}}}})
      Kestra.timer("write", 0.25)
  - id: read
    type: {SCRIPTS}.shell.Commands
    inputFiles:
      in.csv: "{{{{{{{{ outputs.make.outputFiles['report.csv'] }}}}}}}}"
    commands:
      - wc -l < in.csv
"""


@pytest.mark.usefixtures("engine")
async def test_output_files_are_served_by_the_file_endpoint(
    api: httpx.AsyncClient, ns: str
) -> None:
    await deploy(api, FILES_FLOW.format(ns=ns))
    created = await create(api, ns, "files")
    body = await wait_done(api, created["id"])
    assert body["state"]["current"] == "SUCCESS", body
    uri = outputs_of(body, "make")["outputFiles"]["report.csv"]
    assert uri.startswith(f"kestra:///{ns.replace('.', '/')}/files/executions/{created['id']}/")
    served = await api.get(f"/api/v1/executions/{created['id']}/file", params={"path": uri})
    assert served.status_code == 200, served.text
    assert served.content == b"a,b\n1,2\n"
    metas = await api.get(f"/api/v1/executions/{created['id']}/file/metas", params={"path": uri})
    assert metas.json() == {"size": 8}
    logs = (await api.get(f"/api/v1/logs/{created['id']}", params={"taskId": "read"})).json()
    assert "2" in [line["message"].strip() for line in logs]


@pytest.mark.usefixtures("engine")
async def test_metrics_are_served_in_kestras_shape(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, FILES_FLOW.format(ns=ns))
    created = await create(api, ns, "files")
    execution_id = created["id"]
    body = await wait_done(api, execution_id)
    make_run = next(r for r in body["taskRunList"] if r["taskId"] == "make")
    page = (await api.get(f"/api/v1/metrics/{execution_id}", params={"sort": "name:asc"})).json()
    assert page["total"] == 2
    rows = page["results"]
    assert [(m["name"], m["type"], m["value"]) for m in rows] == [
        ("rows", "counter", 1.0),
        ("write", "timer", 250.0),
    ]
    first = rows[0]
    assert first["tags"] == {"kind": "csv"}
    assert first["namespace"] == ns
    assert first["flowId"] == "files"
    assert first["taskId"] == "make"
    assert first["executionId"] == execution_id
    assert first["taskRunId"] == make_run["id"]
    assert first["deleted"] is False
    assert first["timestamp"].endswith("Z")
    tenant = await api.get(f"/api/v1/main/metrics/{execution_id}", params={"size": 1})
    assert tenant.json()["total"] == 2
    assert len(tenant.json()["results"]) == 1
    by_task = await api.get(f"/api/v1/metrics/{execution_id}", params={"taskId": "read"})
    assert by_task.json() == {"results": [], "total": 0}
    names = await api.get(f"/api/v1/metrics/names/{ns}/files")
    assert names.json() == ["rows", "write"]
    assert (await api.get(f"/api/v1/metrics/tasks/{ns}/files")).json() == ["make"]
    assert (await api.get(f"/api/v1/metrics/names/{ns}/files/make")).json() == ["rows", "write"]
    deleted = await api.delete(f"/api/v1/executions/{execution_id}")
    assert deleted.status_code == 204
    gone = await api.get(f"/api/v1/metrics/{execution_id}")
    assert gone.json() == {"results": [], "total": 0}


async def test_bad_metrics_queries_are_4xx(api: httpx.AsyncClient) -> None:
    bad_sort = await api.get("/api/v1/metrics/abc", params={"sort": "nope:asc"})
    assert bad_sort.status_code == 422, bad_sort.text
    assert "sort" in bad_sort.text
    bad_page = await api.get("/api/v1/metrics/abc", params={"page": 0})
    assert 400 <= bad_page.status_code < 500
    assert "page" in bad_page.text
    empty = await api.get("/api/v1/metrics/unknownexecution")
    assert empty.json() == {"results": [], "total": 0}


WD_FLOW = f"""\
id: wd
namespace: {{ns}}
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    outputFiles: [out.txt]
    tasks:
      - id: write
        type: {SCRIPTS}.shell.Commands
        commands: [echo shared > note.txt]
      - id: read
        type: {SCRIPTS}.node.Commands
        commands:
          - node -e "const fs = require('fs'); const t = fs.readFileSync('note.txt', 'utf8').trim(); console.log('read ' + t); fs.writeFileSync('out.txt', t)"
"""


@pytest.mark.usefixtures("engine")
async def test_working_directory_flow_runs_through_the_api(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, WD_FLOW.format(ns=ns))
    created = await create(api, ns, "wd")
    body = await wait_done(api, created["id"])
    assert body["state"]["current"] == "SUCCESS", body
    logs = (await api.get(f"/api/v1/logs/{created['id']}", params={"taskId": "read"})).json()
    assert "read shared" in [line["message"] for line in logs]
    uri = outputs_of(body, "wd")["outputFiles"]["out.txt"]
    served = await api.get(f"/api/v1/executions/{created['id']}/file", params={"path": uri})
    assert served.content == b"shared"


def marked(marker: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


@pytest.mark.usefixtures("engine")
async def test_kill_api_leaves_no_process_behind(api: httpx.AsyncClient, ns: str) -> None:
    marker = f"lanner-killapi-{uuid.uuid4().hex}"
    source = (
        f"id: slow\nnamespace: {ns}\ntasks:\n  - id: slow\n    type: {SCRIPTS}.shell.Commands\n"
        f"    commands:\n      - python3 -c 'import time; time.sleep(60)' {marker} &\n"
        f"      - python3 -c 'import time; time.sleep(60)' {marker}\n"
    )
    await deploy(api, source)
    created = await create(api, ns, "slow")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while len(marked(marker)) < 2:
        assert loop.time() < deadline, "the script never started"
        await asyncio.sleep(0.05)
    killed = await api.delete(f"/api/v1/executions/{created['id']}/kill")
    assert killed.status_code in (200, 202, 204), killed.text
    body = await wait_done(api, created["id"])
    assert body["state"]["current"] == "KILLED"
    assert outputs_of_state(body, "slow") == "KILLED"
    deadline = loop.time() + 10
    while marked(marker):
        assert loop.time() < deadline, f"processes left behind: {marked(marker)}"
        await asyncio.sleep(0.05)


def outputs_of_state(body: dict[str, Any], task_id: str) -> str:
    run = next(r for r in body["taskRunList"] if r["taskId"] == task_id)
    state: str = run["state"]["current"]
    return state
