"""Template functions: Kestra's (``now``, ``fromJson``, ``yaml``, ``secret``, ``kv``, ``read``,
``render``, ``renderOnce``, ``fileURI``, ``fileSize``, ``fileExists``, ``isFileEmpty``,
``currentEachOutput``, ``errorLogs``, ``uuid``, ``id``, ``randomInt``, ``printContext``,
``http``) and Pebble's (``range``, ``max``, ``min``).

Every function takes the Jinja render context first (the compiler passes it). Server-backed
ones go through :class:`~lanner.templating.runtime.RuntimeFunctions`. Imports only the
standard library, yaml, orjson and this package (httpx through ``http_function``, at its first call) (and, at call time, the bounded YAML loader
of ``lanner.flows.loader``).
"""

from __future__ import annotations

import random
import uuid as uuid_module
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson
import yaml

from . import operators
from .dates import now
from .errors import TemplateRenderError
from .http_function import http
from .runtime import RuntimeFunctions, RuntimeScope

if TYPE_CHECKING:
    from jinja2.runtime import Context

    from .settings import RenderSettings


_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# functions that reach the server or the network (render() may render a string that does)
RUNTIME_FUNCTIONS = frozenset(
    {"secret", "kv", "read", "fileSize", "fileExists", "isFileEmpty", "errorLogs"}
    | {"render", "renderOnce", "http"}
)


def _env(context: Context) -> RenderSettings:
    return context.environment  # type: ignore[return-value]


def _runtime(context: Context, name: str) -> tuple[RuntimeFunctions, RuntimeScope]:
    runtime = _env(context).runtime
    if runtime is None:
        raise TemplateRenderError(f"the '{name}' function needs the server and is unavailable here")
    return runtime, RuntimeScope.of(context.get_all())


def _required(value: Any, function: str, argument: str) -> Any:
    if value is None:
        raise TemplateRenderError(f"The '{function}' function expects an argument '{argument}'.")
    return value


def from_json(context: Context, json: Any = None) -> Any:
    if json is None:
        return None
    if not isinstance(json, str):
        raise TemplateRenderError(
            "The 'fromJson' function expects an argument 'json' with type string."
        )
    try:
        return orjson.loads(json)
    except orjson.JSONDecodeError as error:
        raise TemplateRenderError(f"Invalid json: {error}") from error


def from_yaml(context: Context, yaml_: Any = None, **kwargs: Any) -> Any:
    text = kwargs.get("yaml", yaml_)
    if text is None:
        return None
    # Bounded like every YAML the server reads (aliases, depth, nodes); imported here because
    # lanner.flows imports this package.
    from lanner.flows.loader import YamlLimitError, safe_load

    try:
        return safe_load(str(text))
    except YamlLimitError as error:
        raise TemplateRenderError(error.message) from error
    except yaml.YAMLError as error:
        raise TemplateRenderError(f"Invalid yaml: {error}") from error


def secret(context: Context, key: Any = None) -> str:
    runtime, scope = _runtime(context, "secret")
    try:
        return runtime.secret(scope, str(_required(key, "secret", "key")))
    except LookupError as error:
        raise TemplateRenderError(f"Cannot find secret for key '{key}'.") from error


def kv(
    context: Context, key: Any = None, namespace: Any = None, errorOnMissing: Any = False
) -> Any:
    runtime, scope = _runtime(context, "kv")
    target = str(namespace) if namespace is not None else scope.namespace or ""
    try:
        return runtime.kv(scope, target, str(_required(key, "kv", "key")))
    except LookupError as error:
        if errorOnMissing is True:
            message = f"The key '{key}' does not exist in the namespace '{target}'."
            raise TemplateRenderError(message) from error
        return None


def read(context: Context, path: Any = None) -> str:
    runtime, scope = _runtime(context, "read")
    try:
        return runtime.read(scope, str(_required(path, "read", "path")))
    except (LookupError, OSError) as error:
        raise TemplateRenderError(f"Unable to read the file '{path}': {error}") from error


def file_size(context: Context, path: Any = None) -> int:
    runtime, scope = _runtime(context, "fileSize")
    try:
        return runtime.file_size(scope, str(_required(path, "fileSize", "path")))
    except (LookupError, OSError) as error:
        raise TemplateRenderError(f"Unable to get the size of '{path}': {error}") from error


