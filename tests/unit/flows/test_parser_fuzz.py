"""Fuzz of the flow parser: whatever the text, a Flow or a ValidationError, within the limits.

Random bytes and text, generated YAML with deep nesting, anchors and aliases (bombs included),
huge scalars and keys and odd tags (``!!python/object``, ``!!binary``, ``!custom``), and valid
flows with random text spliced in. Example counts stay moderate so CI stays quick.
"""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lanner.errors import ValidationError
from lanner.flows import Flow, parse_flow
from lanner.flows.loader import YamlLimitError, YamlLimits, load_document, safe_load

LIMITS = YamlLimits(max_aliases=50, max_depth=40, max_nodes=20_000, max_chars=200_000)
FUZZ = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)

VALID = """\
id: fuzzed
namespace: io.lanner.fuzz
inputs:
  - id: name
    type: STRING
    defaults: world
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "Hello {{ inputs.name }}"
  - id: branch
    type: io.kestra.plugin.core.flow.If
    condition: "{{ true }}"
    then:
      - id: inner
        type: io.kestra.plugin.core.debug.Return
        format: x
"""

TAGS = ["", "!!python/object:os.system ", "!!python/object/apply:os.system ", "!!binary ",
        "!custom ", "!!str ", "!!int ", "!!float ", "!!map ", "!!seq ", "!!set ", "!!timestamp ",
        "!<tag:yaml.org,2002:python/name:os.system> ", "!!null ", "!!bool ", "! "]  # fmt: skip
KEYS = ["id", "namespace", "tasks", "type", "inputs", "triggers", "errors", "finally",
        "variables", "labels", "then", "else", "pluginDefaults", "retry", "concurrency",
        "outputs", "<<", "? complex", "defaults", "values", "message"]  # fmt: skip
SCALARS = st.one_of(
    st.sampled_from(
        [
            "x",
            "1",
            "-0x1F",
            "0o17",
            "1e309",
            ".nan",
            "true",
            "yes",
            "~",
            "null",
            "''",
            '""',
            '"\\u0000"',
            "2024-01-01",
            "io.kestra.plugin.core.log.Log",
            "{{ x }}",
            "PT1S",
            "- -",
            ": :",
            "|",
            ">",
            "&",
            "*",
            "%YAML 1.2",
        ]
    ),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.text(max_size=20).map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'),
)
HUGE = st.one_of(
    st.integers(min_value=1, max_value=300_000).map(lambda n: "x" * n),  # over max_chars too
    st.integers(min_value=4_000, max_value=12_000).map(lambda n: "9" * n),  # past int digits
    st.integers(min_value=1, max_value=5_000).map(lambda n: '"' + "\\u00e9" * n + '"'),
)


@st.composite
def flow_values(draw: st.DrawFn, depth: int = 0) -> str:
    """One YAML value in flow style: scalars, lists, maps, tags, anchors and aliases."""
    tag = draw(st.sampled_from(TAGS))
    anchor = draw(st.sampled_from(["", "", "", "&a ", "&b ", "&c "]))
    choice = draw(st.integers(min_value=0, max_value=9 if depth < 4 else 3))
    if choice <= 2:
        return tag + anchor + draw(SCALARS)
    if choice == 3:
        return draw(st.sampled_from(["*a", "*b", "*c", "*undefined"]))
    if choice in (4, 5, 6):
        items = draw(st.lists(flow_values(depth + 1), max_size=4))
        return tag + anchor + "[" + ", ".join(items) + "]"
    pairs = draw(
        st.lists(
            st.tuples(st.one_of(st.sampled_from(KEYS), SCALARS), flow_values(depth + 1)),
            max_size=4,
        )
    )
    return tag + anchor + "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"


@st.composite
def documents(draw: st.DrawFn) -> str:
    """A block mapping of flow keys, each holding a generated value."""
    pairs = draw(st.lists(st.tuples(st.sampled_from(KEYS), flow_values()), min_size=1, max_size=8))
    return "".join(f"{key}: {value}\n" for key, value in pairs)


@st.composite
def huge_documents(draw: st.DrawFn) -> str:
    """A huge scalar as a key or a value, or a huge plain key."""
    huge, value = draw(HUGE), draw(flow_values(3))
    return draw(st.sampled_from([f"{huge}: {value}\n", f"id: {huge}\n", f"? {huge}\n: 1\n"]))


@st.composite
def alias_bombs(draw: st.DrawFn) -> str:
    levels = draw(st.integers(min_value=1, max_value=12))
    width = draw(st.integers(min_value=1, max_value=12))
    lines = ["l0: &l0 [" + ",".join(["x"] * width) + "]"]
    for level in range(1, levels + 1):
        aliases = ",".join([f"*l{level - 1}"] * width)
        lines.append(f"l{level}: &l{level} [{aliases}]")
    return "id: bomb\nnamespace: io.lanner.fuzz\ntasks: []\n" + "\n".join(lines) + "\n"


@st.composite
def deep_nestings(draw: st.DrawFn) -> str:
    depth = draw(st.integers(min_value=1, max_value=5_000))
    opener, closer = draw(st.sampled_from([("[", "]"), ("{a: ", "}"), ("- ", "")]))
    if opener == "- ":
        return "".join("  " * i + "- \n" for i in range(min(depth, 300))) + "  " * 300 + "x\n"
    return "variables: " + opener * depth + "1" + closer * depth + "\n"


@st.composite
def spliced(draw: st.DrawFn) -> str:
    """A valid flow with random text inserted or a slice removed."""
    position = draw(st.integers(min_value=0, max_value=len(VALID)))
    if draw(st.booleans()):
        noise = draw(st.one_of(st.text(max_size=30), st.sampled_from(TAGS), flow_values()))
        return VALID[:position] + noise + VALID[position:]
    end = draw(st.integers(min_value=position, max_value=len(VALID)))
    return VALID[:position] + VALID[end:]


def count(value: Any) -> tuple[int, int]:
    """(values, depth) of plain data."""
    if isinstance(value, dict):
        inner = [count(v) for v in value.values()]
    elif isinstance(value, list):
        inner = [count(v) for v in value]
    else:
        return 1, 0
    return 1 + sum(n for n, _ in inner), 1 + max((d for _, d in inner), default=0)


def check(text: str) -> None:
    """Every input gives a Flow or a ValidationError, and loaded data stays within the limits."""
    try:
        flow = parse_flow(text, limits=LIMITS)
    except ValidationError:
        pass
    else:
        assert isinstance(flow, Flow)
    document = load_document(text, LIMITS)
    if document.data is not None:
        nodes, depth = count(document.data)
        assert nodes <= LIMITS.max_nodes
        assert depth <= LIMITS.max_depth
    try:
        safe_load(text, LIMITS)
    except (YamlLimitError, yaml.YAMLError):
        pass


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    check(data.decode("utf-8", errors="replace"))


@FUZZ
@given(st.text(max_size=300))
def test_random_text(text: str) -> None:
    check(text)


@FUZZ
@given(documents())
def test_generated_documents(text: str) -> None:
    check(text)


@FUZZ
@given(st.one_of(alias_bombs(), deep_nestings(), huge_documents()))
def test_bombs_and_deep_nesting(text: str) -> None:
    check(text)


@FUZZ
@given(spliced())
def test_valid_flows_with_noise(text: str) -> None:
    check(text)


def test_the_valid_flow_parses() -> None:
    assert parse_flow(VALID, limits=LIMITS).id == "fuzzed"
