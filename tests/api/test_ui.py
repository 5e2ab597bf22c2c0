"""The web UI's pages, in process over the real engine: the ``url`` an execution answers opens a
page with its state, task runs, logs and outputs; lists keep their filters in the URL; the flow
page's execute form comes from the flow's inputs; same auth as the API."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from tests.api.conftest import PASSWORD, USER, client_of
from tests.api.executions_support import create, deploy
from tests.api.helpers import YAML

from lanner.api.context import Services
from lanner.config import Settings
from lanner.domain.executions import Execution, State, TaskRun, new_id
from lanner.domain.metrics import MetricEntry
from lanner.domain.states import StateType
from lanner.engine import Engine
from lanner.store import ExecutionStep, Store

pytestmark = pytest.mark.asyncio

DEADLINE_S = 20.0

FLOW = """\
id: greet
namespace: {ns}
description: Says hello
inputs:
  - id: who
    type: STRING
    defaults: world
    description: whom to greet
  - id: times
    type: INT
    required: true
  - id: upload
    type: FILE
    required: false
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "hello {{{{ inputs.who }}}} <script>alert(1)</script>"
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: [a, b]
    tasks:
      - id: inner
        type: io.kestra.plugin.core.debug.Return
        format: "{{{{ taskrun.value }}}}"
