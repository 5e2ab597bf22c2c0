"""The Docker task runner: the script runs in a container through the ``docker`` CLI.

Only when a daemon answers (``docker info`` succeeds); otherwise the task fails with a message
that says so — it is never run as a local process instead. The working directory is mounted at
the same path inside the container (so ``{{ workingDir }}`` and ``{{ outputDir }}`` stay
valid), the task's ``env`` is passed with ``-e``, ``pullPolicy`` maps to ``--pull``. A kill or
timeout kills the CLI's process group and removes the container (``docker rm -f``). Other
Docker options (volumes, resources, credentials...) are not used. Imports ``lanner.tasks`` and
the standard library only.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from lanner.tasks.failures import TaskFailure
from lanner.tasks.scripts.process import run_process
from lanner.tasks.scripts.protocol import OutputConsumer

INFO_TIMEOUT_S = 10.0
_PULL = {"ALWAYS": "always", "IF_NOT_PRESENT": "missing", "NEVER": "never"}
_PROCESS_HINT = (
    "use 'taskRunner: {type: io.kestra.plugin.core.runner.Process}' to run it as a local process"
)


async def check_daemon() -> None:
    """Fail the task unless ``docker info`` succeeds."""
    if shutil.which("docker") is None:
        raise TaskFailure(
            f"the Docker task runner needs the docker CLI, which is not installed here; {_PROCESS_HINT}",
            retryable=False,
        )
    try:
        process = await asyncio.create_subprocess_exec(
            "docker", "info", "--format", "{{.ServerVersion}}",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(process.communicate(), INFO_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        err, code = b"no answer", 1
    else:
        code = process.returncode or 0
    if code != 0:
        reason = err.decode(errors="replace").strip().splitlines()
        raise TaskFailure(
            "the Docker task runner needs a Docker daemon and none answers here "
            f"('docker info' failed: {reason[-1] if reason else 'exit code ' + str(code)}); "
            f"{_PROCESS_HINT}",
            retryable=False,
        )


def run_argv(
    name: str,
    image: str,
    workdir: Path,
    env: Mapping[str, str],
    command: Sequence[str],
    *,
    pull_policy: object = None,
) -> list[str]:
    argv = [
        "docker",
        "run",
        "--rm",
        "--name",
        name,
        "-v",
        f"{workdir}:{workdir}",
        "-w",
        str(workdir),
    ]
    for key, value in env.items():
        argv += ["-e", f"{key}={value}"]
    pull = _PULL.get(str(pull_policy or "").upper())
    if pull is not None:
        argv += ["--pull", pull]
    return [*argv, image, *command]


async def run_container(name: str, argv: Sequence[str], cwd: str, consumer: OutputConsumer) -> int:
    try:
        return await run_process(argv, cwd=cwd, env=_cli_env(), consumer=consumer)
    except BaseException:
        await asyncio.shield(_remove(name))
        raise


def _cli_env() -> dict[str, str]:
    return dict(os.environ)


async def _remove(name: str) -> None:
    process = await asyncio.create_subprocess_exec(
        "docker", "rm", "-f", name,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    await process.wait()
