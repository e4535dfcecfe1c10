"""The local stack's process handling: a port held a while after a stop is waited for, and
one held by somebody else is named in the error."""

from __future__ import annotations

import socket
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra"))
import procs  # noqa: E402
import stack  # noqa: E402


def listening() -> socket.socket:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s


def test_a_port_freed_within_the_wait_is_taken():
    held = listening()
    port = held.getsockname()[1]
    threading.Timer(1.0, held.close).start()
    assert procs.wait_closed(port, 10)
    assert not procs.port_open(port)


def test_a_port_held_by_someone_else_names_them(tmp_path, monkeypatch):
    monkeypatch.setattr(stack, "PORT_FREED_SECONDS", 0.5)
    held = listening()
    port = held.getsockname()[1]
    local = stack.Local("procs-test", port, port + 1)
    monkeypatch.setattr(stack.Local, "dir", property(lambda self: tmp_path))
    try:
        with pytest.raises(stack.Failure, match=rf"port {port} is taken by a process this script did not start \(.*python"):
            stack.start_server(local, "moto", "moto_server.py", port, lambda: True, stack.MOTO_MARKER)
    finally:
        held.close()