"""

FAILING = """\
id: failing
namespace: {ns}
tasks:
  - id: ok
    type: io.kestra.plugin.core.debug.Return
    format: fine
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: the contract check broke
"""


@pytest.fixture
async def engine(services: Services) -> AsyncIterator[Engine]:
    running = Engine(services.store, services.feed)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def finished(api: httpx.AsyncClient, ns: str, flow: str, **kwargs: Any) -> dict[str, Any]:
    return await asyncio.wait_for(
        create(api, ns, flow, params={"wait": "true"}, **kwargs), DEADLINE_S
    )


def page_path(body: dict[str, Any]) -> str:
    return urlsplit(body["url"]).path


@pytest.mark.usefixtures("engine")
async def test_the_execution_url_opens_its_page(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, FLOW.format(ns=ns))
    body = await finished(api, ns, "greet", data={"who": "ada", "times": "2"})
    assert body["state"]["current"] == "SUCCESS"
    response = await api.get(page_path(body))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert body["id"] in html
    assert 'class="state state-success"' in html
    for task in ("say", "each", "inner"):
        assert f"<code>{task}</code>" in html
    assert "<small>[a]</small>" in html
    assert "<small>[b]</small>" in html
    # the log line, escaped: a flow's text never becomes markup
    assert "hello ada &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" not in html
    assert "&#34;who&#34;: &#34;ada&#34;" in html  # inputs as JSON
    assert 'data-live="false"' in html
    # first paint waits on no script: ui.js deferred, the editor's bundle not loaded here
    assert '<script src="/ui/static/ui.js" defer></script>' in html
    assert "editor.js" not in html


async def test_a_large_execution_draws_the_first_runs_and_counts_the_rest(
    api: httpx.AsyncClient, services: Services, ns: str
) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = start + timedelta(minutes=5)
    execution = Execution(
        id=new_id(), tenant_id="main", namespace=ns, flow_id="big", flow_revision=1,
        state=State.of(StateType.RUNNING, start).to(StateType.FAILED, end),
    )  # fmt: skip

    def task_run(task_id: str, state: StateType, **fields: Any) -> TaskRun:
        return TaskRun(
            id=new_id(), tenant_id="main", execution_id=execution.id, namespace=ns,
            flow_id="big", task_id=task_id, state=State.of(StateType.RUNNING, start).to(state, end),
            **fields,
        )  # fmt: skip

    parent = task_run("each", StateType.FAILED)
    children = [
        task_run("work", StateType.FAILED if i in (320, 340) else StateType.SUCCESS,
                 parent_task_run_id=parent.id, value=str(i))
        for i in range(350)
    ]  # fmt: skip
    stale = task_run("superseded", StateType.FAILED, internal={"stale": True})
    await services.store.create_execution(execution)
    await services.store.apply_steps(
        [ExecutionStep(execution.id, task_runs=(parent, stale, *children))]
    )
    html = (await api.get(f"/ui/main/executions/{ns}/big/{execution.id}")).text
    failure = html[html.index("What failed") : html.index("Task runs")]
    assert failure.count("<code>work</code>") == 2
    assert failure.count("<code>each</code>") == 1
    assert "superseded" not in html
    assert "Task runs <small>351</small>" in html
    assert html.count('class="bar state-') == 300
    assert "<small>[298]</small>" in html
    assert "<small>[299]</small>" not in html
    assert (
        "and 51 more runs of <code>work</code>: "
        '<span class="state state-failed">FAILED</span> 2 '
        '<span class="state state-success">SUCCESS</span> 49'
    ) in html


@pytest.mark.usefixtures("engine")
async def test_a_failed_execution_shows_what_failed_first(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, FAILING.format(ns=ns))
    body = await finished(api, ns, "failing")
    assert body["state"]["current"] == "FAILED"
    html = (await api.get(page_path(body))).text
    failure = html.index("What failed")
    assert failure < html.index("Task runs")
    assert "the contract check broke" in html[failure : html.index("Task runs")]
    assert "<code>boom</code>" in html[failure:]


@pytest.mark.usefixtures("engine")
async def test_task_runs_fragment_renders_the_gantt(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, FAILING.format(ns=ns))
    body = await finished(api, ns, "failing")
    fragment = await api.get(page_path(body) + "/taskruns")
    assert fragment.status_code == 200
    assert fragment.text.count('class="bar state-') == 2
    assert "<html" not in fragment.text
    assert 'class="bar state-failed"' in fragment.text


async def test_unknown_or_mismatched_execution_is_404(api: httpx.AsyncClient, ns: str) -> None:
    missing = await api.get(f"/ui/main/executions/{ns}/greet/4Xz0000000000000000000")
    assert missing.status_code == 404
    assert "not found" in missing.json()["message"]
    await deploy(api, FAILING.format(ns=ns))
    body = await create(api, ns, "failing")
    wrong_flow = await api.get(f"/ui/main/executions/{ns}/other/{body['id']}")
    assert wrong_flow.status_code == 404
    bad_tenant = await api.get(f"/ui/flows/executions/{ns}/failing/{body['id']}")
    assert bad_tenant.status_code == 404


async def test_executions_list_keeps_filters_in_the_url(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, FAILING.format(ns=ns))
    other = ns + "x"
    await deploy(api, FAILING.format(ns=other))
    ids = [(await create(api, ns, "failing"))["id"] for _ in range(27)]
    elsewhere = (await create(api, other, "failing"))["id"]
    first = await api.get("/ui/main/executions", params={"namespace": ns, "flowId": "failing"})
    assert first.status_code == 200
    html = first.text
    assert "<small>27</small>" in html
    assert elsewhere not in html
    assert sum(execution_id in html for execution_id in ids) == 25
    assert "page 1 of 2" in html
    assert f"?namespace={ns}&amp;flowId=failing&amp;page=2" in html
    second = await api.get(
        "/ui/main/executions", params={"namespace": ns, "flowId": "failing", "page": "2"}
    )
    assert sum(execution_id in second.text for execution_id in ids) == 2
    assert f'value="{ns}"' in second.text  # the filter form shows the filter in use
    by_state = await api.get("/ui/main/executions", params={"namespace": ns, "state": "SUCCESS"})
    assert "No execution matches." in by_state.text


async def test_flows_list_and_flow_page(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, FLOW.format(ns=ns))
    listing = await api.get("/ui/main/flows", params={"namespace": ns})
    assert listing.status_code == 200
    assert f'href="/ui/main/flows/{ns}/greet"' in listing.text
    page = await api.get(f"/ui/main/flows/{ns}/greet")
    assert page.status_code == 200
    html = page.text
    assert "Says hello" in html
    assert f'data-path="/executions/{ns}/greet"' in html
    assert '<input type="text" name="who" value="world">' in html
    assert '<input type="number" name="times" value="" required>' in html
    assert '<input type="file" name="upload" value="">' in html
    assert "whom to greet" in html
    assert "io.kestra.plugin.core.flow.ForEach" in html
    assert "id: greet" in html  # the source as written
    missing = await api.get(f"/ui/main/flows/{ns}/nope")
    assert missing.status_code == 404


async def test_entry_points_and_static_files(api: httpx.AsyncClient) -> None:
    root = await api.get("/ui", follow_redirects=False)
    assert root.status_code == 302
    assert root.headers["location"] == "/ui/main/dashboard"
    tenant = await api.get("/ui/acme/", follow_redirects=False)
    assert tenant.headers["location"] == "/ui/acme/dashboard"
    script = await api.get("/ui/static/ui.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "EventSource" in script.text
    assert (await api.get("/ui/static/ui.css")).headers["content-type"].startswith("text/css")
    assert (await api.get("/ui/static/../pages.py")).status_code == 404
    assert (await api.get("/ui/static/secret.txt")).status_code == 404


async def test_pages_need_the_same_credentials_as_the_api(
    anonymous_api: httpx.AsyncClient,
) -> None:
    response = await anonymous_api.get("/ui/main/executions")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic")  # the browser asks


async def test_pages_are_not_in_the_api_document(api: httpx.AsyncClient) -> None:
    document = (await api.get("/api/openapi.json")).json()
    assert not [path for path in document["paths"] if path.startswith("/ui")]


async def test_flow_page_draws_the_topology(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, FLOW.format(ns=ns))
    html = (await api.get(f"/ui/main/flows/{ns}/greet")).text
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert svg.count('class="node"') == 2  # say, inner (leaves)
    assert svg.count('class="node group"') == 1  # each (ForEach around inner)
    assert 'data-task="inner"' in svg
    assert 'class="branch">tasks</text>' in svg
    assert svg.count("<line") == 1  # say → each


async def test_revisions_page_shows_a_diff(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, FAILING.format(ns=ns))
    changed = FAILING.format(ns=ns).replace("the contract check broke", "it broke again")
    update = await api.put(f"/api/v1/flows/{ns}/failing", content=changed, headers=YAML)
    assert update.status_code == 200, update.text
    page = await api.get(f"/ui/main/flows/{ns}/failing/revisions")
    assert page.status_code == 200
    html = page.text
    assert '<span class="diff-del">-    errorMessage: the contract check broke</span>' in html
    assert '<span class="diff-add">+    errorMessage: it broke again</span>' in html
    same = await api.get(f"/ui/main/flows/{ns}/failing/revisions?left=2&right=2")
    assert "No difference." in same.text
    assert (await api.get(f"/ui/main/flows/{ns}/nope/revisions")).status_code == 404


@pytest.mark.usefixtures("engine")
async def test_logs_page_searches_every_execution(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, FAILING.format(ns=ns))
    body = await finished(api, ns, "failing")
    page = await api.get("/ui/main/logs", params={"namespace": ns, "minLevel": "ERROR"})
    assert page.status_code == 200
    html = page.text
    assert "the contract check broke" in html
    assert f'href="/ui/main/executions/{ns}/failing/{body["id"]}"' in html
    assert "level-INFO" not in html
    assert "<option selected>ERROR</option>" in html
    nothing = await api.get("/ui/main/logs", params={"namespace": ns, "q": "no such words"})
    assert "No log line matches." in nothing.text


async def test_namespace_page_shows_kv_and_files(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, FAILING.format(ns=ns))
    put = await api.put(
        f"/api/v1/namespaces/{ns}/kv/answer",
        content='{"n": 42}',
        headers={"Content-Type": "application/json"},
    )
    assert put.status_code in (200, 204), put.text
    upload = await api.post(
        f"/api/v1/namespaces/{ns}/files",
        params={"path": "/scripts/run.sh"},
        files={"fileContent": ("run.sh", b"echo hi\n")},
    )
    assert upload.status_code in (200, 204), upload.text
    listing = await api.get("/ui/main/namespaces")
    assert f'href="/ui/main/namespaces/{ns}"' in listing.text
    page = await api.get(f"/ui/main/namespaces/{ns}")
    assert page.status_code == 200
    assert "<code>answer</code>" in page.text
    assert "&#34;n&#34;: 42" in page.text
    assert "scripts/</a>" in page.text
    inside = await api.get(f"/ui/main/namespaces/{ns}", params={"path": "/scripts"})
    assert "run.sh</a>" in inside.text
    assert "8 bytes" in inside.text


async def test_one_time_zone_setting_is_honoured(
    settings: Settings, api_store: Store, ns: str
) -> None:
    paris = Services(settings=replace(settings, ui_timezone="Europe/Paris"), store=api_store)
    async with client_of(paris, auth=(USER, PASSWORD)) as http:
        await deploy(http, FAILING.format(ns=ns))
        html = (await http.get(f"/ui/main/flows?namespace={ns}")).text
    assert 'data-zone="Europe/Paris"' in html
    assert " CET</td>" in html or " CEST</td>" in html
    assert " UTC</td>" not in html


async def test_flow_page_has_the_editor_over_its_source(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, FAILING.format(ns=ns))
    html = (await api.get(f"/ui/main/flows/{ns}/failing")).text
    assert '<script src="/ui/static/editor.js" defer></script>' in html
    editor = html[
        html.index('<form id="editor"') : html.index("</form>", html.index('id="editor"'))
    ]
    assert f'data-flow="{ns}/failing"' in editor
    assert '<textarea name="source" data-editor' in editor
    assert "errorMessage: the contract check broke" in editor  # the source as stored
    assert "saving makes revision 2" in html
    # pages without an editor do not load its bundle
    assert "editor.js" not in (await api.get("/ui/main/flows")).text


async def test_new_flow_page_starts_from_a_flow_in_the_namespace(
    api: httpx.AsyncClient, ns: str
) -> None:
    page = await api.get("/ui/main/flows/new", params={"namespace": ns})
    assert page.status_code == 200
    html = page.text
    assert f"namespace: {ns}\n" in html
    assert "type: io.kestra.plugin.core.log.Log" in html
    assert '<form id="editor" class="editor-form">' in html  # no data-flow: saving creates
    assert '<script src="/ui/static/editor.js" defer></script>' in html
    odd = await api.get("/ui/main/flows/new", params={"namespace": "<b>x"})
    assert "namespace: company.team" in odd.text
    listing = await api.get("/ui/main/flows", params={"namespace": ns})
    assert f'href="/ui/main/flows/new?namespace={ns}"' in listing.text


async def test_the_editor_bundle_is_served_from_the_package(api: httpx.AsyncClient) -> None:
    bundle = await api.get("/ui/static/editor.js")
    assert bundle.status_code == 200
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert bundle.text.startswith("// Lanner flow editor (CodeMirror 6, MIT).")
    assert "/flows/validate" in bundle.text
    assert "/plugins" in bundle.text


SUCCEEDING = """\
id: fine
namespace: {ns}
tasks:
  - id: ok
    type: io.kestra.plugin.core.debug.Return
    format: fine
