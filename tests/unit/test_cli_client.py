"""The client commands' pure parts: the SSE reader, connection settings, argument parsing and
YAML positions. The SSE reader runs over an in-memory transport (its real partner, the server's
streams, is exercised by tests/acceptance/test_cli_client.py)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from lanner.cli.client import ClientError, ClientSettings, follow_events, follow_sse
from lanner.cli.executions import parse_inputs, parse_labels
from lanner.cli.flows import problems_of, split_documents
from lanner.cli.output import exit_code_of

STREAM = (
    ": a comment, ignored\n"
    "retry: 3000\n"
    "event: progress\n"
    "id: 1\n"
    'data: {"message": "  two leading spaces"}\n'
    "\n"
    "event: log\n"
    "data:no space after the colon\n"
    "\n"
    "id:end\n"
    'data:  {"state": "SUCCESS"}\n'
    "data: second line\n"
    "\n"
)


def _client(body: str, status: int = 200) -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": "text/event-stream" if status < 400 else "application/json"}
        return httpx.Response(status, headers=headers, content=body.encode())

    return httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="http://server")


async def test_sse_reader_parses_event_retry_and_keeps_data_spaces() -> None:
    async with _client(STREAM) as client:
        events = [event async for event in follow_sse(client, "/stream")]
    assert [event.event for event in events] == ["progress", "log", "message"]
    assert events[0].retry == 3000
    assert events[0].id == "1"
    # The one space after "data:" is the separator; any further space is data.
    assert events[0].data == '{"message": "  two leading spaces"}'
    assert events[1].data == "no space after the colon"
    assert events[2].data == ' {"state": "SUCCESS"}\nsecond line'


async def test_follow_events_yields_ids_and_decoded_json() -> None:
    async with _client(STREAM) as client:
        events = [event async for event in follow_events(client, "/stream")]
    assert events[0] == ("1", {"message": "  two leading spaces"})
    assert events[1] == ("1", "no space after the colon")  # the last event id carries over
    assert events[2] == ("end", ' {"state": "SUCCESS"}\nsecond line')


async def test_sse_reader_reports_the_server_message_of_an_error() -> None:
    async with _client('{"message": "Not Found: Execution \'x\' not found"}', 404) as client:
        with pytest.raises(ClientError) as caught:
            [event async for event in follow_sse(client, "/api/v1/executions/x/follow")]
    assert caught.value.status == 404
    assert "Execution 'x' not found" in caught.value.message


def test_settings_take_the_environment_over_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "client.yaml"
    config.write_text("url: http://file:8080/\nuser: file-user\npassword: file-pass\n")
    env = {"KESTRA_CONFIG": str(config), "KESTRA_USER": "env-user", "KESTRA_PASSWORD": ""}
    settings = ClientSettings.from_environ(env)
    assert settings.url == "http://file:8080"
    assert settings.user == "env-user"
    assert settings.password == "file-pass"  # an empty variable does not hide the file's
    assert "file-pass" not in repr(settings)


def test_the_default_config_file_is_the_nu_helpers(tmp_path: Path) -> None:
    (tmp_path / "kestra").mkdir()
    # A NUON record with commas (or JSON) reads as YAML.
    (tmp_path / "kestra" / "config.nuon").write_text('{url: "http://nu:8080", token: "t0k"}')
    settings = ClientSettings.from_environ({"XDG_CONFIG_HOME": str(tmp_path)})
    assert (settings.url, settings.token) == ("http://nu:8080", "t0k")
    assert ClientSettings.from_environ({"XDG_CONFIG_HOME": str(tmp_path / "none")}).token is None


def test_a_named_config_file_that_is_missing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ClientError, match="does not exist"):
        ClientSettings.from_environ({"KESTRA_CONFIG": str(tmp_path / "none.yaml")})


def test_inputs_split_texts_and_files(tmp_path: Path) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_text("x")
    texts, files = parse_inputs(["name=Ada", "expr=a=b", "empty=", f"doc=@{doc}"])
    assert texts == {"name": "Ada", "expr": "a=b", "empty": ""}
    assert files == {"doc": doc}


@pytest.mark.parametrize(
    ("value", "problem"),
    [("novalue", "expected key=value"), ("=x", "expected key=value"), ("f=@/no/such", "no such")],
)
def test_bad_inputs_are_named(value: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_inputs([value])


def test_labels_need_a_colon() -> None:
    assert parse_labels(["team:data", "url:http://x"]) == ["team:data", "url:http://x"]
    with pytest.raises(ValueError, match="expected key:value"):
        parse_labels(["team"])


def test_exit_codes_of_states() -> None:
    assert [exit_code_of(s) for s in ("SUCCESS", "WARNING", "RUNNING", "PAUSED")] == [0] * 4
    assert [exit_code_of(s) for s in ("FAILED", "KILLED", "CANCELLED")] == [1] * 3


def test_problem_positions_are_lines_of_the_file() -> None:
    text = (
        "id: a\nnamespace: n\ntasks:\n  - id: t\n    type: x.Y\n"
        "---\n# second\nid: b\nnamespace: n\ntasks:\n  - id: u\n    type: x.Z\n"
    )
    first, second = split_documents(Path("f.yaml"), text)
    assert (first.first_line, second.first_line) == (1, 7)
    assert second.namespace == "n"
    assert second.position("tasks[0].type") == (12, 11)
    assert second.position("tasks[0].nothere") == (11, 5)  # the nearest parent
    assert second.locate("tasks[0]", "bad (line 5, column 3)") == (11, 3, "bad")


def test_a_syntax_error_is_located() -> None:
    (document,) = split_documents(Path("f.yaml"), "id: a\ntasks: [unclosed\n")
    assert document.error is not None
    assert document.position("tasks") == document.error[:2]


def test_constraints_text_splits_into_paths_and_messages() -> None:
    text = "tasks[0].type: Invalid type: x\nid: must match\n: Invalid YAML: bad"
    assert problems_of(text) == [
        ("tasks[0].type", "Invalid type: x"),
        ("id", "must match"),
        ("", "Invalid YAML: bad"),
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["admin", "token", "create", "--name", "t", "--expires", "P1M"],
        ["admin", "token", "create", "--name", "t", "--expires", "P1Y"],
        ["admin", "logs", "purge", "--older-than", "P1M"],
    ],
)
def test_admin_durations_follow_java(args: list[str], tmp_path: Path) -> None:
    """Java's Duration.parse, as the server reads durations: no months, no years."""
    from typer.testing import CliRunner

    from lanner.cli.main import app

    done = CliRunner().invoke(app, [*args, "--data-dir", str(tmp_path)])
    assert done.exit_code == 2
    assert "ISO-8601 duration" in done.output
    assert not (tmp_path / "lanner.db").exists()  # refused before the store opened


def test_settings_repr_hides_the_basic_auth_password() -> None:
    from lanner.config import Settings

    assert "pa55-word" not in repr(Settings(basic_auth_password="pa55-word"))
