"""Deploy Kestra's corpus on an in-process server, run it, compare with the table.

One embedded server (SQLite in a temporary data directory, the engine, the flow-trigger role
and the HTTP app driven through ``httpx``'s ASGI transport) holds every flow at once, so
subflows and flow-trigger listeners find each other as in Kestra's test repository. The
runner prepares what Kestra's test harness prepares: the ``SECRET_*`` values of Kestra's
Gradle test task, the ``my-key`` KV entry of ``KvFunctionTest``, ``ToggleTest``'s trigger row, an encryption key for
SECRET inputs, uploads for FILE inputs. Executions run concurrently (bounded), each with a
deadline; the API's execution document is what is compared.
"""

from __future__ import annotations

import asyncio
import base64
import json
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from lanner.api.app import create_app
from lanner.api.context import Services
from lanner.bootstrap import (
    build_engine,
    build_runtime,
    build_storage,
    build_submitter,
    start_store,
)
from lanner.config import Settings, read_secrets
from lanner.conformance.expectations import Expectation, load_expectations
from lanner.engine.feeds import ChangeFeed, execution_topic
from lanner.engine.submit import FlowRef
from lanner.store import ExecutionQuery, Store, TriggerState
from lanner.templating import TemplateEngine

# Kestra's build.gradle test task environment (SECRET_NON_B64_SECRET left out: not base64).
KESTRA_TEST_SECRETS = {
    "SECRET_MY_SECRET": base64.b64encode(b'{"secretKey":"secretValue"}').decode(),
    "SECRET_NEW_LINE": (
        "cGFzc3dvcmR2ZXJ5dmVyeXZleXJsb25ncGFzc3dvcmR2ZXJ5dmVyeXZleXJsb25ncGFzc3dvcmR2\n"
        "ZXJ5dmVyeXZleXJsb25ncGFzc3dvcmR2ZXJ5dmVyeXZleXJsb25ncGFzc3dvcmR2ZXJ5dmVyeXZl\n"
        "eXJsb25n"
    ),
    "SECRET_WEBHOOK_KEY": base64.b64encode(b"secretKey").decode(),
    "SECRET_PASSWORD": "cGFzc3dvcmQ=",
}
KESTRA_TEST_ENV = {"KESTRA_TEST1": "true", "KESTRA_TEST2": "Pass by env"}
# Kestra's application-test.yml ``kestra.variables.globals``.
KESTRA_TEST_GLOBALS = {"string": "string", "int": 1, "bool": True, "nested": {"int": 2}}
PENDING_TIMEOUT_S = 8.0
"""A ``pending`` row's deadline: it is allowed to differ, so it may not hold the run up."""
TRIGGERED_WAIT_S = 5.0
"""How long a triggered row's first execution may take to appear once the others ended."""
# KvFunctionTest's entry.
KV_ENTRIES = (("io.kestra.tests", "my-key", {"field": "value"}),)
# ToggleTest's trigger row (disabled, for the flow's Toggle task to enable).
TRIGGER_ROWS = (("io.kestra.tests.trigger", "trigger-toggle", "schedule", True),)
YAML = {"Content-Type": "application/x-yaml"}
# Execution action routes a flow id can collide with (POST /api/v1/executions/{id}/<word>).
ACTION_WORDS = frozenset(
    {"pause", "resume", "kill", "restart", "replay", "labels", "unqueue", "state", "force-run"}
)
DEPLOY_PASSES = 3


@dataclass(slots=True)
class Outcome:
    """One file: what the table expects, what happened, whether they match."""

    file: str
    kestra_test: str
    status: str
    expected: str
    got: str = ""
    match: bool = False
    reason: str = ""
    execution_id: str | None = None
    seconds: float = 0.0


@dataclass(slots=True)
class Report:
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def runnable(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status != "skip"]

    @property
    def ratio(self) -> float:
        runnable = self.runnable
        return sum(o.match for o in runnable) / len(runnable) if runnable else 1.0

    def unexpected(self) -> list[Outcome]:
        """Rows that must match (``run``, ``triggered``) and do not."""
        return [o for o in self.outcomes if o.status in ("run", "triggered") and not o.match]

    def to_json(self) -> str:
        body = {
            "ratio": round(self.ratio, 4),
            "runnable": len(self.runnable),
            "matching": sum(o.match for o in self.runnable),
            "seconds": round(self.seconds, 2),
            "outcomes": [asdict(o) for o in self.outcomes],
        }
        return json.dumps(body, indent=2) + "\n"

    def to_markdown(self) -> str:
        runnable = self.runnable
        lines = [
            "| file | Kestra test | status | expected | got | match |",
            "|---|---|---|---|---|---|",
        ]
        for o in self.outcomes:
            got = o.got if o.status != "skip" else o.reason
            mark = "-" if o.status == "skip" else ("yes" if o.match else "**no**")
            lines.append(
                f"| {o.file} | {o.kestra_test} | {o.status} | {o.expected} | "
                f"{got.replace('|', '/')} | {mark} |"
            )
        lines.append("")
        lines.append(
            f"{sum(o.match for o in runnable)}/{len(runnable)} runnable flows match "
            f"({self.ratio:.1%}); {len(self.outcomes) - len(runnable)} not runnable; "
            f"{self.seconds:.1f}s"
        )
        return "\n".join(lines) + "\n"


