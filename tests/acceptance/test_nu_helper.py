"""``tools/kestra.nu`` run by the real ``nu`` binary against a real server with Basic auth.

Every command of the helper (flow, run, status, logs, kill, restart, outputs) is called as a
script (``nu tools/kestra.nu ...``, rendered output or ``--json``) and as a module (``use
tools/kestra.nu; kestra status ... | get state.current``), including the three calls of the
user's reference verbatim. Credentials reach it through the environment or a config file only.
Without ``nu`` the tests skip locally and fail when ``CI`` is set (``.ci/run`` installs it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from tests.acceptance.conftest import REPO_ROOT, LannerServer, wait_for

# The helper speaks HTTP only: one backend is enough (the API is the same on both).
pytestmark = pytest.mark.parametrize("lanner_server", ["sqlite"], indirect=True)

NU_TIMEOUT_S = 60.0
HELPER = "tools/kestra.nu"
EXAMPLES = REPO_ROOT / "examples"
TERMINAL = ("SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED")

NAP_FLOW = """\
id: nap
namespace: {namespace}
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT60S
"""


def find_nu() -> str | None:
    found = shutil.which("nu")
    if found is not None:
        return found
    # Where .ci/run installs the npm package `nushell` (its platform package holds the binary).
    candidates = sorted(
        (REPO_ROOT / ".cache" / "node" / "node_modules" / "@nushell").glob("*/bin/nu")
    )
    return str(candidates[0]) if candidates else None


@pytest.fixture(scope="module")
def nu_bin() -> str:
    found = find_nu()
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(
                "nu is not installed (CI is set: .ci/run must install the npm package nushell)"
            )
        pytest.skip("nu is not installed (npm install --prefix .cache/node nushell)")
    return found


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty HOME: no developer's ~/.config/kestra leaks into the test."""
    path = tmp_path / "home"
    path.mkdir()
    return path


def nu_env(server: LannerServer | None, home: Path, nu: str, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("KESTRA_") and k not in ("XDG_CONFIG_HOME", "HOME")
    }
    env["HOME"] = str(home)
    env["PATH"] = f"{Path(nu).parent}{os.pathsep}{env.get('PATH', '')}"
    if server is not None:
        env["KESTRA_URL"] = server.url
        env["KESTRA_USER"] = server.username
        env["KESTRA_PASSWORD"] = server.password
    env.update(extra)
    return env


