"""Tools for executions: run (with wait), get, search, kill, restart, replay, resume, labels, outputs.

Must not import ``api``, ``engine`` or ``store``.
"""

from __future__ import annotations

from lanner.mcp import schemas as s
from lanner.mcp.backend import Backend
from lanner.mcp.tools.base import (
    Args,
    Bounds,
    Result,
    ToolInputError,
    ToolSpec,
    execution_result,
    execution_summary,
    int_arg,
    labels_arg,
    map_arg,
    opt_arg,
    page_of,
    str_arg,
)

# --- executions -------------------------------------------------------------------------------


async def run_flow(api: Backend, args: Args) -> Result:
    execution = await api.run_flow(
        str_arg(args, "namespace"),
        str_arg(args, "id"),
        map_arg(args, "inputs"),
        labels_arg(args),
        wait=bool(args.get("wait", False)),
    )
    return execution_result(execution)


async def get_execution(api: Backend, args: Args) -> Result:
    return execution_result(await api.get_execution(str_arg(args, "executionId")))


async def search_executions(api: Backend, args: Args) -> Result:
    page, size = int_arg(args, "page", 1, 1, 10**6), int_arg(args, "size", 20, 1, s.MAX_PAGE_SIZE)
    states = args.get("states") or []
    if not isinstance(states, list) or not all(isinstance(x, str) for x in states):
        raise ToolInputError("'states' must be a list of state names")
    found = await api.search_executions(
        opt_arg(args, "namespace"), opt_arg(args, "flowId"), states, labels_arg(args), page, size
    )
    bounds = Bounds()
    items = []
    for execution in found.get("results") or []:
        summary = execution_summary({**execution, "taskRunList": []}, bounds)
        del summary["taskRuns"]
        items.append(summary)
    return bounds.stamp(page_of(found, items, page, size))


async def kill_execution(api: Backend, args: Args) -> Result:
    return execution_result(await api.kill(str_arg(args, "executionId")))


async def restart_execution(api: Backend, args: Args) -> Result:
    return execution_result(
        await api.restart(str_arg(args, "executionId"), opt_arg(args, "taskRunId"))
    )


async def replay_execution(api: Backend, args: Args) -> Result:
    return execution_result(
        await api.replay(str_arg(args, "executionId"), opt_arg(args, "taskRunId"))
    )


async def resume_execution(api: Backend, args: Args) -> Result:
    return execution_result(await api.resume(str_arg(args, "executionId"), map_arg(args, "inputs")))


async def set_execution_labels(api: Backend, args: Args) -> Result:
    labels = labels_arg(args)
    if not labels:
        raise ToolInputError("'labels' is required (an object of key: value)")
    return execution_result(await api.set_labels(str_arg(args, "executionId"), labels))


async def get_execution_outputs(api: Backend, args: Args) -> Result:
    execution_id = str_arg(args, "executionId")
    page, size = int_arg(args, "page", 1, 1, 10**6), int_arg(args, "size", 50, 1, s.MAX_PAGE_SIZE)
    execution = await api.get_execution(execution_id)
    runs = await api.outputs(execution_id)
    bounds = Bounds()
    start = (page - 1) * size
    items = [
        {
            "taskRunId": run.get("taskRunId"),
            "taskId": run.get("taskId"),
            "value": run.get("value"),
            "outputs": bounds.value(run.get("outputs"), f"outputs of {run.get('taskId')}"),
        }
        for run in runs[start : start + size]
    ]
    result = page_of({"total": len(runs)}, items, page, size)
    result["executionId"] = execution_id
    result["state"] = (execution.get("state") or {}).get("current")
    result["flowOutputs"] = bounds.value(execution.get("outputs"), "the flow's outputs")
    return bounds.stamp(result)


_NS_ID = {"namespace": s.NAMESPACE, "id": s.FLOW_ID}
_EXEC = {"executionId": s.EXECUTION_ID}

TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "run_flow",
        "Run a flow",
        "Start an execution of a flow with inputs (by input id) and labels; with wait: true, "
        "answer once it ended, with its outputs.",
        s.obj(
            {
                **_NS_ID,
                "inputs": {**s.OBJECT, "description": "input values by input id"},
                "labels": {**s.STRING_MAP, "description": "labels of the execution"},
                "wait": {**s.BOOLEAN, "default": False},
            },
            "namespace",
            "id",
        ),
        s.EXECUTION,
        run_flow,
    ),
    ToolSpec(
        "get_execution",
        "Get an execution",
        "An execution's state, inputs, outputs and task runs.",
        s.obj(_EXEC, "executionId"),
        s.EXECUTION,
        get_execution,
        read_only=True,
    ),
    ToolSpec(
        "search_executions",
        "Search executions",
        "Executions, newest first, filtered by namespace, flow, states and labels; paged.",
        s.obj(
            {
                "namespace": s.NAMESPACE,
                "flowId": s.FLOW_ID,
                "states": s.array(s.STRING),
                "labels": s.STRING_MAP,
                "page": s.PAGE,
                "size": s.SIZE,
            }
        ),
        s.paged(s.obj({"id": s.STRING, "state": s.STRING}, "id", "state", closed=False)),
        search_executions,
        read_only=True,
    ),
    ToolSpec(
        "kill_execution",
        "Kill an execution",
        "Kill a running execution (and its subflows).",
        s.obj(_EXEC, "executionId"),
        s.EXECUTION,
        kill_execution,
        destructive=True,
    ),
    ToolSpec(
        "restart_execution",
        "Restart an execution",
        "Restart a failed (or paused) execution from its failed task runs, or from one task run.",
        s.obj({**_EXEC, "taskRunId": s.STRING}, "executionId"),
        s.EXECUTION,
        restart_execution,
    ),
    ToolSpec(
        "replay_execution",
        "Replay an execution",
        "Run an execution again as a new execution, from the start or from one task run.",
        s.obj({**_EXEC, "taskRunId": s.STRING}, "executionId"),
        s.EXECUTION,
        replay_execution,
    ),
    ToolSpec(
        "resume_execution",
        "Resume an execution",
        "Resume a paused execution, with the inputs its Pause task asks for.",
        s.obj({**_EXEC, "inputs": s.OBJECT}, "executionId"),
        s.EXECUTION,
        resume_execution,
    ),
    ToolSpec(
        "set_execution_labels",
        "Set labels of an execution",
        "Add or change labels of an ended execution.",
        s.obj({**_EXEC, "labels": s.STRING_MAP}, "executionId", "labels"),
        s.EXECUTION,
        set_execution_labels,
    ),
    ToolSpec(
        "get_execution_outputs",
        "Get task-run outputs",
        "The flow's outputs and each task run's outputs of an execution; paged.",
        s.obj({**_EXEC, "page": s.PAGE, "size": s.SIZE}, "executionId"),
        s.obj(
            {
                **s.paged(s.OBJECT)["properties"],
                "executionId": s.STRING,
                "state": s.OPTIONAL_STRING,
                "flowOutputs": s.ANY,
            },
            "results",
            "total",
            "truncated",
            closed=False,
        ),
        get_execution_outputs,
        read_only=True,
    ),
)
