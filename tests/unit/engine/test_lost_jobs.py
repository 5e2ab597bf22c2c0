"""A ``run`` job lost with its worker (``job_lost``, from the store's lease expiry): the
attempt ends RESUBMITTED with the worker that had it, the next attempt is queued and counts
from there; a late report of the lost attempt changes nothing (Kestra's ``onRunningResend``)."""

from __future__ import annotations

from tests.unit.engine.sim import Sim

from lanner.domain.states import StateType
from lanner.engine import events as ev
from lanner.store import JOB_LOST

S = StateType

FLOW = """\
id: f
namespace: company.team
tasks:
  - id: a
    type: io.kestra.plugin.core.log.Log
    message: hi
  - id: b
    type: io.kestra.plugin.core.log.Log
    message: bye
"""


def _lose(sim: Sim, worker_id: str = "host/worker-1") -> None:
    (job,) = sim.held
    sim.held = []
    sim.send(
        ev.JOB_LOST,
        {
            "taskRunId": job.task_run_id,
            "attempt": job.payload["attempt"],
            "workerId": worker_id,
            "jobPayload": dict(job.payload),
        },
    )


def test_the_store_and_the_engine_name_the_event_alike() -> None:
    assert ev.JOB_LOST == JOB_LOST


def test_a_lost_attempt_is_recorded_and_the_task_runs_again() -> None:
    sim = Sim(FLOW)
    sim.hold = {"a"}
    sim.step()
    first = sim.held[0]
    _lose(sim)
    step = sim.step()

    assert [(job.kind, job.payload["attempt"]) for job in step.jobs] == [(ev.JOB_RUN, 2)]
    run = sim.run_of("a")
    assert run.state.current is S.RUNNING
    assert [(a.state.current, a.worker_id) for a in run.attempts] == [
        (S.RESUBMITTED, "host/worker-1")
    ]
    sim.answer(first)  # the lost worker was only slow: its report comes late
    sim.hold = set()
    sim.release()
    assert sim.drain().state.current is S.SUCCESS
    assert [a.state.current for a in sim.run_of("a").attempts] == [S.RESUBMITTED, S.SUCCESS]
    assert sim.order == ["a", "a", "b"]  # both reports arrived; one was ignored


def test_a_duplicate_loss_queues_one_attempt() -> None:
    sim = Sim(FLOW)
    sim.hold = {"a"}
    sim.step()
    payload = {"taskRunId": sim.held[0].task_run_id, "attempt": 1, "workerId": "w"}
    sim.held = []
    sim.send(ev.JOB_LOST, payload)
    sim.send(ev.JOB_LOST, payload)
    step = sim.step()
    assert len(step.jobs) == 1
    assert len(sim.run_of("a").attempts) == 1


def test_a_loss_while_killing_ends_the_run_killed() -> None:
    sim = Sim(FLOW)
    sim.hold = {"a"}
    sim.step()
    sim.send(ev.KILL, {"cascade": True})
    sim.step()
    _lose(sim)
    step = sim.step()
    assert not step.jobs
    assert sim.state("a") is S.KILLED
    assert sim.execution.state.current is S.KILLED
