"""The query strings of Kestra's search routes, built once for both backends.

The in-process backend hands them to the API's own parsers (``execution_query``, ``log_query``,
``flow_query_from``) and the REST backend sends them, so a filter means the same in both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

Params = list[tuple[str, str]]


def _given(**values: str | int | None) -> Params:
    return [(name, str(value)) for name, value in values.items() if value not in (None, "")]


def flow_search(q: str | None, namespace: str | None) -> Params:
    return _given(q=q, namespace=namespace)


def execution_search(
    namespace: str | None, flow_id: str | None, states: Sequence[str], labels: Mapping[str, str]
) -> Params:
    params = _given(namespace=namespace, flowId=flow_id)
    params += [("state", state) for state in states]
    params += [("labels", f"{key}:{value}") for key, value in labels.items()]
    params.append(("sort", "state.startDate:desc"))
    return params


def log_search(
    namespace: str | None, flow_id: str | None, q: str | None, min_level: str | None
) -> Params:
    return [*_given(namespace=namespace, flowId=flow_id, q=q, minLevel=min_level)]


def label_params(labels: Mapping[str, str]) -> Params:
    return [("labels", f"{key}:{value}") for key, value in labels.items()]
