#!/usr/bin/env python3
"""make bench: measure Bookish's speed, memory, size and cost, and rewrite BENCHMARKS.md.

Phases (each can be skipped or run alone with --only; see --help):

  build    release binaries for this machine (cold start, memory, warm overhead; the functions'
           copied to .local/bench/release) and the arm64 Lambda zips (artifact size), before
           anything is timed
  stack    the local stack (moto + `cargo lambda watch --release` + driver), seeded
  cold     every Lambda binary, the hello-world floor, a do-nothing process (the harness's
           own cost) and the same catalog handler in Node.js and Python, exec'd fresh
           against infra/bench/runtime_api.py, in shuffled rounds so that all subjects
           share the machine's moods
  cold-throttled  the cold subjects again, each in a cgroup with a 128 MB Lambda's CPU
           share and in one without (cpu_share.py)
  init-options  each way tried of closing the init gap (a patch, built in a worktree, or an
           environment change) exec'd beside the committed binary (init_options.py)
  memory   each subject again, 1,000 warm invocations, then its peak RSS; the warm
           durations feed the cost model
  overhead target/release/warm-overhead: each handler's CPU time per request over in-memory
           ports, and for some routes through the AWS SDK against a stub DynamoDB
  cost     one real checkout through the local API, priced step by step (cost.py)
  load     wrk on the local API and on the Express reference, 30 s per route
  e2e      on a stack started afresh, concurrent shoppers place orders; POST to CONFIRMED and
           to the email, and where the time goes, from the spans (e2e.py)
  report   BENCHMARKS.md from .local/bench/results.json, and infra/bench/last-run.json:
           those results, committed with the document so that every number in it can be
           checked (each phase's result says when and at which commit it was measured)

Everything runs on loopback; nothing here is a test (no thresholds fail the run:
targets are reported, met or missed).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import itertools
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import tomllib
import urllib.parse
import uuid
import zipfile
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path[:0] = [str(ROOT / "infra"), str(HERE)]

import cost  # noqa: E402
import cpu_share  # noqa: E402
import e2e  # noqa: E402
import init_options  # noqa: E402
import procs  # noqa: E402
import provision  # noqa: E402
import report  # noqa: E402
import runtime_api  # noqa: E402
import stack  # noqa: E402

OUT = ROOT / ".local" / "bench"
RESULTS = OUT / "results.json"
VENV_BIN = ROOT / ".venv" / "bin"
NODE_DIR = HERE / "node"
PYTHON_DIR = HERE / "python"
RELEASE = ROOT / "target" / "release"
# The binaries the cold, init-options and memory phases exec: copies the build phase takes of
# target/release, because the stack's `cargo lambda watch --release` rebuilds the functions there
# with the local stack's OTLP exporter (`cargo run --features bookish-shared/otlp`).
MEASURED = OUT / "release"
TARGETS = HERE / "targets.json"  # the promises each measure is judged against
LAST_RUN = HERE / "last-run.json"  # committed: what BENCHMARKS.md was rendered from
PHASES = ["build", "stack", "cold", "cold-throttled", "init-options", "memory", "overhead", "cost", "load", "e2e", "report"]
FLOOR = "hello-world"
HARNESS = "do-nothing"  # speaks the Runtime API and nothing else: the harness's own cost
FIXTURE_BOOK = "0123456789abcdef"  # the book id the events/ fixtures use
FIXTURE_BOOK_2 = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"


def log(msg: str) -> None:
    print(f"==> {msg}", flush=True)


def run(argv: list[str], cwd: Path = ROOT) -> None:
    log(" ".join(argv))
    subprocess.run(argv, cwd=cwd, check=True)


# --------------------------------------------------------------------------
# Tools and builds
# --------------------------------------------------------------------------

def lambda_binaries() -> dict[str, list[str]]:
    """Every Lambda binary of the workspace, by package: the bin targets of the crates under functions/."""
    meta = json.loads(subprocess.run(["cargo", "metadata", "--no-deps", "--format-version", "1"], cwd=ROOT,
                                     check=True, capture_output=True).stdout)
    functions = ROOT / "functions"
    packages = {p["name"]: sorted(t["name"] for t in p["targets"] if "bin" in t["kind"]) for p in meta["packages"]
                if Path(p["manifest_path"]).is_relative_to(functions)}
    return {name: bins for name, bins in sorted(packages.items()) if bins}


def install_tools() -> None:
    """What the comparisons need: wrk, the runtime interface clients, Express."""
    if not shutil.which("wrk"):
        if os.geteuid() != 0:
            raise SystemExit("wrk is missing: install it (Debian: apt-get install wrk) and run make bench again")
        run(["apt-get", "install", "-y", "-q", "wrk"])
    if not all(shutil.which(tool) for tool in ("cmake", "autoconf", "automake", "libtoolize")):
        # aws-lambda-ric compiles its native client (curl, aws-lambda-cpp) when npm installs it.
        if os.geteuid() != 0:
            raise SystemExit("aws-lambda-ric needs cmake, autoconf, automake and libtool to build: install them")
        run(["apt-get", "install", "-y", "-q", "cmake", "autoconf", "automake", "libtool"])
    if not (NODE_DIR / "node_modules" / ".package-lock.json").exists():
        # node-gyp would download Node's headers; the ones installed with node will do.
        nodedir = Path(shutil.which("node")).resolve().parent.parent
        run(["npm", "ci", "--no-audit", "--no-fund", f"--nodedir={nodedir}"], cwd=NODE_DIR)
    run([str(VENV_BIN / "pip"), "install", "-q", "--disable-pip-version-check", "-r", str(HERE / "requirements.txt")])


def build(packages: dict[str, list[str]]) -> None:
    """Release builds before any timing: native for running here, arm64 zips for their size.

    One package at a time, as `sam build` and `cargo lambda watch` build them: a build of
    several packages unifies their features (the shared crate's SDK clients), and would
    measure binaries nobody deploys."""
    shutil.rmtree(MEASURED, ignore_errors=True)
    MEASURED.mkdir(parents=True)

    def keep(bins: list[str]) -> None:
        for binary in bins:
            shutil.copy2(RELEASE / binary, MEASURED / binary)

    for package, bins in packages.items():
        run(["cargo", "build", "--release", "-p", package])
        keep(bins)
        run(["make", "build", f"BINS={' '.join(bins)}"])
    # The floor's package is not among the workspace's default members (sam build's view).
    run(["cargo", "build", "--release", "-p", "bookish-bench"])
    keep([FLOOR, HARNESS])
    run(["make", "build", f"BINS={FLOOR}", "PACKAGE=bookish-bench"])


# ELF e_machine values (the System V ABI's registry), named as Lambda names architectures.
ELF_MACHINES = {0x3E: "x86_64", 0xB7: "arm64"}


def elf_arch(header: bytes) -> str:
    """The architecture an ELF executable is built for, from its header's e_machine field."""
    if header[:4] != b"\x7fELF":
        raise SystemExit("bootstrap is not an ELF executable")
    byteorder = "little" if header[5] == 1 else "big"  # EI_DATA
    machine = int.from_bytes(header[18:20], byteorder)
    return ELF_MACHINES.get(machine, f"ELF machine {machine:#x}")


def zip_sizes(binaries: list[str]) -> dict:
    """Each Lambda zip's size, its bootstrap's size and the architecture the bootstrap is built for."""
    sizes = {}
    for name in binaries + [FLOOR]:
        zip_path = ROOT / "target" / "lambda" / name / "bootstrap.zip"
        if zip_path.exists():
            with zipfile.ZipFile(zip_path) as archive, archive.open("bootstrap") as bootstrap:
                sizes[name] = {"zip": zip_path.stat().st_size, "binary": archive.getinfo("bootstrap").file_size,
                               "arch": elf_arch(bootstrap.read(20))}
    arches = sorted({s["arch"] for s in sizes.values()})
    return {"arch": " and ".join(arches), "sizes": sizes}


# --------------------------------------------------------------------------
# Subjects: what runs under the Runtime API harness, and the events they get
# --------------------------------------------------------------------------

def fixture(path: str) -> str:
    return (ROOT / "events" / path).read_text()


def isbn13(n: int) -> str:
    """A valid ISBN-13 (978 prefix) for the nth book the bench creates."""
    digits = f"978{n % 10**9:09d}"
    check = (10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10) % 10
    return digits + str(check)


def event_makers(book_a: str, book_b: str, order_id: str, customer: str) -> tuple[dict, dict]:
    """Per binary: i -> event bytes, and for some a watcher of the responses. No event is an
    error path, and but for order-stock-events none is an idempotent replay: where the
    fixture is a single-shot write, i varies it."""
    run_id = uuid.uuid4().hex[:8]

    def replace(text: str, pairs: dict[str, str]) -> bytes:
        for old, new in pairs.items():
            text = text.replace(old, new)
        return text.encode()

    def new_order_id(i: int) -> str:
        return str(uuid.UUID(int=(int(run_id, 16) << 64) + i))

    def books(text: str) -> str:
        return text.replace(FIXTURE_BOOK_2, book_b).replace(FIXTURE_BOOK, book_a)

    created: list[str] = []  # books catalog-admin created and has not deleted yet

    def create_or_delete_book(i: int) -> bytes:
        """Create a book, then delete it: both write paths, and a books table that does not
        grow (moto copies a whole table for every item of a transaction)."""
        if created:
            return fixture("catalog/delete-book-as-admin.json").replace(FIXTURE_BOOK, created.pop()).encode()
        event = json.loads(fixture("catalog/create-book-as-admin.json"))
        body = json.loads(event["body"])
        body.update(isbn=isbn13(int(run_id, 16) % 10**5 * 10**4 + i), title=f"{body['title']} ({run_id}-{i})")
        event["body"] = json.dumps(body)
        return json.dumps(event).encode()

    def saw_admin_response(response: bytes) -> None:
        answer = json.loads(response)
        if answer.get("statusCode") == 201:
            created.append(json.loads(answer["body"])["id"])

    def set_quantity(i: int) -> bytes:
        event = json.loads(books(fixture("cart/set-quantity.json")))
        event["body"] = json.dumps({"quantity": 1 + i % 3})
        return json.dumps(event).encode()

    placed, confirmed = fixture("inventory/order-placed.json"), fixture("notification/order-confirmed.json")
    return {
        "catalog-read": lambda i: books(fixture("catalog/get-book.json")).encode(),
        "catalog-admin": create_or_delete_book,
        "cart": set_quantity,  # reads the book from catalog-read (a Lambda invoke, served by watch)
        "order-api": lambda i: fixture("order/list-orders.json").encode(),
        "inventory-api": lambda i: books(fixture("inventory/get-stock.json")).encode(),
        "inventory-events": lambda i: replace(books(placed), {
            "0193a5b2-7c4e-7d10-9f3a-2b6c8d9e0f11": new_order_id(i), "7c1e0f4a-5b2d-4e8f-9a1b-2c3d4e5f6a70": str(uuid.uuid4())}),
        "order-publisher": lambda i: fixture("order/outbox-stream.json").encode(),
        # Stock outcomes need an order in the table: the checkout's, already confirmed, so
        # each delivery is a redelivery (read, find it done, acknowledge).
        "order-stock-events": lambda i: replace(fixture("order/stock-reserved.json"), {
            "019ac6f0-0000-7000-8000-000000000001": order_id, "9b1d3c2e-shopper": customer}),
        # Nothing old enough to settle: the settler's query, and an empty answer.
        "order-settler": lambda i: fixture("order/settle-schedule.json").encode(),
        "notification-events": lambda i: replace(confirmed, {"0193a2b4-6c1e-7f00-9d2a-5b8c3e4f1a01": new_order_id(i)}),
        FLOOR: lambda i: fixture("catalog/get-book.json").encode(),
    }, {"catalog-admin": saw_admin_response}


def signed(maker, authorization: str):
    """An HTTP event maker whose events carry the Authorization header."""
    def make(i: int) -> bytes:
        event = json.loads(maker(i))
        event.setdefault("headers", {})["authorization"] = authorization
        return json.dumps(event).encode()
    return make


class BatchCutShort(SystemExit):
    """A consumer reported batch item failures: what it does when its deadline nears."""


def check_response(name: str, body: bytes) -> None:
    """Never time an error path: HTTP answers must be 2xx, batches must report no failures."""
    value = json.loads(body)
    status = value.get("statusCode") if isinstance(value, dict) else None
    failures = value.get("batchItemFailures") if isinstance(value, dict) else None
    if status is not None and not 200 <= status < 300:
        raise SystemExit(f"{name} answered {status}: {body[:600].decode(errors='replace')}")
    if failures:
        raise BatchCutShort(f"{name} reported batch item failures: {failures}")


class Subjects:
    """How to start each subject and what to send it."""

    def __init__(self, described: dict, binaries: list[str], placed: dict) -> None:
        self.binaries = binaries
        self.sqs = provision.client("sqs", described["awsEndpoint"])
        self.sink = sink = self.sqs.create_queue(QueueName="bench-sink")["QueueUrl"]
        env = dict(described["functionEnv"])
        # As in AWS: traces go to the X-Ray daemon (runtime_api's stand-in), not to the local
        # stack's OTLP receiver, which the release binaries are built without.
        env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
        # Consumers publish into a queue nobody drains, so the driver stays idle while we time.
        env.update({k: sink for k in env if k.endswith("_QUEUE_URL")})
        self.env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/root"),
                    "RUST_LOG": "info", **env}
        # Books the checkout did not touch, with stock for many reservations.
        books = sorted(book_id for book_id, available in described["stock"].items() if available >= 5)
        admin = {"Authorization": f"Bearer {sign_in(described, 'admin')}", "Content-Type": "application/json"}
        for book_id in books[-2:]:  # every reservation the harness makes must succeed
            status, body = stack.http("PUT", f"{described['apiUrl']}/v1/inventory/{book_id}",
                                      json.dumps({"adjust": 1_000_000 - described["stock"][book_id]}).encode(),
                                      admin, timeout=120)
            assert status == 200, (status, body)
        customer = cost.token_subject(placed["token"])
        self.makers, self.watchers = event_makers(books[-1], books[-2], placed["order"]["id"], customer)
        # Every function verifies the caller's token itself, as in AWS (the JWKS fetch falls on
        # the first request, not on init): the routes that need one get a real one.
        tokens = {"catalog-admin": admin["Authorization"], "cart": f"Bearer {placed['token']}",
                  "order-api": f"Bearer {placed['token']}"}
        for name, authorization in tokens.items():
            self.makers[name] = signed(self.makers[name], authorization)
        self.makers["node"] = self.makers["python"] = self.makers["catalog-read"]
        self.makers[HARNESS] = self.makers[FLOOR]
        self.sequence = itertools.count()  # never the same event twice, across phases
        self.logs = OUT / "logs"
        shutil.rmtree(self.logs, ignore_errors=True)  # each run's logs only
        self.logs.mkdir(parents=True)

    @property
    def names(self) -> list[str]:
        return self.binaries + [FLOOR, HARNESS, "node", "python"]

    def start_args(self, name: str) -> tuple[list[str], Path]:
        if name == "node":
            return ["node", str(NODE_DIR / "node_modules" / "aws-lambda-ric" / "bin" / "index.mjs"),
                    "catalog.handler"], NODE_DIR
        if name == "python":
            return [str(VENV_BIN / "python"), "-m", "awslambdaric", "catalog.handler"], PYTHON_DIR
        return [str(MEASURED / name)], ROOT

    def env_for(self, name: str) -> dict[str, str]:
        cwd = self.start_args(name)[1]
        return {**self.env, "_HANDLER": "catalog.handler", "LAMBDA_TASK_ROOT": str(cwd)}

    def event(self, name: str) -> bytes:
        return self.makers[name](next(self.sequence))

    def drain_sink(self) -> None:
        """moto slows down as a queue fills, and nobody reads the sink: purge it when SQS lets us
        (once a minute)."""
        try:
            self.sqs.purge_queue(QueueUrl=self.sink)
        except self.sqs.exceptions.PurgeQueueInProgress:
            pass

    def saw(self, name: str, response: bytes) -> bytes:
        """Checks a response and lets the subject's event maker see it; returns it."""
        check_response(name, response)
        if name in self.watchers:
            self.watchers[name](response)
        return response

    def cold(self, name: str) -> runtime_api.ColdStart:
        argv, cwd = self.start_args(name)
        result = runtime_api.cold_start(name, argv, self.env_for(name), cwd, self.logs / f"{name}.log",
                                        self.event(name))
        self.saw(name, result.response)
        return result

    def warm(self, name: str, invocations: int) -> dict:
        argv, cwd = self.start_args(name)
        with runtime_api.Function(name, argv, self.env_for(name), cwd, self.logs / f"{name}.log") as function:
            self.saw(name, function.wait(function.start(self.event(name))).body)
            durations, failed = [], []
            for i in range(invocations):
                if i % 100 == 0:
                    self.drain_sink()
                nanos, body = function.invoke(self.event(name))
                durations.append(nanos / 1e6)
                try:
                    self.saw(name, body)
                except BatchCutShort as failure:
                    # A consumer cuts a batch short when moto stalls past the deadline: counted,
                    # and the run goes on unless it is more than a stray one.
                    failed.append(str(failure))
                    if len(failed) > invocations // 100:
                        raise
            return {"invocations": invocations, "duration_ms": summary(durations),
                    "peak_rss_kib": function.peak_rss_kib(), "failed": failed}


