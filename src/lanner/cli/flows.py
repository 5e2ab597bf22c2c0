"""``lanner flow deploy|get|list|validate``: flows over the HTTP API, problems at line:column.

``deploy FILE|DIR`` groups the YAML documents it finds by namespace and sends each group to
Kestra's namespace update (``POST /api/v1/flows/{namespace}``, ``delete=false`` unless
``--delete``: then the namespace's flows missing from the files are deleted). ``validate``
sends each file to ``POST /api/v1/flows/validate``. The server names a problem by its path in
the flow (``tasks[0].type``); this module finds that path in the YAML it sent and reports the
file, line and column. HTTP only: never ``api``, ``engine``, ``store`` or ``flows``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.text import Text

from lanner.cli.client import ClientError, call_json, open_client
from lanner.cli.output import (
    EXIT_ERROR,
    EXIT_FAILED,
    Format,
    FormatOpt,
    client_settings,
    emit_json,
    run_command,
    stderr,
    stdout,
    table,
    usage_error,
)

app = typer.Typer(
    help="Deploy, read and validate flows.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

_SEPARATOR = re.compile(r"^---[ \t]*(?:#.*)?$")
_PATH_STEP = re.compile(r"\[(\d+)\]|([^.\[\]]+)")
_SERVER_POSITION = re.compile(r"\s*\(line (\d+), column (\d+)\)$")
_PROBLEM = re.compile(r"^(\[\d+\]|[A-Za-z_$][\w$-]*)(\[\d+\]|\.[\w$-]+)*: ")
FLOW_SUFFIXES = (".yml", ".yaml")
SEARCH_PAGE_SIZE = 500


@dataclass(frozen=True, slots=True)
class Document:
    """One YAML document of a file, where it starts, and its node tree (None if unparsable)."""

    file: Path
    source: str
    first_line: int
    node: yaml.Node | None
    error: tuple[int, int, str] | None = None
    """(line, column, problem) of a YAML syntax error."""

    @property
    def namespace(self) -> str | None:
        value = _child(self.node, "namespace")
        return value.value if isinstance(value, yaml.ScalarNode) else None

    def locate(self, path: str, message: str) -> tuple[int, int, str]:
        """File line, column and message of a problem: the position the server gave in the
        message (``(line 3, column 5)`` of the document, as Lanner adds), else ``path``'s."""
        given = _SERVER_POSITION.search(message)
        if given is None:
            return (*self.position(path), message)
        line, column = int(given.group(1)), int(given.group(2))
        return self.first_line + line - 1, column, message[: given.start()]

    def position(self, path: str) -> tuple[int, int]:
        """1-based line and column of ``path`` (``tasks[0].type``), or of its nearest parent."""
        if self.error is not None:
            return self.error[0], self.error[1]
        node = self.node
        mark = node.start_mark if node is not None else None
        for index, key in _PATH_STEP.findall(path):
            node = _child(node, int(index) if index else key)
            if node is None:
                break
            mark = node.start_mark
        if mark is None:
            return self.first_line, 1
        return self.first_line + mark.line, mark.column + 1


def _child(node: yaml.Node | None, step: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int):
        items: list[yaml.Node] = node.value
        return items[step] if 0 <= step < len(items) else None
    if isinstance(node, yaml.MappingNode):
        pairs: list[tuple[yaml.Node, yaml.Node]] = node.value
        for key, value in pairs:
            if isinstance(key, yaml.ScalarNode) and key.value == str(step):
                return value
    return None


def split_documents(file: Path, text: str) -> list[Document]:
    """The non-empty ``---``-separated documents of ``text``, each with its first line."""
    documents: list[Document] = []
    lines = text.splitlines(keepends=True)
    start = 0
    for number in [*(i for i, line in enumerate(lines) if _SEPARATOR.match(line)), len(lines)]:
        chunk = "".join(lines[start:number])
        if any(line.strip() and not line.lstrip().startswith("#") for line in lines[start:number]):
            documents.append(_document(file, chunk, start + 1))
        start = number + 1
    return documents


