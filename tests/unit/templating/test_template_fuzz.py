"""The template engine under malformed and hostile input: an error, never a crash or a hang.

Hypothesis assembles templates from Pebble's own pieces (delimiters, operators, filters, tags,
literals) and from arbitrary text; every render either returns or raises one of the package's
errors (``TemplateError``). Hostile expressions (huge ranges, string and number growth,
recursion, long loops) are refused with a message naming the bound.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lanner.templating import TemplateEngine, TemplateError, TemplateLimits

LIMITS = TemplateLimits(max_output_chars=20_000, max_loop_iterations=2_000, timeout_s=5.0)
ENGINE = TemplateEngine(limits=LIMITS)
CONTEXT: dict[str, Any] = {
    "inputs": {"name": "world", "n": 3, "items": [1, 2, 3], "map": {"a": 1}},
    "outputs": {"t": {"value": "x" * 10}},
    "s": "abc",
    "n": 5,
    "items": ["a", "b"],
}

PIECES = st.sampled_from(
    [
        "{{", "}}", "{%", "%}", "{#", "#}", " ", "(", ")", "[", "]", "{", "}", ",", ":", ".",
        "|", "~", "+", "-", "*", "/", "%", "..", "==", "!=", "<", ">", "and", "or", "not",
        "is", "in", "?", "??", "for", "endfor", "if", "else", "elseif", "endif", "set", "=",
        "macro", "endmacro", "block", "filter", "raw", "endraw", "inputs", "outputs", "s", "n",
        "items", "loop", "x", "name", "'str'", '"str"', "0", "1", "-1", "99999999999", "1.5",
        "1e308", "true", "false", "null", "range(1, 9)", "upper", "lower", "join", "split",
        "replace", "indent(2)", "date", "default", "length", "keys", "first", "last", "slice",
        "json", "toJson", "jq('.')", "render", "renderOnce", "now()", "__class__", "_x",
        "abs", "title", "trim", "number", "sort", "reverse", "chunk(2)", "base64encode",
    ]
)  # fmt: skip
TEMPLATES = st.one_of(
    st.lists(PIECES, max_size=24).map("".join),
    st.text(max_size=80),
    st.lists(st.one_of(PIECES, st.text(max_size=4)), max_size=16).map("".join),
)


def render_either_way(template: str) -> None:
    for typed in (False, True):
        try:
            if typed:
                ENGINE.render_typed(template, CONTEXT)
            else:
                text = ENGINE.render(template, CONTEXT)
                assert len(text) <= max(LIMITS.max_output_chars, len(template))
        except TemplateError as error:
            message = str(error)
            assert message, "an error says what is wrong"


@settings(
    max_examples=400, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck)
)
@given(TEMPLATES)
def test_any_template_renders_or_raises_a_template_error(template: str) -> None:
    render_either_way(template)


@settings(
    max_examples=200, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck)
)
@given(st.lists(PIECES, min_size=1, max_size=12).map("".join))
def test_any_expression_renders_or_raises_a_template_error(expression: str) -> None:
    render_either_way("{{ " + expression + " }}")
    render_either_way("{% if " + expression + " %}y{% endif %}")


@pytest.mark.parametrize(
    ("template", "bound"),
    [
        ("{{ range(1, 100000000) }}", "limit of 2000"),
        ("{% for i in 1..100000000 %}x{% endfor %}", "limit of 2000"),
        (
            "{% for i in range(1, 1000) %}{% for j in range(1, 1000) %}x{% endfor %}{% endfor %}",
            "template-max-loop-iterations",
        ),
        ("{% for i in range(1, 1500) %}{{ s }}{{ s }}{{ s }}{{ s }}{{ s }}{% endfor %}", "output"),
        ("{{ 'ab' | indent(100000000) }}", "longer than"),
        ("{{ s | replace({'a': outputs.t.value | indent(999999) }) }}", "longer than"),
        ("{{ 99999999999999999999 * 99999999999999999999 * 99999999999999999999 "
         "* 99999999999999999999 * 99999999999999999999 * 99999999999999999999 "
         "* 99999999999999999999 * 99999999999999999999 * 99999999999999999999 "
         "* 99999999999999999999 * 99999999999999999999 * 99999999999999999999 "
         "* 99999999999999999999 * 99999999999999999999 * 99999999999999999999 "
         "* 99999999999999999999 * 99999999999999999999 * 99999999999999999999 }}",
         "out of range"),
    ],
)  # fmt: skip
def test_hostile_expressions_are_refused_with_the_bound_named(template: str, bound: str) -> None:
    with pytest.raises(TemplateError) as caught:
        ENGINE.render(template, CONTEXT)
    assert bound in str(caught.value)


def test_a_string_repeated_past_the_size_bound_is_refused() -> None:
    template = "{% for i in range(1, 100) %}{{ big ~ big ~ big }}{% endfor %}"
    with pytest.raises(TemplateError, match="longer than"):
        ENGINE.render(template, {"big": "x" * 400_000})


def test_recursive_render_is_bounded() -> None:
    with pytest.raises(TemplateError, match="Too many rendering attempts"):
        ENGINE.render("{{ render(me) }}", {"me": "{{ me }}x"})


def test_a_render_past_its_time_bound_is_refused() -> None:
    engine = TemplateEngine(limits=TemplateLimits(timeout_s=1e-9))
    template = "{% for i in range(1, 3) %}{% for j in range(1, 3) %}{{ j }}{% endfor %}{% endfor %}"
    with pytest.raises(TemplateError, match="template-timeout"):
        engine.render(template, {})


def test_the_sandbox_reaches_no_python_attribute() -> None:
    for template in ("{{ s.__class__ }}", "{{ s._x }}", "{{ items.append }}", "{{ s.upper }}"):
        with pytest.raises(TemplateError):
            ENGINE.render(template, CONTEXT)