def summary(samples: list[float]) -> dict:
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    return {"n": len(ordered), "median": statistics.median(ordered), "p10": pct(10), "p90": pct(90),
            "p99": pct(99), "min": ordered[0], "max": ordered[-1]}


def phase_cold(subjects: Subjects, rounds: int) -> dict:
    """Shuffled rounds: each round execs every subject once, in a new random order."""
    log(f"cold starts: {rounds} rounds of {len(subjects.names)} subjects (plus one untimed round)")
    samples: dict[str, dict[str, list[float]]] = {n: {"init": [], "first": []} for n in subjects.names}
    rng = random.Random(1)
    for round_no in range(rounds + 1):
        order = subjects.names[:]
        rng.shuffle(order)
        for name in order:
            result = subjects.cold(name)
            if round_no:  # the first round only warms the page cache
                samples[name]["init"].append(result.init_ms)
                samples[name]["first"].append(result.first_response_ms)
        print(f"    round {round_no}/{rounds}", flush=True)
    results = {n: {"init_ms": summary(s["init"]), "first_response_ms": summary(s["first"])} for n, s in samples.items()}
    for name, result in results.items():
        argv = subjects.start_args(name)[0]
        if argv[0].startswith(str(MEASURED)):  # what the page faults of a Rust subject's init scale with
            result["binary_bytes"] = Path(argv[0]).stat().st_size
    return results


