"""Core ``storage.*`` tasks (internal-storage files) and ``namespace.*`` files tasks.

``storage.Write``, ``Concat``, ``Split``, ``Size``, ``Delete``, ``Reverse``, ``FilterItems``,
``DeduplicateItems``, ``LocalFiles`` and ``PurgeCurrentExecutionFiles`` read and write
``kestra://`` files through the run context (this execution's and its namespace's files only);
the files they make are named as Kestra's temporary files are (a random name and the extension)
under the task run's storage folder. ``FilterItems``/``DeduplicateItems`` read ION rows (one
value a line, :mod:`lanner.storage.ion`), evaluate the Pebble expression with the row's fields
added to the run's variables and copy matching lines as they are. ``namespace.UploadFiles``,
``DownloadFiles`` and ``DeleteFiles`` use the namespace-files store; their ``files`` patterns
are Kestra's ``PathMatcherPredicate`` globs (``glob:``/``regex:`` prefixes; a pattern starting
with a word character matches at any depth). ``templating.TemplatedTask`` has no runtime yet.
Imports the domain, storage, templating and ``lanner.tasks`` only.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from lanner.domain.globs import glob_regex, matches
from lanner.domain.logs import LogLevel
from lanner.errors import LannerError
from lanner.storage.ion import IonError, lines, parse_row
from lanner.tasks.base import DYNAMIC, Bool, Int, StrList, Task, Text
from lanner.tasks.context import Outputs, RunContext
from lanner.tasks.failures import TaskFailure
from lanner.tasks.scripts.files import upload_output_files, write_input_files
from lanner.tasks.values import as_flag
from lanner.templating import TemplateError

CORE = "io.kestra.plugin.core"
LEGACY = "io.kestra.core.tasks.storages"
TMP = ".tmp"
_UNITS = {"KB": 1024, "MB": 1024**2, "GB": 1024**3}
_FALSE = ("false", "0", "-0", "")


def _temp_name(extension: str | None) -> str:
    """A fresh file name ending with ``extension`` as given (Kestra: ``.tmp`` when none)."""
    return f"{uuid.uuid4().int % 10**19}{TMP if extension is None else extension}"


def _extension_of(uri: str, default: str | None = TMP) -> str | None:
    """The extension (with its dot) of a URI's last path segment."""
    name = PurePosixPath(uri.split("?", 1)[0]).name
    return name[name.rindex(".") :] if "." in name else default


async def _text(ctx: RunContext, value: Any, name: str) -> str:
    rendered = await ctx.render(value)
    if rendered is None or not rendered.strip():
        raise TaskFailure(f"{name} is required", retryable=False)
    return rendered.strip()


async def _string_list(ctx: RunContext, value: Any, name: str) -> list[str]:
    """A list property given as a list, a JSON array text or (rendered) a single string."""
    rendered = await ctx.render_typed(value)
    if isinstance(rendered, str):
        text = rendered.strip()
        if text.startswith("["):
            try:
                rendered = json.loads(text)
            except ValueError:
                raise TaskFailure(f"{name} must be a list or a JSON array") from None
        else:
            rendered = [text]
    if not isinstance(rendered, list):
        raise TaskFailure(f"{name} must be a list or a JSON array")
    return ["" if item is None else str(item) for item in rendered]


class Write(Task):
    """Write ``content`` to a new internal-storage file."""

    TYPE: ClassVar[str] = f"{CORE}.storage.Write"

    content: Text
    extension: Text | None = None

    async def run(self, ctx: RunContext) -> Outputs:
        content = await ctx.render(self.content) or ""
        name = _temp_name(await ctx.render(self.extension))
        return {"uri": await ctx.put_file(name, content.encode("utf-8"))}


class Concat(Task):
    """Concatenate files (``separator`` after each one) into a new file."""

    TYPE: ClassVar[str] = f"{CORE}.storage.Concat"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.Concat",)

    files: StrList | Text
    separator: Text | None = None
    extension: Text = TMP

    async def run(self, ctx: RunContext) -> Outputs:
        files = await _string_list(ctx, self.files, "files")
        separator = await ctx.render(self.separator)
        parts: list[bytes] = []
        for uri in files:
            parts.append(await ctx.read_file(uri.strip()))
            if separator is not None:
                parts.append(separator.encode("utf-8"))
        name = _temp_name(await ctx.render(self.extension))
        return {"uri": await ctx.put_file(name, b"".join(parts))}


