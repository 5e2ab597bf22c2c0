"""Flow triggers (``io.kestra.plugin.core.trigger.Flow``): which flows listen to an execution's
state change, and whether the change fires them — pure decisions, no I/O.

- :class:`TriggerIndex`: the enabled Flow triggers of every enabled flow, kept in memory and
  updated flow by flow (:meth:`TriggerIndex.update`), indexed by the upstream flow they pin
  (an ``ExecutionFlow`` condition, or ``preconditions.flows`` / ``MultipleCondition`` entries that
  all name a flow); the others (a namespace, ``where`` filters) are checked for every change. So
  an execution's end costs a dictionary look-up, not a scan of all flows.
- :func:`evaluate`: Kestra's order: the trigger's ``states`` (default: the terminal ones), its
  plain conditions, then every multiple condition (legacy ``MultipleCondition`` and
  ``preconditions``) gathers its met conditions in its time window (:class:`TriggerWindow`
  rows); the trigger fires when all are met, and a fulfilled window is reset unless
  ``resetOnSuccess: false``. Evaluated at the transition's time, so handling it again after a
  crash decides the same.
- :func:`trigger_variables` and :func:`downstream_id`: the new execution's ``trigger`` and its
  id, derived from the transition (a second submit of it finds the first execution).

A flow never triggers itself (Kestra). Imports the domain, flow parsing, conditions, the store
protocols and the submitter's parse cache.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from lanner.domain.executions import Execution
from lanner.domain.flows import Flow, TriggerSpec
from lanner.domain.states import TERMINATED, StateType
from lanner.engine.conditions import (
    EXECUTION_FLOW,
    FLOW_CONDITION,
    ConditionContext,
    ConditionError,
    TimeWindow,
    canonical_type,
    condition_holds,
    conditions_hold,
    has_labels,
    is_multiple,
    is_truthy,
    is_within,
    window_bounds,
)
from lanner.engine.submit import parsed_flow
from lanner.store import StoredFlow, Transition, TriggerWindow, WindowKey

log = logging.getLogger("lanner.engine.flow_triggers")

FLOW_TRIGGER = "io.kestra.plugin.core.trigger.Flow"
FlowKey = tuple[str, str, str]  # tenant, namespace, flow id
Check = Callable[[ConditionContext], bool]

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True, slots=True)
class MultipleSpec:
    """A multiple condition: named checks to meet within one time window."""

    id: str
    window: TimeWindow
    reset_on_success: bool
    checks: Mapping[str, Check]


@dataclass(frozen=True, slots=True)
class WatchedTrigger:
    """One enabled Flow trigger of a stored flow, ready to evaluate."""

    stored: StoredFlow
    flow: Flow
    trigger: TriggerSpec
    states: frozenset[StateType]
    upstreams: frozenset[tuple[str, str]] | None  # (namespace, flow id); None: any flow
    multiples: tuple[MultipleSpec, ...] = ()

    @property
    def key(self) -> FlowKey:
        return (self.stored.tenant_id, self.stored.namespace, self.stored.id)

    def window_key(self, condition_id: str) -> WindowKey:
        tenant, namespace, flow_id = self.key
        return WindowKey(tenant, namespace, flow_id, self.trigger.id, condition_id)


# -- building watched triggers from a flow ------------------------------------------------------


def _states(raw: Any) -> frozenset[StateType]:
    if not raw:
        return TERMINATED
    items = raw if isinstance(raw, list | tuple) else [raw]
    return frozenset(StateType(str(item).upper()) for item in items)


def _safe(check: Check) -> Check:
    def run(ctx: ConditionContext) -> bool:
        try:
            return check(ctx)
        except ConditionError:
            return False

    return run


def _condition_check(raw: Mapping[str, Any]) -> Check:
    return _safe(lambda ctx: condition_holds(raw, ctx))


def _upstream_check(upstream: Mapping[str, Any]) -> Check:
    def run(ctx: ConditionContext) -> bool:
        execution = ctx.execution
        if execution is None:
            return False
        if upstream.get("namespace") is not None and execution.namespace != upstream["namespace"]:
            return False
        if upstream.get("flowId") is not None and execution.flow_id != upstream["flowId"]:
            return False
        states = upstream.get("states")
        if states and execution.state.current not in _states(states):
            return False
        labels = upstream.get("labels")
        return not labels or has_labels(execution, labels)

    return run


def _field_value(ctx: ConditionContext, item: Mapping[str, Any]) -> Any:
    execution = ctx.execution
    assert execution is not None
    match str(item.get("field")).upper():
        case "FLOW_ID":
            return execution.flow_id
        case "NAMESPACE":
            return execution.namespace
        case "STATE":
            return execution.state.current.value
        case "EXPRESSION":
            try:
                value = ctx.render(str(item.get("value") or ""), ctx.variables)
            except Exception as error:  # a template error: the filter cannot hold
                raise ConditionError(str(error)) from None
            return None if value is None else _text(value)
    raise ConditionError(f"unknown filter field {item.get('field')}")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _filter_holds(ctx: ConditionContext, item: Mapping[str, Any]) -> bool:
    value = _field_value(ctx, item)
    kind = str(item.get("type")).upper()
    wanted = item.get("value")
    values = [str(v) for v in item.get("values") or []]
    text = None if value is None else str(value)
    match kind:
        case "EQUAL_TO":
            return text == wanted
        case "NOT_EQUAL_TO":
            return text != wanted
        case "IN":
            return text in values
        case "NOT_IN":
            return text not in values
        case "IS_TRUE":
            return is_truthy(text)
        case "IS_FALSE":
            return not is_truthy(text)
        case "IS_NULL":
            return text is None
        case "IS_NOT_NULL":
            return text is not None
        case "STARTS_WITH":
            return text is not None and text.startswith(str(wanted))
        case "ENDS_WITH":
            return text is not None and text.endswith(str(wanted))
        case "REGEX":
            return text is not None and re.fullmatch(str(wanted), text) is not None
        case "CONTAINS":
            return text is not None and str(wanted) in text
    raise ConditionError(f"unknown filter type {kind}")


def _where_check(where: Mapping[str, Any]) -> Check:
    filters = [f for f in where.get("filters") or [] if isinstance(f, Mapping)]
    is_or = str(where.get("operand") or "AND").upper() == "OR"

    def run(ctx: ConditionContext) -> bool:
        if ctx.execution is None:
            return False
        results = (_filter_holds(ctx, item) for item in filters)
        return any(results) if is_or else all(results)

    return _safe(run)


def _preconditions(raw: Mapping[str, Any]) -> MultipleSpec:
    """Kestra's names: ``condition_<n>`` per upstream flow, ``condition_<n>_<id>`` per filter."""
    checks: dict[str, Check] = {}
    number = 0
    for upstream in raw.get("flows") or []:
        number += 1
        checks[f"condition_{number}"] = _upstream_check(upstream)
    for where in raw.get("where") or []:
        number += 1
        checks[f"condition_{number}_{where.get('id')}"] = _where_check(where)
    return MultipleSpec(
        id=str(raw.get("id") or "preconditions"),
        window=TimeWindow.of(raw.get("timeWindow")),
        reset_on_success=raw.get("resetOnSuccess") is not False,
        checks=checks,
    )


