"""Kestra's published MCP server, unchanged, drives a real Lanner server over stdio.

``iflow-mcp-mcp-server-python`` (a packaging of kestra-io/mcp-server-python) is what agents
already point at Kestra. It pins its own dependencies (fastmcp, an older ``mcp``, exact httpx
and pydantic), so it runs from a venv of its own under ``<repo>/.cache/kestra-mcp-venv``,
created once and reused while it holds the pinned version. Its console script cannot import
its own modules as packaged (they land in ``site-packages/src``), so the test runs
``site-packages/src/server.py`` directly, as a user of the package has to.

One MCP client session per tenant mode (``KESTRA_TENANT_ID`` unset: ``/api/v1/...``; set to
``main``: ``/api/v1/main/...`` plus the ``X-Kestra-Tenant`` header) calls each of the server's
OSS tools except ``generate_flow`` (it needs an LLM) and checks each effect through Lanner's
REST API. The EE tools are switched off as Kestra's README tells OSS users to
(``KESTRA_MCP_DISABLED_TOOLS=ee``).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.acceptance.conftest import REPO_ROOT, LannerServer, cache_lock

KESTRA_MCP_PACKAGE = "iflow-mcp-mcp-server-python"
KESTRA_MCP_DIST = "iflow-mcp_mcp-server-python"  # the name its metadata carries
KESTRA_MCP_VERSION = "0.1.2"
KESTRA_MCP_VENV = REPO_ROOT / ".cache" / "kestra-mcp-venv"
INSTALL_TIMEOUT_S = 600.0
TOOL_TIMEOUT_S = 60.0
EFFECT_TIMEOUT_S = 30.0

# Every tool the server registers with the EE group disabled; generate_flow is listed but
# not called (it asks Kestra's AI endpoint, which needs an LLM).
OSS_TOOLS = {
    "add_execution_labels",
    "backfill_executions",
    "change_taskrun_state",
    "create_flow_from_yaml",
    "execute_flow",
    "force_run_execution",
    "generate_flow",
    "list_executions",
    "list_flows_in_namespace",
    "list_flows_with_triggers",
    "list_namespace_dependencies",
    "list_namespaces",
    "manage_executions",
    "manage_flow",
    "manage_kv_store",
    "namespace_directory_action",
    "namespace_file_action",
    "replay_execution",
    "restart_execution",
    "resume_execution",
    "search_flows",
}
TERMINAL = {"SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "SKIPPED"}

pytestmark = pytest.mark.parametrize("lanner_server", ["sqlite"], indirect=True)


# --------------------------------------------------------------------------- the venv


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


_PROBE = (
    "import importlib.metadata as m, sysconfig; "
    f"print(m.version({KESTRA_MCP_DIST!r})); print(sysconfig.get_paths()['purelib'])"
)


def _server_script(venv: Path) -> Path | None:
    """``site-packages/src/server.py`` of a venv holding the pinned version, else None."""
    python = _venv_python(venv)
    if not python.exists():
        return None
    probe = subprocess.run(
        [str(python), "-c", _PROBE], capture_output=True, text=True, timeout=120, check=False
    )
    lines = probe.stdout.split()
    if probe.returncode != 0 or len(lines) != 2 or lines[0] != KESTRA_MCP_VERSION:
        return None
    script = Path(lines[1]) / "src" / "server.py"
    return script if script.exists() else None


def _run(step: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        step, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False
    )


def _install(venv: Path) -> None:
    """A fresh venv holding the pinned package. Fast path: a venv without pip of its own,
    filled by this interpreter's pip (``--python``, pip >= 22.3); else the classic way."""
    requirement = f"{KESTRA_MCP_PACKAGE}=={KESTRA_MCP_VERSION}"
    quiet = ["--disable-pip-version-check", "--quiet", "--no-compile"]
    python = str(_venv_python(venv))
    if _run([sys.executable, "-m", "venv", "--without-pip", str(venv)]).returncode == 0:
        pip = [sys.executable, "-m", "pip", "--python", python, "install", *quiet]
        if _run([*pip, requirement]).returncode == 0:
            return
    shutil.rmtree(venv, ignore_errors=True)
    for step in (
        [sys.executable, "-m", "venv", str(venv)],
        [python, "-m", "pip", "install", *quiet, requirement],
    ):
        done = _run(step)
        if done.returncode != 0:
            pytest.fail(
                f"could not install Kestra's MCP server ({requirement}, from PyPI) into "
                f"{venv}: {' '.join(step)}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
            )