def parse_bytes(text: str) -> int:
    """``1024``, ``10KB``, ``5MB``, ``1GB`` (Micronaut's readable bytes: units of 1024)."""
    value = text.strip().upper()
    factor = next((f for unit, f in _UNITS.items() if value.endswith(unit)), 1)
    digits = value[:-2] if factor != 1 else value
    if not digits.isdigit():
        raise TaskFailure(f"Invalid size with value '{text}'", retryable=False)
    return int(digits) * factor


def split_rows(
    rows: Sequence[str], separator: str, *, max_bytes: int | None = None,
    max_rows: int | None = None, partitions: int | None = None,
) -> list[bytes]:  # fmt: skip
    """Kestra's split of a file's lines (each written with ``separator``): chunks of at most
    ``max_rows`` rows, chunks closed once they reach ``max_bytes``, or ``partitions`` files
    filled round-robin (the empty ones dropped)."""
    if partitions is not None:
        if partitions < 1:
            raise TaskFailure("partitions must be at least 1", retryable=False)
        buckets: list[list[bytes]] = [[] for _ in range(partitions)]
        for index, row in enumerate(rows):
            buckets[index % partitions].append((row + separator).encode("utf-8"))
        return [b"".join(bucket) for bucket in buckets if bucket]
    if max_rows is not None and max_rows < 1:
        raise TaskFailure("rows must be at least 1", retryable=False)
    chunks: list[bytes] = []
    current: list[bytes] = []
    size = 0
    for row in rows:
        full = (max_bytes is not None and size >= max_bytes) or (
            max_rows is not None and len(current) >= max_rows
        )
        if current and full:
            chunks.append(b"".join(current))
            current, size = [], 0
        data = (row + separator).encode("utf-8")
        current.append(data)
        size += len(data)
    if current:
        chunks.append(b"".join(current))
    return chunks


class Split(Task):
    """Split a file into chunks by ``bytes``, ``partitions`` or ``rows``."""

    TYPE: ClassVar[str] = f"{CORE}.storage.Split"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.Split",)

    from_: Text = Field(alias="from")
    bytes: Text | None = None
    partitions: Int | None = None
    rows: Int | None = None
    separator: Text = "\n"

    async def run(self, ctx: RunContext) -> Outputs:
        source = await _text(ctx, self.from_, "from")
        separator = await ctx.render(self.separator) or ""
        rows = list(lines(await ctx.read_file(source)))
        if self.bytes is not None:
            chunks = split_rows(
                rows, separator, max_bytes=parse_bytes(await _text(ctx, self.bytes, "bytes"))
            )
        elif self.partitions is not None:
            chunks = split_rows(
                rows, separator, partitions=await _int(ctx, self.partitions, "partitions")
            )
        elif self.rows is not None:
            chunks = split_rows(rows, separator, max_rows=await _int(ctx, self.rows, "rows"))
        else:
            raise TaskFailure(
                "Invalid configuration with no size, count, nor rows", retryable=False
            )
        extension = _extension_of(source)
        return {"uris": [await ctx.put_file(_temp_name(extension), chunk) for chunk in chunks]}


async def _int(ctx: RunContext, value: Any, name: str) -> int:
    rendered = await ctx.render_typed(value)
    try:
        return int(str(rendered).strip())
    except ValueError:
        raise TaskFailure(f"{name} must be an integer, got '{rendered}'", retryable=False) from None


class Size(Task):
    """The size in bytes of an internal-storage file."""

    TYPE: ClassVar[str] = f"{CORE}.storage.Size"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.Size",)

    uri: Text

    async def run(self, ctx: RunContext) -> Outputs:
        return {"size": await ctx.file_size(await _text(ctx, self.uri, "uri"))}


class Delete(Task):
    """Delete an internal-storage file."""

    TYPE: ClassVar[str] = f"{CORE}.storage.Delete"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.Delete",)

    uri: Text
    errorOnMissing: Bool = False

    async def run(self, ctx: RunContext) -> Outputs:
        uri = await _text(ctx, self.uri, "uri")
        deleted = await ctx.delete_file(uri)
        if not deleted and as_flag(await ctx.render_typed(self.errorOnMissing)):
            raise TaskFailure(f"Unable to find file '{uri}'")
        return {"uri": uri, "deleted": deleted}