def expected_text(row: Expectation) -> str:
    if row.status == "skip":
        return "-"
    parts = [row.state or ""]
    if row.task_runs is not None:
        parts.append(f"{row.task_runs} task runs")
    parts.extend(f"{k}={v}" for k, v in row.task_states.items())
    return ", ".join(parts)


def compare(row: Expectation, body: Mapping[str, Any]) -> tuple[bool, str]:
    """Whether the execution document ``body`` is what ``row`` expects, and what it was."""
    state = body["state"]["current"]
    runs: list[dict[str, Any]] = body.get("taskRunList") or []
    got = [state, f"{len(runs)} task runs"]
    ok = state == row.state
    if row.task_runs is not None and len(runs) != row.task_runs:
        ok = False
    for task_id, task_state in row.task_states.items():
        states = sorted({r["state"]["current"] for r in runs if r["taskId"] == task_id})
        got.append(f"{task_id}={'|'.join(states) or 'none'}")
        if states != [task_state]:
            ok = False
    return ok, ", ".join(got)


def upload_of(value: str) -> bytes | None:
    """The file content of a ``lines:N`` / ``file:TEXT`` input value (None: not a file)."""
    if value.startswith("lines:"):
        count = int(value.removeprefix("lines:"))
        return "".join(f"Hello World {i}\n" for i in range(1, count + 1)).encode()
    if value.startswith("file:"):
        return value.removeprefix("file:").encode()
    return None


