"""The process runner: one script attempt as a local process in its own process group.

The process starts in a new session (``start_new_session``), so the whole group can be
signalled: on timeout or cancellation (an execution kill cancels the task's coroutine) the
group gets SIGTERM, then SIGKILL after a grace period, and is waited for; when the main process
ends by itself, whatever it left running in its group is killed too (no orphans). A worker that
dies at once leaves no orphans either: the group is registered with the process's reaper
(:mod:`lanner.tasks.scripts.reaper`). stdout and stderr are read in chunks and handed, a chunk
of whole lines at a time, to an :class:`OutputConsumer` as they come.
Imports ``lanner.tasks`` and the standard library only.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Mapping, Sequence
from contextlib import suppress

from lanner.tasks.scripts import reaper
from lanner.tasks.scripts.protocol import OutputConsumer

GRACE_S = 1.0
"""How long a killed group has between SIGTERM and SIGKILL."""

_CHUNK = 1 << 16
_MAX_LINE = 1 << 20
"""A longer line is cut into pieces of this size."""


async def run_process(
    argv: Sequence[str], *, cwd: str, env: Mapping[str, str], consumer: OutputConsumer
) -> int:
    """Run ``argv`` to its end and return its exit code (``128 + signal`` when signalled)."""
    token = reaper.new_token()  # registered before the start (the reaper's docstring says why)
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env={**env, reaper.TOKEN_ENV: token},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except BaseException:
        reaper.forget(None, token)
        raise
    reaper.watch(process.pid)
    assert process.stdout is not None
    assert process.stderr is not None
    readers = [
        asyncio.create_task(_pump(process.stdout, consumer, is_stderr=False)),
        asyncio.create_task(_pump(process.stderr, consumer, is_stderr=True)),
    ]
    try:
        code = await process.wait()
        _signal_group(process.pid, signal.SIGKILL)  # what it left behind in its group
        await asyncio.gather(*readers)
    except BaseException:
        for reader in readers:
            reader.cancel()
        await asyncio.shield(asyncio.ensure_future(terminate(process)))
        raise
    finally:
        reaper.forget(process.pid, token)
    return 128 - code if code < 0 else code


async def terminate(process: asyncio.subprocess.Process) -> None:
    """SIGTERM the process's group, SIGKILL it after :data:`GRACE_S`, and reap the process."""
    _signal_group(process.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), GRACE_S)
    except TimeoutError:
        pass
    _signal_group(process.pid, signal.SIGKILL)
    await process.wait()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _pump(stream: asyncio.StreamReader, consumer: OutputConsumer, *, is_stderr: bool) -> None:
    pending = b""
    while chunk := await stream.read(_CHUNK):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        if lines:
            await consumer.accept_many([_decode(line) for line in lines], is_stderr=is_stderr)
        while len(pending) > _MAX_LINE:
            await consumer.accept(_decode(pending[:_MAX_LINE]), is_stderr=is_stderr)
            pending = pending[_MAX_LINE:]
    if pending:
        await consumer.accept(_decode(pending), is_stderr=is_stderr)


def _decode(line: bytes) -> str:
    return line.removesuffix(b"\r").decode("utf-8", errors="replace")
