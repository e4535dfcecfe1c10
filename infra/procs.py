"""Background processes for the local stack: start, find again, stop.

Each process runs in its own session (so its own process group): Ctrl-C in
the terminal reaches only stack.py, which then stops every group it owns,
including the children they spawned (cargo, the function binaries). A pid
file per process in .local/<name>/ lets a later run find leftovers of a run
that was killed hard.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def wait_closed(port: int, seconds: float) -> bool:
    """True once nothing listens on port; False if something still does after seconds."""
    deadline = time.monotonic() + seconds
    while port_open(port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def listener(port: int) -> str:
    """What listens on port, as `ss` shows it (process and pid), for an error message."""
    try:
        out = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown (no ss)"
    return " ".join(out.stdout.split()) or "nothing now"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) is not alive for our purposes.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] != "Z"
    except OSError:
        return False


def recorded(pidfile: Path, marker: str) -> int | None:
    """The pid in pidfile if that process is alive and its command line contains marker."""
    try:
        pid = int(pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, ValueError):
        return None
    return pid if marker in cmdline and alive(pid) else None


def start(argv: list[str], pidfile: Path, log: Path, env: dict[str, str], cwd: Path) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: see module doc
        )
    pidfile.write_text(f"{proc.pid}\n")
    return proc


def stop(pidfile: Path, marker: str, grace: float = 10.0) -> None:
    """Stop the recorded process group (TERM, then KILL after grace seconds).

    A pid file whose process is gone or is no longer ours (marker not in its
    command line) is just removed.
    """
    pid = recorded(pidfile, marker)
    if pid is not None:
        # cargo lambda watch starts each function in a session of its own, out of
        # reach of killpg: note the whole tree now, and sweep it at the end.
        tree = descendants(pid)
        # A killed process holds its ports until the kernel has freed its memory: seconds for a
        # moto of many GB.
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 60.0)):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and group_alive(pid):
                reap(pid)
                time.sleep(0.1)
            if not group_alive(pid):
                break
        for child in tree:
            if alive(child):
                os.kill(child, signal.SIGKILL)
    pidfile.unlink(missing_ok=True)


def descendants(pid: int) -> list[int]:
    """All live processes below pid (children, grandchildren, ...)."""
    parent_of: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
            parent_of[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        children = [p for p, parent in parent_of.items() if parent == current]
        found += children
        frontier += children
    return found


def group_alive(pgid: int) -> bool:
    """True while any live (non-zombie) process is still in process group pgid."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[2] == str(pgid) and fields[0] != "Z":  # state, ppid, pgrp
            return True
    return False


def reap(pid: int) -> None:
    """Collect our own exited child so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no {path})"
