"""The ``lanner`` client commands as real subprocesses against a real server (SQLite and
PostgreSQL), with Basic auth on and credentials passed through the environment only.

Each test checks the JSON output and the exit code: 0 success, 1 an execution that ended
FAILED/KILLED, 2 a usage or HTTP error with the server's message on stderr and no traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.acceptance.conftest import LannerServer, wait_for

CLI_TIMEOUT_S = 90.0

HELLO = """\
id: hello
namespace: {ns}
inputs:
  - id: name
    type: STRING
    defaults: world
tasks:
  - id: greet
    type: io.kestra.plugin.core.log.Log
    message: "hello {{{{ inputs.name }}}}"
  - id: answer
    type: io.kestra.plugin.core.debug.Return
    format: "forty-{{{{ 40 + 2 }}}}"
"""

BOOM = """\
id: boom
namespace: {ns}
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: about to fail
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
"""

READ_FILE = """\
id: readfile
namespace: {ns}
inputs:
  - id: doc
    type: FILE
tasks:
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "content: {{{{ read(inputs.doc) }}}}"
"""

SLOW = """\
id: slow
namespace: {ns}
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT60S
"""

GATE = """\
id: gate
namespace: {ns}
tasks:
  - id: approve
    type: io.kestra.plugin.core.flow.Pause
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: resumed
"""

INVALID = """\
id: fine
namespace: {ns}
tasks:
  - id: ok
    type: io.kestra.plugin.core.log.Log
    message: fine
---
id: broken
namespace: {ns}
tasks:
  - id: t1
    type: io.kestra.plugin.core.log.Log
    message: ok
  - id: t2
    type: io.kestra.plugin.core.nope.Missing
