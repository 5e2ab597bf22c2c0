"""Flow parsing: Kestra YAML → :class:`lanner.domain.flows.Flow`, strictly, every error located.

Public API (the HTTP layer and the engine use only these names)::

    parse_flow(source) -> Flow                 # raises InvalidFlowError with every problem
    parse_for_save(source) -> Flow             # parse_flow + refuse tasks with no runtime here
    flow_document(flow) -> dict                # Kestra 1.3 Flow JSON body
    split_documents(text) -> list[str]         # ``---`` multi-document bodies
    legacy_type_infos(flow) -> list[str]       # "<old> is replaced by <new>" for /flows/validate
    walk_tasks(tasks) -> Iterator[TaskSpec]    # every task and its descendants

Must not import the store, the API or the engine.
"""

from __future__ import annotations

from lanner.domain.flows import Flow, TaskSpec, TriggerSpec, walk_tasks
from lanner.flows.documents import flow_document, legacy_type_infos, split_documents, task_document
from lanner.flows.parser import parse_flow
from lanner.flows.runnability import parse_for_save

__all__ = [
    "Flow",
    "TaskSpec",
    "TriggerSpec",
    "flow_document",
    "legacy_type_infos",
    "parse_flow",
    "parse_for_save",
    "split_documents",
    "task_document",
    "walk_tasks",
]