"""


@pytest.mark.usefixtures("engine")
async def test_dashboard_counts_executions_per_state_with_bounded_queries(
    api: httpx.AsyncClient, services: Services, ns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await deploy(api, FAILING.format(ns=ns))
    await deploy(api, SUCCEEDING.format(ns=ns))
    failed = [await finished(api, ns, "failing") for _ in range(3)]
    assert {body["state"]["current"] for body in failed} == {"FAILED"}
    failed_id = failed[-1]["id"]
    fine = await finished(api, ns, "fine")
    assert fine["state"]["current"] == "SUCCESS"

    def per(fmt: str) -> Counter[str]:
        """The failed executions per bar label (a bar boundary may fall between them)."""
        return Counter(
            datetime.fromisoformat(body["state"]["startDate"]).astimezone(UTC).strftime(fmt)
            for body in failed
        )

    queries: list[Any] = []
    search = services.store.search_executions

    async def recorded(query: Any) -> Any:
        queries.append(query)
        return await search(query)

    monkeypatch.setattr(services.store, "search_executions", recorded)
    page = await api.get("/ui/main/dashboard", params={"namespace": ns})
    assert page.status_code == 200
    html = page.text
    for day, count in per("%m-%d").items():
        assert f"<title>{day}: {count} FAILED</title>" in html
    fine_day = datetime.fromisoformat(fine["state"]["startDate"]).astimezone(UTC)
    assert f"<title>{fine_day:%m-%d}: 1 SUCCESS</title>" in html
    assert html.count('<rect class="bar-') == len(per("%m-%d")) + 1  # no bar on empty days
    assert "4 executions since" in html
    assert f'href="/ui/main/executions/{ns}/failing/{failed_id}"' in html  # recent failures
    assert f'href="/ui/main/executions?namespace={ns}&amp;state=FAILED"' in html
    # bounded: every query is one time range and one small page, never a listing
    assert queries
    assert all(q.start_date is not None and q.size <= 10 for q in queries)
    assert len(queries) <= 7 + 5 + 1  # a count per day, per state on the one busy day, failures
    hourly = (await api.get("/ui/main/dashboard", params={"namespace": ns, "days": "1"})).text
    for hour, count in per("%H:00").items():
        assert f"<title>{hour}: {count} FAILED</title>" in hourly
    assert '<option value="1" selected>last 24 hours</option>' in hourly
    empty = (await api.get("/ui/main/dashboard", params={"namespace": ns + "none"})).text
    assert "No execution in this period." in empty
    assert '<rect class="bar-' not in empty


@pytest.mark.usefixtures("engine")
async def test_execution_page_lists_metrics_and_offers_change_state(
    api: httpx.AsyncClient, services: Services, ns: str
) -> None:
    await deploy(api, FAILING.format(ns=ns))
    body = await finished(api, ns, "failing")
    runs = {run["taskId"]: run["id"] for run in body["taskRunList"]}
    await services.store.add_metrics(
        [
            MetricEntry(
                tenant_id="main",
                namespace=ns,
                flow_id="failing",
                execution_id=body["id"],
                task_id="ok",
                task_run_id=runs["ok"],
                type="counter",
                name="rows.read",
                value=1234.0,
                timestamp=datetime.now(UTC),
                tags={"table": "orders"},
            )
        ]
    )
    html = (await api.get(page_path(body))).text
    metrics = html[html.index("<h2>Metrics") : html.index("</table>", html.index("<h2>Metrics"))]
    assert "<small>1</small>" in metrics
    assert '<td>rows.read</td><td>counter</td><td class="num">1234.0</td>' in metrics
    assert '<span class="label">table:orders</span>' in metrics
    form = html[
        html.index('<form id="change-state"') : html.index("</form>", html.index("change-state"))
    ]
    assert f'data-id="{body["id"]}"' in form
    assert f'<option value="{runs["boom"]}">task run boom (FAILED)</option>' in form
    assert "<option selected>SUCCESS</option>" in form
    assert "<option>RUNNING</option>" not in form  # terminal states only, as the API wants
    # what the form calls: the execution's change-status and a task run's state
    changed = await api.post(
        f"/api/v1/executions/{body['id']}/state",
        json={"taskRunId": runs["boom"], "state": "SUCCESS"},
    )
    assert changed.status_code == 200, changed.text


@pytest.mark.usefixtures("engine")
async def test_log_viewer_pages_lines_after_a_sequence(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, FLOW.format(ns=ns))
    body = await finished(api, ns, "greet", data={"who": "ada", "times": "1"})
    html = (await api.get(page_path(body))).text
    assert 'data-log-page="5000"' in html
    first = await api.get(page_path(body) + "/lines", params={"limit": "2"})
    assert first.status_code == 200
    page = first.json()
    assert page["more"] is True
    assert len(page["lines"]) == 2
    seq, when, level, _task, _message = page["lines"][0]
    assert when.endswith(" UTC")
    assert level == "INFO"
    rest = (
        await api.get(page_path(body) + "/lines", params={"after": str(page["lines"][1][0])})
    ).json()
    assert rest["more"] is False
    seqs = [line[0] for line in page["lines"] + rest["lines"]]
    assert seqs == sorted(set(seqs))
    assert seqs[0] == seq
    messages = [line[4] for line in rest["lines"]]
    assert "hello ada <script>alert(1)</script>" in messages  # JSON: the viewer sets textContent
    everything = await api.get(f"/api/v1/logs/{body['id']}")
    assert len(seqs) == len(everything.json())
    bogus = await api.get(page_path(body) + "/lines", params={"after": "x", "limit": "-3"})
    assert len(bogus.json()["lines"]) == len(seqs)  # bad paging values fall back to defaults
    assert (await api.get(f"/ui/main/executions/{ns}/other/{body['id']}/lines")).status_code == 404