def phase_memory(subjects: Subjects, invocations: int) -> dict:
    results = {}
    for name in subjects.names:
        log(f"{name}: 1 cold + {invocations} warm invocations")
        results[name] = subjects.warm(name, invocations)
        d = results[name]["duration_ms"]
        print(f"    peak RSS {results[name]['peak_rss_kib'] / 1024:.1f} MiB, warm median {d['median']:.2f} ms",
              flush=True)
    return results


# --------------------------------------------------------------------------
# Warm overhead, checkout cost, load
# --------------------------------------------------------------------------

def phase_overhead() -> dict:
    """Every case with traces and metrics on, as the functions run in AWS (`cases`); then with
    traces off and with metrics off, so that what each costs per request is a difference."""
    binary = RELEASE / "warm-overhead"
    # Traces on, as Tracing: Active has them in AWS: every span is sent to the (stand-in) daemon.
    traced = {"AWS_XRAY_DAEMON_ADDRESS": runtime_api.xray_daemon_address()}
    base = {k: v for k, v in os.environ.items() if k not in ("AWS_XRAY_DAEMON_ADDRESS", "BENCH_WITHOUT_METRICS")}
    arms = {"cases": traced, "traces_off": {}, "metrics_off": {**traced, "BENCH_WITHOUT_METRICS": "1"}}
    results = {}
    for arm, env in arms.items():
        log(f"{binary.relative_to(ROOT)} ({arm.replace('_', ' ')})")
        out = subprocess.run([str(binary)], cwd=ROOT, check=True, capture_output=True, text=True,
                             env={**base, **env}).stdout
        results[arm] = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return results