class Reverse(Task):
    """Write a file's lines in reverse order (each followed by ``separator``)."""

    TYPE: ClassVar[str] = f"{CORE}.storage.Reverse"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.Reverse",)

    from_: Text = Field(alias="from")
    separator: Text = "\n"
    charset: Text = "UTF-8"

    async def run(self, ctx: RunContext) -> Outputs:
        source = await _text(ctx, self.from_, "from")
        separator = await ctx.render(self.separator) or ""
        charset = await _text(ctx, self.charset, "charset")
        try:
            text = (await ctx.read_file(source)).decode(charset, errors="replace")
            rows = list(lines(text.encode("utf-8")))
            data = "".join(row + separator for row in reversed(rows)).encode(charset)
        except LookupError:
            raise TaskFailure(f"Unsupported charset '{charset}'", retryable=False) from None
        return {"uri": await ctx.put_file(_temp_name(_extension_of(source)), data)}


async def _rows(ctx: RunContext, source: str) -> list[tuple[str, dict[str, Any]]]:
    """The ION rows of a file: each line with its fields."""
    rows = []
    for line in lines(await ctx.read_file(source)):
        if not line.strip():
            continue
        try:
            value = parse_row(line)
        except IonError as error:
            raise TaskFailure(str(error)) from None
        rows.append((line, value if isinstance(value, dict) else {}))
    return rows


class FilterItems(Task):
    """Keep (``INCLUDE``) or drop (``EXCLUDE``) the ION rows matching ``filterCondition``."""

    TYPE: ClassVar[str] = f"{CORE}.storage.FilterItems"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.FilterItems",)

    from_: Text = Field(alias="from")
    filterCondition: Text
    filterType: Annotated[Literal["INCLUDE", "EXCLUDE"], DYNAMIC] = "INCLUDE"
    errorOrNullBehavior: Annotated[Literal["FAIL", "INCLUDE", "EXCLUDE"], DYNAMIC] = "FAIL"

    async def run(self, ctx: RunContext) -> Outputs:
        source = await _text(ctx, self.from_, "from")
        keep_matching = await _choice(ctx, self.filterType, ("INCLUDE", "EXCLUDE")) == "INCLUDE"
        on_error = await _choice(ctx, self.errorOrNullBehavior, ("FAIL", "INCLUDE", "EXCLUDE"))
        kept: list[str] = []
        processed = dropped = 0
        for line, row in await _rows(ctx, source):
            try:
                rendered = await ctx.render_with(self.filterCondition, row)
            except TemplateError as error:
                if on_error == "FAIL":
                    raise TaskFailure(str(error)) from None
                keep = on_error == "INCLUDE"
            else:
                matched = (rendered or "").strip() not in _FALSE
                keep = matched == keep_matching
            processed += 1
            if keep:
                kept.append(line + "\n")
            else:
                dropped += 1
        uri = await ctx.put_file(_temp_name(".ion"), "".join(kept).encode("utf-8"))
        return {"uri": uri, "processedItemsTotal": processed, "droppedItemsTotal": dropped}


async def _choice(ctx: RunContext, value: str, allowed: tuple[str, ...]) -> str:
    rendered = (await ctx.render(value) or "").strip().upper()
    if rendered not in allowed:
        raise TaskFailure(f"'{rendered}' is not one of {', '.join(allowed)}", retryable=False)
    return rendered


class DeduplicateItems(Task):
    """Keep the last ION row of each key ``expr`` renders, in the file's order."""

    TYPE: ClassVar[str] = f"{CORE}.storage.DeduplicateItems"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.DeduplicateItems",)

    from_: Text = Field(alias="from")
    expr: Text

    async def run(self, ctx: RunContext) -> Outputs:
        source = await _text(ctx, self.from_, "from")
        rows = await _rows(ctx, source)
        keys: list[str] = []
        for _, row in rows:
            try:
                keys.append(await ctx.render_with(self.expr, row) or "")
            except TemplateError as error:
                raise TaskFailure(str(error)) from None
        last = {key: offset for offset, key in enumerate(keys)}
        kept = [
            line + "\n" for offset, (line, _) in enumerate(rows) if last[keys[offset]] == offset
        ]
        uri = await ctx.put_file(_temp_name(".ion"), "".join(kept).encode("utf-8"))
        return {
            "uri": uri,
            "numKeys": len(last),
            "processedItemsTotal": len(rows),
            "droppedItemsTotal": len(rows) - len(kept),
        }