@pytest.fixture(scope="session")
def kestra_mcp_command() -> list[str]:
    """The command that starts Kestra's MCP server (stdio) from its own venv."""
    with cache_lock("kestra-mcp-venv"):
        script = _server_script(KESTRA_MCP_VENV)
        if script is None:
            KESTRA_MCP_VENV.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(KESTRA_MCP_VENV, ignore_errors=True)
            _install(KESTRA_MCP_VENV)
            script = _server_script(KESTRA_MCP_VENV)
    if script is None:
        pytest.fail(
            f"{KESTRA_MCP_VENV} has no {KESTRA_MCP_DIST} {KESTRA_MCP_VERSION} after install"
        )
    return [str(_venv_python(KESTRA_MCP_VENV)), str(script)]


# --------------------------------------------------------------------------- the session


class ToolError(AssertionError):
    pass


class KestraMcp:
    """Calls the tools of one MCP client session and decodes what they return."""

    def __init__(self, session: Any, errlog: Path, server: LannerServer) -> None:
        self.session = session
        self.errlog = errlog
        self.server = server
        self.called: set[str] = set()

    def _context(self) -> str:
        try:
            stderr = self.errlog.read_text(errors="replace")[-3000:]
        except OSError:
            stderr = ""
        return f"\nMCP server stderr:\n{stderr}\nLanner log:\n{self.server.log_tail(40)}"

    async def call(self, tool: str, **arguments: Any) -> Any:
        """The tool's result: its structured content, else its text blocks as JSON."""
        return await self._call(tool, arguments, many=False)

    async def call_list(self, tool: str, **arguments: Any) -> list[Any]:
        """The result of a tool annotated with a bare ``list``: without an output schema the
        server sends one text block per item (none for an empty list)."""
        result: list[Any] = await self._call(tool, arguments, many=True)
        return result

    async def _call(self, tool: str, arguments: dict[str, Any], many: bool) -> Any:
        self.called.add(tool)
        result = await asyncio.wait_for(
            self.session.call_tool(tool, arguments), timeout=TOOL_TIMEOUT_S
        )
        # by_alias: the wire names, the same in the SDK's 1.x (camelCase fields) and 2.x lines
        body: dict[str, Any] = result.model_dump(by_alias=True, mode="json")
        texts = [c.get("text", "") for c in body.get("content") or [] if c.get("type") == "text"]
        if body.get("isError"):
            raise ToolError(f"{tool}({arguments}) failed: {' '.join(texts)}{self._context()}")
        structured = body.get("structuredContent")
        if isinstance(structured, dict):
            return structured["result"] if set(structured) == {"result"} else structured
        decoded = [_json_or_text(text) for text in texts]
        if many:
            return decoded
        assert len(decoded) == 1, f"{tool} answered {len(decoded)} blocks: {texts}"
        return decoded[0]


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


@asynccontextmanager
async def kestra_mcp_session(
    command: list[str], server: LannerServer, tenant: str | None, workdir: Path
) -> AsyncIterator[KestraMcp]:
    """One stdio session with Kestra's MCP server (entered and left in the test's own task:
    the SDK's task groups must not cross tasks, as a fixture's setup and teardown do)."""
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    env = {k: v for k, v in os.environ.items() if not k.startswith(("KESTRA_", "PYTHON"))}
    env |= {
        "KESTRA_BASE_URL": f"{server.url}/api/v1",
        "KESTRA_USERNAME": server.username,
        "KESTRA_PASSWORD": server.password,
        "KESTRA_MCP_DISABLED_TOOLS": "ee",
        "KESTRA_MCP_LOG_LEVEL": "ERROR",
    }
    if tenant is not None:
        env["KESTRA_TENANT_ID"] = tenant
    params = StdioServerParameters(command=command[0], args=command[1:], env=env, cwd=str(workdir))
    errlog_path = workdir / "kestra-mcp.stderr"
    with errlog_path.open("w") as errlog:
        try:
            async with (
                stdio_client(params, errlog=errlog) as (read, write),
                ClientSession(read, write) as session,
            ):
                await asyncio.wait_for(session.initialize(), timeout=TOOL_TIMEOUT_S)
                yield KestraMcp(session, errlog_path, server)
        except BaseExceptionGroup as group:
            raise _first_leaf(group) from None


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The SDK's task groups wrap the test's own failure: report that failure itself."""
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


@pytest.fixture
async def rest(lanner_server: LannerServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"{lanner_server.url}/api/v1", auth=lanner_server.auth, timeout=30.0
    ) as client:
        yield client


# --------------------------------------------------------------------------- flows

HELLO = """\
id: hello
namespace: {ns}
inputs:
  - id: who
    type: STRING
    defaults: world
