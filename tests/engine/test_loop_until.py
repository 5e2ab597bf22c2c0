"""``flow.LoopUntil`` end to end on the real store (both backends): the condition is rendered by
a worker after each iteration, from the outputs of the last one."""

from __future__ import annotations

from tests.engine.conftest import Harness

from lanner.domain.states import StateType

S = StateType
FLOWS = "io.kestra.plugin.core.flow"
RET = "io.kestra.plugin.core.debug.Return"


def source(condition: str, extra: str = "", alias: str = "LoopUntil") -> str:
    return f"""id: until_{alias.lower()}
namespace: company.team
tasks:
  - id: loop
    type: {FLOWS}.{alias}
    condition: "{condition}"
{extra}    checkFrequency:
      interval: PT0.01S
      maxIterations: 5
    tasks:
      - id: count
        type: {RET}
        format: "{{{{ taskrun.iteration }}}}"
  - id: after
    type: {RET}
    format: "{{{{ outputs.loop.iterationCount }}}} {{{{ outputs.count.value }}}}"
"""


async def test_loops_until_the_condition_is_true(harness: Harness) -> None:
    execution = await harness.run_flow(source("{{ outputs.count.value == '2' }}"))
    assert execution.state.current is S.SUCCESS
    runs = await harness.store.list_task_runs(execution.id)
    assert [(r.task_id, r.iteration) for r in runs if r.task_id == "count"] == [
        ("count", 0), ("count", 1), ("count", 2),
    ]  # fmt: skip
    by_id = await harness.runs(execution.id)
    assert by_id["loop"].outputs == {"iterationCount": 3}
    assert by_id["after"].outputs == {"value": "3 2"}


async def test_wait_for_alias_fails_on_max_reached(harness: Harness) -> None:
    flow_source = source("{{ false }}", "    failOnMaxReached: true\n", alias="WaitFor")
    execution = await harness.run_flow(flow_source)
    assert execution.state.current is S.FAILED
    by_id = await harness.runs(execution.id)
    assert by_id["loop"].state.current is S.FAILED
    assert by_id["loop"].outputs == {"iterationCount": 5}
    assert "after" not in by_id