def api(described: dict, method: str, path: str, body=None, token: str | None = None,
        headers: dict | None = None) -> tuple[int, dict | None]:
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    status, raw = stack.http(method, described["apiUrl"] + path, data, hdrs, timeout=120)
    return status, (json.loads(raw) if raw else None)


def sign_in(described: dict, user: str) -> str:
    """A fresh ID token of a seeded user."""
    who = described["users"][user]
    return provision.sign_in(described["awsEndpoint"], described["userPoolClientId"], who["email"],
                             who["password"])["IdToken"]


def checkout(described: dict, counter: cost.Counter | None = None) -> dict:
    """One real order through the local API as the seeded shopper; waits for CONFIRMED.

    With a `counter` (the functions counting their AWS calls) each request is marked as a
    step, and the order is read once, after its email has gone out: the journey the model
    prices (cost.ASSUMPTIONS), every step of it finished inside the count."""
    step = counter.step if counter else (lambda name: contextlib.nullcontext())
    emails = counter.emails_sent() if counter else 0
    if counter:
        counter.begin()
    token = sign_in(described, "shopper")
    in_stock = [book_id for book_id, available in sorted(described["stock"].items()) if available >= 5]
    for n, (book_id, quantity) in enumerate(zip(in_stock[:cost.CART_LINES], (2, 1, 1, 1)), 1):
        with step(f"add book {n} to the cart"):
            status, body = api(described, "PUT", f"/v1/cart/items/{book_id}", {"quantity": quantity}, token)
        assert status == 200, (status, body)
    with step("view the cart"):
        status, cart_view = api(described, "GET", "/v1/cart", token=token)
    assert status == 200, (status, cart_view)
    order_body = {"payment": {"paymentMethod": "pm_card_visa"}, "shippingAddress": {
        "name": "Bench Shopper", "line1": "1 Main St", "city": "Springfield", "postalCode": "12345", "country": "US"}}
    with step("place the order"):
        status, order = api(described, "POST", "/v1/orders", order_body, token,
                            {"Idempotency-Key": str(uuid.uuid4())})
    assert status == 201, (status, order)
    if counter:
        counter.wait_for_emails(emails + 1)
        with step("poll the order"):
            status, order = api(described, "GET", f"/v1/orders/{urllib.parse.quote(order['id'])}", token=token)
        counter.finish()
    deadline = time.monotonic() + 120
    while order["status"] not in ("CONFIRMED", "REJECTED"):
        if time.monotonic() > deadline:
            raise SystemExit(f"order {order['id']} still {order['status']} after 2 minutes")
        time.sleep(0.5)
        status, order = api(described, "GET", f"/v1/orders/{urllib.parse.quote(order['id'])}", token=token)
    log(f"order {order['id']} {order['status']}")
    return {"order": order, "cart": cart_view, "token": token}


