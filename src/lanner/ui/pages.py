"""The web UI's pages at Kestra's addresses (``/ui/{tenant}/...``), rendered on the server.

Pages are Jinja2 templates (autoescaped) over the same store reads and the same Kestra JSON as
the API, so a page never says something the API would not. Live parts are small islands of
``static/ui.js`` (hand-written, served as is): the execution page follows the API's own SSE
streams and re-fetches its task-run fragment (``.../taskruns``) when the execution changes, so
the Gantt bars and states are rendered in one place only; its log viewer keeps every line in
memory and puts only the visible rows in the DOM (pages from ``.../lines``, then the follow
stream resumed after the last line). Actions (execute, kill, restart, replay, resume, change
state) call the REST API from the browser with the page's credentials. Same auth as the API:
the middleware covers ``/ui`` like any other path.

The flow editor (``static/editor.js``: CodeMirror 6, completion from ``/plugins``, inline errors
from ``/flows/validate``) is the one built island: bundled by esbuild from ``ui-src/`` and
committed, so running Lanner needs no Node.js; a test rebuilds it and compares. The dashboard
counts executions per state and time bucket with the store's bounded search totals. The
execution page lays its Gantt out from the task runs' outlines (id, parent, task, state) and
reads in full only the runs it draws and the failed ones it names: decoding 10,000 task runs'
documents was most of its time.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from importlib import resources
from operator import attrgetter
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

import orjson
from fastapi import APIRouter, Request
from jinja2 import Environment, PackageLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.responses import HTMLResponse, RedirectResponse, Response

from lanner.api.context import RESERVED_TENANTS, TENANT_PATTERN, Services, ServicesDep
from lanner.api.execution_wire import execution_json
from lanner.domain.executions import Execution, TaskRun
from lanner.domain.logs import LogEntry, LogLevel
from lanner.domain.states import StateType
from lanner.engine.runs import STALE
from lanner.errors import NotFoundError
from lanner.storage import NamespaceFiles
from lanner.store import ExecutionQuery, FlowQuery, LogQuery, MetricQuery, StoredFlow

router = APIRouter(include_in_schema=False)
UTC_ZONE = ZoneInfo("UTC")

PAGE_SIZE = 25
LOG_LINES_RENDERED = 200
"""Lines the execution page renders on the server (first paint, and pages without script); the
log viewer then loads every line by pages of :data:`LOG_PAGE_LINES` and renders visible rows only."""
LOG_PAGE_LINES = 5_000
METRIC_ROWS = 100
"""Metrics the execution page lists; the API pages through them all."""
FAILURE_LINES = 20
FAILED_RUNS = 100
"""Failed task runs the failure summary names (in creation order)."""
GANTT_ROWS = 300
"""Task runs drawn one per row; beyond, the rest are summed up per task and state."""
OUTPUT_RUNS = 50
"""Task runs whose outputs the page shows; the API has them all."""
STATIC_FILES = {"ui.css": "text/css", "ui.js": "text/javascript", "editor.js": "text/javascript"}
STATIC_CACHE = "public, max-age=300"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

_env = Environment(
    loader=PackageLoader("lanner.ui", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _format_when(value: datetime, zone: ZoneInfo) -> str:
    local = value.astimezone(zone)
    return f"{local.isoformat(' ', 'milliseconds')[:23]} {local.tzname()}"


@pass_context
def _when(context: Context, value: datetime | None) -> str:
    """One format for every date the UI shows: the configured zone, milliseconds."""
    if value is None:
        return ""
    zone: ZoneInfo = context.get("zone") or UTC_ZONE
    return _format_when(value, zone)


def _span(value: timedelta | None) -> str:
    if value is None:
        return ""
    seconds = value.total_seconds()
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {rest:02d}s" if hours else f"{minutes}m {rest:02d}s"


def _pretty(value: Any) -> str:
    return orjson.dumps(
        value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str
    ).decode()


def _state(value: str) -> Markup:
    """A state's badge (a global, not a macro: the Gantt draws 300 of them, a Jinja macro call
    costs ten times more)."""
    return Markup('<span class="state state-{}">{}</span>').format(value.lower(), value)


_env.globals["state"] = _state
_env.filters["when"] = _when
_env.filters["span"] = _span
_env.filters["pretty"] = _pretty


def _page(services: Services, template: str, **context: Any) -> HTMLResponse:
    zone = ZoneInfo(services.settings.ui_timezone)
    return HTMLResponse(_env.get_template(template).render(zone=zone, **context))


def _tenant(value: str) -> str:
    if not TENANT_PATTERN.match(value) or value in RESERVED_TENANTS:
        raise NotFoundError(f"Unknown tenant '{value}'")
    return value


def _name(value: str, what: str) -> str:
    if not NAME_PATTERN.match(value) or len(value) > 255:
        raise NotFoundError(f"{what} '{value[:100]}' not found")
    return value


def _int_param(request: Request, name: str, default: int, upper: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or not raw.isdigit():
        return default
    return max(1, min(int(raw), upper))


@dataclass(frozen=True, slots=True)
class Bar:
    """One task run's row in the Gantt chart: where its bar starts and how wide it is (%)."""

    run: TaskRun
    depth: int
    offset: float
    width: float