def _legacy_multiple(props: Mapping[str, Any]) -> MultipleSpec:
    window_raw = props.get("timeWindow")
    if window_raw is None:
        window_raw = {"window": props.get("window"), "windowAdvance": props.get("windowAdvance")}
    nested = props.get("conditions") or {}
    return MultipleSpec(
        id=str(props.get("id")),
        window=TimeWindow.of(window_raw),
        reset_on_success=props.get("resetOnSuccess") is not False,
        checks={str(name): _condition_check(raw) for name, raw in nested.items()},
    )


def _pinned_flow(raw: Mapping[str, Any], kind: str) -> tuple[str, str] | None:
    namespace, flow_id = raw.get("namespace"), raw.get("flowId")
    if kind in (EXECUTION_FLOW, FLOW_CONDITION) and isinstance(namespace, str):
        if isinstance(flow_id, str) and "{" not in namespace + flow_id:
            return namespace, flow_id
    return None


def _upstreams(trigger: TriggerSpec) -> frozenset[tuple[str, str]] | None:
    """The upstream flows that can fire ``trigger``; None when any flow can."""
    for condition in trigger.conditions:  # an ExecutionFlow condition pins one flow (AND)
        pinned = _pinned_flow(condition.properties, condition.type)
        if pinned is not None:
            return frozenset({pinned})
    found: set[tuple[str, str]] = set()
    sources = 0
    for condition in trigger.conditions:
        if not is_multiple(condition):
            continue
        sources += 1
        for raw in (condition.properties.get("conditions") or {}).values():
            pinned = _pinned_flow(raw, canonical_type(str(raw.get("type"))))
            if pinned is None:
                return None
            found.add(pinned)
    preconditions = trigger.properties.get("preconditions")
    if isinstance(preconditions, Mapping):
        sources += 1
        if preconditions.get("where"):
            return None
        for upstream in preconditions.get("flows") or []:
            namespace, flow_id = upstream.get("namespace"), upstream.get("flowId")
            if not isinstance(namespace, str) or not isinstance(flow_id, str):
                return None
            found.add((namespace, flow_id))
    return frozenset(found) if sources and found else None


