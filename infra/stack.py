#!/usr/bin/env python3
"""Run Bookish locally: moto for the AWS APIs, `cargo lambda watch` for the HTTP API.

  dev    moto :5050, provision, watch :9000, event driver, seed; stays in the
         foreground, Ctrl-C stops everything.
  test   moto :5051, provision, cargo test, watch :9001 (no hot reload), event
         driver, seed, pytest; then stops everything. Exit status is non-zero on
         any failure. --service S tests only S's crates and black-box tests
         (infra/affected.py says which); the stack still runs every function.
  up     like dev but returns, leaving moto, watch and the driver running (see `down`).
  down   stop what `up`/`dev` left running.
  token  print a fresh IdToken (or --access token) for a seeded user.

Every run resets moto (POST /moto-api/reset) and provisions from template.yaml
(and the stacks it nests) again: state is always exactly what the template and the seed file say, and
a re-run against a moto that is still up works. infra/driver.py then plays
Lambda's event source mappings (SQS queues and the orders stream -> consumer
functions through watch), as the templates declare them. Seeding creates the
books of infra/seed/books.json and sets their stock (PUT /v1/inventory/{id}).
Last, infra/storefront_server.py serves storefront/ on the API port + 200 (9200
for dev), its own origin, which the API's CORS configuration allows.
Runtime files live in .local/<name>/ (moto.log, watch.log, driver.log, pids,
stack.json, functions.env, env.sh, and spans.jsonl: every span the functions export,
through infra/otlp_receiver.py; `make trace ORDER=<id>` reads it). Run it with the
project venv's python (the Makefile does).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import affected
import procs
import provision

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
PROFILES = {"dev": (5050, 9000), "test": (5051, 9001), "bench": (5052, 9002)}  # name -> (moto, API port)
STRIPE_PORTS = {"dev": 8420, "test": 8421, "bench": 8422}  # name -> localstripe port
OTLP_PORTS = {"dev": 4318, "test": 4319, "bench": 4320}  # name -> OTLP receiver port
# The test stack fires Schedule events this often (seconds) instead of the template's rate.
TEST_SCHEDULE_SECONDS = 3
API_WAIT_SECONDS = 15 * 60  # the first debug build of the AWS SDK takes minutes on 2 cores


class Failure(Exception):
    """A step failed; the message says which and why."""


@dataclass
class Local:
    name: str
    moto_port: int
    api_port: int

    @property
    def dir(self) -> Path:
        return ROOT / ".local" / self.name

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    @property
    def api_url(self) -> str:
        """The HTTP API (infra/apigw.py, API Gateway's part)."""
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def lambda_port(self) -> int:
        return self.api_port + 100

    @property
    def lambda_url(self) -> str:
        """cargo lambda watch: the functions, behind the Lambda Invoke API."""
        return f"http://127.0.0.1:{self.lambda_port}"

    @property
    def stripe_port(self) -> int:
        return STRIPE_PORTS.get(self.name, self.moto_port + 3370)

    @property
    def stripe_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.stripe_port}"

    @property
    def storefront_url(self) -> str:
        """storefront/ on an origin of its own, so the browser really does CORS with the API."""
        return f"http://127.0.0.1:{self.api_port + 200}"

    @property
    def otlp_port(self) -> int:
        return OTLP_PORTS.get(self.name, self.moto_port + 3380)

    @property
    def otlp_endpoint(self) -> str:
        """infra/otlp_receiver.py: the functions' spans, stored in spans.jsonl."""
        return f"http://127.0.0.1:{self.otlp_port}"

    @property
    def spans(self) -> Path:
        return self.dir / "spans.jsonl"


# Command-line text that identifies our processes behind a pid file (whatever their port).
MOTO_MARKER = "moto_server.py -H 127.0.0.1"
STRIPE_MARKER = "localstripe_server.py -H 127.0.0.1"
OTLP_MARKER = "otlp_receiver.py -H 127.0.0.1"
APIGW_MARKER = "infra/apigw.py --port"
WATCH_MARKER = "lambda watch -A 127.0.0.1"
DRIVER_MARKER = "infra/driver.py --stack"
STOREFRONT_MARKER = "infra/storefront_server.py --port"
# moto sends no confirmation mail and takes any code (infra/moto_server.py then marks the
# address verified, as Cognito does for a right code).
SIGN_UP_CODE_HINT = "Local stack: no mail is sent; any code confirms the sign-up (e.g. 123456)."

