"""Script tasks (shell, Python, Node.js) run as local processes by the real engine: output
protocol, exit codes, timeout and kill (no process left behind), many lines."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from pathlib import Path

import pytest
from tests.engine.conftest import Harness

from lanner.domain.logs import LogEntry, LogLevel
from lanner.domain.states import StateType
from lanner.engine import events as ev
from lanner.engine.feeds import ChangeFeed
from lanner.engine.service import Engine
from lanner.store import Store

S = StateType
SCRIPTS = "io.kestra.plugin.scripts"
RET = "io.kestra.plugin.core.debug.Return"
SAMPLE = Path(__file__).resolve().parents[1] / "flows" / "scripts.yaml"
PROCESS = "    taskRunner:\n      type: io.kestra.plugin.core.runner.Process\n"


def flow(tasks: str) -> str:
    return f"id: scripts\nnamespace: company.team\ntasks:\n{tasks}"


async def logs_of(harness: Harness, execution_id: str, task_id: str) -> list[LogEntry]:
    return await harness.store.list_logs("main", execution_id, task_id=task_id)


def marked(marker: str) -> list[int]:
    """Pids of live processes whose command line holds ``marker``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            pids.append(int(entry.name))
    return pids


async def wait_until(check: object, what: str, deadline_s: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while not check():  # type: ignore[operator]
        if loop.time() > end:
            raise AssertionError(what)
        await asyncio.sleep(0.05)


def sleepers(marker: str) -> str:
    """Commands leaving a background and a foreground ``python3`` sleeping 30 s, both marked."""
    sleep = f"python3 -c 'import time; time.sleep(30)' {marker}"
    return f"      - {sleep} &\n      - echo started\n      - {sleep}\n"


async def test_shell_commands_log_lines_and_exit_code(harness: Harness) -> None:
    source = flow(
        f"  - id: sh\n    type: {SCRIPTS}.shell.Commands\n    containerImage: ubuntu\n"
        "    env:\n      WHO: '{{ flow.id }}'\n"
        "    beforeCommands:\n      - echo before\n"
        '    commands:\n      - echo "hello $WHO"\n      - echo oops >&2\n'
    )
    execution = await harness.run_flow(source)
    assert execution.state.current is S.SUCCESS
    run = (await harness.runs(execution.id))["sh"]
    assert run.outputs == {"vars": {}, "exitCode": 0}
    lines = [(e.level, e.message) for e in await logs_of(harness, execution.id, "sh")]
    assert (LogLevel.INFO, "before") in lines
    assert (LogLevel.INFO, "hello scripts") in lines
    assert (LogLevel.ERROR, "oops") in lines
    assert sum("containerImage 'ubuntu' is not used" in m for _, m in lines) == 1


async def test_failing_command_fails_with_its_exit_code(harness: Harness) -> None:
    source = flow(
        f"  - id: bad\n    type: {SCRIPTS}.shell.Commands\n"
        "    commands:\n      - 'false'\n      - echo not reached\n"
        f"  - id: worse\n    type: {SCRIPTS}.shell.Commands\n    failFast: false\n"
        "    allowFailure: true\n"
        "    commands:\n      - exit 3\n"
    )
    execution = await harness.run_flow(source)
    assert execution.state.current is S.FAILED
    runs = await harness.runs(execution.id)
    assert runs["bad"].state.current is S.FAILED
    messages = [e.message for e in await logs_of(harness, execution.id, "bad")]
    assert any("Command failed with exit code 1" in m for m in messages)
    assert "not reached" not in messages


async def test_exit_code_of_the_last_command_without_fail_fast(harness: Harness) -> None:
    source = flow(
        f"  - id: lenient\n    type: {SCRIPTS}.shell.Commands\n    failFast: false\n"
        "    commands:\n      - 'false'\n      - echo reached\n      - exit 3\n"
    )
    execution = await harness.run_flow(source)
    assert execution.state.current is S.FAILED
    messages = [e.message for e in await logs_of(harness, execution.id, "lenient")]
    assert "reached" in messages
    assert any("Command failed with exit code 3" in m for m in messages)


async def test_python_script_outputs_feed_a_later_task(harness: Harness) -> None:
    script = (
        "    script: |\n"
        "      import json\n"
        "      print('::' + json.dumps({'outputs': {'x': 1, 'name': '{{ flow.id }}'}}) + '::')\n"
        "      print('::' + json.dumps({'logs': [{'level': 'WARN', 'message': 'careful'}]}) + '::')\n"
        "      print(open('data.txt').read())\n"
    )
    source = flow(
        f"  - id: t\n    type: {SCRIPTS}.python.Script\n{PROCESS}"
        "    inputFiles:\n      data.txt: 'from {{ flow.namespace }}'\n"
        f"{script}"
        f"  - id: after\n    type: {RET}\n    format: '{{{{ outputs.t.vars.x + 1 }}}}'\n"
    )
    execution = await harness.run_flow(source)
    assert execution.state.current is S.SUCCESS
    runs = await harness.runs(execution.id)
    assert runs["t"].outputs == {"vars": {"x": 1, "name": "scripts"}, "exitCode": 0}
    assert runs["after"].outputs == {"value": "2"}
    lines = [(e.level, e.message) for e in await logs_of(harness, execution.id, "t")]
    assert (LogLevel.WARN, "careful") in lines
    assert (LogLevel.INFO, "from company.team") in lines
    assert not any(m.startswith("::") for _, m in lines)


@pytest.mark.skipif(
    shutil.which("node") is None and os.environ.get("CI") != "true", reason="node is missing"
)
async def test_node_commands(harness: Harness) -> None:
    source = flow(
        f"  - id: js\n    type: {SCRIPTS}.node.Commands\n"
        "    inputFiles:\n"
        "      main.js: |\n"
        "        console.log('::' + JSON.stringify({outputs: {n: 6 * 7}}) + '::');\n"
        "        console.log('hi from node');\n"
        "    commands:\n      - node main.js\n"
        f"  - id: script\n    type: {SCRIPTS}.node.Script\n"
        "    script: console.log(process.argv.length)\n"
    )
    execution = await harness.run_flow(source)
    assert execution.state.current is S.SUCCESS
    runs = await harness.runs(execution.id)
    assert runs["js"].outputs == {"vars": {"n": 42}, "exitCode": 0}
    assert "hi from node" in [e.message for e in await logs_of(harness, execution.id, "js")]
    assert "2" in [e.message for e in await logs_of(harness, execution.id, "script")]


async def test_timeout_kills_the_whole_process_group(harness: Harness) -> None:
    marker = f"lanner-timeout-{uuid.uuid4().hex}"
    source = flow(
        f"  - id: slow\n    type: {SCRIPTS}.shell.Commands\n    timeout: PT1S\n"
        f"    commands:\n{sleepers(marker)}"
    )
    execution = await harness.run_flow(source)
    assert execution.state.current is S.FAILED
    messages = [e.message for e in await logs_of(harness, execution.id, "slow")]
    assert "started" in messages
    assert any("Timeout" in m for m in messages)
    await wait_until(lambda: not marked(marker), f"processes left behind: {marked(marker)}")


async def test_kill_kills_the_whole_process_group(harness: Harness) -> None:
    marker = f"lanner-kill-{uuid.uuid4().hex}"
    source = flow(
        f"  - id: slow\n    type: {SCRIPTS}.shell.Commands\n    commands:\n{sleepers(marker)}"
    )
    execution_id = await harness.start(source)
    await wait_until(lambda: len(marked(marker)) >= 2, "the script never started")
    await harness.send(execution_id, ev.KILL, {"cascade": True})
    execution = await harness.wait_for(execution_id, deadline_s=10)
    assert execution.state.current is S.KILLED
    assert (await harness.runs(execution_id))["slow"].state.current is S.KILLED
    await wait_until(lambda: not marked(marker), f"processes left behind: {marked(marker)}")


async def test_ten_thousand_lines_are_all_captured(harness: Harness) -> None:
    source = flow(
        f"  - id: many\n    type: {SCRIPTS}.shell.Commands\n    commands:\n      - seq 1 10000\n"
    )
    execution = await harness.run_flow(source)
    assert execution.state.current is S.SUCCESS
    numbers = [
        e.message
        for e in await logs_of(harness, execution.id, "many")
        if e.level is LogLevel.INFO and e.message.isdigit()
    ]
    assert numbers == [str(n) for n in range(1, 10001)]


async def test_docker_runner_fails_the_task(harness: Harness) -> None:
    source = flow(
        f"  - id: d\n    type: {SCRIPTS}.shell.Commands\n    commands: [echo hi]\n"
        "    taskRunner:\n      type: io.kestra.plugin.scripts.runner.docker.Docker\n"
        "      pullPolicy: NEVER\n"
    )
    execution = await harness.run_flow(source)
    assert execution.state.current is S.FAILED
    messages = [e.message for e in await logs_of(harness, execution.id, "d")]
    assert any("needs a Docker daemon" in m for m in messages)
    assert "hi" not in messages


async def test_engine_stop_kills_running_scripts(store: Store) -> None:
    feed = ChangeFeed()
    engine = Engine(store, feed, worker_concurrency=2)
    await engine.start()
    harness = Harness(store, feed, engine)
    marker = f"lanner-stop-{uuid.uuid4().hex}"
    source = flow(
        f"  - id: slow\n    type: {SCRIPTS}.shell.Commands\n    commands:\n{sleepers(marker)}"
    )
    try:
        await harness.start(source)
        await wait_until(lambda: len(marked(marker)) >= 2, "the script never started")
    finally:
        await engine.stop(grace_s=0.1)
    await wait_until(lambda: not marked(marker), f"processes left behind: {marked(marker)}")


async def test_shell_script_runs_inline(harness: Harness) -> None:
    source = flow(
        f"  - id: s\n    type: {SCRIPTS}.shell.Script\n"
        "    beforeCommands: [X=41]\n"
        '    script: |\n      Y=$((X + 1))\n      echo "::{\\"outputs\\": {\\"y\\": $Y}}::"\n'
    )
    execution = await harness.run_flow(source)
    assert execution.state.current is S.SUCCESS
    assert (await harness.runs(execution.id))["s"].outputs == {"vars": {"y": 42}, "exitCode": 0}


@pytest.mark.skipif(
    shutil.which("node") is None and os.environ.get("CI") != "true", reason="node is missing"
)
async def test_sample_script_flow_runs(harness: Harness) -> None:
    source = SAMPLE.read_text()
    execution = await harness.run_flow(source)
    assert execution.state.current is S.SUCCESS
    runs = await harness.runs(execution.id)
    assert runs["python"].outputs == {"vars": {"answer": 42}, "exitCode": 0}
    assert "42" in [e.message for e in await logs_of(harness, execution.id, "node")]
    assert "42 / 0" in [e.message for e in await logs_of(harness, execution.id, "done")]