def watched_triggers(stored: StoredFlow, flow: Flow) -> list[WatchedTrigger]:
    """The enabled Flow triggers of ``stored`` (none when the flow is disabled or deleted)."""
    if stored.deleted or stored.disabled or flow.disabled:
        return []
    watched: list[WatchedTrigger] = []
    for trigger in flow.triggers:
        if trigger.type != FLOW_TRIGGER or trigger.is_disabled:
            continue
        multiples = [_legacy_multiple(c.properties) for c in trigger.conditions if is_multiple(c)]
        preconditions = trigger.properties.get("preconditions")
        if isinstance(preconditions, Mapping):
            multiples.append(_preconditions(preconditions))
        watched.append(
            WatchedTrigger(
                stored=stored,
                flow=flow,
                trigger=trigger,
                states=_states(trigger.properties.get("states")),
                upstreams=_upstreams(trigger),
                multiples=tuple(multiples),
            )
        )
    return watched


def may_hold_flow_trigger(source: str) -> bool:
    """A cheap test before parsing: could this flow source declare a Flow trigger?"""
    return "trigger.Flow" in source or "triggers.types.Flow" in source


# -- the index ----------------------------------------------------------------------------------


@dataclass
class TriggerIndex:
    """Every enabled Flow trigger by downstream flow, and by the upstream flow it pins."""

    _by_flow: dict[FlowKey, list[WatchedTrigger]] = field(default_factory=dict)
    _by_upstream: dict[FlowKey, set[FlowKey]] = field(default_factory=dict)
    _anywhere: dict[str, set[FlowKey]] = field(default_factory=dict)  # by tenant
    _states: dict[StateType, int] = field(default_factory=dict)

    def update(self, stored: StoredFlow) -> None:
        """Replace what the index holds for ``stored``'s flow by its current revision."""
        key = (stored.tenant_id, stored.namespace, stored.id)
        self._remove(key)
        if stored.deleted or not may_hold_flow_trigger(stored.source):
            return
        try:
            flow = parsed_flow(stored.source)
        except Exception:  # a stored flow that no longer parses: it triggers nothing
            log.warning("flow %s.%s does not parse: its triggers are ignored", *key[1:])
            return
        watched = watched_triggers(stored, flow)
        if not watched:
            return
        self._by_flow[key] = watched
        for item in watched:
            for state in item.states:
                self._states[state] = self._states.get(state, 0) + 1
            if item.upstreams is None:
                self._anywhere.setdefault(stored.tenant_id, set()).add(key)
            else:
                for namespace, flow_id in item.upstreams:
                    upstream = (stored.tenant_id, namespace, flow_id)
                    self._by_upstream.setdefault(upstream, set()).add(key)

    def _remove(self, key: FlowKey) -> None:
        for item in self._by_flow.pop(key, []):
            for state in item.states:
                left = self._states.get(state, 0) - 1
                if left > 0:
                    self._states[state] = left
                else:
                    self._states.pop(state, None)
            if item.upstreams is None:
                self._anywhere.get(key[0], set()).discard(key)
            else:
                for namespace, flow_id in item.upstreams:
                    self._by_upstream.get((key[0], namespace, flow_id), set()).discard(key)

    def candidates(self, transition: Transition) -> list[WatchedTrigger]:
        """The triggers ``transition`` may fire: listening to its state, not of its own flow."""
        own = (transition.tenant_id, transition.namespace, transition.flow_id)
        keys = self._by_upstream.get(own, set()) | self._anywhere.get(transition.tenant_id, set())
        return [
            item
            for key in sorted(keys - {own})
            for item in self._by_flow.get(key, [])
            if transition.state in item.states
            and (item.upstreams is None or own[1:] in item.upstreams)
        ]

    def watches(self, state: StateType) -> bool:
        """Whether a change to ``state`` must be recorded: always for a terminal state (a
        trigger deployed a moment ago is not missed), else when some trigger listens to it."""
        return state in TERMINATED or state in self._states

    def __len__(self) -> int:
        return sum(len(items) for items in self._by_flow.values())


