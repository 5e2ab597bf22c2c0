"""The engine's API around the expression table: trees, syntax checks, runtime detection."""

from __future__ import annotations

import pytest

from lanner.templating import TemplateEngine, TemplateRenderError, TemplateSyntaxError


def test_render_tree_renders_nested_strings_and_keys() -> None:
    engine = TemplateEngine()
    tree = {"{{ k }}": ["{{ v }}", 1, {"x": "{{ v | upper }}"}], "n": None}
    rendered = engine.render_tree(tree, {"k": "key", "v": "val"})
    assert rendered == {"key": ["val", 1, {"x": "VAL"}], "n": None}


def test_render_tree_typed_keeps_single_expression_types() -> None:
    engine = TemplateEngine()
    assert engine.render_tree({"a": "{{ n }}", "b": "n={{ n }}"}, {"n": 2}, typed=True) == {
        "a": 2,
        "b": "n=2",
    }


def test_check_syntax_reports_expression_and_line() -> None:
    engine = TemplateEngine()
    engine.check_syntax("{{ a ?? b }}")
    with pytest.raises(TemplateSyntaxError) as caught:
        engine.check_syntax("ok\n{{ a + }}")
    assert caught.value.expression == "ok\n{{ a + }}"
    assert caught.value.line == 2


def test_uses_runtime_flags_server_functions() -> None:
    engine = TemplateEngine()
    assert engine.uses_runtime("{{ secret('X') }}")
    assert engine.uses_runtime("{{ kv('k') ?? 'd' }}")
    assert not engine.uses_runtime("{{ now() }} {{ inputs.a }}")


def test_server_function_without_runtime_is_a_render_error() -> None:
    with pytest.raises(TemplateRenderError, match="secret"):
        TemplateEngine().render("{{ secret('X') }}", {})


def test_rendering_is_not_recursive_and_cached() -> None:
    engine = TemplateEngine()
    context = {"a": "{{ b }}", "b": "no"}
    assert engine.render("{{ a }}", context) == "{{ b }}"
    assert engine.render("{{ a }}", {"a": 1}) == "1"