# Stock set for every seeded book: STOCK_DEFAULT, except these titles (to show
# low and out-of-stock books). Recorded in stack.json under "stock".
STOCK_DEFAULT = 25
STOCK_BY_TITLE = {
    "The Silmarillion": 0,
    "Cien años de soledad": 0,
    "Going Postal": 2,
    "Klara and the Sun": 2,
}


def log(msg: str) -> None:
    print(f"==> {msg}", flush=True)


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None,
         timeout: float = 10) -> tuple[int, bytes]:
    """One HTTP request; returns (status, body) for any HTTP answer, raises OSError otherwise."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


# --------------------------------------------------------------------------
# moto and localstripe
# --------------------------------------------------------------------------

PORT_FREED_SECONDS = 60


def start_server(local: Local, name: str, script: str, port: int, ready, marker: str,
                 extra: tuple[str, ...] = ()) -> None:
    """Start infra/<script> on `port` (ours: `marker -p port`), or reuse the one a previous run
    of ours left there; wait until `ready()`."""
    pidfile = local.dir / f"{name}.pid"
    ours = procs.recorded(pidfile, f"{marker} -p {port}") is not None
    # A server just stopped can hold its port a while longer (a moto of many GB).
    if procs.port_open(port) and (ours or not procs.wait_closed(port, PORT_FREED_SECONDS)):
        if not ours:
            raise Failure(f"port {port} is taken by a process this script did not start ({procs.listener(port)}); "
                          "stop it or pass another port")
        log(f"reusing {name} on 127.0.0.1:{port}")
        return
    procs.stop(pidfile, marker)  # a hung leftover, or one on another port
    log_path = local.dir / f"{name}.log"
    log_path.unlink(missing_ok=True)
    argv = [str(VENV_BIN / "python"), str(ROOT / "infra" / script), "-H", "127.0.0.1", "-p", str(port), *extra]
    proc = procs.start(argv, pidfile, log_path, dict(os.environ), ROOT)
    log(f"starting {name} on 127.0.0.1:{port} (log {log_path.relative_to(ROOT)})")
    deadline = time.monotonic() + 60
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise Failure(f"{name} did not start:\n{procs.tail(log_path)}")
        time.sleep(0.3)


def start_moto(local: Local) -> None:
    """moto, reset: state is exactly what provisioning makes it."""
    start_server(local, "moto", "moto_server.py", local.moto_port, lambda: moto_answers(local), MOTO_MARKER)
    status, _ = http("POST", f"{local.endpoint}/moto-api/reset")
    if status != 200:
        raise Failure(f"moto reset answered {status}")


def moto_answers(local: Local) -> bool:
    try:
        return http("GET", f"{local.endpoint}/moto-api/", timeout=2)[0] == 200
    except OSError:
        return False


def start_stripe(local: Local) -> None:
    """localstripe (state in memory), emptied."""
    start_server(local, "localstripe", "localstripe_server.py", local.stripe_port,
                 lambda: procs.port_open(local.stripe_port), STRIPE_MARKER)
    status, _ = http("DELETE", f"{local.stripe_endpoint}/_config/data")
    if status != 200:
        raise Failure(f"localstripe reset answered {status}")


def start_otlp_receiver(local: Local) -> None:
    """The trace receiver, its spans file emptied: traces are of this run only."""
    local.dir.mkdir(parents=True, exist_ok=True)
    local.spans.unlink(missing_ok=True)
    start_server(local, "otlp", "otlp_receiver.py", local.otlp_port, lambda: procs.port_open(local.otlp_port),
                 OTLP_MARKER, ("--out", str(local.spans)))


# --------------------------------------------------------------------------
# Stack description and environments
# --------------------------------------------------------------------------

def describe(local: Local, stack: provision.Stack) -> dict:
    """The contents of stack.json: what tests and people need to reach the stack."""
    return {
        "apiUrl": local.api_url,
        "storefrontUrl": local.storefront_url,
        "lambdaUrl": local.lambda_url,
        "awsEndpoint": local.endpoint,
        "stripeEndpoint": local.stripe_endpoint,
        "region": provision.REGION,
        "userPoolId": stack.user_pool_id,
        "userPoolClientId": stack.user_pool_client_id,
        "tables": stack.physical("AWS::DynamoDB::Table"),
        # logical id -> {url, arn, name, visibilityTimeout, [dlq, dlqUrl, maxReceiveCount]}
        "queues": stack.queues,
        # table logical id -> {arn, table, viewType}
        "streams": stack.streams,
        "topics": stack.physical("AWS::SNS::Topic"),
        "emailIdentities": stack.email_identities,
        "parameters": stack.parameters,
        "functions": stack.functions,  # logical id -> binary
        "eventSourceMappings": stack.event_source_mappings,  # what infra/driver.py drives
        "auth": {"issuer": stack.issuer, "jwksUrl": stack.jwks_url, "audience": stack.user_pool_client_id},
        "users": provision.USERS,
        "otlpEndpoint": local.otlp_endpoint,
        "spans": str(local.spans),
        "functionEnv": function_env(stack, local.lambda_url, local.stripe_endpoint, local.otlp_endpoint),
    }


def function_env(stack: provision.Stack, lambda_url: str, stripe_endpoint: str,
                 otlp_endpoint: str) -> dict[str, str]:
    """Env for the functions: the template's own Environment plus the local-only settings."""
    return {
        **stack.function_env,  # BOOKS_TABLE, RUST_LOG, ... resolved from template.yaml
        # Stripe's API is localstripe; the key is read from moto's SSM (provision.create_secrets).
        "STRIPE_API_BASE": stripe_endpoint,
        "AWS_ENDPOINT_URL": stack.endpoint,
        # Lambda Invoke (one function calling another) goes to cargo lambda watch.
        "AWS_ENDPOINT_URL_LAMBDA": lambda_url,
        "AWS_REGION": provision.REGION,
        "AWS_DEFAULT_REGION": provision.REGION,
        **provision.CREDENTIALS,
        "AUTH_JWKS_URL": stack.jwks_url,
        "AUTH_ISSUER": stack.issuer,
        "AUTH_AUDIENCE": stack.user_pool_client_id,
        # Spans go to infra/otlp_receiver.py (in AWS: the X-Ray daemon; telemetry::trace).
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_endpoint,
    }