def shell(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A command line exactly as a user types it in bash, run from the repository root."""
    return subprocess.run(
        ["bash", "-c", command],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=NU_TIMEOUT_S,
        check=False,
    )


def nu_json(args: list[str], env: dict[str, str]) -> Any:
    done = subprocess.run(
        ["nu", HELPER, *args, "--json"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=NU_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def nu_module(pipeline: str, env: dict[str, str]) -> str:
    """``use tools/kestra.nu; <pipeline>`` in a fresh nu; its printed result."""
    done = subprocess.run(
        ["nu", "-c", f"use {HELPER}; {pipeline}"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=NU_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def deploy(server: LannerServer, source: str) -> None:
    """Create the flow, or update it when an earlier test already did (the server is shared)."""
    flow = yaml.safe_load(source)
    headers = {"Content-Type": "application/x-yaml"}
    with httpx.Client(base_url=server.url, auth=server.auth, timeout=30.0) as http:
        path = f"/api/v1/flows/{flow['namespace']}/{flow['id']}"
        if http.get(path).status_code == 200:
            response = http.put(path, content=source, headers=headers)
        else:
            response = http.post("/api/v1/flows", content=source, headers=headers)
    assert response.status_code == 200, response.text


def execution(server: LannerServer, execution_id: str) -> dict[str, Any]:
    response = httpx.get(
        f"{server.url}/api/v1/executions/{execution_id}", auth=server.auth, timeout=30.0
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_state(server: LannerServer, execution_id: str, states: tuple[str, ...]) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        body = execution(server, execution_id)
        return body if body["state"]["current"] in states else None

    return wait_for(probe, timeout_s=NU_TIMEOUT_S, what=f"{execution_id} in {states}")


def wait_task_running(server: LannerServer, execution_id: str, task_id: str) -> None:
    def probe() -> bool | None:
        runs = execution(server, execution_id).get("taskRunList") or []
        running = any(r["taskId"] == task_id and r["state"]["current"] == "RUNNING" for r in runs)
        return True if running else None

    wait_for(probe, timeout_s=NU_TIMEOUT_S, what=f"{task_id} to run")


def table_value(rendered: str, key: str) -> str:
    """The value of ``key`` in a rendered Nushell record (``│ key │ value │``)."""
    for line in rendered.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if len(cells) >= 2 and cells[0] == key:
            return cells[1]
    raise AssertionError(f"no {key!r} row in:\n{rendered}")


@pytest.fixture
def contract_loop(lanner_server: LannerServer) -> None:
    deploy(lanner_server, (EXAMPLES / "bitter" / "contract-loop.yaml").read_text())


# --------------------------------------------------------------------------- the reference


def test_the_three_calls_of_the_reference_verbatim(
    lanner_server: LannerServer, contract_loop: None, nu_bin: str, home: Path
) -> None:
    env = nu_env(lanner_server, home, nu_bin)

    shown = shell("nu tools/kestra.nu flow bitter contract-loop", env)
    assert shown.returncode == 0, shown.stderr
    assert table_value(shown.stdout, "namespace") == "bitter"
    assert table_value(shown.stdout, "id") == "contract-loop"
    assert "io.kestra.plugin.core.flow.LoopUntil" in shown.stdout
    assert "contract" in shown.stdout
    assert "STRING" in shown.stdout

    started = shell(
        """nu tools/kestra.nu run bitter contract-loop '{"contract":"/path/to/contract.yaml"}'""",
        env,
    )
    assert started.returncode == 0, started.stderr
    execution_id = table_value(started.stdout, "id")
    assert table_value(started.stdout, "flowId") == "contract-loop"
    assert table_value(started.stdout, "state") == "CREATED"
    wait_state(lanner_server, execution_id, TERMINAL)

    status = shell(f"nu tools/kestra.nu status {execution_id}", env)
    assert status.returncode == 0, status.stderr
    assert table_value(status.stdout, "id") == execution_id
    assert table_value(status.stdout, "state") == "SUCCESS"
    assert "/path/to/contract.yaml" in status.stdout
    # Three rounds of generate + check inside the LoopUntil.
    assert status.stdout.count("generate") == 3, status.stdout
    assert status.stdout.count("check ") >= 3, status.stdout


def test_module_mode_returns_records(
    lanner_server: LannerServer, contract_loop: None, nu_bin: str, home: Path
) -> None:
    env = nu_env(lanner_server, home, nu_bin)
    created = nu_json(["run", "bitter", "contract-loop", '{"contract": "/tmp/deal.yaml"}'], env)
    execution_id = created["id"]
    wait_state(lanner_server, execution_id, TERMINAL)

    assert nu_module(f"kestra status {execution_id} | get state.current", env) == "SUCCESS"
    assert nu_module(f"kestra status {execution_id} | get inputs.contract", env) == "/tmp/deal.yaml"
    assert nu_module(f"kestra outputs {execution_id} | get generate.vars.clauses", env) == "3"
    assert nu_module(f"kestra outputs {execution_id} | get rounds.iterationCount", env) == "3"
    rounds = nu_module(
        f"kestra outputs {execution_id} --all | where taskId == check | get outputs.vars.passed"
        " | to json --raw",
        env,
    )
    assert json.loads(rounds) == [False, False, True]
    assert nu_module("kestra flow bitter contract-loop | get inputs.0.type", env) == "STRING"
    # --json from a script, parsed by Nushell.
    assert (
        nu_module(f"^nu {HELPER} status {execution_id} --json | from json | get state.current", env)
        == "SUCCESS"
    )
    # The flow output: the contract drafted in the last round.
    draft = nu_module(f"kestra status {execution_id} | get outputs.contract", env)
    assert draft.startswith("contract: deal")
    assert draft.count("  - clause") == 3


def test_run_uploads_an_existing_file_for_a_file_input(
    lanner_server: LannerServer, nu_bin: str, home: Path, tmp_path: Path
) -> None:
    deploy(lanner_server, (EXAMPLES / "bitter" / "contract-check.yaml").read_text())
    env = nu_env(lanner_server, home, nu_bin)
    contract = tmp_path / "contract.yaml"
    contract.write_text("contract: supply\nclauses:\n  - deliver\n  - pay\n  - inspect\n")

    done = nu_json(
        ["run", "bitter", "contract-check", json.dumps({"contract": str(contract)}), "--wait"],
        env,
    )
    assert done["state"]["current"] == "SUCCESS", done
    assert done["inputs"]["contract"].startswith("kestra:///")
    assert nu_module(f"kestra outputs {done['id']} | get count.vars.clauses", env) == "3"

    missing = shell(
        f"""nu tools/kestra.nu run bitter contract-check '{{"contract": "{tmp_path}/absent.yaml"}}'""",
        env,
    )
    assert missing.returncode == 1
    assert "input contract is a FILE: no such file" in missing.stderr
    assert "nu::" not in missing.stderr


def test_logs_script_and_module(
    lanner_server: LannerServer, contract_loop: None, nu_bin: str, home: Path
) -> None:
    env = nu_env(lanner_server, home, nu_bin)
    execution_id = nu_json(["run", "bitter", "contract-loop", "{}", "--wait"], env)["id"]

    rendered = shell(f"nu tools/kestra.nu logs {execution_id}", env)
    assert rendered.returncode == 0, rendered.stderr
    assert "round 1: drafted 1" in rendered.stdout
    assert "passed=true" in rendered.stdout

    lines = json.loads(nu_module(f"kestra logs {execution_id} | to json", env))
    messages = [line["message"] for line in lines]
    assert any(m.startswith("round 3: drafted 3 clause(s) for example") for m in messages)
    assert all(line["executionId"] == execution_id for line in lines)
    warnings = json.loads(nu_module(f"kestra logs {execution_id} --min-level WARN | to json", env))
    assert all(line["level"] in ("WARN", "ERROR") for line in warnings)
    assert len(warnings) < len(lines)


def test_kill_then_restart(
    lanner_server: LannerServer, unique_namespace: str, nu_bin: str, home: Path
) -> None:
    deploy(lanner_server, NAP_FLOW.format(namespace=unique_namespace))
    env = nu_env(lanner_server, home, nu_bin)
    execution_id = nu_json(["run", unique_namespace, "nap"], env)["id"]
    wait_task_running(lanner_server, execution_id, "nap")

    killed = shell(f"nu tools/kestra.nu kill {execution_id}", env)
    assert killed.returncode == 0, killed.stderr
    assert table_value(killed.stdout, "id") == execution_id
    wait_state(lanner_server, execution_id, ("KILLED",))

    restarted = nu_json(["restart", execution_id], env)
    assert restarted["id"] == execution_id
    assert "RESTARTED" in [h["state"] for h in restarted["state"]["histories"]]
    wait_task_running(lanner_server, execution_id, "nap")
    assert nu_module(f"kestra kill {execution_id} | get id", env) == execution_id
    assert wait_state(lanner_server, execution_id, ("KILLED",))["state"]["current"] == "KILLED"


# --------------------------------------------------------------------------- errors


def test_http_errors_are_one_clear_line_and_exit_1(
    lanner_server: LannerServer, contract_loop: None, nu_bin: str, home: Path
) -> None:
    env = nu_env(lanner_server, home, nu_bin)

    unknown = shell("nu tools/kestra.nu status doesNotExist42", env)
    assert unknown.returncode == 1
    assert unknown.stdout == ""
    assert "kestra: HTTP 404 GET /api/v1/executions/doesNotExist42" in unknown.stderr
    assert "Execution 'doesNotExist42' not found" in unknown.stderr

    bad_password = shell(
        "nu tools/kestra.nu flow bitter contract-loop",
        nu_env(lanner_server, home, nu_bin, KESTRA_PASSWORD="wrong"),
    )
    assert bad_password.returncode == 1
    assert "HTTP 401" in bad_password.stderr
    assert "check credentials" in bad_password.stderr

    bad_input = shell("""nu tools/kestra.nu run bitter contract-loop '{"clauses": "many"}'""", env)
    assert bad_input.returncode == 1
    assert "HTTP 422" in bad_input.stderr
    assert "inputs.clauses" in bad_input.stderr

    not_json = shell("nu tools/kestra.nu run bitter contract-loop 'contract=x'", env)
    assert not_json.returncode == 1
    assert "inputs must be a JSON object" in not_json.stderr

    unreachable = shell(
        "nu tools/kestra.nu status abc",
        nu_env(lanner_server, home, nu_bin, KESTRA_URL="http://127.0.0.1:9"),
    )
    assert unreachable.returncode == 1
    assert "cannot reach http://127.0.0.1:9" in unreachable.stderr

    for done in (unknown, bad_password, bad_input, not_json, unreachable):
        assert "nu::" not in done.stderr, done.stderr  # no Nushell error report


# --------------------------------------------------------------------------- credentials


def test_credentials_from_the_config_file(
    lanner_server: LannerServer, contract_loop: None, nu_bin: str, home: Path, tmp_path: Path
) -> None:
    config = home / ".config" / "kestra" / "config.nuon"
    config.parent.mkdir(parents=True)
    config.write_text(
        f'{{url: "{lanner_server.url}", user: "{lanner_server.username}", '
        f'password: "{lanner_server.password}"}}\n'
    )
    env = nu_env(None, home, nu_bin)
    assert nu_module("kestra flow bitter contract-loop | get id", env) == "contract-loop"

    # KESTRA_CONFIG names another file (JSON is NUON too); the environment wins key by key.
    other = tmp_path / "kestra.json"
    other.write_text(
        json.dumps({"url": lanner_server.url, "user": lanner_server.username, "password": "stale"})
    )
    overridden = nu_env(
        None, home, nu_bin, KESTRA_CONFIG=str(other), KESTRA_PASSWORD=lanner_server.password
    )
    assert nu_module("kestra flow bitter contract-loop | get namespace", overridden) == "bitter"
    stale = shell(
        "nu tools/kestra.nu flow bitter contract-loop",
        nu_env(None, home, nu_bin, KESTRA_CONFIG=str(other)),
    )
    assert stale.returncode == 1
    assert "HTTP 401" in stale.stderr


def test_bearer_token_from_the_environment(
    lanner_server: LannerServer, contract_loop: None, nu_bin: str, home: Path
) -> None:
    data_dir = lanner_server.log_path.parent / "data"
    name = f"nu-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANNER_")}
    if lanner_server.backend != "sqlite":
        pytest.skip("tokens are created through the SQLite data directory here")
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "lanner.cli.main",
            "admin",
            "token",
            "create",
            "--name",
            name,
            "--data-dir",
            str(data_dir),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=NU_TIMEOUT_S,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    token_env = nu_env(None, home, nu_bin, KESTRA_URL=lanner_server.url, KESTRA_TOKEN=token)
    assert nu_module("kestra flow bitter contract-loop | get id", token_env) == "contract-loop"