@dataclass(frozen=True, slots=True)
class Gantt:
    """The first :data:`GANTT_ROWS` task runs as bars, and the rest counted per task and state."""

    bars: list[Bar]
    rest: list[dict[str, Any]]
    total: int


class _Node(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def parent_task_run_id(self) -> str | None: ...
    @property
    def task_id(self) -> str: ...


N = TypeVar("N", bound=_Node)


@dataclass(frozen=True, slots=True)
class Layout:
    """The Gantt's rows before any task run is read in full: ``(task run id, depth)`` of the
    first rows in tree order, the rest counted per task and state, and the number of runs."""

    rows: list[tuple[str, int]]
    rest: list[dict[str, Any]]
    total: int


def gantt_layout(nodes: Sequence[N], state_of: Callable[[N], StateType], rows: int) -> Layout:
    """Task runs in tree order (children under their parent), the first ``rows`` placed and the
    others counted; a run whose parent is gone (superseded by a restart) goes to the top level.

    The walk stops once every task among the counted runs has been met past the bound (the
    order their counts are listed in): with one loop of 10,000 runs, right after row ``rows``."""
    children: dict[str | None, list[N]] = {}
    known = {node.id for node in nodes}
    for node in nodes:
        parent = node.parent_task_run_id if node.parent_task_run_id in known else None
        children.setdefault(parent, []).append(node)
    placed: list[tuple[str, int]] = []
    stack: list[tuple[N, int]] = [(node, 0) for node in reversed(children.get(None, ()))]
    while stack and len(placed) < rows:
        node, depth = stack.pop()
        placed.append((node.id, depth))
        stack.extend((child, depth + 1) for child in reversed(children.get(node.id, ())))
    if not stack:
        return Layout(placed, [], len(nodes))
    shown = {run_id for run_id, _ in placed}
    counts: dict[str, dict[StateType, int]] = {}
    for node in nodes:
        if node.id not in shown:
            states = counts.setdefault(node.task_id, {})
            state = state_of(node)
            states[state] = states.get(state, 0) + 1
    order: dict[str, None] = {}
    while stack and len(order) < len(counts):
        node, _ = stack.pop()
        order.setdefault(node.task_id, None)
        stack.extend((child, 0) for child in reversed(children.get(node.id, ())))
    rest = [
        {
            "task_id": task_id,
            "total": sum(counts[task_id].values()),
            "states": sorted((state.value, count) for state, count in counts[task_id].items()),
        }
        for task_id in order
    ]
    return Layout(placed, rest, len(nodes))


def _bars(
    execution: Execution, layout: Layout, runs: Mapping[str, TaskRun], now: datetime
) -> Gantt:
    """Bars scaled to the execution for the layout's rows (runs gone since are left out)."""
    start = execution.state.start_date
    end = execution.state.end_date or now
    total = max((end - start).total_seconds(), 0.001)
    bars: list[Bar] = []
    for run_id, depth in layout.rows:
        run = runs.get(run_id)
        if run is None:
            continue
        run_start = run.state.start_date
        run_end = run.state.end_date or (now if not run.state.is_terminated else run_start)
        offset = min(max((run_start - start).total_seconds() / total, 0.0), 1.0) * 100
        width = max((run_end - run_start).total_seconds() / total * 100, 0.4)
        bars.append(Bar(run, depth, round(offset, 2), round(min(width, 100 - offset), 2)))
    return Gantt(bars, layout.rest, layout.total)


def gantt(
    execution: Execution, runs: Sequence[TaskRun], now: datetime, rows: int = GANTT_ROWS
) -> Gantt:
    """Task runs in tree order (children under their parent) with bars scaled to the execution;
    a run whose parent is gone (superseded by a restart) is shown at the top level."""
    layout = gantt_layout(runs, lambda run: run.state.current, rows)
    return _bars(execution, layout, {run.id: run for run in runs}, now)


async def _chart(
    services: Services, execution: Execution, *, failed: bool = False
) -> tuple[Gantt, list[TaskRun]]:
    """The execution's Gantt from the task runs' outlines, reading in full only the runs it
    draws, plus (``failed``) the first :data:`FAILED_RUNS` failed ones for the summary: with
    10,000 task runs, decoding every run's documents was most of the page's time."""
    outlines = [
        outline
        for outline in await services.store.list_task_run_outlines(execution.id)
        if not outline.internal.get(STALE)
    ]
    layout = gantt_layout(outlines, attrgetter("state"), GANTT_ROWS)
    failures = (
        [o.id for o in outlines if o.state == StateType.FAILED][:FAILED_RUNS] if failed else []
    )
    wanted = [run_id for run_id, _ in layout.rows] + failures
    runs = {run.id: run for run in await services.store.get_task_runs(execution.id, wanted)}
    chart = _bars(execution, layout, runs, datetime.now(UTC))
    return chart, [runs[run_id] for run_id in failures if run_id in runs]


def _links(tenant: str) -> dict[str, str]:
    return {
        "dashboard": f"/ui/{tenant}/dashboard",
        "executions": f"/ui/{tenant}/executions",
        "flows": f"/ui/{tenant}/flows",
        "logs": f"/ui/{tenant}/logs",
        "namespaces": f"/ui/{tenant}/namespaces",
        "api": f"/api/v1/{tenant}",
    }


# --- static files and entry points -----------------------------------------------------------


@router.get("/ui/static/{name}")
async def static_file(name: str) -> Response:
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        raise NotFoundError(f"File '{name[:100]}' not found")
    body = resources.files("lanner.ui").joinpath("static", name).read_bytes()
    return Response(body, media_type=media_type, headers={"Cache-Control": STATIC_CACHE})


@router.get("/ui")
@router.get("/ui/")
async def ui_root() -> Response:
    return RedirectResponse("/ui/main/dashboard", status_code=302)


@router.get("/ui/{tenant}")
@router.get("/ui/{tenant}/")
async def tenant_root(tenant: str) -> Response:
    return RedirectResponse(f"/ui/{_tenant(tenant)}/dashboard", status_code=302)


# --- dashboard ---------------------------------------------------------------------------------

DASHBOARD_GROUPS: tuple[tuple[str, tuple[StateType, ...]], ...] = (
    ("SUCCESS", (StateType.SUCCESS,)),
    ("WARNING", (StateType.WARNING,)),
    ("FAILED", (StateType.FAILED,)),
    ("KILLED", (StateType.KILLED, StateType.CANCELLED)),
    ("RUNNING", (StateType.RUNNING, StateType.KILLING, StateType.RETRYING)),
)
"""The states the dashboard counts one by one; the rest of a bucket's total is ``OTHER``."""
OTHER = "OTHER"
DASHBOARD_RANGES = (1, 7, 14, 30)
"""Days the dashboard can show: one day in hourly bars, else daily bars."""
CHART_WIDTH = 820
CHART_HEIGHT = 220
CHART_LEFT = 44
CHART_BOTTOM = 34


@dataclass(frozen=True, slots=True)
class Bucket:
    """One bar of the dashboard: its time range and its executions counted per state group."""

    start: datetime
    end: datetime
    label: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def dashboard_buckets(days: int, now: datetime, zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The bars' time ranges, oldest first, aligned on the UI's time zone (hours or days)."""
    local = now.astimezone(zone)
    if days == 1:
        top = local.replace(minute=0, second=0, microsecond=0)
        starts = [top - timedelta(hours=n) for n in range(23, -1, -1)]
        step = timedelta(hours=1)
    else:
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        starts = [midnight - timedelta(days=n) for n in range(days - 1, -1, -1)]
        step = timedelta(days=1)
    # wall-clock steps in the zone, so a DST change keeps bars on local midnights
    return [
        (
            start.astimezone(UTC),
            (start.replace(tzinfo=None) + step).replace(tzinfo=zone).astimezone(UTC),
        )
        for start in starts
    ]


async def _count(services: Services, query: ExecutionQuery) -> int:
    """A bounded count: one page of one row, the store's total (exact up to its bound)."""
    return (await services.store.search_executions(query)).total


async def _bucket_counts(
    services: Services, tenant: str, namespace: str | None, start: datetime, end: datetime
) -> dict[str, int]:
    base = ExecutionQuery(
        tenant_id=tenant,
        namespace=namespace,
        start_date=start,
        end_date=end - timedelta(microseconds=1),  # the store's end bound is inclusive
        page=1,
        size=1,
    )
    total = await _count(services, base)
    if total == 0:
        return {}
    counted = await asyncio.gather(
        *(_count(services, replace(base, states=states)) for _, states in DASHBOARD_GROUPS)
    )
    counts = {name: n for (name, _), n in zip(DASHBOARD_GROUPS, counted, strict=True) if n}
    rest = total - sum(counted)
    if rest > 0:
        counts[OTHER] = rest
    return counts


def dashboard_chart(buckets: Sequence[Bucket]) -> dict[str, Any]:
    """Stacked bars in SVG user units, laid out here so the page needs no script."""
    plot_w = CHART_WIDTH - CHART_LEFT - 8
    plot_h = CHART_HEIGHT - CHART_BOTTOM - 8
    peak = max((b.total for b in buckets), default=0) or 1
    slot = plot_w / max(len(buckets), 1)
    width = max(slot * 0.7, 2)
    bars: list[dict[str, Any]] = []
    labels: list[dict[str, Any]] = []
    every = max(1, len(buckets) // 12)
    order = [name for name, _ in DASHBOARD_GROUPS] + [OTHER]
    for index, bucket in enumerate(buckets):
        x = CHART_LEFT + index * slot + (slot - width) / 2
        y = float(8 + plot_h)
        for name in order:
            count = bucket.counts.get(name, 0)
            if not count:
                continue
            height = count / peak * plot_h
            y -= height
            bars.append(
                {
                    "x": round(x, 1),
                    "y": round(y, 1),
                    "width": round(width, 1),
                    "height": round(max(height, 0.5), 1),
                    "state": name,
                    "title": f"{bucket.label}: {count} {name}",
                }
            )
        if index % every == 0:
            labels.append({"x": round(x + width / 2, 1), "text": bucket.label})
    ticks = [
        {"y": round(8 + plot_h - value / peak * plot_h, 1), "value": value}
        for value in sorted({0, peak // 2, peak})
    ]
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "left": CHART_LEFT,
        "bottom": 8 + plot_h,
        "bars": bars,
        "labels": labels,
        "ticks": ticks,
        "label_y": CHART_HEIGHT - 12,
    }


@router.get("/ui/{tenant}/dashboard")
async def dashboard_page(tenant: str, request: Request, services: ServicesDep) -> Response:
    """Executions per state over time: per bar, a bounded count per state group (the store's
    search with a one-row page), never a scan of the executions."""
    tenant = _tenant(tenant)
    params = request.query_params
    namespace = params.get("namespace") or None
    days = _int_param(request, "days", 7, 30)
    if days not in DASHBOARD_RANGES:
        days = 7
    zone = ZoneInfo(services.settings.ui_timezone)
    ranges = dashboard_buckets(days, datetime.now(UTC), zone)
    counted = await asyncio.gather(
        *(_bucket_counts(services, tenant, namespace, start, end) for start, end in ranges)
    )
    buckets = [
        Bucket(
            start,
            end,
            start.astimezone(zone).strftime("%H:%M" if days == 1 else "%m-%d"),
            counts,
        )
        for (start, end), counts in zip(ranges, counted, strict=True)
    ]
    totals: dict[str, int] = {}
    for bucket in buckets:
        for name, count in bucket.counts.items():
            totals[name] = totals.get(name, 0) + count
    failures = await services.store.search_executions(
        ExecutionQuery(
            tenant_id=tenant,
            namespace=namespace,
            states=(StateType.FAILED,),
            start_date=ranges[0][0],
            page=1,
            size=10,
        )
    )
    return _page(
        services,
        "dashboard.html",
        title="Dashboard",
        links=_links(tenant),
        tenant=tenant,
        chart=dashboard_chart(buckets),
        totals=[
            (name, totals[name]) for name, _ in (*DASHBOARD_GROUPS, (OTHER, ())) if name in totals
        ],
        total=sum(totals.values()),
        days=days,
        ranges=DASHBOARD_RANGES,
        namespace=namespace or "",
        failures=failures.results,
        since=ranges[0][0],
    )


# --- executions ------------------------------------------------------------------------------


def _states(raw: Sequence[str]) -> tuple[StateType, ...]:
    return tuple(StateType(value) for value in raw if value in StateType.__members__)


@router.get("/ui/{tenant}/executions")
async def executions_page(tenant: str, request: Request, services: ServicesDep) -> Response:
    tenant = _tenant(tenant)
    params = request.query_params
    namespace = params.get("namespace") or None
    flow_id = params.get("flowId") or None
    q = params.get("q") or None
    states = _states(params.getlist("state"))
    page = _int_param(request, "page", 1, 100_000)
    query = ExecutionQuery(
        tenant_id=tenant,
        namespace=namespace,
        flow_id=flow_id,
        states=states,
        q=q,
        page=page,
        size=PAGE_SIZE,
    )
    found = await services.store.search_executions(query)
    filters = {"namespace": namespace or "", "flowId": flow_id or "", "q": q or ""}
    return _page(
        services,
        "executions.html",
        title="Executions",
        links=_links(tenant),
        tenant=tenant,
        executions=found.results,
        total=found.total,
        page=page,
        pages=max(1, -(-found.total // PAGE_SIZE)),
        filters=filters,
        chosen_states={state.value for state in states},
        all_states=[state.value for state in StateType],
        query_for=lambda number: _query_string(params, page=number),
    )


def _query_string(params: Mapping[str, Any], **changes: Any) -> str:
    """The current page's query string with ``changes``: filters survive paging and Back."""
    from urllib.parse import urlencode

    items = [
        (key, value)
        for key, value in getattr(params, "multi_items", lambda: list(params.items()))()
        if key not in changes
    ]
    items.extend((key, str(value)) for key, value in changes.items())
    return "?" + urlencode(items)


async def _execution_or_404(
    services: Services, tenant: str, namespace: str, flow_id: str, execution_id: str
) -> Execution:
    execution = await services.store.get_execution(tenant, execution_id)
    if execution is None or execution.namespace != namespace or execution.flow_id != flow_id:
        raise NotFoundError(f"Execution '{execution_id[:100]}' not found")
    return execution


def _failure_summary(runs: Sequence[TaskRun], errors: Sequence[LogEntry]) -> dict[str, Any] | None:
    failed = [run for run in runs if run.state.current == StateType.FAILED]
    if not failed and not errors:
        return None
    by_run: dict[str, list[str]] = {}
    for entry in errors:
        by_run.setdefault(entry.task_run_id or "", []).append(entry.message)
    return {
        "runs": [{"run": run, "messages": by_run.get(run.id, [])[-5:]} for run in failed],
        "other": [
            line
            for key, lines in by_run.items()
            if key not in {r.id for r in failed}
            for line in lines
        ][-5:],
    }


@router.get("/ui/{tenant}/executions/{namespace}/{flowId}/{executionId}")
async def execution_page(
    tenant: str, namespace: str, flowId: str, executionId: str, services: ServicesDep
) -> Response:
    tenant = _tenant(tenant)
    execution = await _execution_or_404(
        services,
        tenant,
        _name(namespace, "Namespace"),
        _name(flowId, "Flow"),
        _name(executionId, "Execution"),
    )
    ended_badly = execution.state.current in (
        StateType.FAILED,
        StateType.KILLED,
        StateType.WARNING,
    )
    chart, failed_runs = await _chart(services, execution, failed=ended_badly)
    lines = await services.store.list_logs(tenant, execution.id, limit=LOG_LINES_RENDERED + 1)
    more_lines = len(lines) > LOG_LINES_RENDERED
    lines = lines[:LOG_LINES_RENDERED]
    failure = None
    if ended_badly:
        errors = await services.store.list_logs(
            tenant, execution.id, min_level=LogLevel.ERROR, limit=FAILURE_LINES
        )
        failure = _failure_summary(failed_runs, errors)
    body = execution_json(execution)
    metrics = await services.store.search_metrics(
        MetricQuery(tenant_id=tenant, execution_id=execution.id, page=1, size=METRIC_ROWS)
    )
    return _page(
        services,
        "execution.html",
        title=f"{execution.flow_id} · {execution.id}",
        links=_links(tenant),
        tenant=tenant,
        execution=execution,
        bars=chart.bars,
        rest=chart.rest,
        task_runs=chart.total,
        outputs=[bar.run for bar in chart.bars if bar.run.outputs][:OUTPUT_RUNS],
        lines=lines,
        more_lines=more_lines,
        failure=failure,
        document=body,
        live=not execution.state.is_terminated or execution.state.current.is_paused,
        flow_url=f"/ui/{tenant}/flows/{execution.namespace}/{execution.flow_id}",
        metrics=metrics.results,
        metric_total=metrics.total,
        terminal_states=[s.value for s in StateType if s.is_terminated],
        log_page=LOG_PAGE_LINES,
    )


@router.get("/ui/{tenant}/executions/{namespace}/{flowId}/{executionId}/lines")
async def log_lines(
    tenant: str,
    namespace: str,
    flowId: str,
    executionId: str,
    request: Request,
    services: ServicesDep,
) -> Response:
    """One page of an execution's log lines for the log viewer, after line ``after`` (the
    store's per-execution sequence: keyset paging, no offset), as compact rows
    ``[seq, time, level, taskId, message]`` with the time in the UI's zone. The public
    ``GET /logs/{id}`` answers every line at once, Kestra's shape, so the viewer pages here."""
    tenant = _tenant(tenant)
    execution = await _execution_or_404(
        services,
        tenant,
        _name(namespace, "Namespace"),
        _name(flowId, "Flow"),
        _name(executionId, "Execution"),
    )
    raw_after = request.query_params.get("after", "0")
    after = int(raw_after) if raw_after.isdigit() and len(raw_after) < 19 else 0
    limit = _int_param(request, "limit", LOG_PAGE_LINES, LOG_PAGE_LINES)
    entries = await services.store.list_logs(tenant, execution.id, after_seq=after, limit=limit)
    zone = ZoneInfo(services.settings.ui_timezone)
    rows = [
        [
            entry.seq,
            _format_when(entry.timestamp, zone),
            entry.level.value,
            entry.task_id or "",
            entry.message,
        ]
        for entry in entries
    ]
    return Response(
        orjson.dumps({"lines": rows, "more": len(rows) == limit}),
        media_type="application/json",
    )


@router.get("/ui/{tenant}/executions/{namespace}/{flowId}/{executionId}/taskruns")
async def task_runs_fragment(
    tenant: str, namespace: str, flowId: str, executionId: str, services: ServicesDep
) -> Response:
    tenant = _tenant(tenant)
    execution = await _execution_or_404(
        services,
        tenant,
        _name(namespace, "Namespace"),
        _name(flowId, "Flow"),
        _name(executionId, "Execution"),
    )
    chart, _ = await _chart(services, execution)
    return _page(
        services,
        "taskruns.html",
        execution=execution,
        bars=chart.bars,
        rest=chart.rest,
        task_runs=chart.total,
    )


# --- flows -----------------------------------------------------------------------------------


@router.get("/ui/{tenant}/flows")
async def flows_page(tenant: str, request: Request, services: ServicesDep) -> Response:
    tenant = _tenant(tenant)
    params = request.query_params
    q = params.get("q") or None
    namespace = params.get("namespace") or None
    page = _int_param(request, "page", 1, 100_000)
    found = await services.store.search_flows(
        FlowQuery(tenant_id=tenant, q=q, namespace=namespace, page=page, size=PAGE_SIZE)
    )
    return _page(
        services,
        "flows.html",
        title="Flows",
        links=_links(tenant),
        tenant=tenant,
        flows=found.results,
        total=found.total,
        page=page,
        pages=max(1, -(-found.total // PAGE_SIZE)),
        filters={"q": q or "", "namespace": namespace or ""},
        query_for=lambda number: _query_string(params, page=number),
    )


def _input_fields(stored: StoredFlow) -> list[dict[str, Any]]:
    """The execute form's fields, from the flow's inputs (type, required, default, description)."""
    fields: list[dict[str, Any]] = []
    for spec in stored.document.get("inputs") or ():
        if not isinstance(spec, Mapping) or not isinstance(spec.get("id"), str):
            continue
        kind = str(spec.get("type") or "STRING")
        default = spec.get("defaults")
        fields.append(
            {
                "id": spec["id"],
                "type": kind,
                "required": bool(spec.get("required", default is None)),
                "default": ""
                if default is None
                else (default if isinstance(default, str) else _pretty(default)),
                "description": spec.get("description") or "",
                "values": spec.get("values") if isinstance(spec.get("values"), list) else None,
                "widget": _widget(kind),
            }
        )
    return fields


def _widget(kind: str) -> str:
    return {
        "FILE": "file",
        "BOOLEAN": "checkbox",
        "BOOL": "checkbox",
        "INT": "number",
        "FLOAT": "number",
        "JSON": "textarea",
        "YAML": "textarea",
        "ARRAY": "textarea",
        "SELECT": "select",
        "ENUM": "select",
        "SECRET": "password",
        "DATETIME": "text",
        "DATE": "date",
    }.get(kind, "text")


@router.get("/ui/{tenant}/flows/{namespace}/{flowId}")
async def flow_page(tenant: str, namespace: str, flowId: str, services: ServicesDep) -> Response:
    tenant = _tenant(tenant)
    stored = await services.store.get_flow(
        tenant, _name(namespace, "Namespace"), _name(flowId, "Flow")
    )
    if stored is None or stored.deleted:
        raise NotFoundError(f"Flow '{namespace}.{flowId}' not found")
    recent = await services.store.search_executions(
        ExecutionQuery(
            tenant_id=tenant, namespace=stored.namespace, flow_id=stored.id, page=1, size=10
        )
    )
    return _page(
        services,
        "flow.html",
        title=f"{stored.namespace}.{stored.id}",
        links=_links(tenant),
        tenant=tenant,
        flow=stored,
        fields=_input_fields(stored),
        tasks=[task for task in stored.document.get("tasks") or () if isinstance(task, Mapping)],
        triggers=[t for t in stored.document.get("triggers") or () if isinstance(t, Mapping)],
        executions=recent.results,
        editor=True,
        topology=topology(
            [t for t in stored.document.get("tasks") or () if isinstance(t, Mapping)],
            [t for t in stored.document.get("errors") or () if isinstance(t, Mapping)],
        ),
    )


NEW_FLOW = """\
id: hello
namespace: {namespace}
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: Hello World!
"""


@router.get("/ui/{tenant}/flows/new")
async def new_flow_page(tenant: str, request: Request, services: ServicesDep) -> Response:
    """The editor over a starting flow; saving creates it (``POST /flows``)."""
    tenant = _tenant(tenant)
    namespace = request.query_params.get("namespace") or "company.team"
    if not NAME_PATTERN.match(namespace) or len(namespace) > 255:
        namespace = "company.team"
    return _page(
        services,
        "flow_new.html",
        title="New flow",
        links=_links(tenant),
        tenant=tenant,
        source=NEW_FLOW.format(namespace=namespace),
        editor=True,
    )


# --- topology ----------------------------------------------------------------------------------

BRANCH_KEYS = ("tasks", "then", "else", "errors", "finally")
BOX_HEIGHT = 34
GAP = 14
INDENT = 18
LABEL_HEIGHT = 20
TOPOLOGY_WIDTH = 560


@dataclass(frozen=True, slots=True)
class Box:
    """One task (or branch label) of the topology drawing, in SVG user units."""

    x: int
    y: int
    width: int
    height: int
    label: str
    kind: str
    group: bool


def _branches(task: Mapping[str, Any]) -> list[tuple[str, list[Mapping[str, Any]]]]:
    found: list[tuple[str, list[Mapping[str, Any]]]] = []
    for key in BRANCH_KEYS:
        children = task.get(key)
        if isinstance(children, list) and children:
            found.append((key, [c for c in children if isinstance(c, Mapping)]))
    cases = task.get("cases")
    if isinstance(cases, Mapping):
        for name, children in cases.items():
            if isinstance(children, list):
                found.append((f"case {name}", [c for c in children if isinstance(c, Mapping)]))
    return found


def topology(
    tasks: Sequence[Mapping[str, Any]], errors: Sequence[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """Boxes and edges of a flow's tasks drawn top to bottom, flowables as groups around their
    branches; laid out on the server so the page needs no script to show it."""
    boxes: list[Box] = []
    edges: list[tuple[int, int, int, int]] = []

    def place(items: Sequence[Mapping[str, Any]], x: int, y: int, width: int) -> int:
        previous: Box | None = None
        for task in items:
            kind = str(task.get("type", "")).rsplit(".", 1)[-1]
            label = str(task.get("id", "?"))
            branches = _branches(task)
            if not branches:
                box = Box(x, y, width, BOX_HEIGHT, label, kind, False)
                boxes.append(box)
                bottom = y + BOX_HEIGHT
            else:
                inner_y = y + LABEL_HEIGHT + 6
                for name, children in branches:
                    boxes.append(
                        Box(x + INDENT, inner_y, width - 2 * INDENT, 0, name, "branch", False)
                    )
                    inner_y = place(children, x + INDENT, inner_y + 14, width - 2 * INDENT) + 4
                bottom = inner_y + 4
                box = Box(x, y, width, bottom - y, label, kind, True)
                boxes.append(box)
            if previous is not None:
                edges.append((x + width // 2, previous.y + previous.height, x + width // 2, y))
            previous = Box(x, y, width, bottom - y, label, kind, bool(branches))
            y = bottom + GAP
        return y - GAP

    height = place(tasks, 4, 4, TOPOLOGY_WIDTH - 8)
    if errors:
        boxes.append(Box(4, height + 10, TOPOLOGY_WIDTH - 8, 0, "errors", "branch", False))
        height = place(errors, 4, height + 24, TOPOLOGY_WIDTH - 8)
    groups = [box for box in boxes if box.group]
    leaves = [box for box in boxes if not box.group]
    return {
        "width": TOPOLOGY_WIDTH,
        "height": max(height + 8, 40),
        "boxes": groups + leaves,  # groups first: leaves are drawn on top
        "edges": edges,
    }


# --- flow revisions ---------------------------------------------------------------------------


@router.get("/ui/{tenant}/flows/{namespace}/{flowId}/revisions")
async def revisions_page(
    tenant: str, namespace: str, flowId: str, request: Request, services: ServicesDep
) -> Response:
    tenant = _tenant(tenant)
    revisions = await services.store.list_flow_revisions(
        tenant, _name(namespace, "Namespace"), _name(flowId, "Flow")
    )
    if not revisions:
        raise NotFoundError(f"Flow '{namespace}.{flowId}' not found")
    latest = revisions[-1].revision
    right = _int_param(request, "right", latest, latest)
    left = _int_param(request, "left", max(right - 1, 1), latest)
    by_number = {stored.revision: stored for stored in revisions}
    old, new = by_number.get(left), by_number.get(right)
    lines: list[tuple[str, str]] = []
    if old is not None and new is not None:
        import difflib

        for line in difflib.unified_diff(
            old.source.splitlines(),
            new.source.splitlines(),
            f"revision {left}",
            f"revision {right}",
            lineterm="",
        ):
            kind = "add" if line.startswith("+") else "del" if line.startswith("-") else "ctx"
            if line.startswith(("+++", "---", "@@")):
                kind = "meta"
            lines.append((kind, line))
    return _page(
        services,
        "revisions.html",
        title=f"{namespace}.{flowId} revisions",
        links=_links(tenant),
        tenant=tenant,
        namespace=namespace,
        flow_id=flowId,
        revisions=list(reversed(revisions)),
        left=left,
        right=right,
        diff=lines,
    )


# --- logs ---------------------------------------------------------------------------------------

LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")


@router.get("/ui/{tenant}/logs")
async def logs_page(tenant: str, request: Request, services: ServicesDep) -> Response:
    tenant = _tenant(tenant)
    params = request.query_params
    namespace = params.get("namespace") or None
    q = params.get("q") or None
    level_name = params.get("minLevel") or None
    level = LogLevel(level_name) if level_name in LEVELS else None
    page = _int_param(request, "page", 1, 100_000)
    found = await services.store.search_logs(
        LogQuery(tenant_id=tenant, namespace=namespace, q=q, min_level=level, page=page, size=100)
    )
    return _page(
        services,
        "logs.html",
        title="Logs",
        links=_links(tenant),
        tenant=tenant,
        lines=found.results,
        total=found.total,
        page=page,
        pages=max(1, -(-found.total // 100)),
        filters={"namespace": namespace or "", "q": q or "", "minLevel": level_name or ""},
        levels=LEVELS,
        query_for=lambda number: _query_string(params, page=number),
    )


# --- namespaces: KV and files -------------------------------------------------------------------


@router.get("/ui/{tenant}/namespaces")
async def namespaces_page(tenant: str, services: ServicesDep) -> Response:
    tenant = _tenant(tenant)
    names = await services.store.distinct_namespaces(tenant)
    return _page(
        services,
        "namespaces.html",
        title="Namespaces",
        links=_links(tenant),
        tenant=tenant,
        namespaces=names,
    )


@router.get("/ui/{tenant}/namespaces/{namespace}")
async def namespace_page(
    tenant: str, namespace: str, request: Request, services: ServicesDep
) -> Response:
    tenant = _tenant(tenant)
    namespace = _name(namespace, "Namespace")
    now = datetime.now(UTC)
    entries = [e for e in await services.store.list_kv(tenant, namespace) if not e.is_expired(now)]
    directory = request.query_params.get("path") or "/"
    files = NamespaceFiles(services.storage)
    try:
        listing = await files.list_directory(tenant, namespace, directory)
    except (NotFoundError, ValueError, OSError):
        listing = []
    parent = directory.rstrip("/").rsplit("/", 1)[0] or "/"
    return _page(
        services,
        "namespace.html",
        title=namespace,
        links=_links(tenant),
        tenant=tenant,
        namespace=namespace,
        entries=entries,
        directory=directory,
        parent=parent if directory != "/" else None,
        files=sorted(listing, key=lambda f: (not f.is_directory, f.file_name)),
        join=lambda name: directory.rstrip("/") + "/" + name,
        flows=await services.store.list_flows(tenant, namespace),
    )