def _document(file: Path, source: str, first_line: int) -> Document:
    try:
        return Document(file, source, first_line, yaml.compose(source, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line, mark.column + 1) if mark is not None else (0, 1)
        problem = f"{exc.problem or exc.context or 'invalid YAML'}"
        return Document(file, source, first_line, None, (first_line + line, column, problem))


def problems_of(constraints: str) -> list[tuple[str, str]]:
    """``(path, message)`` of each line of a validation's ``constraints`` text."""
    found = []
    for line in constraints.splitlines():
        match = _PROBLEM.match(line)
        if match is None:
            found.append(("", line.removeprefix(": ")))
        else:
            found.append((line[: match.end() - 2], line[match.end() :]))
    return found


def _flow_files(target: Path) -> list[Path]:
    if target.is_dir():
        return sorted(p for p in target.rglob("*") if p.suffix in FLOW_SUFFIXES and p.is_file())
    if target.is_file():
        return [target]
    raise usage_error(f"no such file or directory: {target}")


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise usage_error(f"cannot read {file}: {exc}") from None


def _print_problem(document: Document, path: str, message: str) -> None:
    line, column, message = document.locate(path, message)
    where = f"{document.file}:{line}:{column}"
    stderr.print(Text(f"{where}: {path}: {message}" if path else f"{where}: {message}"))


# --------------------------------------------------------------------------- deploy


def _by_namespace(documents: list[Document]) -> dict[str, list[Document]]:
    groups: dict[str, list[Document]] = defaultdict(list)
    for document in documents:
        if document.error is not None:
            line, column, problem = document.error
            stderr.print(Text(f"{document.file}:{line}:{column}: {problem}"))
            raise typer.Exit(EXIT_ERROR)
        if document.namespace is None:
            _print_problem(document, "namespace", "a flow needs a namespace")
            raise typer.Exit(EXIT_ERROR)
        groups[document.namespace].append(document)
    return dict(sorted(groups.items()))


def _brief(flow: dict[str, Any], namespace: str) -> dict[str, Any]:
    return {
        "namespace": flow.get("namespace", namespace),
        "id": flow.get("id"),
        "revision": flow.get("revision"),
        "deleted": bool(flow.get("deleted")),
    }


async def _deploy(groups: dict[str, list[Document]], delete: bool, fmt: Format) -> int:
    deployed: list[dict[str, Any]] = []
    async with open_client(client_settings()) as client:
        for namespace, documents in groups.items():
            body = "---\n".join(d.source if d.source.endswith("\n") else d.source + "\n"
                                for d in documents)  # fmt: skip
            try:
                flows = await call_json(
                    client,
                    "POST",
                    f"/api/v1/flows/{namespace}",
                    params={"delete": str(delete).lower()},
                    content=body.encode(),
                    headers={"Content-Type": "application/x-yaml"},
                )
            except ClientError as err:
                if err.status != 422 or not err.details:
                    raise
                stderr.print(Text(f"lanner: error: {err.message}"))
                for path, message in err.details:
                    index = re.match(r"\[(\d+)\]\.?", path)
                    position = int(index.group(1)) if index else 0
                    where = documents[min(position, len(documents) - 1)]
                    _print_problem(where, path[index.end() :] if index else path, message)
                return EXIT_ERROR
            deployed += [_brief(flow, namespace) for flow in flows]
    if fmt is Format.JSON:
        emit_json(deployed)
    else:
        rows = [
            (f["namespace"], str(f["id"]), str(f["revision"]), "deleted" if f["deleted"] else "")
            for f in deployed
        ]
        stdout.print(table(("namespace", "flow", "revision", ""), rows))
    return 0


@app.command()
def deploy(
    target: Annotated[Path, typer.Argument(help="A flow file, or a directory of them.")],
    delete: Annotated[
        bool,
        typer.Option("--delete", help="Delete the namespaces' flows that are not in the files."),
    ] = False,
    fmt: FormatOpt = Format.HUMAN,
) -> None:
    """Create or update flows; a directory syncs each namespace it holds."""
    documents = [doc for file in _flow_files(target) for doc in split_documents(file, _read(file))]
    if not documents:
        raise usage_error(f"no flows in {target}")
    run_command(_deploy(_by_namespace(documents), delete, fmt), fmt)


# --------------------------------------------------------------------------- get / list


@app.command()
def get(
    namespace: Annotated[str, typer.Argument(help="The flow's namespace.")],
    flow_id: Annotated[str, typer.Argument(help="The flow id.")],
    fmt: FormatOpt = Format.HUMAN,
) -> None:
    """Print a flow (human: its YAML source; json: Kestra's flow document)."""

    async def show() -> int:
        async with open_client(client_settings()) as client:
            flow = await call_json(
                client, "GET", f"/api/v1/flows/{namespace}/{flow_id}", params={"source": "true"}
            )
        if fmt is Format.JSON:
            emit_json(flow)
        else:
            stdout.print(Text(f"# {namespace}.{flow_id} revision {flow.get('revision')}"))
            stdout.print(Text(str(flow.get("source") or yaml.safe_dump(flow, sort_keys=False))))
        return 0

    run_command(show(), fmt)


@app.command("list")
def list_flows(
    namespace: Annotated[str | None, typer.Argument(help="Only this namespace.")] = None,
    fmt: FormatOpt = Format.HUMAN,
) -> None:
    """List flows, of one namespace or of all."""

    async def show() -> int:
        async with open_client(client_settings()) as client:
            if namespace is not None:
                flows = await call_json(client, "GET", f"/api/v1/flows/{namespace}")
            else:
                flows, page = [], 1
                while True:
                    params = {"page": page, "size": SEARCH_PAGE_SIZE, "sort": "id:asc"}
                    found = await call_json(client, "GET", "/api/v1/flows/search", params=params)
                    flows += found.get("results") or []
                    if not found.get("results") or len(flows) >= int(found.get("total") or 0):
                        break
                    page += 1
        if fmt is Format.JSON:
            emit_json(flows)
        else:
            rows = [
                (
                    str(f.get("namespace")),
                    str(f.get("id")),
                    str(f.get("revision")),
                    str(len(f.get("tasks") or [])),
                    "disabled" if f.get("disabled") else "",
                )
                for f in sorted(flows, key=lambda f: (f.get("namespace"), f.get("id")))
            ]
            stdout.print(table(("namespace", "flow", "revision", "tasks", ""), rows))
        return 0

    run_command(show(), fmt)


# --------------------------------------------------------------------------- validate


async def _validate(files: list[Path], fmt: Format) -> int:
    reports: list[dict[str, Any]] = []
    async with open_client(client_settings()) as client:
        for file in files:
            text = _read(file)
            documents = split_documents(file, text)
            results = await call_json(
                client,
                "POST",
                "/api/v1/flows/validate",
                content=text.encode(),
                headers={"Content-Type": "application/x-yaml"},
            )
            for result in results or []:
                index = int(result.get("index") or 0)
                document = documents[min(index, len(documents) - 1)] if documents else None
                problems = []
                for path, text in problems_of(str(result.get("constraints") or "")):
                    line, column, message = (
                        document.locate(path, text) if document else (1, 1, text)
                    )
                    problems.append(
                        {"path": path, "message": message, "line": line, "column": column}
                    )
                reports.append(
                    {
                        "file": str(file),
                        "index": index,
                        "namespace": result.get("namespace"),
                        "flow": result.get("flow"),
                        "valid": not problems,
                        "problems": problems,
                    }
                )
    if fmt is Format.JSON:
        emit_json(reports)
    for report in reports if fmt is Format.HUMAN else ():
        name = f"{report['namespace']}.{report['flow']}"
        if report["valid"]:
            stdout.print(Text.assemble((f"{report['file']}: ", ""), ("valid", "green"), f" {name}"))
        for problem in report["problems"]:
            where = f"{report['file']}:{problem['line']}:{problem['column']}"
            path = f"{problem['path']}: " if problem["path"] else ""
            stdout.print(Text(f"{where}: {path}{problem['message']}"))
    return EXIT_FAILED if any(not report["valid"] for report in reports) else 0


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="Flow files (multi-document YAML too).")],
    fmt: FormatOpt = Format.HUMAN,
) -> None:
    """Check flows without saving them; each problem at file:line:column (exit 1 if any)."""
    run_command(_validate([f for target in files for f in _flow_files(target)], fmt), fmt)
