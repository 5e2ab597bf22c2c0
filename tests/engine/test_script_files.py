"""Script tasks' files and metrics with the real engine and storage: ``outputFiles`` uploaded
as ``kestra://`` URIs, ``inputFiles`` copied from another task's output, ``namespaceFiles``,
``{{ workingDir }}``/``{{ outputDir }}``, exit codes in outputs, the real ``kestra`` library's
protocol, ``WorkingDirectory`` children sharing one directory, 100,000 lines kept."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath

import pytest
from tests.engine.conftest import Harness

from lanner.domain.logs import LogLevel
from lanner.domain.states import StateType
from lanner.engine.feeds import ChangeFeed
from lanner.engine.service import Engine
from lanner.storage import LocalStorage, NamespaceFiles, path_of
from lanner.store import MetricQuery, Store

S = StateType
SCRIPTS = "io.kestra.plugin.scripts"
WD = "io.kestra.plugin.core.flow.WorkingDirectory"


def flow(tasks: str) -> str:
    return f"id: files\nnamespace: company.team\ntasks:\n{tasks}"


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "storage")


@pytest.fixture
async def files_harness(store: Store, storage: LocalStorage) -> AsyncIterator[Harness]:
    feed = ChangeFeed()
    engine = Engine(store, feed, worker_concurrency=4, storage=storage)
    await engine.start()
    try:
        yield Harness(store, feed, engine)
    finally:
        await engine.stop(grace_s=2.0)


def exists(path: str) -> bool:
    return Path(path).exists()


async def messages(harness: Harness, execution_id: str, task_id: str) -> list[str]:
    return [e.message for e in await harness.store.list_logs("main", execution_id, task_id=task_id)]


async def test_output_files_feed_input_files_of_a_later_task(
    files_harness: Harness, storage: LocalStorage
) -> None:
    source = flow(
        f"  - id: make\n    type: {SCRIPTS}.shell.Commands\n"
        "    outputFiles: ['*.txt', 'sub/**.csv']\n"
        "    commands:\n"
        "      - echo made > made.txt\n"
        "      - mkdir -p sub/deep && echo a,b > sub/deep/t.csv\n"
        "      - echo skip > skip.log\n"
        "      - echo out > '{{ outputDir }}/extra.json'\n"
        '      - echo "dir {{ workingDir }}"\n'
        f"  - id: use\n    type: {SCRIPTS}.python.Commands\n"
        "    inputFiles:\n"
        "      copied.txt: '{{ outputs.make.outputFiles[\"made.txt\"] }}'\n"
        "      nested/inline.txt: inline\n"
        "    commands:\n"
        "      - python3 -c \"print(open('copied.txt').read().strip(), open('nested/inline.txt').read())\"\n"
    )
    execution = await files_harness.run_flow(source)
    assert execution.state.current is S.SUCCESS
    runs = await files_harness.runs(execution.id)
    files = runs["make"].outputs["outputFiles"]
    assert sorted(files) == ["extra.json", "made.txt", "sub/deep/t.csv"]
    assert all(uri.startswith("kestra:///company/team/files/executions/") for uri in files.values())
    made = await storage.read_bytes("main", path_of(files["made.txt"]))
    assert made == b"made\n"
    assert await storage.read_bytes("main", path_of(files["extra.json"])) == b"out\n"
    assert "made inline" in await messages(files_harness, execution.id, "use")
    workdir = next(
        m[4:] for m in await messages(files_harness, execution.id, "make") if m.startswith("dir ")
    )
    assert not exists(workdir)  # removed after the attempt


async def test_input_file_outside_the_working_directory_fails(files_harness: Harness) -> None:
    source = flow(
        f"  - id: bad\n    type: {SCRIPTS}.shell.Commands\n"
        "    inputFiles:\n      ../escape.txt: nope\n    commands: [echo never]\n"
    )
    execution = await files_harness.run_flow(source)
    assert execution.state.current is S.FAILED
    logged = await messages(files_harness, execution.id, "bad")
    assert any("outside the working directory" in m for m in logged)
    assert "never" not in logged


async def test_input_file_of_another_execution_is_refused(files_harness: Harness) -> None:
    other = "kestra:///company/team/other/executions/abc/tasks/t/r/x.txt"
    source = flow(
        f"  - id: bad\n    type: {SCRIPTS}.shell.Commands\n"
        f"    inputFiles:\n      x.txt: '{other}'\n    commands: [cat x.txt]\n"
    )
    execution = await files_harness.run_flow(source)
    assert execution.state.current is S.FAILED
    logged = await messages(files_harness, execution.id, "bad")
    assert any("didn't belong to the current execution" in m for m in logged)


async def test_namespace_files_are_copied_with_include_and_exclude(
    files_harness: Harness, storage: LocalStorage
) -> None:
    ns = NamespaceFiles(storage)
    await ns.write("main", "company.team", "scripts/main.py", b"print('from nsfile')\n")
    await ns.write("main", "company.team", "scripts/secret.py", b"raise SystemExit(1)\n")
    await ns.write("main", "company.team", "README.md", b"# readme\n")
    source = flow(
        f"  - id: ns\n    type: {SCRIPTS}.python.Commands\n"
        "    namespaceFiles:\n      enabled: true\n      include: ['scripts/**']\n"
        "      exclude: ['**secret.py']\n"
        "    commands:\n      - python3 scripts/main.py\n      - ls -R\n"
    )
    execution = await files_harness.run_flow(source)
    assert execution.state.current is S.SUCCESS
    logged = await messages(files_harness, execution.id, "ns")
    assert "from nsfile" in logged
    assert "main.py" in logged
    assert "secret.py" not in logged
    assert "README.md" not in logged


async def test_non_zero_exit_code_is_in_the_outputs_with_stderr_in_the_log(
    files_harness: Harness,
) -> None:
    source = flow(
        f"  - id: bad\n    type: {SCRIPTS}.shell.Commands\n"
        "    commands:\n      - echo first problem >&2\n      - echo last problem >&2\n"
        "      - exit 7\n"
    )
    execution = await files_harness.run_flow(source)
    assert execution.state.current is S.FAILED
    run = (await files_harness.runs(execution.id))["bad"]
    assert run.outputs == {"vars": {}, "exitCode": 7}
    entries = await files_harness.store.list_logs("main", execution.id, task_id="bad")
    failure = next(e for e in entries if "Command failed with exit code 7" in e.message)
    assert failure.level is LogLevel.ERROR
    assert "first problem\nlast problem" in failure.message


async def test_the_kestra_library_outputs_metrics_and_logger(files_harness: Harness) -> None:
    script = (
        "    script: |\n"
        "      from kestra import Kestra\n"
        "      Kestra.outputs({'answer': 42, 'items': [1, 2]})\n"
        "      Kestra.counter('rows', 5, {'table': 'users'})\n"
        "      Kestra.counter('rows', 2, {'table': 'users'})\n"
        "      Kestra.timer('load', 1.5, {'step': 'one'})\n"
        "      logger = Kestra.logger()\n"
        "      logger.info('hello from kestra')\n"
        "      logger.warning('careful now')\n"
    )
    source = flow(f"  - id: py\n    type: {SCRIPTS}.python.Script\n{script}")
    execution = await files_harness.run_flow(source)
    assert execution.state.current is S.SUCCESS
    run = (await files_harness.runs(execution.id))["py"]
    assert run.outputs == {"vars": {"answer": 42, "items": [1, 2]}, "exitCode": 0}
    entries = await files_harness.store.list_logs("main", execution.id, task_id="py")
    # The library stamps each message itself: "<time> - <message>".
    levels = {e.message.rpartition(" - ")[2]: e.level for e in entries}
    assert levels.get("hello from kestra") is LogLevel.INFO
    assert levels.get("careful now") is LogLevel.WARN
    page = await files_harness.store.search_metrics(
        MetricQuery(tenant_id="main", execution_id=execution.id, size=50)
    )
    found = sorted((m.name, m.type, m.value, dict(m.tags)) for m in page.results)
    assert found == [
        ("load", "timer", 1500.0, {"step": "one"}),
        ("rows", "counter", 2.0, {"table": "users"}),
        ("rows", "counter", 5.0, {"table": "users"}),
    ]
    assert {m.task_run_id for m in page.results} == {run.id}


async def test_working_directory_children_share_one_directory(
    files_harness: Harness, storage: LocalStorage
) -> None:
    source = flow(
        f"  - id: wd\n    type: {WD}\n"
        "    inputFiles:\n      seed.txt: seeded\n"
        "    outputFiles: ['result.txt']\n"
        "    tasks:\n"
        f"      - id: first\n        type: {SCRIPTS}.shell.Commands\n"
        '        commands:\n          - cat seed.txt > first.txt\n          - echo "at $PWD"\n'
        f"      - id: second\n        type: {SCRIPTS}.python.Commands\n"
        "        commands:\n"
        "          - python3 -c \"print('second read', open('first.txt').read().strip())\"\n"
        "          - echo done > result.txt\n"
    )
    execution = await files_harness.run_flow(source)
    assert execution.state.current is S.SUCCESS
    assert "second read seeded" in await messages(files_harness, execution.id, "second")
    runs = await files_harness.runs(execution.id)
    uri = runs["wd"].outputs["outputFiles"]["result.txt"]
    assert f"/tasks/wd/{runs['wd'].id}/" in uri
    assert await storage.read_bytes("main", path_of(uri)) == b"done\n"
    where = next(
        m[3:] for m in await messages(files_harness, execution.id, "first") if m.startswith("at ")
    )
    assert Path(where).name == f"wd-{runs['wd'].id}"
    assert not exists(where)  # removed after the last child


async def test_working_directory_is_removed_after_a_failed_child(files_harness: Harness) -> None:
    source = flow(
        f"  - id: wd\n    type: {WD}\n    tasks:\n"
        f"      - id: a\n        type: {SCRIPTS}.shell.Commands\n"
        "        commands: ['echo \"at $PWD\"', 'exit 1']\n"
        f"      - id: b\n        type: {SCRIPTS}.shell.Commands\n        commands: [echo no]\n"
    )
    execution = await files_harness.run_flow(source)
    assert execution.state.current is S.FAILED
    where = next(
        m[3:] for m in await messages(files_harness, execution.id, "a") if m.startswith("at ")
    )
    assert not exists(where)
    assert "b" not in await files_harness.runs(execution.id)


async def test_a_hundred_thousand_lines_are_all_stored(files_harness: Harness) -> None:
    source = flow(
        f"  - id: many\n    type: {SCRIPTS}.shell.Commands\n    commands:\n      - seq 1 100000\n"
    )
    # A generous deadline: a loaded machine may take a while (this is no timing test).
    execution = await files_harness.wait_for(await files_harness.start(source), deadline_s=180)
    assert execution.state.current is S.SUCCESS
    entries = await files_harness.store.list_logs(
        "main", execution.id, task_id="many", min_level=LogLevel.INFO
    )
    numbers = [e.message for e in entries if e.message.isdigit()]
    assert len(numbers) == 100_000
    assert numbers == [str(n) for n in range(1, 100_001)]


async def test_legacy_docker_runner_fails_without_a_daemon(files_harness: Harness) -> None:
    source = flow(
        f"  - id: d\n    type: {SCRIPTS}.python.Commands\n    runner: DOCKER\n"
        "    docker:\n      image: python:3.12\n    commands: [echo hi]\n"
    )
    execution = await files_harness.run_flow(source)
    assert execution.state.current is S.FAILED
    logged = await messages(files_harness, execution.id, "d")
    assert any("needs a Docker daemon" in m or "docker CLI" in m for m in logged)
    assert "hi" not in logged


def test_task_file_paths_are_under_the_task_run() -> None:
    uri_path = PurePosixPath("company/team/files/executions/e/tasks/t/r/a.txt")
    assert path_of("kestra:///" + uri_path.as_posix()) == uri_path