def write_stack_json(local: Local, described: dict) -> Path:
    stack_json = local.dir / "stack.json"
    text = json.dumps(described, indent=2, ensure_ascii=False) + "\n"
    stack_json.write_text(text)
    if local.name == "dev":
        (ROOT / ".local" / "stack.json").write_text(text)
    return stack_json


def write_files(local: Local, described: dict) -> dict[str, str]:
    """Write stack.json, functions.env (for watch) and env.sh (for a shell); return the test env."""
    local.dir.mkdir(parents=True, exist_ok=True)
    stack_json = write_stack_json(local, described)
    env = described["functionEnv"]
    (local.dir / "functions.env").write_text("".join(f"{k}={dotenv_quote(v)}\n" for k, v in env.items()))
    test_env = {**env, "BOOKISH_STACK": str(stack_json)}
    (local.dir / "env.sh").write_text(
        "# source me: the env cargo test and pytest get from make test\n"
        + "".join(f"export {k}={shlex.quote(v)}\n" for k, v in test_env.items()))
    return test_env


def dotenv_quote(value: str) -> str:
    """A value for watch's --env-file (dotenv): single quotes keep spaces, braces and $ literal."""
    if "'" not in value and "\n" not in value:
        return f"'{value}'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("\n", "\\n")
    return f'"{escaped}"'


# --------------------------------------------------------------------------
# cargo lambda watch
# --------------------------------------------------------------------------

def start_watch(local: Local, reload: bool = True, release: bool = False, concurrency: int = 1) -> subprocess.Popen:
    pidfile = local.dir / "watch.pid"
    procs.stop(pidfile, WATCH_MARKER)  # a previous one has the previous pool ids
    if procs.port_open(local.lambda_port):
        raise Failure(f"port {local.lambda_port} is taken by a process this script did not start; "
                      "stop it or pass --api-port")
    # watch hands its own environment to the functions, and --env-file entries win
    # over it. Keep the developer's AWS_* settings (profiles, real keys) out, and
    # RUST_LOG too: it would also make watch itself log at that level.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "RUST_LOG"}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"  # pip's cargo-lambda lives there
    log_path = local.dir / "watch.log"
    log_path.unlink(missing_ok=True)
    argv = ["cargo", "lambda", "watch", "-A", "127.0.0.1", "-P", str(local.lambda_port),
            "--env-file", str(local.dir / "functions.env"),
            # Traces to the local OTLP receiver; builds for AWS send to X-Ray instead.
            "--features", "bookish-shared/otlp"]
    if not reload:
        # A test run tests one build: an edit elsewhere in the tree must not restart
        # (and rebuild) functions under the running tests.
        argv.append("--ignore-changes")
    if release:
        argv.append("--release")  # the optimised build that ships (make bench measures it)
    if concurrency > 1:
        # Instances per function, as Lambda starts one per concurrent request (each cold at
        # first); one by default, so that a test's requests meet one process.
        argv += ["--concurrency", str(concurrency)]
    log(f"starting cargo lambda watch on {local.lambda_url} (log {log_path.relative_to(ROOT)})")
    return procs.start(argv, pidfile, log_path, env, ROOT)


