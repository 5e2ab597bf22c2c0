"""Files of a working directory: ``inputFiles`` written in, ``namespaceFiles`` copied in,
``outputFiles`` (globs) and the output directory's files collected and uploaded.

``inputFiles`` is a map (or a rendered JSON map) of relative paths to contents; a value that is
a ``kestra://`` URI (another task's output file) is copied from internal storage. A path that
would leave the working directory (``..``, absolute) fails the task. Used by the script tasks
and the engine's ``WorkingDirectory``. Imports ``lanner.tasks``, the domain and the standard
library only.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from lanner.domain.globs import matches
from lanner.tasks.context import RunContext
from lanner.tasks.failures import TaskFailure

KESTRA = "kestra://"


def inside(workdir: Path, name: str) -> Path:
    """``workdir / name``, refusing a name that escapes it."""
    if not name or name.startswith("/") or "\x00" in name:
        raise TaskFailure(f"input file '{name}' is outside the working directory", retryable=False)
    root = workdir.resolve()
    target = (workdir / name).resolve()
    if target == root or not target.is_relative_to(root):
        raise TaskFailure(f"input file '{name}' is outside the working directory", retryable=False)
    return target


async def write_input_files(ctx: RunContext, workdir: Path, value: Any) -> list[str]:
    """Render ``inputFiles`` and write each file; returns the names written."""
    if value is None:
        return []
    files: Any = await ctx.render_typed(value)
    if isinstance(files, str):
        try:
            files = json.loads(files)
        except ValueError:
            raise TaskFailure("inputFiles must be a map of file names to contents") from None
    if not isinstance(files, dict):
        raise TaskFailure("inputFiles must be a map of file names to contents")
    written = []
    for name, content in files.items():
        target = inside(workdir, str(name))
        text = "" if content is None else content if isinstance(content, str) else str(content)
        data = await ctx.read_file(text) if text.startswith(KESTRA) else text.encode("utf-8")
        await asyncio.to_thread(_write, target, data)
        written.append(str(name))
    return written


def _write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


async def copy_namespace_files(ctx: RunContext, workdir: Path, options: Any) -> list[str]:
    """Copy the namespace files ``options`` (``enabled``, ``include``, ``exclude``) selects."""
    if options is None:
        return []
    rendered = await ctx.render_typed(
        {k: getattr(options, k) for k in ("enabled", "include", "exclude")}
        if not isinstance(options, dict)
        else options
    )
    if str(rendered.get("enabled", True)).lower() == "false":
        return []
    return await ctx.copy_namespace_files(
        workdir, _strings(rendered.get("include")), _strings(rendered.get("exclude"))
    )


def _strings(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return [str(item) for item in value]


def find_output_files(
    workdir: Path, patterns: list[str], outdir: Path | None
) -> list[tuple[str, Path]]:
    """``(relative name, file)`` of the files matching ``patterns`` in ``workdir`` and of every
    file in ``outdir`` (named relative to it), sorted; blocking."""
    found: dict[str, Path] = {}
    if patterns:
        for item in workdir.rglob("*"):
            if outdir is not None and item.is_relative_to(outdir):
                continue
            if item.is_file():
                relative = item.relative_to(workdir).as_posix()
                if matches(relative, patterns):
                    found[relative] = item
    if outdir is not None and outdir.is_dir():
        for item in outdir.rglob("*"):
            if item.is_file():
                found[item.relative_to(outdir).as_posix()] = item
    return sorted(found.items())


async def upload_output_files(
    ctx: RunContext, workdir: Path, patterns: list[str], outdir: Path | None
) -> dict[str, str]:
    """Upload the output files; returns ``{relative name: kestra:// URI}``."""
    files = await asyncio.to_thread(find_output_files, workdir, patterns, outdir)
    return {name: await ctx.put_file(name, path) for name, path in files}