def file_exists(context: Context, path: Any = None) -> bool:
    runtime, scope = _runtime(context, "fileExists")
    return runtime.file_exists(scope, str(_required(path, "fileExists", "path")))


def is_file_empty(context: Context, path: Any = None) -> bool:
    return file_size(context, path) == 0


def file_uri(context: Context, path: Any = None) -> str:
    text = str(_required(path, "fileURI", "path")).removeprefix("/")
    if "../" in text:
        raise TemplateRenderError("Path must not contain '../'")
    namespace = RuntimeScope.of(context.get_all()).namespace or ""
    return f"kestra:///{namespace.replace('.', '/')}/_files/{text}"


def error_logs(context: Context) -> list[Any]:
    runtime, scope = _runtime(context, "errorLogs")
    return list(runtime.error_logs(scope))


def render(context: Context, toRender: Any = None, recursive: Any = True) -> Any:
    if not isinstance(recursive, bool):
        raise TemplateRenderError("The 'render' function expects a boolean 'recursive'.")
    return _env(context).render_value(toRender, context.get_all(), recursive)


def render_once(context: Context, toRender: Any = None) -> Any:
    return render(context, toRender, recursive=False)


def current_each_output(context: Context, outputs: Any = None) -> Any:
    if not isinstance(outputs, Mapping):
        raise TemplateRenderError("The 'currentEachOutput' function expects a map 'outputs'.")
    variables = context.get_all()
    for parent in reversed(variables.get("parents") or []):
        taskrun = parent.get("taskrun") if isinstance(parent, Mapping) else None
        # A parent without a value (If, Sequential...) has no ``taskrun`` in Kestra's context.
        if isinstance(taskrun, Mapping) and taskrun.get("value") is not None:
            outputs = outputs.get(taskrun.get("value"))
            if not isinstance(outputs, Mapping):
                return None
    taskrun = variables.get("taskrun")
    return outputs.get(taskrun.get("value")) if isinstance(taskrun, Mapping) else None


def print_context(context: Context) -> dict[str, Any]:
    return dict(context.get_all())


def new_uuid(context: Context) -> str:
    return str(uuid_module.uuid4())


def new_id(context: Context) -> str:
    """Kestra's ``IdUtils.create()``: a random UUID written in base 62."""
    number, digits = uuid_module.uuid4().int, []
    while number:
        number, rest = divmod(number, 62)
        digits.append(_BASE62[rest])
    return "".join(reversed(digits))


def random_int(context: Context, lower: Any = None, upper: Any = None) -> int:
    for name, value in (("lower", lower), ("upper", upper)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TemplateRenderError(
                f"The 'randomInt' function expects an integer argument {name}"
            )
    if upper < lower:
        raise TemplateRenderError("In 'randomInt' upper is less than lower")
    return lower if upper == lower else random.randrange(lower, upper)


def range_(context: Context, start: Any = None, end: Any = None, increment: Any = 1) -> list[Any]:
    return operators.range_(start, end, increment, _env(context).max_loop_iterations)


def _extreme(pick: Callable[..., Any], values: tuple[Any, ...]) -> Any:
    if not values:
        raise TemplateRenderError("max/min expect at least one argument")
    try:
        return pick(values)
    except TypeError as error:
        raise TemplateRenderError(str(error)) from error


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "now": now,
    "fromJson": from_json,
    "json": from_json,
    "yaml": from_yaml,
    "secret": secret,
    "kv": kv,
    "read": read,
    "render": render,
    "renderOnce": render_once,
    "fileURI": file_uri,
    "fileSize": file_size,
    "fileExists": file_exists,
    "isFileEmpty": is_file_empty,
    "currentEachOutput": current_each_output,
    "errorLogs": error_logs,
    "http": http,
    "uuid": new_uuid,
    "id": new_id,
    "randomInt": random_int,
    "printContext": print_context,
    "fetchContext": print_context,
    "range": range_,
    "max": lambda context, *values: _extreme(max, values),
    "min": lambda context, *values: _extreme(min, values),
}
