"""The script reaper (``lanner.tasks.scripts.reaper``) with a real worker process that dies
at once (``os._exit``): what it registered dies with it, never what it did not."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

WORKER = textwrap.dedent(
    """
    import os, subprocess, sys
    from lanner.tasks.scripts import reaper

    mode = sys.argv[1]
    env = dict(os.environ)
    token = None
    if mode == "token":
        token = reaper.new_token()
        env[reaper.TOKEN_ENV] = token
    child = subprocess.Popen(
        ["sleep", "60"], env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    if mode == "group":
        reaper.watch(child.pid)
    if mode == "forgotten":
        token = reaper.new_token()
        reaper.forget(None, token)  # registered, then forgotten: spared
        env[reaper.TOKEN_ENV] = token
        child.kill()
        child = subprocess.Popen(
            ["sleep", "60"], env=env, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    print(child.pid, flush=True)
    os._exit(0)  # as a SIGKILL would: nothing cleans up
    """
)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def run_worker(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", WORKER, mode], capture_output=True, text=True, check=True
    )
    return int(done.stdout.split()[-1])


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.02)
    return not alive(pid)


def test_a_registered_group_dies_with_its_worker() -> None:
    assert gone_within(run_worker("group"), 10)


def test_a_script_started_but_not_yet_watched_dies_by_its_token() -> None:
    """The worker died between the start and ``watch``: the token, registered before the
    start, still finds the script."""
    assert gone_within(run_worker("token"), 10)


def test_a_forgotten_token_spares_its_process() -> None:
    pid = run_worker("forgotten")
    try:
        time.sleep(1.0)  # the reaper had its end
        assert alive(pid)
    finally:
        os.kill(pid, 9)