def start_apigw(local: Local) -> subprocess.Popen:
    """infra/apigw.py on the API port: routes, events and CORS as API Gateway, from template.yaml."""
    pidfile = local.dir / "apigw.pid"
    procs.stop(pidfile, APIGW_MARKER)
    if procs.port_open(local.api_port):
        raise Failure(f"port {local.api_port} is taken by a process this script did not start; "
                      "stop it or pass --api-port")
    log_path = local.dir / "apigw.log"
    log_path.unlink(missing_ok=True)
    argv = [str(VENV_BIN / "python"), "infra/apigw.py", "--port", str(local.api_port), "--lambda", local.lambda_url,
            "--parameter", f"StorefrontOrigin={local.storefront_url}"]
    proc = procs.start(argv, pidfile, log_path, dict(os.environ), ROOT)
    deadline = time.monotonic() + 30
    while not procs.port_open(local.api_port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise Failure(f"the local API did not start:\n{procs.tail(log_path)}")
        time.sleep(0.2)
    log(f"API Gateway (infra/apigw.py) on {local.api_url} -> functions (log {log_path.relative_to(ROOT)})")
    return proc


def start_storefront(local: Local, described: dict) -> subprocess.Popen:
    """storefront/ with this stack's config.json (in AWS, `make publish-storefront` writes it)."""
    pidfile = local.dir / "storefront.pid"
    procs.stop(pidfile, STOREFRONT_MARKER)
    port = int(local.storefront_url.rsplit(":", 1)[1])
    if procs.port_open(port):
        raise Failure(f"port {port} is taken by a process this script did not start; stop it or pass --api-port")
    config = local.dir / "storefront-config.json"
    config.write_text(json.dumps({
        "apiUrl": local.api_url,
        "region": described["region"],
        "userPoolClientId": described["userPoolClientId"],
        "cognitoEndpoint": local.endpoint,
        "signUpCodeHint": SIGN_UP_CODE_HINT,
    }, indent=2) + "\n")
    log_path = local.dir / "storefront.log"
    argv = [str(VENV_BIN / "python"), "infra/storefront_server.py", "--port", str(port), "--config", str(config)]
    proc = procs.start(argv, pidfile, log_path, dict(os.environ), ROOT)
    deadline = time.monotonic() + 30
    while not procs.port_open(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise Failure(f"the storefront server did not start:\n{procs.tail(log_path)}")
        time.sleep(0.2)
    log(f"storefront on {local.storefront_url} (log {log_path.relative_to(ROOT)})")
    return proc


def check_watch_log(log_path: Path) -> None:
    """A function that does not compile, or exits at start (a missing env var,
    say), leaves its request hanging: watch.log tells."""
    text = log_path.read_text(errors="replace")
    for sign, what in (("error: could not compile", "a function does not compile"),
                       ("ERROR command exited", "a function exited (is its env in template.yaml?)")):
        if sign in text:
            print(flush=True)
            raise Failure(f"{what}:\n{procs.tail(log_path)}")


def router_targets() -> list[tuple[str, str, str]]:
    """One (function, method, path) per function with HTTP routes in the store's templates."""
    import apigw

    targets: dict[str, tuple[str, str]] = {}
    for r in apigw.routes_from_template(provision.store_template(ROOT / "template.yaml")):
        targets.setdefault(r.binary, (r.method, r.path))
    return [(fn, method, path) for fn, (method, path) in sorted(targets.items())]


def wait_api(local: Local, proc: subprocess.Popen) -> None:
    """Wait until GET /v1/books answers 200, then until every routed function answers.

    watch compiles a function on its first request and holds the request
    meanwhile, so each first call below may take minutes.
    """
    log_path = local.dir / "watch.log"
    deadline = time.monotonic() + API_WAIT_SECONDS
    print(f"    waiting for {local.api_url}/v1/books (first build takes minutes) ", end="", flush=True)

    def ask(method: str, path: str, body: bytes | None = None) -> int | None:
        if proc.poll() is not None:
            print(flush=True)
            raise Failure(f"cargo lambda watch exited ({proc.returncode}):\n{procs.tail(log_path)}")
        check_watch_log(log_path)
        left = deadline - time.monotonic()
        if left <= 0:
            print(flush=True)
            raise Failure(f"API not ready after {API_WAIT_SECONDS // 60} min:\n{procs.tail(log_path)}")
        try:
            return http(method, local.api_url + path, body, timeout=min(left, 30))[0]
        except OSError:  # not listening yet, or still compiling past our read timeout
            print(".", end="", flush=True)
            time.sleep(2)
            return None

    while (status := ask("GET", "/v1/books")) != 200:
        if status is not None:
            print(f"[{status}]", end="", flush=True)
            time.sleep(2)
    print(" up", flush=True)
    for fn, method, path in router_targets():
        # Any HTTP answer (404 for a made-up id, 401 without a token) means it runs.
        path = path.replace("{id}", "warm-up").replace("{", "").replace("}", "")
        body = b"{}" if method in ("POST", "PUT", "PATCH") else None
        print(f"    warming {fn} ({method} {path}) ", end="", flush=True)
        while (status := ask(method, path, body)) is None:
            pass
        print(f"{status}", flush=True)


# --------------------------------------------------------------------------
# The event source mapping driver
# --------------------------------------------------------------------------

def start_driver(local: Local, dump_events: Path | None = None) -> subprocess.Popen:
    """infra/driver.py: Lambda's event source mappings (queues, streams -> functions) for watch."""
    pidfile = local.dir / "driver.pid"
    procs.stop(pidfile, DRIVER_MARKER)
    (local.dir / "driver.ready").unlink(missing_ok=True)
    log_path = local.dir / "driver.log"
    log_path.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONUNBUFFERED"] = "1"
    argv = [str(VENV_BIN / "python"), "infra/driver.py", "--stack", str(local.dir / "stack.json"),
            "--ready", str(local.dir / "driver.ready")]
    if local.name == "test":
        argv += ["--schedule-every", str(TEST_SCHEDULE_SECONDS)]
    if dump_events:
        argv += ["--dump-events", str(dump_events.resolve())]
    log(f"starting the event source mapping driver (log {log_path.relative_to(ROOT)})")
    return procs.start(argv, pidfile, log_path, env, ROOT)


def wait_driver(local: Local, driver: subprocess.Popen, watch: subprocess.Popen) -> dict:
    """Wait for driver.ready: every consumer warmed up (built by watch) and polling."""
    ready = local.dir / "driver.ready"
    log_path = local.dir / "driver.log"
    deadline = time.monotonic() + API_WAIT_SECONDS
    print("    waiting for the driver to warm up the consumer functions ", end="", flush=True)
    shown = 0

    def progress() -> None:
        nonlocal shown
        lines = log_path.read_text(errors="replace").splitlines() if log_path.exists() else []
        for line in lines[shown:]:
            if " warming up " in line or " is up " in line or "WARNING" in line:
                print(f"\n      {line.split(' ', 1)[1]}", end="", flush=True)
        shown = len(lines)

    while not ready.exists():
        if driver.poll() is not None:
            print(flush=True)
            raise Failure(f"the event source mapping driver exited ({driver.returncode}):\n{procs.tail(log_path)}")
        if watch.poll() is not None:
            print(flush=True)
            raise Failure(f"cargo lambda watch exited ({watch.returncode}):\n{procs.tail(local.dir / 'watch.log')}")
        check_watch_log(local.dir / "watch.log")
        if time.monotonic() > deadline:
            print(flush=True)
            raise Failure(f"driver not ready after {API_WAIT_SECONDS // 60} min:\n{procs.tail(log_path)}")
        progress()
        print(".", end="", flush=True)
        time.sleep(2)
    progress()
    summary = json.loads(ready.read_text())
    print("\n    driver up", flush=True)
    for m in summary["mappings"]:
        print(f"    {m['kind']:8} {m['source']} -> {m['binary']}", flush=True)
    for m in summary["skipped"]:
        log(f"WARNING: not driving {m['source']} -> {m['binary']}: {m['reason']}")
    return summary


# --------------------------------------------------------------------------
# Seeding
# --------------------------------------------------------------------------

def admin_headers(local: Local, described: dict) -> dict[str, str]:
    admin = described["users"]["admin"]
    tokens = provision.sign_in(local.endpoint, described["userPoolClientId"], admin["email"], admin["password"])
    return {"Authorization": f"Bearer {tokens['IdToken']}", "Content-Type": "application/json"}


def seed(local: Local, described: dict, seed_file: Path) -> None:
    """POST every book as the admin; 409 (ISBN already there) counts as done."""
    if not seed_file.exists():
        log(f"no seed file {seed_file}: catalog left empty")
        return
    books = json.loads(seed_file.read_text())
    headers = admin_headers(local, described)
    created = existing = 0
    for book in books:
        status, body = http("POST", f"{local.api_url}/v1/books", json.dumps(book).encode(), headers, timeout=120)
        if status == 409:
            existing += 1
        elif 200 <= status < 300:
            created += 1
        else:
            raise Failure(f"seeding {book.get('title', book)!r}: HTTP {status}\n{body.decode(errors='replace')}")
    shown = seed_file.relative_to(ROOT) if seed_file.is_relative_to(ROOT) else seed_file
    log(f"seeded {created} new books from {shown} ({existing} already there)")


def all_books(local: Local) -> list[dict]:
    books, cursor = [], None
    while True:
        query = "limit=100" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
        status, body = http("GET", f"{local.api_url}/v1/books?{query}", timeout=120)
        if status != 200:
            raise Failure(f"listing books for the stock seed: HTTP {status}\n{body.decode(errors='replace')}")
        page = json.loads(body)
        books += page["items"]
        cursor = page.get("nextCursor")
        if not cursor:
            return books


def seed_stock(local: Local, described: dict) -> dict[str, int]:
    """PUT /v1/inventory/{id} for every book: STOCK_DEFAULT, or STOCK_BY_TITLE. Returns id -> available.

    A set needs If-Match: `*` creates the stock of a book that has none (a fresh stack);
    a book that has some already (412) is set on the ETag a GET gives."""
    if not any(fn == "inventory-api" for fn, _, _ in router_targets()):
        log("WARNING: inventory-api has no HTTP route in template.yaml yet: stock not seeded")
        return {}
    books = all_books(local)
    if not books:
        return {}
    headers = admin_headers(local, described)
    stock: dict[str, int] = {}
    for book in books:
        available = STOCK_BY_TITLE.get(book["title"], STOCK_DEFAULT)
        url = f"{local.api_url}/v1/inventory/{urllib.parse.quote(book['id'])}"
        status, body = http("PUT", url, json.dumps({"available": available}).encode(),
                            {**headers, "If-Match": "*"}, timeout=120)
        for _ in range(5):  # stocked already: set on what is there now
            if status != 412:
                break
            etag = urllib.request.urlopen(url, timeout=120).headers["ETag"]
            status, body = http("PUT", url, json.dumps({"available": available}).encode(),
                                {**headers, "If-Match": etag}, timeout=120)
        if not 200 <= status < 300:
            raise Failure(f"seeding stock of {book['title']!r}: HTTP {status}\n{body.decode(errors='replace')}")
        stock[book["id"]] = available
    low = sorted(b["title"] for b in books if STOCK_BY_TITLE.get(b["title"], STOCK_DEFAULT) < 5)
    log(f"stock set for {len(stock)} books ({STOCK_DEFAULT} each; low or none: {', '.join(low) or '-'})")
    return stock


# --------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------

def bring_up(local: Local, args, before_watch=None) -> tuple[list[subprocess.Popen], dict]:
    """moto, provisioning, watch, the driver, seed data; returns the processes to watch over."""
    procs.stop(local.dir / "driver.pid", DRIVER_MARKER)  # a leftover would poll queues the reset removes

    def fresh() -> tuple[dict, dict[str, str]]:
        start_moto(local)  # reset, also when reused
        start_stripe(local)  # emptied, likewise
        start_otlp_receiver(local)
        log(f"provisioning from template.yaml into {local.endpoint}")
        stack = provision.provision(ROOT / "template.yaml", local.endpoint,
                                    {"StorefrontOrigin": local.storefront_url})
        described = describe(local, stack)
        return described, write_files(local, described)

    described, test_env = fresh()
    if before_watch:
        before_watch(test_env)
        # The adapter tests left orders, stock and payments behind (old pending orders the
        # settler would act on): the functions start from the template alone.
        described, test_env = fresh()
    # Only a developer's stack follows their edits: a run that measures or tests one build must not
    # restart functions under its requests.
    watch = start_watch(local, reload=args.command in ("dev", "up") and not args.no_reload, release=args.release,
                        concurrency=getattr(args, "concurrency", 1))
    gateway = start_apigw(local)
    wait_api(local, watch)
    driver = start_driver(local, args.dump_events)
    described["driver"] = wait_driver(local, driver, watch)
    seed(local, described, args.seed)
    described["stock"] = seed_stock(local, described)
    write_stack_json(local, described)
    storefront = start_storefront(local, described)
    return [watch, driver, gateway, storefront], described


def on_signal(signum, frame):
    """SIGINT and SIGTERM (CI, kill) both end in the cleanup of the `finally` blocks."""
    raise KeyboardInterrupt


def stop_all(local: Local) -> None:
    # A second Ctrl-C must not cut the cleanup short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    procs.stop(local.dir / "driver.pid", DRIVER_MARKER)
    procs.stop(local.dir / "apigw.pid", APIGW_MARKER)
    procs.stop(local.dir / "storefront.pid", STOREFRONT_MARKER)
    procs.stop(local.dir / "watch.pid", WATCH_MARKER)
    procs.stop(local.dir / "moto.pid", MOTO_MARKER)
    procs.stop(local.dir / "localstripe.pid", STRIPE_MARKER)
    procs.stop(local.dir / "otlp.pid", OTLP_MARKER)
    (local.dir / "driver.ready").unlink(missing_ok=True)


def banner(local: Local, described: dict) -> None:
    users = described["users"]
    rel = (local.dir / "stack.json").relative_to(ROOT)
    print(f"""
Bookish is up ({local.name})
  Storefront      {local.storefront_url}   (sign-up codes: any code confirms locally)
  API             {local.api_url}
  AWS endpoint    {local.endpoint}   (region {described['region']}, keys testing/testing)
  Stripe API      {local.stripe_endpoint}   (localstripe; pay with pm_card_visa, decline with pm_card_chargeDeclined)
  User pool       {described['userPoolId']}
  Client id       {described['userPoolClientId']}
  Books table     {described['tables'].get('BooksTable', '?')}
  Queues          {', '.join(q for q, v in described['queues'].items() if 'dlq' in v) or '-'} (each with a DLQ)
  Consumers       {', '.join(m['binary'] for m in described['driver']['mappings']) or '-'} (driven by infra/driver.py)
  Admin           {users['admin']['email']} / {users['admin']['password']}
  Shopper         {users['shopper']['email']} / {users['shopper']['password']}
  Stack file      {rel}; shell env: source {(local.dir / 'env.sh').relative_to(ROOT)}
  Logs            {(local.dir / 'watch.log').relative_to(ROOT)} (functions), {(local.dir / 'driver.log').relative_to(ROOT)} (queue/stream invocations), {(local.dir / 'moto.log').relative_to(ROOT)}

  curl -s {local.api_url}/v1/books
  TOKEN=$(.venv/bin/python infra/stack.py token admin --name {local.name})
  curl -si -X POST {local.api_url}/v1/books -H "Authorization: Bearer $TOKEN" \\
    -H 'Content-Type: application/json' \\
    -d '{{"isbn":"9780140268867","title":"The Odyssey","author":"Homer","genres":["Classics","Poetry"],"publishedYear":1996,"price":{{"amount":1299,"currency":"USD"}}}}'
""", flush=True)


def run_checked(argv: list[str], env: dict[str, str], what: str, ok=(0,)) -> int:
    log(f"{what}: {' '.join(argv)}")
    rc = subprocess.call(argv, cwd=ROOT, env={**os.environ, **env})
    if rc not in ok:
        raise Failure(f"{what} failed (exit {rc})")
    return rc


def cmd_dev(local: Local, args) -> None:
    try:
        (watch, driver, gateway, storefront), described = bring_up(local, args)
        banner(local, described)
        print("Ctrl-C stops moto, watch and the driver.", flush=True)
        moto_pid = procs.recorded(local.dir / "moto.pid", MOTO_MARKER)
        running = {"watch": watch, "driver": driver, "apigw": gateway, "storefront": storefront}
        while all(p.poll() is None for p in running.values()) and moto_pid and procs.alive(moto_pid):
            time.sleep(1)
        dead = next((name for name, p in running.items() if p.poll() is not None), "moto")
        raise Failure(f"{dead} died:\n{procs.tail(local.dir / f'{dead}.log')}")
    finally:
        log("stopping moto, watch and the driver")
        stop_all(local)


def cmd_up(local: Local, args) -> None:
    try:
        _, described = bring_up(local, args)
    except BaseException:
        stop_all(local)
        raise
    banner(local, described)
    print(f"Left running; stop with: make down (or infra/stack.py down --name {local.name})", flush=True)


def cmd_test(local: Local, args) -> None:
    if args.service:
        ws = affected.workspace()
        crates = [arg for crate in affected.crates_to_test(args.service, ws) for arg in ("-p", crate)]
        pytest_paths = affected.tests_to_run(args.service)
    else:
        crates, pytest_paths = ["--workspace"], ["tests/"]

    def cargo_test(env):
        run_checked(["cargo", "test", *crates], env, "cargo test")

    try:
        _, described = bring_up(local, args, before_watch=cargo_test)
        env = {**described["functionEnv"], "BOOKISH_STACK": str(local.dir / "stack.json")}
        if not any((ROOT / "tests").glob("**/test_*.py")):
            log("WARNING: no pytest tests under tests/ yet; skipping pytest")
            return
        rc = run_checked([str(VENV_BIN / "python"), "-m", "pytest", *pytest_paths], env, "pytest", ok=(0, 5))
        if rc == 5:
            log("WARNING: pytest collected no tests")
        if args.service:
            return  # the fuzzer covers the whole API: the full run's job
        # Last: the fuzzer's admin writes odd (valid) books into the catalog.
        run_checked([str(VENV_BIN / "python"), "infra/fuzz.py", "--stack", str(local.dir / "stack.json")], env,
                    "schemathesis")
    finally:
        log("stopping moto, watch and the driver")
        stop_all(local)


def cmd_down(local: Local, args) -> None:
    stop_all(local)
    log(f"stopped what .local/{local.name}/ recorded")


def cmd_token(local: Local, args) -> None:
    described = json.loads((local.dir / "stack.json").read_text())
    user = described["users"][args.user]
    tokens = provision.sign_in(described["awsEndpoint"], described["userPoolClientId"], user["email"], user["password"])
    print(tokens["AccessToken" if args.access else "IdToken"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["dev", "test", "up", "down", "token"])
    parser.add_argument("user", nargs="?", default="admin", help="token: admin or shopper")
    parser.add_argument("--access", action="store_true", help="token: print the access token")
    parser.add_argument("--name", help="runtime dir .local/<name> and port profile (dev or test)")
    parser.add_argument("--moto-port", type=int)
    parser.add_argument("--api-port", type=int)
    parser.add_argument("--seed", type=Path, default=ROOT / "infra" / "seed" / "books.json",
                        help="JSON array of BookInput objects to POST as the admin")
    parser.add_argument("--dump-events", type=Path, metavar="DIR",
                        help="the driver also writes every queue/stream event it sends to DIR")
    parser.add_argument("--no-reload", action="store_true",
                        help="up/dev: serve one build; edits do not restart functions under running requests")
    parser.add_argument("--service", choices=sorted(affected.SERVICE_TESTS),
                        help="test: only this service's crates and black-box tests (make test SERVICE=...)")
    parser.add_argument("--release", action="store_true",
                        help="watch serves release builds (slower to build, as deployed)")
    args = parser.parse_args()

    name = args.name or ("test" if args.command == "test" else "dev")
    moto_port, api_port = PROFILES.get(name, PROFILES["dev"])
    local = Local(name, args.moto_port or moto_port, args.api_port or api_port)
    local.dir.mkdir(parents=True, exist_ok=True)

    # Installed explicitly: a shell that starts us in the background ignores SIGINT,
    # and Python would then never raise KeyboardInterrupt.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    commands = {"dev": cmd_dev, "test": cmd_test, "up": cmd_up, "down": cmd_down, "token": cmd_token}
    try:
        commands[args.command](local, args)
    except Failure as err:
        print(f"\nFAILED: {err}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr, flush=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
