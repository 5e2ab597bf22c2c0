"""``kestra:///`` internal-storage URIs, laid out as Kestra does, and their path-safe parsing.

Layout (reference §3.2): ``kestra:///<namespace with / for .>/<flowId>/executions/<id>/...``;
inputs under ``.../inputs/<inputId>/<file>``, task files under ``.../tasks/<taskId>/<runId>/``.
A URI names a relative path: ``..``, ``.``, empty segments, backslashes and NUL are refused, so
no URI can escape the storage root. Pure: no I/O.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import quote, unquote

from lanner.errors import ErrorDetail, IllegalArgumentError

SCHEME = "kestra://"
_SAFE_CHARS = "/-._~!$&'()*+,;=:@"


def invalid_uri(uri: str, reason: str) -> IllegalArgumentError:
    return IllegalArgumentError(
        f"Illegal argument: invalid internal storage URI '{uri}': {reason}",
        [ErrorDetail("path", reason)],
    )


def safe_path(raw: str, *, what: str = "path") -> PurePosixPath:
    """A relative path from ``/``-separated text, refusing anything that could escape."""
    text = raw.strip("/")
    if not text:
        raise invalid_uri(raw, f"empty {what}")
    parts = text.split("/")
    for part in parts:
        if part in ("", ".", "..") or "\\" in part or "\x00" in part:
            raise invalid_uri(raw, f"illegal {what} segment '{part}'")
    return PurePosixPath(*parts)


def path_of(uri: str) -> PurePosixPath:
    """The relative storage path a ``kestra:///...`` URI names."""
    if not uri.startswith(SCHEME):
        raise invalid_uri(uri, "must start with kestra:///")
    rest = uri[len(SCHEME) :]
    if not rest.startswith("/"):
        raise invalid_uri(uri, "must start with kestra:///")
    return safe_path(unquote(rest.split("?", 1)[0].split("#", 1)[0]))


def uri_of(path: PurePosixPath | str) -> str:
    """The ``kestra:///`` URI of a relative storage path (segments percent-encoded)."""
    relative = safe_path(str(path))
    return SCHEME + "/" + quote(relative.as_posix(), safe=_SAFE_CHARS)


def namespace_path(namespace: str) -> PurePosixPath:
    return safe_path(namespace.replace(".", "/"), what="namespace")


def execution_prefix(namespace: str, flow_id: str, execution_id: str) -> PurePosixPath:
    """Where one execution's files live."""
    return namespace_path(namespace) / safe_path(flow_id) / "executions" / safe_path(execution_id)


def input_file_path(
    namespace: str, flow_id: str, execution_id: str, input_id: str, filename: str
) -> PurePosixPath:
    """``<ns>/<flowId>/executions/<id>/inputs/<inputId>/<filename>``."""
    name = PurePosixPath(filename.replace("\\", "/")).name or input_id
    return (
        execution_prefix(namespace, flow_id, execution_id)
        / "inputs"
        / safe_path(input_id, what="input id")
        / safe_path(name, what="file name")
    )


def task_file_path(
    namespace: str, flow_id: str, execution_id: str, task_id: str, task_run_id: str, name: str
) -> PurePosixPath:
    """``<ns>/<flowId>/executions/<id>/tasks/<taskId>/<taskRunId>/<name>`` (``name`` may hold
    ``/``: a file's path relative to a working directory)."""
    return (
        execution_prefix(namespace, flow_id, execution_id)
        / "tasks"
        / safe_path(task_id, what="task id")
        / safe_path(task_run_id, what="task run id")
        / safe_path(name, what="file name")
    )


def is_inside(path: PurePosixPath, prefix: PurePosixPath) -> bool:
    """Whether ``path`` is ``prefix`` itself or below it (paths are already safe)."""
    return path == prefix or prefix in path.parents
