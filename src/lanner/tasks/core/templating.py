"""``templating.TemplatedTask``: render ``spec`` (the YAML of a task) and run that task.

The rendered task is validated like a task of a flow (its type's properties) and must be a
runnable type other than ``TemplatedTask``; it runs with this task's context (its id, logs and
outputs are this task run's). Imports ``lanner.tasks`` and PyYAML only; the registry is
imported when the task runs (it imports this module).
"""

from __future__ import annotations

from typing import ClassVar

import yaml

from lanner.tasks.base import Task, Text
from lanner.tasks.context import Outputs, RunContext
from lanner.tasks.failures import TaskFailure

CORE = "io.kestra.plugin.core"


class TemplatedTask(Task):
    """Render ``spec`` (the YAML of a task) and run the resulting task."""

    TYPE: ClassVar[str] = f"{CORE}.templating.TemplatedTask"
    ALIASES: ClassVar[tuple[str, ...]] = ("io.kestra.core.tasks.templating.TemplatedTask",)

    spec: Text

    async def run(self, ctx: RunContext) -> Outputs:
        from lanner.tasks.registry import default_registry, has_run

        text = await ctx.render(self.spec) or ""
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise TaskFailure(f"spec: the rendered task is not valid YAML: {error}") from None
        if not isinstance(document, dict) or not isinstance(document.get("type"), str):
            raise TaskFailure("spec: the rendered task must be a map with a `type`")
        resolved = default_registry.resolve(document["type"])
        if resolved is None:
            raise TaskFailure(f"spec: unknown task type '{document['type']}'")
        if resolved.model is TemplatedTask:
            raise TaskFailure(
                "The templated task cannot be of type "
                "'io.kestra.plugin.core.templating.TemplatedTask'"
            )
        if not has_run(resolved.model):
            raise TaskFailure("The templated task must be a runnable task")
        task = default_registry.runnable(document["type"], {"id": self.id, **document})
        return await task.run(ctx)


MODELS: tuple[type[Task], ...] = (TemplatedTask,)
