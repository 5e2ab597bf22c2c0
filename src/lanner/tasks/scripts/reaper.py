"""No orphans, even when the worker dies: a small reaper process kills the scripts' process
groups once the worker is gone.

Each script runs in its own process group (its own session). A worker that stops or is killed
normally kills those groups itself; one that dies at once (SIGKILL, OOM) cannot. So the first
script a worker process starts also starts one reaper: a tiny Python process in a session of
its own, reading from a pipe whose write end only the worker holds. The worker tells it
``+<pgid>`` when a group starts and ``-<pgid>`` when it is gone; when the pipe closes — the
worker exited, however it died — the reaper SIGKILLs every group still registered and exits.

The group's id is known only once the script runs, and a worker killed between the start and
that ``+<pgid>`` (a few event-loop turns, while the script may already have forked) would
leave it behind. So each script also carries a token in its environment
(``LANNER_SCRIPT_TOKEN``), registered (``t<token>``) *before* the start: at the end the reaper
also kills every process whose environment holds a registered token (read from
``/proc/<pid>/environ``, Linux), with its group.
(``PR_SET_PDEATHSIG`` in a ``preexec_fn`` would reach only the group's first process, and a
``preexec_fn`` makes every start a full ``fork`` of the worker: about 40 ms instead of 5.)
Imports the standard library only.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import threading

TOKEN_ENV = "LANNER_SCRIPT_TOKEN"

_REAPER = r"""
import os, signal
groups = set()
tokens = set()
pending = b""
while True:
    try:
        chunk = os.read(0, 65536)
    except InterruptedError:
        continue
    if not chunk:
        break
    pending += chunk
    *lines, pending = pending.split(b"\n")
    for line in lines:
        if line[:1] == b"+":
            groups.add(int(line[1:]))
        elif line[:1] == b"-":
            groups.discard(int(line[1:]))
        elif line[:1] == b"t":
            tokens.add(b"LANNER_SCRIPT_TOKEN=" + line[1:])
        elif line[:1] == b"u":
            tokens.discard(b"LANNER_SCRIPT_TOKEN=" + line[1:])
for pgid in groups:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
if tokens:
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open("/proc/" + name + "/environ", "rb") as f:
                found = tokens.intersection(f.read().split(b"\0"))
            if found:
                pid = int(name)
                try:
                    os.killpg(os.getpgid(pid), signal.SIGKILL)
                except OSError:
                    os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
"""

_lock = threading.Lock()
_state: dict[int, tuple[subprocess.Popen[bytes], int]] = {}


def _pipe() -> int | None:
    """The write end of this process's reaper pipe (starting the reaper once per process)."""
    pid = os.getpid()
    with _lock:
        found = _state.get(pid)
        if found is not None and found[0].poll() is None:
            return found[1]
        read_end, write_end = os.pipe()
        try:
            reaper = subprocess.Popen(
                [sys.executable, "-S", "-c", _REAPER],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C or group kill of the worker spares it
                close_fds=True,
            )
        except OSError:
            os.close(write_end)
            return None
        finally:
            os.close(read_end)
        os.set_inheritable(write_end, False)
        _state[pid] = (reaper, write_end)
        return write_end


def new_token() -> str:
    """A token for the next script's environment (``TOKEN_ENV``), registered with the reaper
    before that script starts; :func:`forget` it with the group."""
    token = secrets.token_hex(8)
    _send(f"t{token}\n")
    return token


def watch(pgid: int) -> None:
    """Register a script's process group with the reaper."""
    _send(f"+{pgid}\n")


def forget(pgid: int | None, token: str | None = None) -> None:
    """The group is gone (or killed): the reaper no longer needs to kill it."""
    lines = "" if pgid is None else f"-{pgid}\n"
    if token is not None:
        lines += f"u{token}\n"
    _send(lines)


def _send(line: str) -> None:
    fd = _pipe()
    if fd is not None:
        with contextlib.suppress(OSError):
            os.write(fd, line.encode())