class Corpus:
    """The embedded server the corpus runs on."""

    def __init__(self, directory: Path, data_dir: Path, database_url: str | None = None) -> None:
        self.directory = directory
        self.settings = Settings(
            data_dir=data_dir,
            database_url=database_url,
            encryption_key=b"I6EGNzRESu3X3pKZidrqCGOHQFUFC0yK",
            secrets=read_secrets(KESTRA_TEST_SECRETS),
            kestra_environ=KESTRA_TEST_ENV,
            globals=KESTRA_TEST_GLOBALS,
        )
        self.deploy_errors: dict[str, str] = {}
        self.flow_keys: dict[str, tuple[str, str]] = {}

    async def __aenter__(self) -> Corpus:
        settings = self.settings
        self.store: Store = await start_store(settings)
        self.feed = ChangeFeed()
        storage = build_storage(settings)
        runtime = build_runtime(settings, self.store, storage)
        templates = TemplateEngine(runtime=runtime)
        submitter = build_submitter(settings, self.store, self.feed, storage, templates)
        self.submitter = submitter
        self.engine = build_engine(
            settings, self.store, self.feed, runtime=runtime, submitter=submitter
        )
        services = Services(
            settings, self.store, self.feed, given_storage=storage, given_submitter=submitter
        )
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(services)),
            base_url="http://lanner.conformance",
            timeout=60.0,
        )
        await self.engine.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()
        await self.engine.stop(grace_s=1.0)
        await self.store.close()

    async def prepare(self) -> None:
        for namespace, key, value in KV_ENTRIES:
            response = await self.http.put(
                f"/api/v1/namespaces/{namespace}/kv/{key}", content=json.dumps(value)
            )
            response.raise_for_status()
        for namespace, flow_id, trigger_id, disabled in TRIGGER_ROWS:
            row = TriggerState(
                "main", namespace, flow_id, trigger_id, date=datetime.now(UTC), disabled=disabled
            )
            await self.store.save_trigger(row, expected_revision=None)

    async def deploy(self, files: list[str]) -> None:
        """Every file, in passes: a flow whose subflow is not there yet goes in later."""
        left = list(files)
        for _ in range(DEPLOY_PASSES):
            failed: list[str] = []
            for name in left:
                source = (self.directory / name).read_text(encoding="utf-8")
                response = await self.http.post("/api/v1/flows", content=source, headers=YAML)
                if response.status_code == 200:
                    body = response.json()
                    self.flow_keys[name] = (body["namespace"], body["id"])
                    self.deploy_errors.pop(name, None)
                else:
                    self.deploy_errors[name] = f"deploy {response.status_code}: {response.text}"
                    failed.append(name)
            if not failed or len(failed) == len(left):
                break
            left = failed

    async def start(self, row: Expectation) -> str:
        namespace, flow_id = self.flow_keys[row.file]
        data: dict[str, str] = {}
        files: dict[str, tuple[str, bytes]] = {}
        for name, value in row.inputs.items():
            content = upload_of(value) if isinstance(value, str) else None
            if content is not None:
                files[name] = (f"{name}.txt", content)
            else:
                data[name] = value if isinstance(value, str) else json.dumps(value)
        if flow_id in ACTION_WORDS and not files:
            # POST /executions/{namespace}/pause is the pause action's route (in Kestra too,
            # whose test starts the flow in process): the engine's door, as the API uses it.
            child = await self.submitter.submit(FlowRef("main", namespace, flow_id), data)
            return child.id
        response = await self.http.post(
            f"/api/v1/executions/{namespace}/{flow_id}", data=data, files=files or None
        )
        if response.status_code != 200:
            raise RuntimeError(f"start {response.status_code}: {response.text}")
        execution_id: str = response.json()["id"]
        return execution_id

    async def wait(self, execution_id: str, wanted: str | None, timeout_s: float) -> dict[str, Any]:
        """The execution's document once it is in ``wanted`` or terminated (or at the
        deadline)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout_s
        with self.feed.subscribe(execution_topic(execution_id)) as changes:
            while True:
                execution = await self.store.get_execution("main", execution_id)
                if execution is not None:
                    current = execution.state.current
                    if current.is_terminated or current.name == wanted:
                        break
                left = end - loop.time()
                if left <= 0:
                    break
                await changes.wait(min(left, 0.5))
        return await self.document(execution_id)

    async def document(self, execution_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/api/v1/executions/{execution_id}")
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    async def first_error(self, execution_id: str) -> str:
        """``; <the first ERROR log line>`` of the execution, or nothing."""
        response = await self.http.get(f"/api/v1/logs/{execution_id}", params={"minLevel": "ERROR"})
        if response.status_code != 200:
            return ""
        lines = response.json()
        if not lines:
            return ""
        first = lines[0]
        return f"; {first.get('taskId') or '-'}: {first.get('message', '')[:200]}"

    async def first_execution_of(self, file: str, timeout_s: float) -> str | None:
        namespace, flow_id = self.flow_keys[file]
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout_s
        query = ExecutionQuery(namespace=namespace, flow_id=flow_id, sort=(("id", False),), size=1)
        while True:
            page = await self.store.search_executions(query)
            found = [e for e in page.results if e.namespace == namespace]
            if found:
                return found[0].id
            if loop.time() >= end:
                return None
            await asyncio.sleep(0.1)


async def run_one(corpus: Corpus, row: Expectation, outcome: Outcome, timeout_s: float) -> None:
    began = time.monotonic()
    try:
        if row.file in corpus.deploy_errors:
            outcome.got = corpus.deploy_errors[row.file][:300]
            return
        if row.is_started:
            execution_id = await corpus.start(row)
        else:
            found = await corpus.first_execution_of(row.file, min(timeout_s, TRIGGERED_WAIT_S))
            if found is None:
                outcome.got = "no execution triggered"
                return
            execution_id = found
        outcome.execution_id = execution_id
        body = await corpus.wait(execution_id, row.state, timeout_s)
        outcome.match, outcome.got = compare(row, body)
        if not outcome.match:
            outcome.got += await corpus.first_error(execution_id)
    except Exception as exc:  # a row's failure is its outcome, never the whole run's
        outcome.got = f"error: {type(exc).__name__}: {exc}"[:300]
    finally:
        outcome.seconds = round(time.monotonic() - began, 2)


def corpus_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.suffix in (".yaml", ".yml"))


async def run_corpus(
    directory: Path,
    *,
    only: set[str] | None = None,
    concurrency: int = 8,
    timeout_s: float = 20.0,
    table: Mapping[str, Expectation] | None = None,
) -> Report:
    """Run the corpus of ``directory`` against ``table`` (default: ``expectations.tsv``)."""
    began = time.monotonic()
    rows = dict(table if table is not None else load_expectations())
    files = corpus_files(directory)
    report = Report()
    for name in files:
        if name not in rows:  # a new corpus file: reported, never silently passed
            rows[name] = Expectation(name, "-", "run", state="(no row in the table)")
    with tempfile.TemporaryDirectory(prefix="lanner-conformance-") as data_dir:
        async with Corpus(directory, Path(data_dir)) as corpus:
            await corpus.prepare()
            await corpus.deploy(files)
            selected = [n for n in files if only is None or n in only]
            outcomes = {
                name: Outcome(
                    file=name,
                    kestra_test=rows[name].kestra_test,
                    status=rows[name].status,
                    expected=expected_text(rows[name]),
                    reason=rows[name].reason,
                )
                for name in selected
            }
            gate = asyncio.Semaphore(concurrency)

            async def bounded(name: str) -> None:
                row = rows[name]
                deadline = (
                    min(timeout_s, PENDING_TIMEOUT_S) if row.status == "pending" else timeout_s
                )
                async with gate:
                    await run_one(corpus, row, outcomes[name], deadline)

            started = [n for n in selected if rows[n].is_started]
            await asyncio.gather(*(bounded(n) for n in started))
            # Listeners last: the executions that trigger them have ended by now.
            triggered = [n for n in selected if rows[n].triggered]
            await asyncio.gather(*(bounded(n) for n in triggered))
            report.outcomes = [outcomes[n] for n in selected]
    report.seconds = time.monotonic() - began
    return report


__all__ = ["Corpus", "Outcome", "Report", "compare", "run_corpus"]