def counted_checkout(described: dict, stack_dir: Path) -> dict:
    """results["cost_counted"]: a second real checkout (the first warmed every function),
    each AWS call counted, priced; the model of the same order beside it."""
    counter = cost.Counter(stack_dir)
    placed = checkout(described, counter)
    if placed["order"]["status"] != "CONFIRMED":
        raise SystemExit(f"the counted order ended {placed['order']['status']}")
    recorded = counter.recorded()
    result = cost.counted(recorded, cost.memory_sizes())
    items = settled_items(described, placed)
    model = cost.price(cost.model_checkout(items), result["mean_duration_ms"], cost.memory_sizes())
    result.update(order_id=placed["order"]["id"], model_cross_check=cost.cross_check(result, model),
                  model_per_million_orders_usd=model["dollars_per_million_orders_total"])
    return {"result": result, "recorded": recorded, "items": asdict(items)}


def logged_latencies(watch_log: Path, routes: list[str], function: str) -> dict[str, float]:
    """The handler's own latency (its request log line) for routes the harness does not time:
    checkout needs a cart and a catalog behind it, which only the local stack has."""
    found = {}
    for line in watch_log.read_text(errors="replace").splitlines():
        if '"latency_ms"' not in line or not line.startswith("{"):
            continue
        entry = json.loads(line)
        if entry.get("route") in routes and 200 <= entry.get("status", 0) < 300:
            found[f"{function} {entry['route']}"] = entry["latency_ms"]
    return found


