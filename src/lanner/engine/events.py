"""Names of the executor's event kinds and the workers' job kinds, with their payloads.

Events (``ExecutorEvent.kind``; payload keys in camelCase, JSON-able):

- ``created`` ``{}``: a new execution (added by the store with the execution).
- ``task_result`` ``{taskRunId, attempt, state, outputs?, startedAt, endedAt, workerId?,
  childId?, parentOutputs?}``: a worker ran (or failed to run) a ``run`` job. ``state``
  RUNNING (with ``childId``) means a Subflow started a child execution and waits for it;
  ``parentOutputs`` are added to the parent run's outputs (a WorkingDirectory's files).
- ``job_lost`` ``{taskRunId, attempt, workerId, jobPayload}``: a ``run`` job's lease ran out
  (added by the store's ``expire_jobs``): the attempt ends RESUBMITTED, the next is queued.
- ``resolved`` ``{taskRunId, attempt, runIf?, condition?, value?, values?, delay?, error?}``: a
  worker rendered what a flowable task run needs (``runIf`` false skips it, ``error`` fails it).
- ``finalized`` ``{outputs?, error?}``: the flow outputs were rendered.
- ``kill`` ``{cascade}``, ``resume`` ``{inputs}``, ``restart`` ``{taskRunId?}``: from the API.
- ``force_run`` ``{}``: from the API; run now: a PAUSED execution resumes, a CREATED (scheduled
  for later) or QUEUED one starts, whatever its flow's ``concurrency``.
- ``pause`` ``{}``: from the API; a RUNNING execution becomes PAUSED, no new task run starts
  until ``resume``.
- ``state`` ``{taskRunId, state}``: from the API; force a task run to a terminal state and
  recompute its parents (a terminated execution is reopened, a paused one goes on).
- ``timer`` ``{taskRunId, reason, attempt}``: a delay elapsed (``pause``, ``retry``,
  ``new_execution`` — ``attempt`` is then the execution's ``attemptNumber`` —, ``loop``).
- ``retry_execution`` ``{executionId, taskRunId}``: not for the executor — a step asks the
  executor loop to create the execution retrying this one (``CREATE_NEW_EXECUTION``); the loop
  creates it and removes the event from the step.
- ``child_ended`` ``{taskRunId, executionId, state, outputs}``: a subflow's execution ended.
- ``slot_freed`` ``{}``: an execution of this QUEUED execution's flow ended (flow
  ``concurrency``); the loop sends it to the oldest queued ones, which start if a slot is free.

Jobs (``Job.kind``; payload ``{taskId, attempt}``): ``run`` a runnable task, ``resolve`` a
flowable task's values, ``finalize`` the flow outputs (``task_run_id`` empty).
Imports nothing.
"""

from __future__ import annotations

CREATED = "created"
TASK_RESULT = "task_result"
JOB_LOST = "job_lost"  # the store's ``JOB_LOST`` (it adds these events)
RESOLVED = "resolved"
FINALIZED = "finalized"
KILL = "kill"
RESUME = "resume"
FORCE_RUN = "force_run"
RESTART = "restart"
PAUSE = "pause"
STATE = "state"
TIMER = "timer"
CHILD_ENDED = "child_ended"
SLOT_FREED = "slot_freed"
RETRY_EXECUTION = "retry_execution"

JOB_RUN = "run"
JOB_RESOLVE = "resolve"
JOB_FINALIZE = "finalize"

TIMER_PAUSE = "pause"
TIMER_RETRY = "retry"
TIMER_NEW_EXECUTION = "new_execution"
TIMER_LOOP = "loop"


JOBS_TOPIC = "engine:jobs"
"""Published by the executor loop when it queued jobs (wakes workers only, not the loop)."""


def kill_topic(execution_id: str) -> str:
    """The change-feed topic telling workers to interrupt an execution's running tasks."""
    return f"kill:{execution_id}"


FLOW_TRIGGERS_TOPIC = "engine:flow-triggers"
"""Published when a batch recorded transitions for Flow triggers (wakes the flow-trigger role)."""
