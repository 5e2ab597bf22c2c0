"""What a server can run: refuse at save a flow whose tasks have no runtime here.

:func:`parse_flow` accepts every type Lanner knows (Kestra's whole corpus parses); a flow is
saved only when each of its tasks can also run: a flowable type (the executor resolves it), one
the engine runs itself (``Subflow``) or a class with ``run``. :func:`parse_for_save` is the one
call the API makes before storing or validating a flow. Triggers and conditions are not checked
(no trigger runtime exists yet; refusing them would refuse every scheduled flow).
Must not import the store, the API or the engine.
"""

from __future__ import annotations

from lanner.domain.flows import Flow
from lanner.errors import ErrorDetail, InvalidFlowError
from lanner.flows.loader import YamlLimits
from lanner.flows.parser import parse_flow
from lanner.tasks.base import TASK
from lanner.tasks.registry import TypeRegistry, default_registry, has_runtime


def unsupported_tasks(flow: Flow, registry: TypeRegistry | None = None) -> list[ErrorDetail]:
    """One detail per task (nested, error, finally and listener tasks included) whose type has
    no runtime on this server, at the path of its ``type``."""
    registry = registry or default_registry
    details: list[ErrorDetail] = []
    for task in flow.all_tasks():
        resolved = registry.resolve(task.type, TASK)
        if resolved is None or has_runtime(resolved.model):
            continue
        where = f"{task.path}.type" if task.path else "type"
        name = task.source_type or task.type
        refusal = resolved.model.REFUSAL
        message = f"Task type {name} is not supported by this server" + (
            f": {refusal}" if refusal else " yet"
        )
        details.append(ErrorDetail(where, message))
    return details


def parse_for_save(
    source: str, registry: TypeRegistry | None = None, *, limits: YamlLimits | None = None
) -> Flow:
    """Parse ``source`` like :func:`parse_flow`, then refuse it (:class:`InvalidFlowError`)
    when a task cannot run here, naming each such type and its path."""
    flow = parse_flow(source, registry, limits=limits)
    details = unsupported_tasks(flow, registry)
    if details:
        text = ", ".join(f"{d.path}: {d.message}" for d in details)
        raise InvalidFlowError(f"Invalid entity: {text}", details)
    return flow
