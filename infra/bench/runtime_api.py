"""A Lambda Runtime API on loopback, for timing one function process at a time.

Lambda starts a function's process and hands it events through the Runtime API
(https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html): the process
asks `GET /2018-06-01/runtime/invocation/next`, works, and posts the result to
`.../invocation/{id}/response` (or `/error`). This harness speaks that API so
that the Rust functions, the hello-world floor and the Node.js and Python
runtime interface clients are all started and timed the same way:

- `cold_start()` execs a fresh process and times its first `/next` (init done:
  runtime, SDK clients built) and its first response.
- `Function.invoke()` sends one more event to a warm process and times it.
- `Function.peak_rss_kib()` reads the process's high-water mark (VmHWM).

Times are `time.perf_counter_ns()` taken in this process, so every subject
pays the same harness overhead; ratios between subjects are what to read.
"""

from __future__ import annotations

import itertools
import os
import queue
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PREFIX = "/2018-06-01/runtime"
DEADLINE_MS = 10_000  # the Timeout of template.yaml's Globals


class RuntimeFailure(Exception):
    """The function reported an init or invocation error, exited, or did not answer in time."""


@dataclass
class Outcome:
    """What the process posted for one invocation."""

    kind: str  # "response" or "error"
    body: bytes
    at_ns: int


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.events: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.outcomes: queue.Queue[tuple[str, Outcome]] = queue.Queue()
        self.first_next_ns: int | None = None
        self.init_error: bytes | None = None
        self.closing = threading.Event()

    def handle_error(self, request, client_address) -> None:
        pass  # a killed process drops its long poll mid-request: expected, not news


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the runtime clients expect
    disable_nagle_algorithm = True  # else small replies wait ~40 ms for the client's delayed ACK
    server: _Server

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
        pass

    def do_GET(self) -> None:
        if self.path != f"{PREFIX}/invocation/next":
            return self._reply(404, b'{"message":"unknown path"}')
        if self.server.first_next_ns is None:
            self.server.first_next_ns = time.perf_counter_ns()
        # Long poll, as Lambda does: the process waits here between invocations.
        while not self.server.closing.is_set():
            try:
                request_id, event = self.server.events.get(timeout=0.5)
                break
            except queue.Empty:
                continue
        else:
            return self._reply(410, b'{"message":"harness closing"}')
        deadline = int(time.time() * 1000) + DEADLINE_MS
        self._reply(200, event, {
            "Lambda-Runtime-Aws-Request-Id": request_id,
            "Lambda-Runtime-Deadline-Ms": str(deadline),
            "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:bench",
            "Lambda-Runtime-Trace-Id": f"Root=1-00000000-{request_id[-24:]:0>24};Sampled=0",
        })

    def do_POST(self) -> None:
        now = time.perf_counter_ns()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = self.path[len(PREFIX):].strip("/").split("/")
        if parts == ["init", "error"]:
            self.server.init_error = body or b"(no body)"
        elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            self.server.outcomes.put((parts[1], Outcome(parts[2], body, now)))
        else:
            return self._reply(404, b'{"message":"unknown path"}')
        self._reply(202, b'{"status":"OK"}')

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


_xray_daemon: socket.socket | None = None


def xray_daemon_address() -> str:
    """Where Lambda's X-Ray daemon listens when tracing is active (template.yaml: `Tracing:
    Active`), so the functions build their UDP trace exporter as in AWS. A bound socket no
    one reads stands in: the kernel drops what overflows it, without an error to the sender."""
    global _xray_daemon
    if _xray_daemon is None:
        _xray_daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        _xray_daemon.bind(("127.0.0.1", 0))
    host, port = _xray_daemon.getsockname()
    return f"{host}:{port}"


def lambda_env(name: str, api: str, memory_mb: int, tracing: bool = True) -> dict[str, str]:
    """The variables Lambda sets for every runtime (the Rust runtime requires the first three); the
    daemon's address only with tracing on (`Tracing: Active`)."""
    return {
        **({"AWS_XRAY_DAEMON_ADDRESS": xray_daemon_address()} if tracing else {}),
        "AWS_LAMBDA_RUNTIME_API": api,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
    }


