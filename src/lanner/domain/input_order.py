"""Kestra's input ``dependsOn`` and dynamic ``defaults``: evaluation order and enablement.

An input is evaluated after the inputs it depends on (declared order otherwise). It is enabled
when every input it depends on is enabled and, with a ``condition``, when that condition renders
true; without one, when those inputs have a value. A disabled input is not required, not
validated and absent from the execution's inputs. A ``defaults`` holding a Pebble expression is
rendered with the inputs resolved so far, then coerced like a submitted value.

Pure: imports only the standard library and the domain. Rendering is a callable the caller
passes (the API layer wraps the template engine); it raises ``ValueError`` when it fails.
Unknown ids and cycles are rejected when the flow is validated; here they are only tolerated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lanner.domain.inputs import InputSpec

Render = Callable[[str, Mapping[str, Any]], Any]
"""Render a template with a context to a typed value; ``ValueError`` when it cannot."""

_TEMPLATE_MARKS = ("{{", "{%")


def order_inputs(specs: Sequence[InputSpec]) -> list[InputSpec]:
    """``specs`` in declared order, except that each comes after the inputs it depends on."""
    first_index: dict[str, int] = {}
    for index, spec in enumerate(specs):
        first_index.setdefault(spec.id, index)
    ordered: list[InputSpec] = []
    placed: set[int] = set()
    visiting: set[int] = set()

    def place(index: int) -> None:
        if index in placed or index in visiting:
            return  # already placed, or a cycle (rejected at flow validation)
        visiting.add(index)
        spec = specs[index]
        for dep in spec.depends_on.inputs if spec.depends_on else ():
            if dep in first_index:
                place(first_index[dep])
        visiting.discard(index)
        placed.add(index)
        ordered.append(spec)

    for index in range(len(specs)):
        place(index)
    return ordered


def is_enabled(
    spec: InputSpec,
    resolved: Mapping[str, Any],
    *,
    render: Render | None,
    context: Mapping[str, Any],
) -> bool:
    """Whether ``spec`` takes part in the execution.

    ``resolved`` maps the ids of the enabled, valid inputs evaluated so far to their values.
    Without ``render`` (no template engine at hand) a condition cannot be evaluated and only
    the presence of the inputs depended on counts.
    """
    depends = spec.depends_on
    if depends is None:
        return True
    if any(dep not in resolved for dep in depends.inputs):
        return False
    if depends.condition is None or render is None:
        return all(resolved[dep] is not None for dep in depends.inputs)
    return is_true(render(depends.condition, context))


def default_value(spec: InputSpec, *, render: Render | None, context: Mapping[str, Any]) -> Any:
    """``spec``'s default, rendered when it is a template (1.x renders defaults dynamically)."""
    if render is not None and is_template(spec.defaults):
        return render(spec.defaults, context)
    return spec.defaults


def is_template(value: Any) -> bool:
    """Whether ``value`` is text holding a Pebble expression or tag."""
    return isinstance(value, str) and any(mark in value for mark in _TEMPLATE_MARKS)


def is_true(value: Any) -> bool:
    """A rendered condition's truth: ``true`` (the boolean, or its text in any case)."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return value is True
