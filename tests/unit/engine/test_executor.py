"""The executor's decision table, stepped through ``decide`` with a fake worker."""

from __future__ import annotations

import pytest
from tests.unit.engine.sim import T0, Sim

from lanner.domain.states import StateType
from lanner.engine import events as ev

S = StateType


def flow(tasks: str, extra: str = "") -> str:
    return f"id: f\nnamespace: company.team\ntasks:\n{tasks}{extra}"


LOG = "io.kestra.plugin.core.log.Log"
RET = "io.kestra.plugin.core.debug.Return"
FLOWS = "io.kestra.plugin.core.flow"

SEQUENCE = flow(
    f"""
  - id: a
    type: {LOG}
    message: hi
  - id: b
    type: {RET}
    format: "{{{{ outputs.a }}}}"
  - id: c
    type: {LOG}
    message: bye
"""
)


def test_created_moves_to_running_and_queues_first_task_only() -> None:
    sim = Sim(SEQUENCE)
    sim.hold = {"a"}
    step = sim.step()
    assert sim.execution.state.current is S.RUNNING
    assert [h.state for h in sim.execution.state.histories] == [S.CREATED, S.RUNNING]
    assert [(job.kind, job.payload["taskId"]) for job in step.jobs] == [(ev.JOB_RUN, "a")]
    assert step.consumed_events == (1,)
    assert sim.state("a") is S.RUNNING
    assert not sim.has_run("b")


def test_sequence_runs_in_order_and_succeeds() -> None:
    sim = Sim(SEQUENCE, answers={"b": ("SUCCESS", {"value": "x"})})
    execution = sim.drain()
    assert execution.state.current is S.SUCCESS
    assert sim.order == ["a", "b", "c"]
    assert sim.run_of("b").outputs == {"value": "x"}
    assert [h.state for h in sim.run_of("a").state.histories] == [S.CREATED, S.RUNNING, S.SUCCESS]
    assert len(sim.run_of("a").attempts) == 1
    assert sim.run_of("a").attempts[0].state.current is S.SUCCESS


def test_failure_stops_the_sequence_and_fails_the_execution() -> None:
    sim = Sim(SEQUENCE, answers={"b": ("FAILED", None)})
    assert sim.drain().state.current is S.FAILED
    assert sim.order == ["a", "b"]
    assert not sim.has_run("c")


def test_duplicate_task_result_is_ignored() -> None:
    sim = Sim(SEQUENCE)
    sim.hold = {"a"}
    sim.step()
    job = sim.held[0]
    sim.answer(job)
    sim.answer(job, "FAILED")  # a redelivered job reporting again
    sim.hold = set()
    assert sim.drain().state.current is S.SUCCESS
    assert len(sim.run_of("a").attempts) == 1


def test_disabled_task_gets_no_run() -> None:
    source = flow(f"  - id: a\n    type: {LOG}\n    message: x\n    disabled: true\n"
                  f"  - id: b\n    type: {LOG}\n    message: y\n")  # fmt: skip
    sim = Sim(source)
    assert sim.drain().state.current is S.SUCCESS
    assert not sim.has_run("a")
    assert sim.order == ["b"]


def test_empty_flow_after_disabling_everything_succeeds() -> None:
    sim = Sim(flow(f"  - id: a\n    type: {LOG}\n    message: x\n    disabled: true\n"))
    assert sim.drain().state.current is S.SUCCESS


def test_allow_failure_turns_failed_into_warning_and_goes_on() -> None:
    source = flow(
        f"  - id: a\n    type: {LOG}\n    message: x\n    allowFailure: true\n"
        f"  - id: b\n    type: {LOG}\n    message: y\n"
    )
    sim = Sim(source, answers={"a": ("FAILED", None)})
    assert sim.drain().state.current is S.WARNING
    assert sim.state("a") is S.WARNING
    assert sim.state("b") is S.SUCCESS


def test_allow_warning_turns_warning_into_success() -> None:
    source = flow(f"  - id: a\n    type: {LOG}\n    message: x\n    allowWarning: true\n")
    sim = Sim(source, answers={"a": ("WARNING", None)})
    assert sim.drain().state.current is S.SUCCESS


def test_run_if_falsy_skips_a_runnable_task() -> None:
    source = flow(f"  - id: a\n    type: {LOG}\n    message: x\n    runIf: 'false'\n")
    sim = Sim(source, answers={"a": ("SKIPPED", None)})
    assert sim.drain().state.current is S.SUCCESS
    assert sim.state("a") is S.SKIPPED