def settled_items(described: dict, placed: dict):
    """The order's items once the whole checkout has run (the email is sent after CONFIRMED)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return cost.collect_items(described["awsEndpoint"], described, placed["order"]["id"],
                                      cost.token_subject(placed["token"]))
        except LookupError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


WRK_THREADS = 2
WRK_LATENCY = re.compile(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)


def wrk(url: str, seconds: int, connections: int) -> dict:
    out = subprocess.run(["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s", url],
                         check=True, capture_output=True, text=True).stdout
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    latency = {f"p{p}": float(v) * scale[u] for p, v, u in WRK_LATENCY.findall(out)}
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, socket.groups())) if socket else 0)
    return {"url": url, "seconds": seconds, "threads": WRK_THREADS, "connections": connections, "requests": requests,
            "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "errors": errors,
            "latency_ms": latency}


def phase_load(described: dict, seconds: int, connections: int) -> dict:
    book = sorted(described["stock"])[0]
    results = {}
    for route, path in (("GET /v1/books", "/v1/books"), ("GET /v1/books/{id}", f"/v1/books/{book}")):
        log(f"wrk {seconds} s, {connections} connections: Bookish {route}")
        results[f"bookish {route}"] = wrk(described["apiUrl"] + path, seconds, connections)
    port = 9092
    express = subprocess.Popen(["node", "express.mjs"], cwd=NODE_DIR, env={**os.environ, "PORT": str(port)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if stack.http("GET", f"http://127.0.0.1:{port}/books", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if express.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the Express reference did not start")
            time.sleep(0.2)
        for route, path in (("GET /books", "/books"), ("GET /books/:id", "/books/1")):
            log(f"wrk {seconds} s, {connections} connections: Express {route}")
            results[f"express {route}"] = wrk(f"http://127.0.0.1:{port}{path}", seconds, connections)
    finally:
        express.terminate()
        express.wait()
    return results


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def stop_stack(local: stack.Local) -> None:
    """The stack's processes stopped; Ctrl-C and SIGTERM stop the bench again (stop_all ignores them)."""
    stack.stop_all(local)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def stack_memory_mib(local: stack.Local) -> str:
    """moto's resident memory, for the log: what the phases before have made it keep."""
    pid = procs.recorded(local.dir / "moto.pid", stack.MOTO_MARKER)
    try:
        status = Path(f"/proc/{pid}/status").read_text() if pid else ""
    except OSError:
        status = ""
    rss = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    return f"{int(rss.group(1)) // 1024:,}" if rss else "?"


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_kib = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                       if line.startswith("MemTotal")))

    def version(argv: list[str]) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True).stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"

    system_roots = Path("/etc/ssl/certs")  # Debian's: a bundle and a directory of single certificates
    bundle = system_roots / "ca-certificates.crt"
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem_kib / 2**20, 1),
            "arch": platform.machine(), "kernel": platform.release(),
            "system_root_files": len(list(system_roots.iterdir())) if system_roots.is_dir() else 0,
            "system_root_bundle_certificates": bundle.read_text().count(PEM_CERTIFICATE) if bundle.exists() else 0,
            "rustc": version(["rustc", "--version"]),
            "node": version(["node", "--version"]), "python": platform.python_version(),
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----"


