"""Flow trigger decisions without a database: the index, and multiple conditions in their time
window at given (injected) instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lanner.domain.executions import Execution, State
from lanner.domain.states import StateType
from lanner.engine.conditions import ConditionContext
from lanner.engine.flow_triggers import (
    Evaluation,
    TriggerIndex,
    WatchedTrigger,
    downstream_id,
    evaluate,
)
from lanner.flows import parse_flow
from lanner.store import StoredFlow, Transition, TriggerWindow
from lanner.templating import TemplateEngine

T0 = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
C = "io.kestra.plugin.core.condition"

MULTIPLE = f"""
id: both
namespace: company.team
tasks:
  - id: t
    type: io.kestra.plugin.core.debug.Return
    format: x
triggers:
  - id: listen
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - id: pair
        type: {C}.MultipleCondition
        timeWindow:
          type: SLIDING_WINDOW
          window: PT1H
        conditions:
          a:
            type: {C}.ExecutionFlow
            namespace: company.team
            flowId: a
          b:
            type: {C}.ExecutionFlow
            namespace: company.team
            flowId: b
"""

NAMESPACE_WIDE = """
id: alert
namespace: ops
tasks:
  - id: t
    type: io.kestra.plugin.core.debug.Return
    format: x
triggers:
  - id: failures
    type: io.kestra.plugin.core.trigger.Flow
    states: [FAILED]
    preconditions:
      id: company
      where:
        - id: company
          filters:
            - field: NAMESPACE
              type: STARTS_WITH
              value: company
"""


def stored(source: str, *, disabled: bool = False) -> StoredFlow:
    flow = parse_flow(source)
    return StoredFlow(
        tenant_id="main",
        namespace=flow.namespace,
        id=flow.id,
        revision=1,
        source=source,
        document={},
        deleted=False,
        disabled=disabled,
        updated=T0,
    )


def transition(flow_id: str, state: StateType = StateType.SUCCESS, ns: str = "company.team"):
    return Transition("main", f"x-{flow_id}", ns, flow_id, state, T0, id=1)


def execution(flow_id: str, state: StateType = StateType.SUCCESS) -> Execution:
    return Execution(
        id=f"x-{flow_id}",
        tenant_id="main",
        namespace="company.team",
        flow_id=flow_id,
        flow_revision=1,
        state=State.of(state, T0),
    )


def decide(
    watched: WatchedTrigger,
    flow_id: str,
    at: datetime,
    windows: dict[str, TriggerWindow],
    state: StateType = StateType.SUCCESS,
) -> Evaluation:
    ctx = ConditionContext(
        flow=watched.flow,
        now=at,
        render=TemplateEngine().render_typed,
        execution=execution(flow_id, state),
    )
    return evaluate(watched, ctx, windows, at)


def test_index_pins_upstream_flows_and_keeps_wide_triggers_apart() -> None:
    index = TriggerIndex()
    index.update(stored(MULTIPLE))
    index.update(stored(NAMESPACE_WIDE))
    # A SUCCESS of ``a``: the pair listens (pinned), the FAILED-only alert does not.
    assert [w.stored.id for w in index.candidates(transition("a"))] == ["both"]
    assert [w.stored.id for w in index.candidates(transition("c"))] == []
    assert [w.stored.id for w in index.candidates(transition("c", StateType.FAILED))] == ["alert"]
    assert {w.stored.id for w in index.candidates(transition("b", StateType.FAILED))} == {
        "alert",
        "both",
    }
    assert index.watches(StateType.SUCCESS)
    assert not index.watches(StateType.PAUSED)
    index.update(stored(NAMESPACE_WIDE, disabled=True))  # a disabled flow triggers nothing
    assert index.candidates(transition("c", StateType.FAILED)) == []


def test_multiple_condition_fires_when_both_flows_end_within_the_window() -> None:
    index = TriggerIndex()
    index.update(stored(MULTIPLE))
    [watched] = index.candidates(transition("a"))
    first = decide(watched, "a", T0, {})
    assert not first.fires
    [window] = first.save
    assert window.results == {"a": True}
    assert (window.start, window.end) == (T0, T0 + timedelta(hours=1))
    # b ends 30 minutes later, inside the window: fires, and the window is reset.
    second = decide(watched, "b", T0 + timedelta(minutes=30), {"pair": window})
    assert second.fires
    assert second.save == ()
    assert [key.condition_id for key in second.delete] == ["pair"]


def test_multiple_condition_window_expires() -> None:
    index = TriggerIndex()
    index.update(stored(MULTIPLE))
    [watched] = index.candidates(transition("a"))
    [window] = decide(watched, "a", T0, {}).save
    late = T0 + timedelta(hours=2)  # past the window: a new one opens with b alone
    evaluation = decide(watched, "b", late, {"pair": window})
    assert not evaluation.fires
    [fresh] = evaluation.save
    assert fresh.results == {"b": True}
    assert fresh.start == late


def test_downstream_id_is_stable_per_transition_and_trigger() -> None:
    index = TriggerIndex()
    index.update(stored(MULTIPLE))
    [watched] = index.candidates(transition("a"))
    one = downstream_id(transition("a"), watched)
    assert one == downstream_id(transition("a"), watched)
    assert one != downstream_id(transition("b"), watched)
    assert 0 < len(one) <= 22
