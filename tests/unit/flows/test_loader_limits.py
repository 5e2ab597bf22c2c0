"""The YAML loader's limits: each one refuses at the point it is crossed, named and located."""

from __future__ import annotations

import itertools
import time

import pytest
import yaml

from lanner.config import load_settings
from lanner.errors import ConfigError, DeadlineExceededError, ValidationError
from lanner.flows import parse_flow
from lanner.flows.loader import (
    DEFAULT_LIMITS,
    Mark,
    YamlLimitError,
    YamlLimits,
    compose,
    load_document,
    safe_load,
)
from lanner.templating import TemplateEngine, TemplateError


def bomb(levels: int = 9, width: int = 9) -> str:
    names = [f"l{i}" for i in range(levels + 1)]
    lines = [f"{names[0]}: &{names[0]} [" + ",".join(['"x"'] * width) + "]"]
    for previous, name in itertools.pairwise(names):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * width) + "]")
    return "\n".join(lines) + "\n"


def only_problem(source: str, limits: YamlLimits = DEFAULT_LIMITS) -> tuple[str, Mark | None]:
    document = load_document(source, limits)
    assert document.data is None
    assert len(document.problems) == 1
    return document.problems[0].message, document.problems[0].mark


def test_the_51st_alias_to_a_collection_is_refused_where_it_stands() -> None:
    message, mark = only_problem(bomb())
    assert message == (
        "Invalid YAML: the document has more than 50 aliases to collections "
        "(limit yaml-max-aliases)"
    )
    # aliases l1..l5 use 45; the 6th of line 7 is the 51st
    assert mark == Mark(7, len("l6: &l6 [") + len("*l5,") * 5 + 1)


def test_aliases_to_scalars_are_not_counted() -> None:
    source = "a: &a x\nb: [" + ",".join(["*a"] * 500) + "]\n"
    assert load_document(source).data["b"] == ["x"] * 500


def test_fifty_aliases_are_fine_and_expand() -> None:
    source = "a: &a [1, 2]\nb: [" + ",".join(["*a"] * 50) + "]\n"
    assert load_document(source).data["b"] == [[1, 2]] * 50


def test_the_alias_limit_is_configurable() -> None:
    source = "a: &a [1]\nb: [*a, *a, *a]\n"
    message, _ = only_problem(source, YamlLimits(max_aliases=2))
    assert "more than 2 aliases" in message


def test_depth_is_refused_at_the_level_that_crosses_it() -> None:
    message, mark = only_problem("a:\n  b:\n    c: [1]\n", YamlLimits(max_depth=3))
    assert "nested deeper than 3 levels (limit yaml-max-depth)" in message
    assert mark == Mark(3, 8)
    assert load_document("a:\n  b:\n    c: 1\n", YamlLimits(max_depth=3)).problems == ()


def test_depth_counts_what_an_alias_brings_in() -> None:
    source = "a: &a [[[1]]]\nb: [[*a]]\n"
    message, _ = only_problem(source, YamlLimits(max_depth=4))
    assert "yaml-max-depth" in message


def test_deep_flow_sequences_do_not_crash_the_parser() -> None:
    # libyaml's own composer recurses and overflows the C stack on this (a segfault)
    message, mark = only_problem("[" * 200_000 + "]" * 200_000)
    assert "nested deeper than 100 levels" in message
    assert mark == Mark(1, 101)


def test_composed_nodes_are_budgeted() -> None:
    message, _ = only_problem("[" + ",".join(["1"] * 1000) + "]", YamlLimits(max_nodes=100))
    assert message == (
        "Invalid YAML: the document has more than 100 nodes (aliases expanded) "
        "(limit yaml-max-nodes)"
    )


def test_built_nodes_are_budgeted_with_aliases_expanded() -> None:
    source = "a: &a [" + ",".join(["1"] * 40) + "]\nb: [*a, *a, *a, *a]\n"
    assert load_document(source, YamlLimits(max_nodes=210)).problems == ()  # 207 values
    message, _ = only_problem(source, YamlLimits(max_nodes=120))
    assert "yaml-max-nodes" in message


def test_size_is_refused_before_parsing_at_the_character_it_crosses() -> None:
    source = "a: 1\nb: " + "x" * 100 + "\n"
    message, mark = only_problem(source, YamlLimits(max_chars=20))
    assert (
        message == "Invalid YAML: the document is longer than 20 characters (limit yaml-max-chars)"
    )
    assert mark == Mark(2, 16)


