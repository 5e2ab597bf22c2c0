"""Whole-flow rules that no single property model can check.

Unique task, trigger, input and output ids; no recursive subflow; input ``dependsOn`` graph;
and the per-type structural rules of Dag, Switch and WorkingDirectory.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping

from lanner.domain.flows import Flow, TaskSpec
from lanner.flows.loader import parse_path
from lanner.flows.problems import Problems
from lanner.tasks.core.flow import Dag, Switch, WorkingDirectory


def validate_flow(flow: Flow, problems: Problems) -> None:
    """Record every cross-cutting problem of ``flow``."""
    tasks = list(flow.all_tasks())
    _duplicates(((t.id, t.path) for t in tasks if t.id), "task id", problems)
    _duplicates(((t.id, t.path) for t in flow.triggers if t.id), "trigger id", problems)
    _duplicates(
        ((i.id, f"inputs[{n}]") for n, i in enumerate(flow.inputs) if i.id), "input", problems
    )
    _duplicates(
        ((o.id, f"outputs[{n}]") for n, o in enumerate(flow.outputs) if o.id), "output", problems
    )
    _input_dependencies(flow, problems)
    for task in tasks:
        rule = TASK_RULES.get(task.type)
        if rule is not None:
            for message in rule(task):
                problems.add(parse_path(task.path), message)
        if _is_subflow_call_to(task, flow):
            problems.add(parse_path(task.path), f"Recursive call to flow [{flow.uid}]")


def _duplicates(items: Iterable[tuple[str, str]], what: str, problems: Problems) -> None:
    pairs = list(items)
    counts = Counter(name for name, _ in pairs)
    seen: set[str] = set()
    for name, path in pairs:
        if counts[name] > 1:
            if name in seen:
                problems.add(parse_path(path), f"Duplicate {what} with name [{name}]")
            seen.add(name)


def _is_subflow_call_to(task: TaskSpec, flow: Flow) -> bool:
    if not task.is_executable:
        return False
    props = task.properties
    return props.get("flowId") == flow.id and props.get("namespace") == flow.namespace


def _input_dependencies(flow: Flow, problems: Problems) -> None:
    graph = {
        spec.id: list(spec.depends_on.inputs) if spec.depends_on else [] for spec in flow.inputs
    }
    for n, (input_id, deps) in enumerate(graph.items()):
        for dep in deps:
            if dep not in graph:
                problems.add(
                    ("inputs", n, "dependsOn"),
                    f"Input with id '{input_id}' depends on a non-existent input '{dep}'.",
                )
        cycle = find_cycle(input_id, graph)
        if cycle:
            problems.add(
                ("inputs", n, "dependsOn"),
                f"Cycle dependency detected for input with id '{input_id}': {cycle}",
            )


def find_cycle(start: str, graph: Mapping[str, list[str]]) -> list[str]:
    """The first dependency cycle reachable from ``start`` (empty when none)."""
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str]:
        if node in visiting:
            return visiting[visiting.index(node) :]
        if node in done:
            return []
        visiting.append(node)
        for dep in graph.get(node, ()):
            found = visit(dep)
            if found:
                return found
        visiting.pop()
        done.add(node)
        return []

    return visit(start)


def _dag_rules(task: TaskSpec) -> list[str]:
    children = task.branch("tasks")
    ids = {child.id for child in children}
    missing = [dep for child in children for dep in child.depends_on if dep not in ids]
    if missing:
        return [f"Not existing task id in dependency: {', '.join(dict.fromkeys(missing))}"]
    graph = {child.id: list(child.depends_on) for child in children}
    for child in children:
        cycle = find_cycle(child.id, graph)
        if cycle:
            return [f"Cyclic dependency detected: {', '.join(cycle)}"]
    return []


def _switch_rules(task: TaskSpec) -> list[str]:
    if not any(task.cases.values()) and not task.branch("defaults"):
        return ["No task defined, neither cases or default have any tasks"]
    return []


def _working_directory_rules(task: TaskSpec) -> list[str]:
    children = task.branch("tasks")
    if not children:
        return ["The 'tasks' property cannot be empty"]
    messages = []
    if any(_is_not_runnable(child) for child in children):
        messages.append("Only runnable tasks are allowed as children of a WorkingDirectory task")
    if any(child.properties.get("workerGroup") is not None for child in children):
        messages.append(
            "Cannot set a Worker Group in any WorkingDirectory sub-tasks, "
            "it is only supported at the WorkingDirectory level"
        )
    return messages


def _is_not_runnable(task: TaskSpec) -> bool:
    return task.is_flowable or task.is_executable


TASK_RULES: dict[str, Callable[[TaskSpec], list[str]]] = {
    Dag.TYPE: _dag_rules,
    Switch.TYPE: _switch_rules,
    WorkingDirectory.TYPE: _working_directory_rules,
}