class LocalFiles(Task):
    """Deprecated: use WorkingDirectory's ``inputFiles``/``outputFiles``."""

    TYPE: ClassVar[str] = f"{CORE}.storage.LocalFiles"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.LocalFiles",)
    DEPRECATED: ClassVar[bool] = True

    inputs: dict[str, Any] | Text | None = None
    outputs: StrList | None = None

    async def run(self, ctx: RunContext) -> Outputs:
        workdir = ctx.working_directory()
        await write_input_files(ctx, workdir, self.inputs)
        patterns = await _string_list(ctx, self.outputs, "outputs") if self.outputs else []
        return {"uris": await upload_output_files(ctx, workdir, patterns, None)}


class PurgeCurrentExecutionFiles(Task):
    """Delete every internal-storage file of the current execution."""

    TYPE: ClassVar[str] = f"{CORE}.storage.PurgeCurrentExecutionFiles"
    ALIASES: ClassVar[tuple[str, ...]] = (
        f"{LEGACY}.PurgeExecution",
        f"{CORE}.storage.PurgeExecution",
    )

    async def run(self, ctx: RunContext) -> Outputs:
        return {"uris": await ctx.delete_execution_files()}


def path_matcher(patterns: Sequence[str]) -> Callable[[str], bool]:
    """Kestra's ``PathMatcherPredicate`` over namespace file paths (``a/b.txt``, tested as
    ``/a/b.txt``): ``regex:`` and ``glob:`` patterns as they are, a pattern starting with a
    word character prefixed with ``**/`` (so ``file.txt`` matches at any depth)."""
    regexes: list[re.Pattern[str]] = []
    for pattern in patterns:
        if pattern.startswith("regex:"):
            regexes.append(re.compile("@" + pattern[len("regex:") :] + r"\Z"))
            continue
        glob = pattern[len("glob:") :] if pattern.startswith("glob:") else pattern
        if not pattern.startswith("glob:") and re.match(r"\w", glob):
            glob = "**/" + glob
        # glob_regex ignores a leading "/": a sentinel in front of the glob and of the path
        # keeps Java's matching of absolute paths ("*.txt" misses "/a.txt", "/*.txt" hits).
        regexes.append(glob_regex("@" + glob.replace("\\", "/")))

    def test(path: str) -> bool:
        absolute = "@/" + path.lstrip("/")
        return any(regex.match(absolute) for regex in regexes)

    return test


async def _namespace(ctx: RunContext, value: Any) -> str:
    return (await ctx.render(value) or "").strip() or ctx.execution.namespace


def _join(*parts: str) -> str:
    """A namespace file path from segments (``/`` between them, one leading ``/``)."""
    joined = "/".join(part.strip("/") for part in parts if part.strip("/"))
    return "/" + joined


class UploadFiles(Task):
    """Upload working-directory files (``files`` globs) or storage files (``filesMap``) to
    a namespace's files."""

    TYPE: ClassVar[str] = f"{CORE}.namespace.UploadFiles"

    namespace: Text
    files: StrList | None = None
    filesMap: dict[str, Any] | Text | None = None
    destination: Text = "/"
    conflict: Annotated[Literal["OVERWRITE", "ERROR", "SKIP"], DYNAMIC] = "OVERWRITE"

    async def run(self, ctx: RunContext) -> Outputs:
        if self.files is None and self.filesMap is None:
            raise TaskFailure("files or filesMap is required", retryable=False)
        namespace = await _namespace(ctx, self.namespace)
        destination = await ctx.render(self.destination) or "/"
        conflict = await _choice(ctx, self.conflict, ("OVERWRITE", "ERROR", "SKIP"))
        uploads: list[tuple[str, Callable[[], Awaitable[bytes | None]]]] = []
        if self.files is not None:
            workdir = ctx.working_directory()
            patterns = [
                p[len("glob:") :] if p.startswith("glob:") else p
                for p in await _string_list(ctx, self.files, "files")
            ]
            for relative in await asyncio.to_thread(_matching_files, workdir, patterns):
                uploads.append((_join(destination, relative), _file_reader(workdir / relative)))
        if self.filesMap is not None:
            mapping = await ctx.render_typed(self.filesMap)
            if isinstance(mapping, str):
                try:
                    mapping = json.loads(mapping)
                except ValueError:
                    raise TaskFailure("filesMap must be a Map<String, String>") from None
            if not isinstance(mapping, dict):
                raise TaskFailure("filesMap must be a Map<String, String>")
            for target, source in mapping.items():
                if not isinstance(source, str):
                    raise TaskFailure("filesMap must be a Map<String, String>")
                uploads.append((_join(destination, str(target)), _reader(ctx, source)))
        store = ctx.namespace_files()
        tenant = ctx.execution.tenant_id
        for target, read in uploads:
            try:
                exists = await store.exists(tenant, namespace, target)
                if exists and conflict == "ERROR":
                    raise TaskFailure(
                        f"File '{target}' already exists in namespace '{namespace}' and "
                        "conflict is set to ERROR"
                    )
                if exists and conflict == "SKIP":
                    ctx.logger.log(
                        LogLevel.DEBUG,
                        f"File '{target}' already exists in namespace '{namespace}' and "
                        "conflict is set to SKIP. Skipping.",
                    )
                    continue
                content = await read()
                if content is None:  # a filesMap source that does not exist: skipped
                    continue
                await store.write(tenant, namespace, target, content)
            except LannerError as error:
                raise TaskFailure(error.message) from None
            verb = "overwritten into" if exists else "added to"
            ctx.logger.log(LogLevel.DEBUG, f"File '{target}' {verb} namespace '{namespace}'.")
        return None