def test_flow_errors_branch_runs_on_failure_and_execution_stays_failed() -> None:
    source = SEQUENCE + f"errors:\n  - id: e\n    type: {LOG}\n    message: oops\n"
    sim = Sim(source, answers={"a": ("FAILED", None)})
    assert sim.drain().state.current is S.FAILED
    assert sim.order == ["a", "e"]
    assert sim.run_of("e").branch == "errors"
    assert sim.state("e") is S.SUCCESS


def test_errors_branch_does_not_run_on_success() -> None:
    source = SEQUENCE + f"errors:\n  - id: e\n    type: {LOG}\n    message: oops\n"
    sim = Sim(source)
    assert sim.drain().state.current is S.SUCCESS
    assert not sim.has_run("e")


def test_finally_runs_after_success_and_failure() -> None:
    source = SEQUENCE + f"finally:\n  - id: z\n    type: {LOG}\n    message: end\n"
    ok = Sim(source)
    assert ok.drain().state.current is S.SUCCESS
    assert ok.order[-1] == "z"
    ko = Sim(source, answers={"a": ("FAILED", None)})
    assert ko.drain().state.current is S.FAILED
    assert ko.order == ["a", "z"]


def test_failing_finally_fails_the_execution() -> None:
    source = SEQUENCE + f"finally:\n  - id: z\n    type: {LOG}\n    message: end\n"
    sim = Sim(source, answers={"z": ("FAILED", None)})
    assert sim.drain().state.current is S.FAILED


def test_after_execution_runs_after_the_final_state_and_does_not_change_it() -> None:
    source = SEQUENCE + f"afterExecution:\n  - id: n\n    type: {LOG}\n    message: end\n"
    sim = Sim(source, answers={"n": ("FAILED", None)})
    assert sim.drain().state.current is S.SUCCESS
    assert sim.order[-1] == "n"


PARALLEL = flow(
    f"""
  - id: par
    type: {FLOWS}.Parallel
    concurrent: 2
    tasks:
      - id: p1
        type: {LOG}
        message: a
      - id: p2
        type: {LOG}
        message: b
      - id: p3
        type: {LOG}
        message: c
  - id: after
    type: {LOG}
    message: d
"""
)


def test_parallel_respects_concurrent_then_moves_on() -> None:
    sim = Sim(PARALLEL)
    sim.hold = {"p1", "p2", "p3"}
    step = sim.step()
    assert sorted(job.payload["taskId"] for job in step.jobs) == ["p1", "p2"]
    assert sim.state("par") is S.RUNNING
    sim.hold = set()
    sim.release()
    assert sim.drain().state.current is S.SUCCESS
    assert sim.order[-1] == "after"
    assert sim.state("par") is S.SUCCESS
    assert sim.run_of("p1").parent_task_run_id == sim.run_of("par").id


def test_parallel_zero_means_all_at_once() -> None:
    sim = Sim(PARALLEL.replace("concurrent: 2", "concurrent: 0"))
    sim.hold = {"p1", "p2", "p3"}
    step = sim.step()
    assert len(step.jobs) == 3


def test_parallel_failure_fails_the_flowable() -> None:
    sim = Sim(PARALLEL, answers={"p1": ("FAILED", None)})
    assert sim.drain().state.current is S.FAILED
    assert sim.state("par") is S.FAILED
    assert not sim.has_run("after")


def if_flow(extra: str = "") -> str:
    return flow(
        f"""
  - id: check
    type: {FLOWS}.If
    condition: "{{{{ inputs.go }}}}"
    then:
      - id: yes
        type: {LOG}
        message: y
    else:
      - id: no
        type: {LOG}
        message: n
{extra}"""
    )


@pytest.mark.parametrize(("condition", "ran"), [(True, "yes"), (False, "no")])
def test_if_takes_the_branch_the_worker_resolved(condition: bool, ran: str) -> None:
    sim = Sim(if_flow(), resolutions={"check": {"condition": condition}})
    step = sim.step()
    assert [(job.kind, job.payload["taskId"]) for job in step.jobs] == [(ev.JOB_RESOLVE, "check")]
    assert sim.drain().state.current is S.SUCCESS
    assert sim.order == [ran]
    assert sim.run_of("check").outputs == {"evaluationResult": condition}
    assert sim.run_of(ran).branch == ("then" if condition else "else")


def test_if_false_without_else_succeeds() -> None:
    source = if_flow().split("    else:")[0]
    sim = Sim(source, resolutions={"check": {"condition": False}})
    assert sim.drain().state.current is S.SUCCESS
    assert sim.order == []