_request_ids = itertools.count(1)


class Function:
    """One running function process behind its own Runtime API endpoint."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], cwd: Path, log: Path,
                 memory_mb: int = 128, tracing: bool = True) -> None:
        self.name = name
        self._server = _Server()
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        api = f"127.0.0.1:{self._server.server_address[1]}"
        self._argv, self._cwd, self._log = argv, cwd, log
        self._env = {**env, **lambda_env(name, api, memory_mb, tracing)}
        self.proc: subprocess.Popen | None = None
        self.started_ns = 0

    def start(self, first_event: bytes) -> str:
        """Exec the process with `first_event` already queued; returns its request id."""
        request_id = self._queue(first_event)
        with open(self._log, "ab") as log:
            self.started_ns = time.perf_counter_ns()
            self.proc = subprocess.Popen(self._argv, cwd=self._cwd, env=self._env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT)
        return request_id

    def _queue(self, event: bytes) -> str:
        request_id = f"bench-{next(_request_ids):012d}-0000-0000-0000-000000000000"
        self._server.events.put((request_id, event))
        return request_id

    def wait(self, request_id: str, timeout: float = 60) -> Outcome:
        """The outcome of `request_id`; raises RuntimeFailure on an error of any kind."""
        deadline = time.monotonic() + timeout
        while True:
            if self._server.init_error is not None:
                raise RuntimeFailure(f"{self.name}: init error: {self._server.init_error.decode(errors='replace')}")
            if self.proc and self.proc.poll() is not None:
                raise RuntimeFailure(f"{self.name}: exited with {self.proc.returncode} (log {self._log})")
            if time.monotonic() > deadline:
                raise RuntimeFailure(f"{self.name}: no answer to {request_id} in {timeout} s (log {self._log})")
            try:
                got_id, outcome = self._server.outcomes.get(timeout=0.2)
            except queue.Empty:
                continue
            if got_id != request_id:
                raise RuntimeFailure(f"{self.name}: answered {got_id}, expected {request_id}")
            if outcome.kind == "error":
                raise RuntimeFailure(f"{self.name}: invocation error: {outcome.body.decode(errors='replace')}")
            return outcome

    def invoke(self, event: bytes) -> tuple[int, bytes]:
        """One warm invocation: (nanoseconds from queueing the event to the response, response)."""
        queued = time.perf_counter_ns()
        outcome = self.wait(self._queue(event))
        return outcome.at_ns - queued, outcome.body

    @property
    def first_next_ns(self) -> int | None:
        return self._server.first_next_ns

    def peak_rss_kib(self) -> int:
        """VmHWM of the process: the most resident memory it ever had."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
        return int(line.split()[1])

    def stop(self) -> None:
        self._server.closing.set()
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Function:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass
class ColdStart:
    init_ms: float  # exec -> first GET /next
    first_response_ms: float  # exec -> first response posted
    response: bytes


def cold_start(name: str, argv: list[str], env: dict[str, str], cwd: Path, log: Path, event: bytes,
               memory_mb: int = 128, tracing: bool = True) -> ColdStart:
    """Exec a fresh process, hand it `event`, and time init and first response."""
    with Function(name, argv, env, cwd, log, memory_mb, tracing) as function:
        outcome = function.wait(function.start(event))
        assert function.first_next_ns is not None  # it asked for the event it answered
        return ColdStart(
            init_ms=(function.first_next_ns - function.started_ns) / 1e6,
            first_response_ms=(outcome.at_ns - function.started_ns) / 1e6,
            response=outcome.body,
        )


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Cold-start one function process against this Runtime API.")
    parser.add_argument("--event", type=Path, required=True, help="JSON event file")
    parser.add_argument("--cwd", type=Path, default=Path.cwd())
    parser.add_argument("--log", type=Path, default=Path("/dev/null"))
    parser.add_argument("argv", nargs="+", help="the command that starts the function")
    args = parser.parse_args()
    result = cold_start("cli", args.argv, dict(os.environ), args.cwd, args.log, args.event.read_bytes())
    print(f"init {result.init_ms:.2f} ms, first response {result.first_response_ms:.2f} ms")
    print(result.response.decode(errors="replace"))