# -- evaluation ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Whether the trigger fires, and the windows to save or reset."""

    fires: bool
    save: tuple[TriggerWindow, ...] = ()
    delete: tuple[WindowKey, ...] = ()


def evaluate(
    watched: WatchedTrigger,
    ctx: ConditionContext,
    windows: Mapping[str, TriggerWindow],
    at: datetime,
) -> Evaluation:
    """Decide ``watched`` for the ending execution of ``ctx`` at ``at``; ``windows`` are the
    trigger's stored windows by condition id."""
    execution = ctx.execution
    if execution is None or execution.state.current not in watched.states:
        return Evaluation(False)
    plain = [c for c in watched.trigger.conditions if not is_multiple(c)]
    if not conditions_hold(plain, ctx):
        return Evaluation(False)
    save: list[TriggerWindow] = []
    delete: list[WindowKey] = []
    fulfilled = True
    for spec in watched.multiples:
        try:
            window = _current_window(watched, spec, windows.get(spec.id), at)
        except ConditionError as error:
            log.warning("trigger %s: %s", watched.trigger.id, error)
            return Evaluation(False)
        if window is None:  # outside a daily window or past a deadline: nothing counts
            fulfilled = False
            continue
        met = {name for name, check in spec.checks.items() if check(ctx)}
        results = {**window.results, **dict.fromkeys(met, True)}
        is_met = all(results.get(name) is True for name in spec.checks)
        fulfilled = fulfilled and is_met
        if is_met and spec.reset_on_success:
            delete.append(window.key)
        elif results != dict(window.results):
            save.append(replace(window, results=results))
    return Evaluation(fulfilled, tuple(save), tuple(delete))


def _current_window(
    watched: WatchedTrigger, spec: MultipleSpec, stored: TriggerWindow | None, at: datetime
) -> TriggerWindow | None:
    if stored is not None and is_within(stored.start, stored.end, at):
        return stored
    start, end = window_bounds(spec.window, at)
    if not is_within(start, end, at):
        return None
    return TriggerWindow(watched.window_key(spec.id), start, end, {})


def trigger_variables(execution: Execution) -> dict[str, Any]:
    """The downstream execution's ``trigger``: the upstream execution, its state and (when the
    upstream flow has outputs) its ``outputs``."""
    variables: dict[str, Any] = {
        "executionId": execution.id,
        "namespace": execution.namespace,
        "flowId": execution.flow_id,
        "flowRevision": execution.flow_revision,
        "state": execution.state.current.value,
    }
    if execution.outputs:
        variables["outputs"] = dict(execution.outputs)
    return variables


def inputs_context(variables: Mapping[str, Any], execution: Execution) -> dict[str, Any]:
    """What the trigger's ``inputs`` render with: the upstream context, ``trigger.outputs``."""
    if not execution.outputs:
        return dict(variables)
    return {**variables, "trigger": {"outputs": dict(execution.outputs)}}


def downstream_id(transition: Transition, watched: WatchedTrigger) -> str:
    """The new execution's id, derived from the transition and the trigger: stable when the
    transition is handled again after a crash."""
    tenant, namespace, flow_id = watched.key
    seed = (
        f"{transition.tenant_id}:{transition.execution_id}:{transition.state.value}:"
        f"{transition.at.isoformat()}:{tenant}:{namespace}:{flow_id}:{watched.trigger.id}"
    )
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:16], "big")
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(_BASE62[rest])
    return "".join(reversed(digits)) or "0"


def windows_by_id(
    windows: Iterable[TriggerWindow], watched: WatchedTrigger
) -> dict[str, TriggerWindow]:
    """The stored windows of ``watched``'s trigger, by condition id."""
    return {w.key.condition_id: w for w in windows if w.key.trigger_id == watched.trigger.id}
