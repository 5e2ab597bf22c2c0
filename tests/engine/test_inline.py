"""Pure jobs run inside the executor's step (engine/inline.py): same results, fewer hops."""

from __future__ import annotations

import pytest

from lanner.domain.states import StateType
from lanner.engine import loop as executor_loop

from .conftest import Harness

S = StateType
NS = "io.lanner.inline"
RET = "io.kestra.plugin.core.debug.Return"


def chain(count: int, flow_id: str = "chain") -> str:
    tasks = f"  - id: t0\n    type: {RET}\n    format: '0'\n" + "".join(
        f"  - id: t{i}\n    type: {RET}\n    format: '{{{{ outputs.t{i - 1}.value }}}}+'\n"
        for i in range(1, count)
    )
    return f"id: {flow_id}\nnamespace: {NS}\ntasks:\n{tasks}"


async def test_a_chain_of_returns_runs_in_the_executor(harness: Harness) -> None:
    before = harness.engine.loop.jobs_inlined
    execution = await harness.run_flow(chain(30))
    assert execution.state.current is S.SUCCESS
    runs = await harness.runs(execution.id)
    assert len(runs) == 30
    assert runs["t29"].outputs == {"value": "0" + "+" * 29}
    for run in runs.values():  # each one still went CREATED → RUNNING → SUCCESS, one attempt
        assert [h.state for h in run.state.histories] == [S.CREATED, S.RUNNING, S.SUCCESS]
        assert len(run.attempts) == 1
        assert run.attempts[0].worker_id == harness.engine.worker.worker_id
    assert harness.engine.loop.jobs_inlined - before >= 30
    # The lines of every task are stored by the time the execution is seen ended.
    lines = await harness.store.list_logs("main", execution.id)
    started = [line for line in lines if line.message == "Type Return started"]
    assert len(started) == 30
    assert lines[0].message == "Flow started"


async def test_a_chain_longer_than_the_budget_goes_on_through_the_worker(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(executor_loop, "BUDGET", 4)
    before = harness.engine.loop.jobs_inlined
    execution = await harness.run_flow(chain(12, "budget"))
    assert execution.state.current is S.SUCCESS
    runs = await harness.runs(execution.id)
    assert runs["t11"].outputs == {"value": "0" + "+" * 11}
    inlined = harness.engine.loop.jobs_inlined - before
    assert 0 < inlined < 12  # some ran on the worker


async def test_a_task_with_io_goes_to_the_worker_between_pure_ones(harness: Harness) -> None:
    source = (
        f"id: mixed\nnamespace: {NS}\ntasks:\n"
        f"  - id: a\n    type: {RET}\n    format: before\n"
        "  - id: put\n    type: io.kestra.plugin.core.kv.Set\n    key: k\n"
        "    value: '{{ outputs.a.value }}'\n"
        "  - id: get\n    type: io.kestra.plugin.core.kv.Get\n    key: k\n"
        f"  - id: b\n    type: {RET}\n    format: '{{{{ outputs.get.value }}}}-after'\n"
    )
    before = harness.engine.loop.jobs_inlined
    execution = await harness.run_flow(source)
    assert execution.state.current is S.SUCCESS
    runs = await harness.runs(execution.id)
    assert runs["b"].outputs == {"value": "before-after"}
    assert harness.engine.loop.jobs_inlined - before == 2  # a and b, not the KV tasks


async def test_flowables_and_outputs_resolve_inline(harness: Harness) -> None:
    source = (
        f"id: each\nnamespace: {NS}\ntasks:\n"
        "  - id: loop\n    type: io.kestra.plugin.core.flow.ForEach\n"
        "    values: [x, y, z]\n    concurrencyLimit: 1\n    tasks:\n"
        "      - id: check\n        type: io.kestra.plugin.core.flow.If\n"
        "        condition: \"{{ taskrun.value == 'y' }}\"\n        then:\n"
        f"          - id: hit\n            type: {RET}\n            format: '{{{{ taskrun.value }}}}'\n"
        "outputs:\n  - id: out\n    type: STRING\n    value: done\n"
    )
    before = harness.engine.loop.jobs_inlined
    execution = await harness.run_flow(source)
    assert execution.state.current is S.SUCCESS
    assert execution.outputs == {"out": "done"}
    runs = await harness.runs(execution.id)
    assert [key for key in runs if key.startswith("hit")] == ["hit[y]"]
    # ForEach values, three If conditions, one Return and the flow's outputs: all inline.
    assert harness.engine.loop.jobs_inlined - before >= 6