def _matching_files(workdir: Path, patterns: list[str]) -> list[str]:
    return sorted(
        relative
        for item in workdir.rglob("*")
        if item.is_file() and matches(relative := item.relative_to(workdir).as_posix(), patterns)
    )


def _file_reader(path: Path) -> Callable[[], Awaitable[bytes | None]]:
    async def read() -> bytes | None:
        return await asyncio.to_thread(path.read_bytes)

    return read


def _reader(ctx: RunContext, uri: str) -> Callable[[], Awaitable[bytes | None]]:
    async def read() -> bytes | None:
        try:
            return await ctx.read_file(uri.strip())
        except TaskFailure as failure:
            if "not found" in str(failure):
                return None
            raise

    return read


class DownloadFiles(Task):
    """Copy a namespace's files (``files`` patterns) into the task run's storage."""

    TYPE: ClassVar[str] = f"{CORE}.namespace.DownloadFiles"

    namespace: Text
    files: StrList | Text
    destination: Text = ""

    async def run(self, ctx: RunContext) -> Outputs:
        namespace = await _namespace(ctx, self.namespace)
        destination = await ctx.render(self.destination) or ""
        test = path_matcher(await _string_list(ctx, self.files, "files"))
        store = ctx.namespace_files()
        tenant = ctx.execution.tenant_id
        downloaded: dict[str, str] = {}
        try:
            for path in await store.list_files(tenant, namespace):
                if test(path):
                    data = await store.read(tenant, namespace, path)
                    uri = await ctx.put_file(destination + path, data)
                    ctx.logger.log(LogLevel.DEBUG, f"Downloaded {uri}")
                    downloaded["/" + path] = uri
        except LannerError as error:
            raise TaskFailure(error.message) from None
        ctx.metric("downloaded", len(downloaded))
        return {"files": downloaded}


class DeleteFiles(Task):
    """Delete a namespace's files matching ``files`` patterns."""

    TYPE: ClassVar[str] = f"{CORE}.namespace.DeleteFiles"

    namespace: Text
    files: StrList | Text
    deleteParentFolder: Bool | None = None

    async def run(self, ctx: RunContext) -> Outputs:
        namespace = await _namespace(ctx, self.namespace)
        test = path_matcher(await _string_list(ctx, self.files, "files"))
        prune = as_flag(await ctx.render_typed(self.deleteParentFolder))
        store = ctx.namespace_files()
        tenant = ctx.execution.tenant_id
        count = 0
        try:
            for path in await store.list_files(tenant, namespace):
                if test(path) and await store.delete(tenant, namespace, path, prune=prune):
                    ctx.logger.log(LogLevel.DEBUG, f"Deleted /{path}")
                    count += 1
        except LannerError as error:
            raise TaskFailure(error.message) from None
        ctx.metric("deleted", count)
        return None


MODELS: tuple[type[Task], ...] = (
    Write, Concat, Split, Size, Delete, Reverse, FilterItems, DeduplicateItems, LocalFiles,
    PurgeCurrentExecutionFiles, UploadFiles, DownloadFiles, DeleteFiles,
)  # fmt: skip