def test_resolution_error_fails_the_flowable() -> None:
    sim = Sim(if_flow(), resolutions={"check": {"error": "boom"}})
    assert sim.drain().state.current is S.FAILED
    assert sim.state("check") is S.FAILED


def test_flowable_run_if_false_skips_it() -> None:
    source = flow(
        f"  - id: seq\n    type: {FLOWS}.Sequential\n    runIf: 'false'\n    tasks:\n"
        f"      - id: a\n        type: {LOG}\n        message: x\n"
    )
    sim = Sim(source, resolutions={"seq": {"runIf": False}})
    assert sim.drain().state.current is S.SUCCESS
    assert sim.state("seq") is S.SKIPPED
    assert not sim.has_run("a")


SWITCH = flow(
    f"""
  - id: sw
    type: {FLOWS}.Switch
    value: "{{{{ inputs.v }}}}"
    cases:
      a:
        - id: case_a
          type: {LOG}
          message: a
      b:
        - id: case_b
          type: {LOG}
          message: b
    defaults:
      - id: other
        type: {LOG}
        message: other
"""
)


@pytest.mark.parametrize(("value", "ran", "is_default"), [("a", "case_a", False),
                                                          ("b", "case_b", False),
                                                          ("z", "other", True)])  # fmt: skip
def test_switch_runs_the_matching_case(value: str, ran: str, is_default: bool) -> None:
    sim = Sim(SWITCH, resolutions={"sw": {"value": value}})
    assert sim.drain().state.current is S.SUCCESS
    assert sim.order == [ran]
    assert sim.run_of("sw").outputs == {"value": value, "defaults": is_default}


def foreach_flow(limit: int | None = None, errors: bool = False) -> str:
    limit_line = f"    concurrencyLimit: {limit}\n" if limit is not None else ""
    error_lines = (
        f"    errors:\n      - id: fe_err\n        type: {LOG}\n        message: e\n"
        if errors
        else ""
    )
    return flow(
        f"""
  - id: each
    type: {FLOWS}.ForEach
    values: ["x", "y", "z"]
{limit_line}{error_lines}    tasks:
      - id: one
        type: {RET}
        format: "{{{{ taskrun.value }}}}"
      - id: two
        type: {LOG}
        message: hi
  - id: last
    type: {LOG}
    message: done
"""
    )


@pytest.mark.parametrize("keep_index", [False, True])
def test_foreach_runs_iterations_one_at_a_time_by_default(keep_index: bool) -> None:
    sim = Sim(
        keep_index=keep_index,
        source=foreach_flow(),
        resolutions={"each": {"values": ["x", "y", "z"]}},
    )
    assert sim.drain().state.current is S.SUCCESS
    assert sim.order == ["one[x]", "two[x]", "one[y]", "two[y]", "one[z]", "two[z]", "last"]
    run = sim.run_of("one", 1)
    assert (run.value, run.iteration, run.parent_task_run_id) == ("y", 1, sim.run_of("each").id)


@pytest.mark.parametrize("keep_index", [False, True])
def test_foreach_concurrency_limit_zero_starts_every_iteration(keep_index: bool) -> None:
    sim = Sim(
        keep_index=keep_index,
        source=foreach_flow(0),
        resolutions={"each": {"values": ["x", "y", "z"]}},
    )
    sim.hold = {"one"}
    sim.drain()
    assert len(sim.held) == 3
    sim.hold = set()
    sim.release()
    assert sim.drain().state.current is S.SUCCESS


@pytest.mark.parametrize("keep_index", [False, True])
def test_foreach_limit_two_keeps_two_iterations_open(keep_index: bool) -> None:
    sim = Sim(
        keep_index=keep_index,
        source=foreach_flow(2),
        resolutions={"each": {"values": ["x", "y", "z"]}},
    )
    sim.hold = {"one"}
    sim.drain()
    assert len(sim.held) == 2
    sim.release()
    sim.drain()
    assert len(sim.held) == 1
    sim.hold = set()
    sim.release()
    assert sim.drain().state.current is S.SUCCESS