tasks:
  - id: greet
    type: io.kestra.plugin.core.debug.Return
    format: "hello {{{{ inputs.who }}}}"
"""

FAILING = """\
id: failing
namespace: {ns}
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: boom
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: after the failure
"""

WAITING = """\
id: waiting
namespace: {ns}
tasks:
  - id: approve
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOLEAN
        defaults: true
  - id: done
    type: io.kestra.plugin.core.debug.Return
    format: "approved={{{{ outputs.approve.onResume.approved ?? 'unset' }}}}"
"""

SLEEPY = """\
id: sleepy
namespace: {ns}
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT60S
"""

SCHEDULED = """\
id: scheduled
namespace: {ns}
tasks:
  - id: tick
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ trigger.date }}}}"
triggers:
  - id: daily
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 3 * * *"
"""

PARENT = """\
id: parent
namespace: {ns}
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: {ns}
    flowId: hello
    wait: true
"""

SCRATCH = """\
id: scratch
namespace: {ns}
description: "{description}"
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "{description}"
"""


# --------------------------------------------------------------------------- REST checks


async def eventually(
    probe: Callable[[], Awaitable[Any]], what: str, timeout_s: float = EFFECT_TIMEOUT_S
) -> Any:
    """Poll ``probe`` until it returns something truthy, or fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