"""


def lanner(server: LannerServer, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("lanner")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "lanner.cli.main"]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("KESTRA_")}
    environ.update(KESTRA_URL=server.url, KESTRA_USER=server.username)
    environ.update(KESTRA_PASSWORD=server.password, KESTRA_CONFIG=os.devnull, COLUMNS="200")
    environ.update(env)
    return subprocess.run(
        [*command, *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )


def ok_json(done: subprocess.CompletedProcess[str], code: int = 0) -> Any:
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return json.loads(done.stdout)


def json_lines(done: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def http_error(done: subprocess.CompletedProcess[str], status: int, message: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert f"HTTP {status}" in done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def write_flows(root: Path, **flows: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, source in flows.items():
        (root / f"{name}.yaml").write_text(source)
    return root


def deploy(server: LannerServer, tmp_path: Path, ns: str, *templates: str) -> None:
    root = write_flows(
        tmp_path / "deploy", **{f"f{i}": t.format(ns=ns) for i, t in enumerate(templates)}
    )
    ok_json(lanner(server, "flow", "deploy", str(root), "--format", "json"))


def start(server: LannerServer, ns: str, flow: str, *args: str) -> str:
    created = ok_json(lanner(server, "run", ns, flow, *args, "--format", "json"))
    return str(created["id"])


def test_flow_deploy_dir_groups_namespaces_and_delete_removes_a_flow(
    lanner_server: LannerServer, unique_namespace: str, tmp_path: Path
) -> None:
    other = f"{unique_namespace}.other"
    root = write_flows(
        tmp_path / "flows",
        hello=HELLO.format(ns=unique_namespace),
        boom=BOOM.format(ns=unique_namespace),
        both=HELLO.format(ns=other) + "---\n" + BOOM.format(ns=other),
    )
    deployed = ok_json(lanner(lanner_server, "flow", "deploy", str(root), "--format", "json"))
    assert {(f["namespace"], f["id"]) for f in deployed} == {
        (unique_namespace, "hello"), (unique_namespace, "boom"), (other, "hello"), (other, "boom"),
    }  # fmt: skip
    listed = ok_json(lanner(lanner_server, "flow", "list", unique_namespace, "--format", "json"))
    assert sorted(f["id"] for f in listed) == ["boom", "hello"]
    flow = ok_json(
        lanner(lanner_server, "flow", "get", unique_namespace, "hello", "--format", "json")
    )
    assert flow["source"] == HELLO.format(ns=unique_namespace)
    human = lanner(lanner_server, "flow", "get", unique_namespace, "hello")
    assert "io.kestra.plugin.core.log.Log" in human.stdout

    (root / "boom.yaml").unlink()
    synced = ok_json(
        lanner(lanner_server, "flow", "deploy", str(root), "--delete", "--format", "json")
    )
    assert {(f["namespace"], f["id"]) for f in synced if f["deleted"]} == {
        (unique_namespace, "boom")
    }
    gone = lanner(lanner_server, "flow", "get", unique_namespace, "boom")
    http_error(gone, 404, "not found")
    listed = ok_json(lanner(lanner_server, "flow", "list", unique_namespace, "--format", "json"))
    assert [f["id"] for f in listed] == ["hello"]

    # Without --delete a namespace sync keeps the flows missing from the files.
    (root / "both.yaml").write_text(HELLO.format(ns=other))
    ok_json(lanner(lanner_server, "flow", "deploy", str(root), "--format", "json"))
    listed = ok_json(lanner(lanner_server, "flow", "list", other, "--format", "json"))
    assert sorted(f["id"] for f in listed) == ["boom", "hello"]


def test_validate_and_deploy_report_line_and_column(
    lanner_server: LannerServer, unique_namespace: str, tmp_path: Path
) -> None:
    path = tmp_path / "invalid.yaml"
    path.write_text(INVALID.format(ns=unique_namespace))

    checked = lanner(lanner_server, "flow", "validate", str(path))
    assert checked.returncode == 1, checked.stderr
    # tasks[1].type of the second document: line 15 of the file, column 11.
    assert f"{path}:15:11: tasks[1].type: Invalid type: io.kestra.plugin.core.nope.Missing" in (
        checked.stdout
    )
    assert f"{path}: valid {unique_namespace}.fine" in checked.stdout
    reports = ok_json(lanner(lanner_server, "flow", "validate", str(path), "--format", "json"), 1)
    assert [r["valid"] for r in reports] == [True, False]
    (problem,) = reports[1]["problems"]
    assert (problem["path"], problem["line"], problem["column"]) == ("tasks[1].type", 15, 11)

    refused = lanner(lanner_server, "flow", "deploy", str(path))
    http_error(refused, 422, "Invalid entity")
    assert f"{path}:15:11: tasks[1].type" in refused.stderr
    missing = lanner(lanner_server, "flow", "list", unique_namespace, "--format", "json")
    assert ok_json(missing) == []  # nothing saved


def test_run_wait_follow_status_and_logs(
    lanner_server: LannerServer, unique_namespace: str, tmp_path: Path
) -> None:
    ns = unique_namespace
    deploy(lanner_server, tmp_path, ns, HELLO, BOOM)

    done = ok_json(
        lanner(lanner_server, "run", ns, "hello", "-i", "name=Ada", "-l", "team:data",
               "--wait", "--format", "json")
    )  # fmt: skip
    assert done["state"]["current"] == "SUCCESS"
    assert {"key": "team", "value": "data"} in done["labels"]
    assert {run["taskId"]: run["outputs"] for run in done["taskRunList"]}["answer"] == {
        "value": "forty-42"
    }
    status = ok_json(lanner(lanner_server, "status", done["id"], "--format", "json"))
    assert status["id"] == done["id"]
    logs = ok_json(lanner(lanner_server, "logs", done["id"], "--format", "json"))
    assert "hello Ada" in [line["message"] for line in logs]

    followed = lanner(lanner_server, "run", ns, "boom", "--follow", "--format", "json")
    assert followed.returncode == 1, followed.stderr
    lines = json_lines(followed)
    assert lines[-1]["type"] == "end"
    assert lines[-1]["state"] == "FAILED"
    messages = [line["message"] for line in lines if line["type"] == "log"]
    assert "about to fail" in messages
    assert len(messages) == len(set(messages))  # each line once
    assert [line for line in lines if line["type"] == "state"][-1]["state"] == "FAILED"
    failed_id = lines[-1]["executionId"]

    assert lanner(lanner_server, "status", failed_id, "--format", "json").returncode == 1
    errors = ok_json(
        lanner(lanner_server, "logs", failed_id, "--min-level", "ERROR", "--format", "json")
    )
    assert errors
    assert {line["level"] for line in errors} == {"ERROR"}
    again = lanner(lanner_server, "logs", failed_id, "--follow", "--format", "json")
    assert again.returncode == 1
    assert "about to fail" in [line.get("message") for line in json_lines(again)]

    human = lanner(lanner_server, "status", failed_id)
    assert human.returncode == 1
    assert "FAILED" in human.stdout
    assert "fail" in human.stdout
    assert "say" in human.stdout
    human_follow = lanner(lanner_server, "run", ns, "hello", "-i", "name=Bob", "--follow")
    assert human_follow.returncode == 0, human_follow.stderr
    assert "hello Bob" in human_follow.stdout
    assert "SUCCESS" in human_follow.stdout


def test_file_input_is_uploaded_as_a_file_part(
    lanner_server: LannerServer, unique_namespace: str, tmp_path: Path
) -> None:
    deploy(lanner_server, tmp_path, unique_namespace, READ_FILE)
    doc = tmp_path / "contract.yaml"
    doc.write_text("the contract body")
    execution_id = start(lanner_server, unique_namespace, "readfile", "--input", f"doc=@{doc}")
    followed = lanner(lanner_server, "logs", execution_id, "--follow", "--format", "json")
    assert followed.returncode == 0, followed.stderr
    messages = [line.get("message") for line in json_lines(followed)]
    assert "content: the contract body" in messages


def test_errors_exit_2_with_the_server_message(
    lanner_server: LannerServer, unique_namespace: str
) -> None:
    http_error(lanner(lanner_server, "status", "nope"), 404, "Execution 'nope' not found")
    as_json = lanner(lanner_server, "status", "nope", "--format", "json")
    assert as_json.returncode == 2
    error = json.loads(as_json.stderr)
    assert (error["type"], error["status"]) == ("error", 404)
    http_error(lanner(lanner_server, "run", unique_namespace, "none"), 404, "not found")
    http_error(lanner(lanner_server, "flow", "list", KESTRA_PASSWORD="wrong"), 401, "Unauthorized")
    usage = lanner(lanner_server, "run", unique_namespace, "x", "--input", "novalue")
    assert usage.returncode == 2
    assert "expected key=value" in usage.stderr


def test_credentials_and_tenant_from_a_config_file(
    lanner_server: LannerServer, unique_namespace: str, tmp_path: Path
) -> None:
    config = tmp_path / "client.yaml"
    config.write_text(
        f"url: {lanner_server.url}\nuser: {lanner_server.username}\n"
        f"password: {lanner_server.password}\ntenant: acme\n"
    )
    flow = tmp_path / "hello.yaml"
    flow.write_text(HELLO.format(ns=unique_namespace))
    from_file = {"KESTRA_CONFIG": str(config), "KESTRA_URL": "", "KESTRA_USER": "",
                 "KESTRA_PASSWORD": ""}  # fmt: skip
    ok_json(lanner(lanner_server, "flow", "deploy", str(flow), "--format", "json", **from_file))
    listed = ok_json(
        lanner(lanner_server, "flow", "list", unique_namespace, "--format", "json", **from_file)
    )
    assert [(f["id"], f["tenantId"]) for f in listed] == [("hello", "acme")]
    done = ok_json(
        lanner(lanner_server, "run", unique_namespace, "hello", "--wait", "--format", "json",
               **from_file)
    )  # fmt: skip
    assert (done["tenantId"], done["state"]["current"]) == ("acme", "SUCCESS")
    # The default tenant does not see it.
    assert (
        ok_json(lanner(lanner_server, "flow", "list", unique_namespace, "--format", "json")) == []
    )


def test_kill_restart_replay_resume(
    lanner_server: LannerServer, unique_namespace: str, tmp_path: Path
) -> None:
    ns = unique_namespace
    deploy(lanner_server, tmp_path, ns, SLOW, BOOM, GATE)

    slow = start(lanner_server, ns, "slow")
    wait_for(
        lambda: (
            True
            if ok_json(lanner(lanner_server, "status", slow, "--format", "json"))["state"][
                "current"
            ]
            == "RUNNING"
            else None
        ),
        timeout_s=30,
        what="the slow execution running",
    )
    ok_json(lanner(lanner_server, "kill", slow, "--format", "json"))
    killed = wait_for(
        lambda: (
            done
            if (done := lanner(lanner_server, "status", slow, "--format", "json")).returncode == 1
            else None
        ),
        timeout_s=30,
        what="the killed execution's end",
    )
    assert json.loads(killed.stdout)["state"]["current"] == "KILLED"

    failed = ok_json(lanner(lanner_server, "run", ns, "boom", "--wait", "--format", "json"), 1)
    restarted = ok_json(
        lanner(lanner_server, "restart", failed["id"], "--wait", "--format", "json"), 1
    )
    assert restarted["id"] == failed["id"]
    fail_run = next(run for run in restarted["taskRunList"] if run["taskId"] == "fail")
    assert len(fail_run["attempts"]) == 2
    say = next(run for run in failed["taskRunList"] if run["taskId"] == "say")
    replayed = ok_json(
        lanner(lanner_server, "replay", failed["id"], "--task-run", say["id"], "--format", "json")
    )
    assert replayed["id"] != failed["id"]

    gate = start(lanner_server, ns, "gate")
    wait_for(
        lambda: (
            True
            if ok_json(lanner(lanner_server, "status", gate, "--format", "json"))["state"][
                "current"
            ]
            == "PAUSED"
            else None
        ),
        timeout_s=30,
        what="the gate paused",
    )
    resumed = ok_json(lanner(lanner_server, "resume", gate, "--wait", "--format", "json"))
    assert resumed["state"]["current"] == "SUCCESS"
    http_error(lanner(lanner_server, "resume", gate), 409, "not paused")


def test_kv_commands(lanner_server: LannerServer, unique_namespace: str) -> None:
    ns = unique_namespace
    ok_json(lanner(lanner_server, "kv", "set", ns, "greeting", "hello", "--format", "json"))
    stored = ok_json(
        lanner(
            lanner_server, "kv", "set", ns, "cfg", '{"a": 1}', "--ttl", "PT1H", "--format", "json"
        )
    )
    assert (stored["type"], stored["value"]) == ("JSON", {"a": 1})
    ok_json(
        lanner(lanner_server, "kv", "set", ns, "note", "two words", "--text", "--format", "json")
    )
    got = ok_json(lanner(lanner_server, "kv", "get", ns, "note", "--format", "json"))
    assert (got["type"], got["value"]) == ("STRING", "two words")
    assert lanner(lanner_server, "kv", "get", ns, "cfg").stdout.strip() == '{"a": 1}'
    keys = ok_json(lanner(lanner_server, "kv", "list", ns, "--format", "json"))
    assert sorted(entry["key"] for entry in keys) == ["cfg", "greeting", "note"]
    assert next(e for e in keys if e["key"] == "cfg").get("expirationDate")

    assert ok_json(lanner(lanner_server, "kv", "delete", ns, "note", "--format", "json"))["deleted"]
    assert lanner(lanner_server, "kv", "delete", ns, "note").returncode == 2
    http_error(lanner(lanner_server, "kv", "get", ns, "note"), 404, "No value found for key 'note'")
    http_error(
        lanner(lanner_server, "kv", "set", ns, "bad", "two words"), 422, "Invalid JSON value"
    )
    not_java = lanner(lanner_server, "kv", "set", ns, "x", "1", "--ttl", "P1M")
    assert not_java.returncode == 2  # Java's Duration.parse has no months
    assert "--ttl" in not_java.stderr


def test_files_commands(lanner_server: LannerServer, unique_namespace: str, tmp_path: Path) -> None:
    ns = unique_namespace
    local = tmp_path / "script.py"
    local.write_bytes(b"print('hi')\n")
    uploaded = ok_json(
        lanner(
            lanner_server,
            "files",
            "upload",
            ns,
            str(local),
            "scripts/script.py",
            "--format",
            "json",
        )
    )
    assert uploaded == {"namespace": ns, "path": "/scripts/script.py", "size": 12}
    root = ok_json(lanner(lanner_server, "files", "list", ns, "--format", "json"))
    assert [(e["fileName"], e["type"]) for e in root] == [("scripts", "Directory")]
    inside = ok_json(lanner(lanner_server, "files", "list", ns, "scripts", "--format", "json"))
    assert [(e["fileName"], e["size"]) for e in inside] == [("script.py", 12)]
    printed = lanner(lanner_server, "files", "download", ns, "scripts/script.py")
    assert (printed.returncode, printed.stdout) == (0, "print('hi')\n")
    out = tmp_path / "copy.py"
    saved = ok_json(
        lanner(lanner_server, "files", "download", ns, "/scripts/script.py", "-o", str(out),
               "--format", "json")
    )  # fmt: skip
    assert saved["size"] == 12
    assert out.read_bytes() == b"print('hi')\n"
    http_error(lanner(lanner_server, "files", "download", ns, "nope.txt"), 404, "not found")