def test_recursive_and_undefined_aliases_are_invalid_yaml() -> None:
    assert "recursive alias" in only_problem("a: &a [1, *a]\n")[0]
    assert "undefined alias" in only_problem("a: *nope\n")[0]


def test_the_composer_keeps_pyyaml_tags_and_marks() -> None:
    node = compose("a: !custom [1, 'two']\n", DEFAULT_LIMITS, yaml.SafeLoader)
    assert isinstance(node, yaml.MappingNode)
    value = node.value[0][1]
    assert value.tag == "!custom"
    assert [item.tag for item in value.value] == [
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:str",
    ]
    assert (value.start_mark.line, value.start_mark.column) == (0, 3)


def test_a_past_deadline_stops_the_load() -> None:
    source = "[" + ",".join(["1"] * 5000) + "]"
    with pytest.raises(DeadlineExceededError):
        load_document(source, YamlLimits(deadline=time.monotonic() - 1))


def test_parse_flow_reports_a_limit_as_an_invalid_flow() -> None:
    source = "id: a\nnamespace: b\ntasks: []\n" + bomb()
    with pytest.raises(ValidationError) as raised:
        parse_flow(source, limits=DEFAULT_LIMITS)
    assert "yaml-max-aliases" in raised.value.message
    assert "line 10" in raised.value.details[0].message


def test_safe_load_is_pyyaml_typed_and_bounded() -> None:
    assert safe_load("a: yes\nb: &x [1]\nc: *x\n") == {"a": True, "b": [1], "c": [1]}
    with pytest.raises(YamlLimitError) as raised:
        safe_load(bomb())
    assert raised.value.setting == "yaml-max-aliases"
    # few aliases, wide expansion: refused from the graph, nothing expanded
    wide = bomb(levels=4, width=12)  # 48 aliases, 12**5 values
    with pytest.raises(YamlLimitError, match="yaml-max-nodes"):
        safe_load(wide)
    with pytest.raises(yaml.YAMLError):
        safe_load("a: [1\n")


def test_the_yaml_template_function_is_bounded() -> None:
    engine = TemplateEngine()
    assert engine.render("{{ yaml(doc).a }}", {"doc": "a: 1"}) == "1"
    with pytest.raises(TemplateError, match="yaml-max-aliases"):
        engine.render("{{ yaml(doc) }}", {"doc": bomb()})


def test_limits_come_from_the_environment_and_are_checked() -> None:
    settings = load_settings(
        environ={
            "LANNER_YAML_MAX_ALIASES": "10",
            "LANNER_YAML_MAX_DEPTH": "60",
            "LANNER_YAML_MAX_NODES": "5000",
            "LANNER_YAML_MAX_CHARS": "1MiB",
            "LANNER_FLOW_PARSE_TIMEOUT": "2.5",
            "LANNER_MAX_FLOW_BODY_BYTES": "2MiB",
            "LANNER_MAX_JSON_BODY_BYTES": "512KiB",
            "LANNER_MAX_UPLOAD_BYTES": "1GB",
            "LANNER_MAX_FORM_PART_BYTES": "1024",
            "LANNER_MAX_FORM_FIELDS": "50",
            "LANNER_MAX_HEADER_BYTES": "32KiB",
        }
    )
    assert (settings.yaml_max_aliases, settings.yaml_max_depth, settings.yaml_max_nodes) == (
        10,
        60,
        5000,
    )
    assert settings.yaml_max_chars == 1024 * 1024
    assert settings.flow_parse_timeout == 2.5
    assert settings.max_flow_body_bytes == 2 * 1024 * 1024
    assert settings.max_json_body_bytes == 512 * 1024
    assert settings.max_upload_bytes == 10**9
    assert (settings.max_form_part_bytes, settings.max_form_fields) == (1024, 50)
    assert settings.max_header_bytes == 32 * 1024
    defaults = load_settings(environ={})
    assert (defaults.yaml_max_aliases, defaults.yaml_max_depth) == (50, 100)
    assert defaults.max_flow_body_bytes == 4 * 1024 * 1024


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LANNER_YAML_MAX_DEPTH", "201"),
        ("LANNER_YAML_MAX_ALIASES", "0"),
        ("LANNER_MAX_UPLOAD_BYTES", "lots"),
        ("LANNER_FLOW_PARSE_TIMEOUT", "-1"),
    ],
)
def test_bad_limits_fail_at_start(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match="must be"):
        load_settings(environ={variable: value})
