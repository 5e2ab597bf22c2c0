"""The ``storage.*`` and ``namespace.*`` tasks end to end on the real engine, store (both
backends) and internal storage: their properties, outputs and files, a FAILED task with its
reason in the logs, and a bad property refused at save naming it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.engine.conftest import Harness

from lanner.domain.states import StateType
from lanner.engine.feeds import ChangeFeed
from lanner.engine.service import Engine
from lanner.errors import InvalidFlowError
from lanner.flows.runnability import parse_for_save
from lanner.storage import LocalStorage, NamespaceFiles, path_of
from lanner.store import Store

S = StateType
ST = "io.kestra.plugin.core.storage"
NS = "io.kestra.plugin.core.namespace"


def flow(tasks: str, flow_id: str = "io") -> str:
    return f"id: {flow_id}\nnamespace: company.team\ntasks:\n{tasks}"


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "storage")


@pytest.fixture
async def harness(store: Store, storage: LocalStorage) -> AsyncIterator[Harness]:
    feed = ChangeFeed()
    engine = Engine(store, feed, worker_concurrency=4, storage=storage)
    await engine.start()
    try:
        yield Harness(store, feed, engine)
    finally:
        await engine.stop(grace_s=2.0)


async def read(storage: LocalStorage, uri: str) -> str:
    return (await storage.read_bytes("main", path_of(uri))).decode()


async def messages(harness: Harness, execution_id: str, task_id: str) -> list[str]:
    return [e.message for e in await harness.store.list_logs("main", execution_id, task_id=task_id)]


def refused(source: str) -> dict[str, str]:
    with pytest.raises(InvalidFlowError) as caught:
        parse_for_save(source)
    return {d.path: d.message for d in caught.value.details}


async def test_write_concat_size_reverse_split_and_delete(
    harness: Harness, storage: LocalStorage
) -> None:
    source = flow(
        f'  - id: one\n    type: {ST}.Write\n    content: "1\\n2\\n3\\n"\n    extension: .txt\n'
        f'  - id: two\n    type: {ST}.Write\n    content: "4\\n"\n'
        f"  - id: concat\n    type: {ST}.Concat\n    extension: .txt\n    separator: ''\n"
        "    files: ['{{ outputs.one.uri }}', '{{ outputs.two.uri }}']\n"
        f"  - id: json_list\n    type: {ST}.Concat\n    separator: '|'\n"
        '    files: \'["{{ outputs.two.uri }}", "{{ outputs.two.uri }}"]\'\n'
        f"  - id: size\n    type: {ST}.Size\n    uri: '{{{{ outputs.concat.uri }}}}'\n"
        f"  - id: reverse\n    type: {ST}.Reverse\n    from: '{{{{ outputs.concat.uri }}}}'\n"
        f"  - id: rows\n    type: {ST}.Split\n    from: '{{{{ outputs.concat.uri }}}}'\n    rows: 3\n"
        f"  - id: parts\n    type: {ST}.Split\n    from: '{{{{ outputs.concat.uri }}}}'\n"
        "    partitions: 3\n"
        f"  - id: bytes\n    type: {ST}.Split\n    from: '{{{{ outputs.concat.uri }}}}'\n"
        "    bytes: '4'\n    separator: ';'\n"
        f"  - id: delete\n    type: {ST}.Delete\n    uri: '{{{{ outputs.one.uri }}}}'\n"
        f"  - id: again\n    type: {ST}.Delete\n    uri: '{{{{ outputs.one.uri }}}}'\n"
        f"  - id: missing\n    type: {ST}.Delete\n    uri: '{{{{ outputs.one.uri }}}}'\n"
        "    errorOnMissing: true\n    allowFailure: true\n"
        f"  - id: no_mode\n    type: {ST}.Split\n    from: '{{{{ outputs.two.uri }}}}'\n"
        "    allowFailure: true\n"
    )
    execution = await harness.run_flow(source)
    assert execution.state.current is S.WARNING
    runs = await harness.runs(execution.id)
    one = runs["one"].outputs["uri"]
    assert one.startswith("kestra:///company/team/io/executions/")
    assert one.endswith(".txt")
    assert runs["two"].outputs["uri"].endswith(".tmp")  # Kestra's default extension
    concat = runs["concat"].outputs["uri"]
    assert concat.endswith(".txt")
    assert await read(storage, concat) == "1\n2\n3\n4\n"
    assert await read(storage, runs["json_list"].outputs["uri"]) == "4\n|4\n|"
    assert runs["size"].outputs == {"size": 8}
    reversed_uri = runs["reverse"].outputs["uri"]
    assert reversed_uri.endswith(".txt")
    assert await read(storage, reversed_uri) == "4\n3\n2\n1\n"
    rows = [await read(storage, u) for u in runs["rows"].outputs["uris"]]
    assert rows == ["1\n2\n3\n", "4\n"]
    parts = [await read(storage, u) for u in runs["parts"].outputs["uris"]]
    assert parts == ["1\n4\n", "2\n", "3\n"]
    chunks = [await read(storage, u) for u in runs["bytes"].outputs["uris"]]
    assert chunks == ["1;2;", "3;4;"]  # a chunk closes once it holds 4 bytes
    assert runs["delete"].outputs == {"uri": one, "deleted": True}
    assert runs["again"].outputs == {"uri": one, "deleted": False}
    assert runs["missing"].state.current is S.WARNING  # failed, allowFailure
    assert f"Unable to find file '{one}'" in await messages(harness, execution.id, "missing")
    assert runs["no_mode"].state.current is S.WARNING  # failed, allowFailure
    assert "Invalid configuration with no size, count, nor rows" in await messages(
        harness, execution.id, "no_mode"
    )


ROWS = '{k:"k1",value:1}\n{k:"k2",value:2}\n{k:"k1",value:3}\n{k:"k3",value:"dummy"}\n'


async def test_filter_and_deduplicate_ion_items(harness: Harness, storage: LocalStorage) -> None:
    source = flow(
        f"  - id: rows\n    type: {ST}.Write\n    extension: .ion\n    content: |\n"
        + "".join(f"      {row}\n" for row in ROWS.splitlines())
        + f"  - id: odd\n    type: {ST}.FilterItems\n    from: '{{{{ outputs.rows.uri }}}}'\n"
        "    filterCondition: ' {{ value == 1 or value == 3 }} '\n"
        f"  - id: even\n    type: {ST}.FilterItems\n    from: '{{{{ outputs.rows.uri }}}}'\n"
        "    filterCondition: '{{ value % 2 == 1 }}'\n    filterType: EXCLUDE\n"
        "    errorOrNullBehavior: EXCLUDE\n"
        f"  - id: keep_bad\n    type: {ST}.FilterItems\n    from: '{{{{ outputs.rows.uri }}}}'\n"
        "    filterCondition: '{{ value % 2 == 0 }}'\n    errorOrNullBehavior: INCLUDE\n"
        f"  - id: dedup\n    type: {ST}.DeduplicateItems\n    from: '{{{{ outputs.rows.uri }}}}'\n"
        "    expr: '{{ k }}'\n"
        f"  - id: fail\n    type: {ST}.FilterItems\n    from: '{{{{ outputs.rows.uri }}}}'\n"
        "    filterCondition: '{{ value % 2 == 0 }}'\n    allowFailure: true\n"
    )
    execution = await harness.run_flow(source)
    assert execution.state.current is S.WARNING
    runs = await harness.runs(execution.id)
    odd = runs["odd"].outputs
    assert odd["uri"].endswith(".ion")
    assert (odd["processedItemsTotal"], odd["droppedItemsTotal"]) == (4, 2)
    assert await read(storage, odd["uri"]) == '{k:"k1",value:1}\n{k:"k1",value:3}\n'
    even = runs["even"].outputs
    assert (even["processedItemsTotal"], even["droppedItemsTotal"]) == (4, 3)
    assert await read(storage, even["uri"]) == '{k:"k2",value:2}\n'
    keep_bad = runs["keep_bad"].outputs
    assert await read(storage, keep_bad["uri"]) == '{k:"k2",value:2}\n{k:"k3",value:"dummy"}\n'
    dedup = runs["dedup"].outputs
    assert (dedup["numKeys"], dedup["processedItemsTotal"], dedup["droppedItemsTotal"]) == (3, 4, 1)
    assert await read(storage, dedup["uri"]) == (
        '{k:"k2",value:2}\n{k:"k1",value:3}\n{k:"k3",value:"dummy"}\n'
    )
    assert runs["fail"].state.current is S.WARNING  # failed, allowFailure
    assert await messages(harness, execution.id, "fail")  # the render error, logged


async def test_local_files_and_purge_current_execution_files(
    harness: Harness, storage: LocalStorage
) -> None:
    source = flow(
        f"  - id: write\n    type: {ST}.Write\n    content: stored\n"
        "  - id: wd\n    type: io.kestra.plugin.core.flow.WorkingDirectory\n    tasks:\n"
        f"      - id: local\n        type: {ST}.LocalFiles\n"
        "        inputs:\n          a.txt: hello\n          sub/b.txt: '{{ outputs.write.uri }}'\n"
        "        outputs: ['*.txt', 'sub/**']\n"
        f"  - id: purge\n    type: {ST}.PurgeCurrentExecutionFiles\n"
    )
    execution = await harness.run_flow(source)
    assert execution.state.current is S.SUCCESS
    runs = await harness.runs(execution.id)
    uris = runs["local"].outputs["uris"]
    assert sorted(uris) == ["a.txt", "sub/b.txt"]
    purged = runs["purge"].outputs["uris"]
    assert runs["write"].outputs["uri"] in purged
    assert uris["a.txt"] in purged
    assert not await storage.exists("main", path_of(uris["a.txt"]))


async def test_namespace_upload_download_and_delete_files(
    harness: Harness, storage: LocalStorage
) -> None:
    files = NamespaceFiles(storage)
    await files.write("main", "company.other", "a/b/test1.txt", b"1")
    await files.write("main", "company.other", "a/b/test2.txt", b"2")
    await files.write("main", "company.other", "c/d/test1.log", b"3")
    source = flow(
        f"  - id: write\n    type: {ST}.Write\n    content: uploaded\n"
        f"  - id: map\n    type: {NS}.UploadFiles\n    namespace: company.team\n"
        "    filesMap:\n      /path/file.txt: '{{ outputs.write.uri }}'\n    destination: /folder\n"
        f"  - id: conflict\n    type: {NS}.UploadFiles\n    namespace: company.team\n"
        '    filesMap: \'{"/path/file.txt": "{{ outputs.write.uri }}"}\'\n'
        "    destination: /folder\n    conflict: ERROR\n    allowFailure: true\n"
        f"  - id: skip\n    type: {NS}.UploadFiles\n    namespace: company.team\n"
        "    filesMap:\n      /path/file.txt: '{{ outputs.write.uri }}'\n    destination: /folder\n"
        "    conflict: SKIP\n"
        "  - id: wd\n    type: io.kestra.plugin.core.flow.WorkingDirectory\n    tasks:\n"
        f"      - id: local\n        type: {ST}.LocalFiles\n"
        "        inputs:\n          x.txt: from workdir\n          y.csv: no\n"
        f"      - id: globs\n        type: {NS}.UploadFiles\n        namespace: company.team\n"
        "        files: ['*.txt']\n        destination: up\n"
        f"  - id: download\n    type: {NS}.DownloadFiles\n    namespace: company.other\n"
        "    files: '**test1.txt'\n"
        f"  - id: delete\n    type: {NS}.DeleteFiles\n    namespace: company.other\n"
        "    files: ['**test1*']\n"
        f"  - id: prune\n    type: {NS}.DeleteFiles\n    namespace: company.other\n"
        "    files: [test2.txt]\n    deleteParentFolder: true\n"
    )
    execution = await harness.run_flow(source)
    assert execution.state.current is S.WARNING
    runs = await harness.runs(execution.id)
    assert await files.read("main", "company.team", "folder/path/file.txt") == b"uploaded"
    assert runs["conflict"].state.current is S.WARNING  # failed, allowFailure
    assert (
        "File '/folder/path/file.txt' already exists in namespace 'company.team' and conflict "
        "is set to ERROR"
    ) in await messages(harness, execution.id, "conflict")
    assert runs["skip"].state.current is S.SUCCESS
    assert await files.read("main", "company.team", "up/x.txt") == b"from workdir"
    assert not await files.exists("main", "company.team", "up/y.csv")
    downloaded = runs["download"].outputs["files"]
    assert list(downloaded) == ["/a/b/test1.txt"]
    assert await read(storage, downloaded["/a/b/test1.txt"]) == "1"
    left = await files.list_files("main", "company.other")
    assert left == []  # test1.txt, test1.log, then test2.txt with its parents
    listing = [e.file_name for e in await files.list_directory("main", "company.other", None)]
    assert listing == ["c"]  # the first delete kept the empty c/d (deleteParentFolder: false)


def test_bad_properties_are_refused_at_save_naming_them() -> None:
    errors = refused(
        flow(
            f"  - id: split\n    type: {ST}.Split\n    from: x\n    partitions: many\n"
            f"  - id: filter\n    type: {ST}.FilterItems\n    from: x\n    filterCondition: y\n"
            "    filterType: SOME\n"
            f"  - id: up\n    type: {NS}.UploadFiles\n    namespace: a\n    conflict: MERGE\n"
            f"  - id: write\n    type: {ST}.Write\n    extension: .txt\n"
        )
    )
    assert any("tasks[0].partitions" in path for path in errors), errors
    assert any("tasks[1].filterType" in path for path in errors), errors
    assert any("tasks[2].conflict" in path for path in errors), errors
    assert any("tasks[3].content" in path for path in errors), errors
