from __future__ import annotations

from pathlib import Path

import pytest

from lanner.errors import InvalidFlowError
from lanner.flows import parse_flow

SAMPLES = Path(__file__).resolve().parents[2] / "flows"


def rejection(source: str) -> list[tuple[str, str]]:
    """The (path, message) details of a flow that must be rejected."""
    with pytest.raises(InvalidFlowError) as caught:
        parse_flow(source)
    return [(d.path, d.message) for d in caught.value.details]


def has(details: list[tuple[str, str]], path: str, fragment: str) -> bool:
    return any(p == path and fragment in m for p, m in details)
