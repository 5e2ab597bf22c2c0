"""Script task flows are accepted at save (they have a runtime), and their properties are
validated strictly (an unknown property is a 422)."""

from __future__ import annotations

import httpx
from tests.api.helpers import YAML


def script_flow(ns: str, extra: str = "") -> str:
    return (
        f"id: scripts\nnamespace: {ns}\ntasks:\n"
        "  - id: sh\n    type: io.kestra.plugin.scripts.shell.Commands\n"
        "    containerImage: ubuntu\n    commands:\n      - echo hi\n"
        "  - id: py\n    type: io.kestra.plugin.scripts.python.Script\n"
        "    taskRunner:\n      type: io.kestra.plugin.core.runner.Process\n"
        "    beforeCommands: [pip --version]\n    warningOnStdErr: false\n"
        "    script: print(1)\n"
        "  - id: js\n    type: io.kestra.plugin.scripts.node.Commands\n    runner: PROCESS\n"
        f"    env:\n      A: b\n    commands: [node -v]\n{extra}"
    )


async def test_script_flows_are_accepted(client: httpx.AsyncClient, ns: str) -> None:
    created = await client.post("/api/v1/flows", content=script_flow(ns), headers=YAML)
    assert created.status_code == 200, created.text
    assert [t["type"] for t in created.json()["tasks"]] == [
        "io.kestra.plugin.scripts.shell.Commands",
        "io.kestra.plugin.scripts.python.Script",
        "io.kestra.plugin.scripts.node.Commands",
    ]


async def test_unknown_script_property_is_refused(client: httpx.AsyncClient, ns: str) -> None:
    bad = script_flow(ns, "    commandz: [oops]\n")
    response = await client.post("/api/v1/flows", content=bad, headers=YAML)
    assert response.status_code == 422, response.text
    assert "commandz" in response.text