@pytest.mark.parametrize("keep_index", [False, True])
def test_foreach_failure_stops_and_runs_local_errors(keep_index: bool) -> None:
    def answer(run):  # type: ignore[no-untyped-def]
        return ("FAILED", None) if run.value == "y" else ("SUCCESS", {"value": run.value})

    sim = Sim(
        keep_index=keep_index,
        source=foreach_flow(errors=True),
        answers={"one": answer},
        resolutions={"each": {"values": ["x", "y", "z"]}},
    )
    assert sim.drain().state.current is S.FAILED
    assert sim.order == ["one[x]", "two[x]", "one[y]", "fe_err"]
    assert sim.state("each") is S.FAILED


def test_foreach_over_no_values_succeeds() -> None:
    sim = Sim(foreach_flow(), resolutions={"each": {"values": []}})
    assert sim.drain().state.current is S.SUCCESS
    assert sim.order == ["last"]


@pytest.mark.parametrize("keep_index", [False, True])
def test_nested_sequential_children_inherit_loop_value(keep_index: bool) -> None:
    source = flow(
        f"""
  - id: each
    type: {FLOWS}.ForEach
    values: [1, 2]
    tasks:
      - id: seq
        type: {FLOWS}.Sequential
        tasks:
          - id: inner
            type: {LOG}
            message: hi
"""
    )
    sim = Sim(keep_index=keep_index, source=source, resolutions={"each": {"values": ["1", "2"]}})
    assert sim.drain().state.current is S.SUCCESS
    assert sim.order == ["inner[1]", "inner[2]"]
    assert sim.run_of("inner", 1).value == "2"


def test_local_errors_of_a_flowable_run_and_it_stays_failed() -> None:
    source = flow(
        f"""
  - id: seq
    type: {FLOWS}.Sequential
    tasks:
      - id: a
        type: {LOG}
        message: x
    errors:
      - id: handler
        type: {LOG}
        message: handled
"""
    )
    sim = Sim(source, answers={"a": ("FAILED", None)})
    assert sim.drain().state.current is S.FAILED
    assert sim.order == ["a", "handler"]
    assert sim.state("seq") is S.FAILED


def test_flowable_allow_failure_gives_warning() -> None:
    source = flow(
        f"""
  - id: seq
    type: {FLOWS}.Sequential
    allowFailure: true
    tasks:
      - id: a
        type: {LOG}
        message: x
  - id: b
    type: {LOG}
    message: y
"""
    )
    sim = Sim(source, answers={"a": ("FAILED", None)})
    assert sim.drain().state.current is S.WARNING
    assert sim.state("seq") is S.WARNING
    assert sim.state("b") is S.SUCCESS


def test_allow_failure_task_type_turns_failures_into_warning() -> None:
    source = flow(
        f"  - id: af\n    type: {FLOWS}.AllowFailure\n    tasks:\n"
        f"      - id: a\n        type: {LOG}\n        message: x\n"
    )
    sim = Sim(source, answers={"a": ("FAILED", None)})
    assert sim.drain().state.current is S.WARNING


def test_dag_respects_depends_on() -> None:
    source = flow(
        f"""
  - id: dag
    type: {FLOWS}.Dag
    tasks:
      - task:
          id: second
          type: {LOG}
          message: b
        dependsOn: [first]
      - task:
          id: first
          type: {LOG}
          message: a
"""
    )
    sim = Sim(source)
    assert sim.drain().state.current is S.SUCCESS
    assert sim.order == ["first", "second"]


def test_flow_outputs_queue_a_finalize_job_before_the_end() -> None:
    source = (
        SEQUENCE + "outputs:\n  - id: o\n    type: STRING\n    value: '{{ outputs.b.value }}'\n"
    )
    sim = Sim(source)
    assert sim.drain().state.current is S.SUCCESS
    assert sim.execution.outputs == {"done": True}
    assert any(job.kind == ev.JOB_FINALIZE for step in sim.steps for job in step.jobs)


def test_flow_outputs_error_fails_the_execution() -> None:
    source = SEQUENCE + "outputs:\n  - id: o\n    type: STRING\n    value: '{{ nope }}'\n"
    sim = Sim(source)
    sim.work = _finalize_fails(sim)  # type: ignore[method-assign]
    assert sim.drain().state.current is S.FAILED


def _finalize_fails(sim: Sim):  # type: ignore[no-untyped-def]
    original = sim.work

    def work(job):  # type: ignore[no-untyped-def]
        if job.kind == ev.JOB_FINALIZE:
            sim.send(ev.FINALIZED, {"error": "nope is undefined"})
        else:
            original(job)

    return work


def test_start_date_histories_use_now() -> None:
    sim = Sim(SEQUENCE)
    sim.drain()
    assert sim.execution.state.start_date == T0
    assert sim.execution.state.end_date == T0
