"""Input ``dependsOn`` ordering and enablement, and templated defaults (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pytest

from lanner.domain.input_order import is_true, order_inputs
from lanner.domain.input_values import InputValuesError, coerce_inputs
from lanner.domain.inputs import DependsOn, InputSpec, InputType
from lanner.errors import InvalidFlowError
from lanner.flows import parse_flow
from lanner.templating import TemplateEngine, TemplateError

ENGINE = TemplateEngine()


def render(template: str, context: Mapping[str, Any]) -> Any:
    try:
        return ENGINE.render_typed(template, context)
    except TemplateError as error:
        raise ValueError(str(error)) from None


def spec(
    input_id: str,
    kind: str = "STRING",
    *,
    on: tuple[str, ...] = (),
    condition: str | None = None,
    required: bool = True,
    defaults: Any = None,
) -> InputSpec:
    return InputSpec(
        id=input_id,
        type=InputType(kind),
        required=required,
        defaults=defaults,
        has_defaults=defaults is not None,
        depends_on=DependsOn(on, condition) if on or condition else None,
        properties=MappingProxyType({}),
    )


def coerce(specs: list[InputSpec], submitted: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return coerce_inputs(specs, submitted, render=render, **kwargs)


def test_inputs_come_after_the_inputs_they_depend_on() -> None:
    specs = [spec("c", on=("b",)), spec("a"), spec("b", on=("a",)), spec("d")]
    assert [s.id for s in order_inputs(specs)] == ["a", "b", "c", "d"]


def test_order_tolerates_unknown_ids_and_cycles() -> None:
    specs = [spec("a", on=("b", "zzz")), spec("b", on=("a",))]
    assert sorted(s.id for s in order_inputs(specs)) == ["a", "b"]


def test_a_true_condition_enables_the_input() -> None:
    specs = [spec("b", on=("a",), condition="{{ inputs.a == 'x' }}"), spec("a")]
    assert coerce(specs, {"a": "x", "b": "yes"}) == {"a": "x", "b": "yes"}


def test_a_false_condition_disables_the_input() -> None:
    specs = [spec("a"), spec("b", "INT", on=("a",), condition="{{ inputs.a == 'x' }}")]
    # b is required and its value invalid, but disabled: neither checked nor present.
    assert coerce(specs, {"a": "other", "b": "not a number"}) == {"a": "other"}


def test_an_enabled_required_input_must_be_given() -> None:
    specs = [spec("a"), spec("b", on=("a",), condition="{{ inputs.a == 'x' }}")]
    with pytest.raises(InputValuesError) as caught:
        coerce(specs, {"a": "x"})
    assert [(p.input_id, p.message) for p in caught.value.problems] == [
        ("b", "missing required input")
    ]


def test_without_condition_the_inputs_depended_on_must_be_present() -> None:
    specs = [spec("a", required=False), spec("b", on=("a",))]
    assert coerce(specs, {}) == {"a": None}
    assert coerce(specs, {"a": "1", "b": "2"}) == {"a": "1", "b": "2"}


def test_inputs_depending_on_a_disabled_or_invalid_input_are_disabled() -> None:
    specs = [
        spec("a"),
        spec("b", on=("a",), condition="{{ false }}"),
        spec("c", on=("b",)),
        spec("n", "INT"),
        spec("m", on=("n",)),
    ]
    with pytest.raises(InputValuesError) as caught:
        coerce(specs, {"a": "1", "n": "x"})
    assert [p.input_id for p in caught.value.problems] == ["n"]


def test_a_failing_condition_is_the_inputs_problem() -> None:
    specs = [spec("a"), spec("b", on=("a",), condition="{{ inputs.nope.deeper }}")]
    with pytest.raises(InputValuesError) as caught:
        coerce(specs, {"a": "1"})
    assert [p.input_id for p in caught.value.problems] == ["b"]


def test_templated_defaults_see_the_inputs_resolved_before() -> None:
    specs = [
        spec("total", "INT", on=("count",), defaults="{{ inputs.count * 2 }}"),
        spec("label", on=("count",), defaults="{{ flow.id }}-{{ inputs.count }}"),
        spec("count", "INT"),
        spec("later", "INT", defaults="{{ inputs.count + 1 }}"),
    ]
    context = {"flow": {"id": "f"}}
    values = coerce(specs, {"count": "3"}, context=context)
    assert values == {"count": 3, "total": 6, "label": "f-3", "later": 4}
    assert coerce(specs, {"count": "3", "total": "1"}, context=context)["total"] == 1


def test_a_default_rendering_to_an_invalid_value_is_reported() -> None:
    specs = [spec("when", "DATE", defaults="{{ 'not a date' }}")]
    with pytest.raises(InputValuesError) as caught:
        coerce(specs, {})
    assert "ISO-8601 date" in caught.value.problems[0].message


def test_without_a_renderer_defaults_stay_as_written_and_presence_decides() -> None:
    specs = [spec("a"), spec("b", on=("a",), condition="{{ false }}", defaults="{{ x }}")]
    assert coerce_inputs(specs, {"a": "1"}) == {"a": "1", "b": "{{ x }}"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), ("true", True), (" TRUE ", True), (False, False), ("yes", False), (1, False)],
)
def test_condition_truth(value: Any, expected: bool) -> None:
    assert is_true(value) is expected


def test_flow_validation_rejects_input_dependency_cycles() -> None:
    source = (
        "id: f\nnamespace: ns\ninputs:\n"
        "  - id: a\n    type: STRING\n    dependsOn:\n      inputs: [b]\n"
        "  - id: b\n    type: STRING\n    dependsOn:\n      inputs: [a]\n"
        "tasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: x\n"
    )
    with pytest.raises(InvalidFlowError) as caught:
        parse_flow(source)
    messages = [(d.path, d.message) for d in caught.value.details]
    assert any(
        path == "inputs[0].dependsOn" and "Cycle dependency detected" in message
        for path, message in messages
    ), messages