async def execution(rest: httpx.AsyncClient, execution_id: str) -> dict[str, Any]:
    response = await rest.get(f"/executions/{execution_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def state_of(rest: httpx.AsyncClient, execution_id: str, *states: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        body = await execution(rest, execution_id)
        return body if body["state"]["current"] in states else None

    result: dict[str, Any] = await eventually(probe, f"execution {execution_id} in {states}")
    return result


async def executions_of(rest: httpx.AsyncClient, ns: str, flow_id: str) -> list[dict[str, Any]]:
    response = await rest.get(
        "/executions/search", params={"namespace": ns, "flowId": flow_id, "size": 100}
    )
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def labels_of(body: dict[str, Any]) -> dict[str, str]:
    return {label["key"]: label["value"] for label in body.get("labels") or []}


def histories(body: dict[str, Any]) -> list[str]:
    return [h["state"] for h in body["state"]["histories"]]


# --------------------------------------------------------------------------- the test


@pytest.mark.parametrize("tenant", [None, "main"], ids=["no-tenant", "tenant-main"])
async def test_each_oss_tool_against_lanner(
    tenant: str | None,
    kestra_mcp_command: list[str],
    lanner_server: LannerServer,
    rest: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    ns = f"acceptance.kmcp.{uuid.uuid4().hex[:10]}"
    async with kestra_mcp_session(kestra_mcp_command, lanner_server, tenant, tmp_path) as mcp:
        tools = await mcp.session.list_tools()
        assert {tool.name for tool in tools.tools} == OSS_TOOLS

        await _flows(mcp, rest, ns)
        await _namespaces(mcp, rest, ns)
        await _executions(mcp, rest, ns)
        await _restart_and_task_state(mcp, rest, ns)
        await _pause_resume_force(mcp, rest, ns)
        await _backfill(mcp, rest, ns)
        await _kv(mcp, rest, ns)
        await _files(mcp, rest, ns)
        assert mcp.called == OSS_TOOLS - {"generate_flow"}


async def _flows(mcp: KestraMcp, rest: httpx.AsyncClient, ns: str) -> None:
    for source in (HELLO, FAILING, WAITING, SLEEPY, SCHEDULED, PARENT):
        created = await mcp.call("create_flow_from_yaml", yaml_definition=source.format(ns=ns))
        assert created["namespace"] == ns
        assert (await rest.get(f"/flows/{ns}/{created['id']}")).status_code == 200

    # create, then the same id again: Kestra's server answers 4xx and the tool updates
    first = await mcp.call(
        "create_flow_from_yaml", yaml_definition=SCRATCH.format(ns=ns, description="v1")
    )
    second = await mcp.call(
        "create_flow_from_yaml", yaml_definition=SCRATCH.format(ns=ns, description="v2")
    )
    assert (first["revision"], second["revision"]) == (1, 2)
    stored = (await rest.get(f"/flows/{ns}/scratch", params={"source": "true"})).json()
    assert stored["description"] == "v2"

    source = await mcp.call("manage_flow", action="get_yaml", namespace=ns, flow_id="scratch")
    assert source == stored["source"]
    revisions = await mcp.call_list(
        "manage_flow", action="list_revisions", namespace=ns, flow_id="scratch"
    )
    assert [r["revision"] for r in revisions] == [1, 2]

    await mcp.call("manage_flow", action="disable", namespace=ns, flow_id="scratch")
    assert (await rest.get(f"/flows/{ns}/scratch")).json()["disabled"] is True
    await mcp.call("manage_flow", action="enable", namespace=ns, flow_id="scratch")
    assert (await rest.get(f"/flows/{ns}/scratch")).json()["disabled"] is False

    graph = await mcp.call("manage_flow", action="list_dependencies", namespace=ns, flow_id="hello")
    assert "parent ====▶ hello" in graph, graph

    await mcp.call("manage_flow", action="delete", namespace=ns, flow_id="scratch")
    assert (await rest.get(f"/flows/{ns}/scratch")).status_code == 404

    # the tool sends its text as `query`, which Kestra's /flows/search does not read (its
    # parameter is `q`): it answers the first page of every flow, as Kestra does
    found = await mcp.call("search_flows", query="hello", size=5)
    page = (await rest.get("/flows/search", params={"size": 5})).json()
    assert found["total"] == page["total"] >= 6
    assert [(f["namespace"], f["id"]) for f in found["results"]] == [
        (f["namespace"], f["id"]) for f in page["results"]
    ]

    with_triggers = await mcp.call("list_flows_with_triggers", namespace=ns)
    assert len(with_triggers) == 1
    assert with_triggers[0].startswith(f"Flow `scheduled` in namespace `{ns}` with triggers:")
    assert "`daily` (enabled)" in with_triggers[0]
    assert await mcp.call("list_flows_with_triggers", namespace=ns, disabled_only=True) == []
    everywhere = await mcp.call("list_flows_with_triggers", enabled_only=True)
    assert any(f"namespace `{ns}`" in entry for entry in everywhere)


async def _namespaces(mcp: KestraMcp, rest: httpx.AsyncClient, ns: str) -> None:
    # Kestra OSS marks every namespace disabled, which the tool prints "not created"
    assert await mcp.call_list("list_namespaces", query=ns) == [f"{ns} (not created)"]
    every = await mcp.call_list("list_namespaces", page_size=2)
    parents = ["acceptance (not created)", "acceptance.kmcp (not created)"]
    assert {f"{ns} (not created)", "system (not created)", *parents} <= set(every)
    assert ns in await mcp.call_list("list_namespaces", with_flows_only=True)

    flows = await mcp.call_list("list_flows_in_namespace", namespace=ns)
    assert {f["id"] for f in flows} == {
        "hello",
        "failing",
        "waiting",
        "sleepy",
        "scheduled",
        "parent",
    }

    graph = await mcp.call("list_namespace_dependencies", namespace=ns)
    assert "parent ====▶ hello" in graph, graph
    assert "within this namespace" in graph


async def _executions(mcp: KestraMcp, rest: httpx.AsyncClient, ns: str) -> None:
    ran = await mcp.call(
        "execute_flow",
        namespace=ns,
        flow_id="hello",
        wait=True,
        inputs={"who": "mcp"},
        labels=["team:agents"],
    )
    body = await state_of(rest, ran["id"], "SUCCESS")
    assert body["inputs"] == {"who": "mcp"}
    assert labels_of(body)["team"] == "agents"
    assert body["taskRunList"][0]["outputs"]["value"] == "hello mcp"

    got = await mcp.call("manage_executions", action="get", execution_id=ran["id"])
    assert got["id"] == ran["id"]
    assert got["state"]["current"] == "SUCCESS"

    listed = await mcp.call("list_executions", namespace=ns, flow_id="hello")
    assert ran["id"] in {e["id"] for e in listed}
    latest = await mcp.call("list_executions", namespace=ns, flow_id="hello", count=1, minutes=10)
    assert [e["id"] for e in latest] == [ran["id"]]
    # without flow_id the tool asks GET /executions?namespace=..., which Kestra refuses too
    # (namespace and flowId are required there in every version): a 400, as from Kestra
    with pytest.raises(ToolError, match="400 Bad Request"):
        await mcp.call("list_executions", namespace=ns)

    labelled = await mcp.call(
        "add_execution_labels", execution_id=ran["id"], labels=[{"key": "reviewed", "value": "yes"}]
    )
    assert labels_of(labelled).items() >= {"team": "agents", "reviewed": "yes"}.items()
    stored_labels = labels_of(await execution(rest, ran["id"]))
    assert stored_labels.items() >= {"team": "agents", "reviewed": "yes"}.items()

    changed = await mcp.call(
        "manage_executions", action="change_status", execution_id=ran["id"], status="WARNING"
    )
    assert changed["state"]["current"] == "WARNING"
    assert (await execution(rest, ran["id"]))["state"]["current"] == "WARNING"

    replayed = await mcp.call("replay_execution", ids=[ran["id"]])
    assert replayed["count"] == 1

    def replays_of(original: str) -> Callable[[], Awaitable[list[dict[str, Any]]]]:
        async def probe() -> list[dict[str, Any]]:
            runs = await executions_of(rest, ns, "hello")
            return [e for e in runs if e.get("parentId") == original]

        return probe

    replays = await eventually(replays_of(ran["id"]), f"a replay of {ran['id']}")
    replay = await state_of(rest, replays[0]["id"], "SUCCESS")
    assert labels_of(replay).get("system.replay") == "true"
    assert replay["originalId"] == ran["id"]

    # the flow's latest execution (by state.startDate) is that replay
    summary = await mcp.call(
        "replay_execution", namespace=ns, flow_id="hello", latest_revision=True
    )
    assert summary.startswith(f"Replayed execution {replay['id']} for flow 'hello'"), summary
    again = await eventually(replays_of(replay["id"]), f"a replay of {replay['id']}")
    # Kestra's replay is a child execution: parentId the replayed one, originalId the first
    assert (await state_of(rest, again[0]["id"], "SUCCESS"))["originalId"] == ran["id"]

    pinned = await mcp.call("execute_flow", namespace=ns, flow_id="hello", revision=1, wait=True)
    assert (await state_of(rest, pinned["id"], "SUCCESS"))["flowRevision"] == 1

    # a run in the future stays CREATED until force-run starts it
    later = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    scheduled = await mcp.call("execute_flow", namespace=ns, flow_id="hello", schedule_date=later)
    await state_of(rest, scheduled["id"], "CREATED")
    await mcp.call("force_run_execution", execution_id=scheduled["id"])
    await state_of(rest, scheduled["id"], "SUCCESS")

    # pause a running execution, kill it, delete it
    sleepy = await mcp.call("execute_flow", namespace=ns, flow_id="sleepy")
    await state_of(rest, sleepy["id"], "RUNNING")
    paused = await mcp.call("manage_executions", action="pause", execution_id=sleepy["id"])
    assert paused == {"status": "paused"}
    await state_of(rest, sleepy["id"], "PAUSED")
    killed = await mcp.call("manage_executions", action="kill", execution_id=sleepy["id"])
    assert killed == {"executionId": sleepy["id"], "status": "kill_requested"}
    await state_of(rest, sleepy["id"], "KILLED")
    # Kestra: a finished execution is a 409 only without the cascade (202 with it)
    again = await mcp.call(
        "manage_executions", action="kill", execution_id=sleepy["id"], cascade=False
    )
    assert again == {"executionId": sleepy["id"], "status": "already_finished"}
    assert await mcp.call("manage_executions", action="delete", execution_id=sleepy["id"]) == {}
    assert (await rest.get(f"/executions/{sleepy['id']}")).status_code == 404


async def _restart_and_task_state(mcp: KestraMcp, rest: httpx.AsyncClient, ns: str) -> None:
    first = await mcp.call("execute_flow", namespace=ns, flow_id="failing", wait=True)
    await state_of(rest, first["id"], "FAILED")
    restarted = await mcp.call("restart_execution", namespace=ns, flow_id="failing")
    assert restarted["id"] == first["id"]
    again = await state_of(rest, first["id"], "FAILED")
    assert "RESTARTED" in histories(again)
    assert labels_of(again).get("system.restarted") == "true"

    # by id; then mark the failed task SUCCESS: the run goes on past it
    restarted = await mcp.call(
        "restart_execution", namespace=ns, flow_id="failing", execution_id=first["id"]
    )
    assert restarted["id"] == first["id"]
    await state_of(rest, first["id"], "FAILED")
    fixed = await mcp.call("change_taskrun_state", execution_id=first["id"])
    assert fixed["id"] == first["id"]
    done = await state_of(rest, first["id"], "SUCCESS")
    runs = {run["taskId"]: run["state"]["current"] for run in done["taskRunList"]}
    assert runs == {"boom": "SUCCESS", "after": "SUCCESS"}


async def _pause_resume_force(mcp: KestraMcp, rest: httpx.AsyncClient, ns: str) -> None:
    ids = [
        (await mcp.call("execute_flow", namespace=ns, flow_id="waiting"))["id"] for _ in range(4)
    ]
    for execution_id in ids:
        await state_of(rest, execution_id, "PAUSED")
    by_ids, latest, with_inputs, forced = ids

    bulk = await mcp.call("resume_execution", execution_ids=[by_ids])
    assert bulk["count"] == 1
    body = await state_of(rest, by_ids, "SUCCESS")
    # Kestra's bulk resume passes no onResume inputs (its defaults are not applied there)
    assert body["taskRunList"][-1]["outputs"]["value"] in {"approved=unset", "approved=true"}

    resumed = await mcp.call(
        "resume_execution", execution_ids=[with_inputs], on_resume={"approved": "false"}
    )
    assert set(resumed) == {with_inputs}
    body = await state_of(rest, with_inputs, "SUCCESS")
    assert body["taskRunList"][-1]["outputs"]["value"] == "approved=false"

    await mcp.call("force_run_execution", execution_id=forced)
    await state_of(rest, forced, "SUCCESS")

    # the most recent PAUSED run of the flow, found with sort=state.startDate,desc
    resumed = await mcp.call("resume_execution", namespace=ns, flow_id="waiting")
    assert set(resumed) == {latest}
    body = await state_of(rest, latest, "SUCCESS")
    assert body["taskRunList"][-1]["outputs"]["value"] == "approved=true"


async def _backfill(mcp: KestraMcp, rest: httpx.AsyncClient, ns: str) -> None:
    async def trigger_state() -> list[dict[str, Any]]:
        response = await rest.get("/triggers/search", params={"namespace": ns, "size": 100})
        assert response.status_code == 200, response.text
        results: list[dict[str, Any]] = response.json()["results"]
        return [r for r in results if r["triggerContext"]["flowId"] == "scheduled"]

    # The scheduler makes the trigger's state after the deploy, on its own time (as Kestra's
    # does): a backfill before that is a 404 for Kestra's MCP server too.
    await eventually(trigger_state, "the state of the trigger `daily`")
    answer = await mcp.call(
        "backfill_executions",
        namespace=ns,
        flow_id="scheduled",
        days=2,
        labels=[{"key": "origin", "value": "mcp-backfill"}],
    )
    assert answer["triggerId"] == "daily"
    assert answer["backfill"]["labels"] == [{"key": "origin", "value": "mcp-backfill"}]

    async def backfilled() -> list[dict[str, Any]]:
        runs = await executions_of(rest, ns, "scheduled")
        done = [e for e in runs if e["state"]["current"] in TERMINAL]
        return done if len(done) >= 2 else []

    runs = await eventually(backfilled, "two backfilled executions of the daily schedule")
    for run in runs:
        assert labels_of(run).get("origin") == "mcp-backfill"
        assert run["state"]["current"] == "SUCCESS"


async def _kv(mcp: KestraMcp, rest: httpx.AsyncClient, ns: str) -> None:
    assert await mcp.call(
        "manage_kv_store", namespace=ns, action="set", key="config", value={"retries": 3}
    ) == {"status": "ok"}
    assert await mcp.call(
        "manage_kv_store", namespace=ns, action="set", key="greeting", value="hi there"
    ) == {"status": "ok"}
    assert await mcp.call(
        "manage_kv_store", namespace=ns, action="set", key="day", value="2026-01-02"
    ) == {"status": "ok"}

    async def typed(key: str) -> tuple[str, Any]:
        body = (await rest.get(f"/namespaces/{ns}/kv/{key}")).json()
        return body["type"], body["value"]

    assert await typed("config") == ("JSON", {"retries": 3})
    assert await typed("greeting") == ("STRING", "hi there")
    assert await typed("day") == ("DATE", "2026-01-02")

    got = await mcp.call("manage_kv_store", namespace=ns, action="get", key="config")
    assert (got["type"], got["value"]) == ("JSON", {"retries": 3})
    keys = await mcp.call("manage_kv_store", namespace=ns, action="list")
    assert {entry["key"] for entry in keys} == {"config", "greeting", "day"}

    deleted = await mcp.call("manage_kv_store", namespace=ns, action="delete", key="greeting")
    assert deleted == {"deleted": True}
    assert (await rest.get(f"/namespaces/{ns}/kv/greeting")).status_code == 404
    # Kestra answers 200 false for a key that is not there
    missing = await mcp.call("manage_kv_store", namespace=ns, action="delete", key="greeting")
    assert missing == {"deleted": False}


async def _files(mcp: KestraMcp, rest: httpx.AsyncClient, ns: str) -> None:
    files = f"/namespaces/{ns}/files"

    await mcp.call("namespace_directory_action", namespace=ns, path="/docs", action="create")
    listed = (await rest.get(f"{files}/directory", params={"path": "/"})).json()
    assert {(e["fileName"], e["type"]) for e in listed} >= {("docs", "Directory")}

    await mcp.call(
        "namespace_file_action",
        namespace=ns,
        path="/docs/notes.txt",
        action="create",
        file_content="written by an agent",
    )
    assert (await rest.get(files, params={"path": "/docs/notes.txt"})).text == "written by an agent"

    content = await mcp.call(
        "namespace_file_action", namespace=ns, path="/docs/notes.txt", action="get"
    )
    assert "written by an agent" in str(content)

    entries = await mcp.call(
        "namespace_directory_action", namespace=ns, path="/docs", action="list"
    )
    assert [e["fileName"] for e in entries] == ["notes.txt"]

    await mcp.call(
        "namespace_file_action",
        namespace=ns,
        path="/docs/notes.txt",
        action="move",
        to_path="/docs/README.md",
    )
    assert (await rest.get(files, params={"path": "/docs/notes.txt"})).status_code == 404
    assert (await rest.get(files, params={"path": "/docs/README.md"})).text == "written by an agent"

    found = await mcp.call("namespace_file_action", namespace=ns, action="search", q="README")
    assert found == ["/docs/README.md"] or found == "/docs/README.md", found

    await mcp.call(
        "namespace_directory_action", namespace=ns, path="/docs", action="move", to_path="/manual"
    )
    assert (await rest.get(files, params={"path": "/manual/README.md"})).status_code == 200

    await mcp.call("namespace_file_action", namespace=ns, path="/manual/README.md", action="delete")
    assert (await rest.get(files, params={"path": "/manual/README.md"})).status_code == 404

    await mcp.call("namespace_directory_action", namespace=ns, path="/manual", action="delete")
    listed = (await rest.get(f"{files}/directory", params={"path": "/"})).json()
    assert "manual" not in {e["fileName"] for e in listed}
