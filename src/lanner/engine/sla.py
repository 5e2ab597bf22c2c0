"""A flow's ``sla`` of type ``MAX_DURATION``: the execution may not run longer than
``duration``.

When the execution starts, a timer (reason ``sla``) is set at its start plus the duration; if
it is still running when the timer is due, the violation is applied as Kestra's executor does:
``FAIL`` ends it FAILED, ``CANCEL`` CANCELLED (its unfinished task runs with it; a worker's late
result for them is ignored), ``NONE`` leaves it running; the SLA's ``labels`` are added in every
case. (``EXECUTION_ASSERTION`` SLAs are not evaluated yet.) Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

from lanner.domain.labels import Label
from lanner.domain.states import StateType
from lanner.domain.times import parse_duration
from lanner.engine import events as ev
from lanner.engine.work import Work
from lanner.store import NewEvent

S = StateType
TIMER_SLA = "sla"
_ENDS = {"FAIL": S.FAILED, "CANCEL": S.CANCELLED}


def schedule(w: Work) -> None:
    """The execution just started: a timer per ``MAX_DURATION`` SLA."""
    for item in w.flow.sla:
        if str(item.get("type")) != "MAX_DURATION":
            continue
        duration = parse_duration(str(item.get("duration") or ""))
        if duration is None or duration <= timedelta(0):
            continue
        payload = {"reason": TIMER_SLA, "slaId": str(item.get("id"))}
        w.events.append(NewEvent(w.execution.id, ev.TIMER, payload, available_at=w.now + duration))


def violated(w: Work, payload: Mapping[str, Any]) -> StateType | None:
    """The SLA of ``payload`` is due on a running execution: add its labels, and the state the
    execution ends in (None: ``NONE``, it runs on)."""
    item = next((s for s in w.flow.sla if str(s.get("id")) == payload.get("slaId")), None)
    if item is None:
        return None
    labels = _labels(item.get("labels"))
    if labels:
        known = {(label.key, label.value) for label in w.execution.labels}
        added = [label for label in labels if (label.key, label.value) not in known]
        w.set_execution(replace(w.execution, labels=(*w.execution.labels, *added)))
    end = _ENDS.get(str(item.get("behavior") or "FAIL").upper())
    if end is None:
        return None
    for run in w.runs.active():
        w.put(run.with_state(end, w.now))
    return end


def _labels(raw: Any) -> list[Label]:
    if isinstance(raw, Mapping):
        return [Label(str(k), str(v)) for k, v in raw.items()]
    if isinstance(raw, list):
        return [
            Label(str(item.get("key")), str(item.get("value")))
            for item in raw
            if isinstance(item, Mapping) and item.get("key") is not None
        ]
    return []
