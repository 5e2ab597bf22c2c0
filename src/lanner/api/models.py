"""Kestra's response bodies as pydantic models, for the OpenAPI document only.

Routes build their bodies as plain dicts (:mod:`lanner.api.wire`,
:mod:`lanner.api.execution_wire`, the routers); these models describe those bodies in
``/api/openapi.json`` (through ``responses=``, never ``response_model=``, so nothing is filtered
or re-encoded on the way out). A field Jackson omits when null is optional here, a field that is
always written is required. ``tests/api/test_openapi_fuzz.py`` checks every answer against them.
The error body is :class:`lanner.api.problems.ErrorBody`. Imports pydantic only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Label(BaseModel):
    key: str
    value: str


class StateHistory(BaseModel):
    state: str
    date: datetime


class State(BaseModel):
    """``endDate`` and ``duration`` appear once the run ended (or paused)."""

    current: str
    histories: list[StateHistory]
    startDate: datetime
    endDate: datetime | None = None
    duration: str | None = Field(default=None, description="ISO-8601 duration")


class TaskRunAttempt(BaseModel):
    state: State
    workerId: str | None = None


class TaskRun(BaseModel):
    id: str
    tenantId: str
    executionId: str
    namespace: str
    flowId: str
    taskId: str
    parentTaskRunId: str | None = None
    value: str | None = None
    attempts: list[TaskRunAttempt]
    outputs: dict[str, Any] | None = Field(description="always written, null before any output")
    state: State
    iteration: int | None = None


class ExecutionTrigger(BaseModel):
    id: str
    type: str
    variables: dict[str, Any] | None = None


class ExecutionMetadata(BaseModel):
    attemptNumber: int
    originalCreatedDate: datetime


class Execution(BaseModel):
    """Kestra's ``Execution``; ``taskRunList`` only once it has task runs."""

    id: str
    tenantId: str
    namespace: str
    flowId: str
    flowRevision: int
    taskRunList: list[TaskRun] | None = None
    inputs: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None
    labels: list[Label]
    variables: dict[str, Any] | None = None
    state: State
    parentId: str | None = None
    originalId: str
    trigger: ExecutionTrigger | None = None
    deleted: bool
    metadata: ExecutionMetadata
    scheduleDate: datetime | None = None
    kind: str | None = None


class ExecutionResponse(Execution):
    """An ``Execution`` as created: with its UI ``url``."""

    url: str


class Flow(BaseModel):
    """Kestra's ``Flow``: the flow document's own keys (tasks, inputs, triggers...) plus these."""

    model_config = ConfigDict(extra="allow")

    id: str
    namespace: str
    revision: int
    disabled: bool
    deleted: bool
    draft: bool
    tenantId: str
    updated: datetime | None = None


class FlowWithSource(Flow):
    source: str


class PagedResults(BaseModel, Generic[T]):
    """Kestra's ``PagedResults``: one page of ``results`` and the ``total`` count."""

    results: list[T]
    total: int


class BulkResponse(BaseModel):
    count: int


class ValidateConstraintViolation(BaseModel):
    index: int
    flow: str | None = None
    namespace: str | None = None
    constraints: str | None = None
    outdated: bool
    deprecationPaths: list[str]
    warnings: list[str]
    infos: list[str]


class LogEntry(BaseModel):
    tenantId: str | None = None
    namespace: str
    flowId: str
    taskId: str | None = None
    executionId: str | None = None
    taskRunId: str | None = None
    triggerId: str | None = None
    timestamp: datetime
    level: Literal["ERROR", "WARN", "INFO", "DEBUG", "TRACE"]
    thread: str | None = None
    message: str
    attemptNumber: int | None = Field(description="always written, may be null")
    deleted: bool


class MetricEntry(BaseModel):
    namespace: str
    flowId: str
    taskId: str | None = None
    executionId: str | None = None
    taskRunId: str | None = None
    type: Literal["counter", "timer"]
    name: str
    value: float = Field(description="a timer's value is in milliseconds")
    timestamp: datetime
    tags: dict[str, str] | None = None
    deleted: bool


class TaskRunOutputs(BaseModel):
    taskRunId: str
    taskId: str
    value: str | None = None
    outputs: dict[str, Any] | None


class FileMetas(BaseModel):
    size: int


class FilePreview(BaseModel):
    extension: str
    type: str
    content: Any
    truncated: bool


class KVEntry(BaseModel):
    namespace: str
    key: str
    description: str | None = None
    creationDate: datetime
    updateDate: datetime
    expirationDate: datetime | None = None
    version: int


class KVDetail(BaseModel):
    type: Literal["STRING", "NUMBER", "BOOLEAN", "DATETIME", "DATE", "DURATION", "JSON"]
    value: Any
    revision: int
    updated: datetime


class KVKeys(BaseModel):
    keys: list[str]


class FileAttributes(BaseModel):
    fileName: str
    lastModifiedTime: int = Field(description="epoch milliseconds")
    creationTime: int = Field(description="epoch milliseconds")
    type: Literal["File", "Directory"]
    size: int
    metadata: dict[str, Any]


class ConfigPreview(BaseModel):
    initial: int
    max: int


class ConfigEnvironment(BaseModel):
    name: str


class Configs(BaseModel):
    """The server configuration Kestra clients read the API version from."""

    uuid: str
    version: str
    commitId: str
    isCustomDashboardsEnabled: bool
    isTaskRunEnabled: bool
    isAnonymousUsageEnabled: bool
    isTemplateEnabled: bool
    isUiAnonymousUsageEnabled: bool
    isAiEnabled: bool
    isConcurrencyViewEnabled: bool
    environment: ConfigEnvironment
    url: str | None = None
    preview: ConfigPreview
    isBasicAuthEnabled: bool
    isBasicAuthInitialized: bool
    systemNamespace: str
    hiddenLabelsPrefixes: list[str]
    resourceToFilters: list[Any]
    pluginsHash: int


class Health(BaseModel):
    status: Literal["UP"]
    version: str


class StreamStats(BaseModel):
    logFollowers: int
    logFollowersStarted: int
    slowClientsDropped: int
    feedSubscriptions: int
    tasks: int
    rssBytes: int | None = None
    eventLoop: str | None = None


def ok(model: Any, description: str = "Successful Response") -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a 200 JSON body described by ``model``."""
    return {200: {"model": model, "description": description}}


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads a required JSON body itself."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}