def setup() -> dict:
    """What the tree says about what is measured, read from it rather than restated in the report."""
    arches = sorted({arch.strip() for template in (ROOT / "functions").glob("*/template.yaml")
                     for listed in re.findall(r"Architectures:\s*\[([^\]]*)\]", template.read_text())
                     for arch in listed.split(",")})
    return {
        "lambda_arch": " and ".join(arches) or "x86_64",  # Lambda's default when no template names one
        "release_profile": tomllib.loads((ROOT / "Cargo.toml").read_text())["profile"]["release"],
        "embedded_roots": (ROOT / "functions" / "shared" / "certs" / "aws-roots.pem").read_text().count(PEM_CERTIFICATE),
        "express": json.loads((NODE_DIR / "package.json").read_text())["dependencies"]["express"],
    }


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def provenance() -> dict:
    """The commit measured, and whether the work tree differed from it (read without taking git's locks)."""
    def git(*argv: str) -> str:
        return subprocess.run(["git", "--no-optional-locks", *argv], cwd=ROOT, check=True, capture_output=True,
                              text=True).stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), **({"dirty": True} if git("status", "--porcelain") else {})}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help=f"comma-separated phases to run, of {','.join(PHASES)}")
    parser.add_argument("--skip", default="", help="comma-separated phases to skip")
    parser.add_argument("--rounds", type=int, default=20, help="cold starts per subject")
    parser.add_argument("--invocations", type=int, default=1000, help="warm invocations before reading peak RSS")
    parser.add_argument("--load-seconds", type=int, default=30)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--e2e-orders", type=int, default=300, help="orders the e2e phase places")
    parser.add_argument("--e2e-shoppers", type=int, default=16, help="shoppers placing them at once")
    args = parser.parse_args()
    phases = args.only.split(",") if args.only else [p for p in PHASES if p not in args.skip.split(",")]
    unknown = set(phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")

    OUT.mkdir(parents=True, exist_ok=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}

    run_started_at = now()

    def save(key: str, value) -> None:
        """Stores a phase's result, a dict stamped with when and at which commit it was measured."""
        if isinstance(value, dict):
            value = {**value, "measured_at": now(), **provenance(), "run_started_at": run_started_at}
        results[key] = value
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")

    packages = lambda_binaries()
    binaries = sorted(b for bins in packages.values() for b in bins)
    if set(phases) - {"report"}:  # the date and machine of the measurements, not of a re-render
        save("machine", machine())
        save("setup", setup())
    save("binaries", binaries)
    if "build" in phases:
        started = time.monotonic()
        install_tools()
        build(packages)
        save("build", {"seconds": round(time.monotonic() - started)})
        save("size", zip_sizes(binaries))
    execs = {"cold", "cold-throttled", "init-options", "memory"} & set(phases)
    if execs and not all((MEASURED / name).exists() for name in binaries + [FLOOR, HARNESS]):
        raise SystemExit(f"{MEASURED.relative_to(ROOT)} lacks the binaries {', '.join(sorted(execs))} measure: "
                         "run the build phase too")
    local = stack.Local("bench", *stack.PROFILES["bench"])
    needs_stack = {"stack", "cold", "cold-throttled", "init-options", "memory", "cost", "load", "e2e"} & set(phases)
    # As many instances of each function as shoppers in the e2e phase: Lambda runs one
    # per concurrent request, where one instance would queue them all behind each other.
    up_args = argparse.Namespace(command="bench", dump_events=None, release=True,
                                 seed=ROOT / "infra" / "seed" / "books.json", concurrency=args.e2e_shoppers)
    try:
        if needs_stack - {"e2e"}:
            if "cost" in phases:  # the functions (through watch) and moto count every AWS call
                os.environ[cost.COUNT_ENV] = "1"
            local.dir.mkdir(parents=True, exist_ok=True)
            _, described = stack.bring_up(local, up_args)
            # One real order first: the cost model prices its items as the checkout left
            # them, and the stock consumer gets that order's StockReserved to replay.
            placed = checkout(described)
            model = cost.model_checkout(settled_items(described, placed))
            subjects = Subjects(described, binaries, placed)
        if "cold" in phases:
            save("cold", phase_cold(subjects, args.rounds))
        if "cold-throttled" in phases:
            save("cold_throttled", cpu_share.phase(subjects, args.rounds, summary, log=log))
        if "init-options" in phases:
            init_options.build(packages, log)
            save("init_options", init_options.phase(subjects, args.rounds, summary, MEASURED, log=log))
        if "memory" in phases:
            save("memory", phase_memory(subjects, args.invocations))
            log(f"moto RSS after memory: {stack_memory_mib(local)} MiB")
        if "cost" in phases:
            durations = {name: m["duration_ms"]["median"] for name, m in results.get("memory", {}).items()
                         if isinstance(m, dict)}  # not the phase's stamp
            durations.update(logged_latencies(local.dir / "watch.log", ["POST /v1/orders"], "order-api"))
            priced = cost.price(model, durations, cost.memory_sizes())
            save("cost", {**priced, "order_id": placed["order"]["id"]})
            counted = counted_checkout(described, local.dir)
            save("cost_counted", counted["result"])
            (OUT / "cost-recorded.json").write_text(json.dumps(counted, indent=1) + "\n")  # what it was counted from
            log(f"moto RSS after cost: {stack_memory_mib(local)} MiB")
        if "load" in phases:
            save("load", phase_load(described, args.load_seconds, args.connections))
            log(f"moto RSS after load: {stack_memory_mib(local)} MiB")
        if "e2e" in phases:
            # A stack of its own: without the cost phase's call counting, and with none of the
            # state the phases above left in moto.
            if needs_stack - {"e2e"}:
                stop_stack(local)
            os.environ.pop(cost.COUNT_ENV, None)
            local.dir.mkdir(parents=True, exist_ok=True)
            _, described = stack.bring_up(local, up_args)
            save("e2e", e2e.run(described, local.dir, args.e2e_orders, args.e2e_shoppers,
                                sign_in(described, "admin"), summary))
            log(f"moto RSS after e2e: {stack_memory_mib(local)} MiB")
    finally:
        if needs_stack:
            stop_stack(local)
    if "overhead" in phases:
        save("overhead", phase_overhead())
    if "report" in phases:
        save("targets", json.loads(TARGETS.read_text()))
        (ROOT / "BENCHMARKS.md").write_text(report.render(results))
        LAST_RUN.write_text(json.dumps(report.last_run(results), indent=2) + "\n")
        log(f"wrote BENCHMARKS.md and {LAST_RUN.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
