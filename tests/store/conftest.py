"""Fixtures of the store contract suite (``database_url`` and ``store`` live in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from lanner.store import DEFAULT_TENANT, NewFlowRevision

NewFlow = Callable[..., NewFlowRevision]


@pytest.fixture
def new_flow() -> NewFlow:
    """A factory of :class:`NewFlowRevision` with a small valid-looking document."""

    def make(
        namespace: str = "company.team",
        flow_id: str = "hello",
        *,
        tenant_id: str = DEFAULT_TENANT,
        message: str = "hi",
        labels: Mapping[str, str] | None = None,
        deleted: bool = False,
        disabled: bool = False,
    ) -> NewFlowRevision:
        document: dict[str, Any] = {
            "id": flow_id,
            "namespace": namespace,
            "tasks": [{"id": "log", "type": "io.kestra.plugin.core.log.Log", "message": message}],
        }
        source = (
            f"id: {flow_id}\nnamespace: {namespace}\ntasks:\n  - id: log\n"
            f"    type: io.kestra.plugin.core.log.Log\n    message: {message}\n"
        )
        return NewFlowRevision(
            tenant_id=tenant_id,
            namespace=namespace,
            id=flow_id,
            source=source,
            document=document,
            disabled=disabled,
            deleted=deleted,
            labels=dict(labels or {}),
        )

    return make
