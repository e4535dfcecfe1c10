"""End to end, under concurrency: from `POST /v1/orders` to CONFIRMED and to the email.

`run()` signs up a crowd of shoppers on the bench's local stack, and each, in its own
thread, puts a book in their cart and checks out with the test card, again and again,
until the run has placed its orders. Each order's journey is then read from the spans
the functions exported (`.local/bench/spans.jsonl`, infra/otlp_receiver.py; the bench
stack builds the functions with the `otlp` feature): every span carries the host's
wall clock in nanoseconds, as the shoppers' own timestamps do, so

- to CONFIRMED is the shopper's `POST` to the end of the write in `order-stock-events`
  that makes the order CONFIRMED (the order's timestamps are whole seconds);
- to the email is the shopper's `POST` to the end of the SES `SendEmail` call in
  `notification-events` (what moto's SES and the sent log record carry no finer time);
- where the time goes is the journey's critical path cut into its hops: the wait of each
  message in its stream or queue (from the end of the call that sent it to the start of
  the consumer's span for it) and each function's time on that message until it sent the
  next one, the AWS and Stripe calls within it told apart.

`section(results)` renders the table BENCHMARKS.md prints; every number in it comes
from `results["e2e"]`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
import urllib.parse
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Callable

import cpu_share
import driver
import provision
import stack

APPROVED_CARD = "pm_card_visa"  # localstripe's card that always pays
PASSWORD = "Bench-Shopper-1!"
# The calls that hand a message on: an SQS send, or the DynamoDB write the orders stream
# carries (the outbox item is written with the order, in one transaction).
SENDS = {("SQS", "SendMessage"), ("SQS", "SendMessageBatch"), ("SNS", "Publish"),
         ("DynamoDB", "TransactWriteItems"), ("DynamoDB", "PutItem"), ("DynamoDB", "UpdateItem")}
# "Lambda polls shards in your DynamoDB stream for records at a base rate of 4 times per second."
LAMBDA_STREAM_POLLS_PER_S = 4
LAMBDA_STREAM_SOURCE = "https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html"
MOST_STOCK = 1_000_000  # the most copies inventory keeps of a book
CONFIRMER = "order-stock-events"  # the function that makes an order CONFIRMED
MAILER = "notification-events"


# --------------------------------------------------------------------------
# Shoppers and orders (needs the stack)
# --------------------------------------------------------------------------

class Shopper:
    """A signed-up, verified user with a fresh ID token, as tests/conftest.py makes them."""

    def __init__(self, described: dict, n: int, run_id: str) -> None:
        cognito = provision.client("cognito-idp", described["awsEndpoint"])
        self.email = f"e2e-{run_id}-{n}@bench.bookish.local"
        cognito.sign_up(ClientId=described["userPoolClientId"], Username=self.email, Password=PASSWORD,
                        UserAttributes=[{"Name": "email", "Value": self.email}])
        cognito.admin_confirm_sign_up(UserPoolId=described["userPoolId"], Username=self.email)
        # Only verified addresses get mail (what entering the emailed code does).
        cognito.admin_update_user_attributes(UserPoolId=described["userPoolId"], Username=self.email,
                                             UserAttributes=[{"Name": "email_verified", "Value": "true"}])
        self.token = provision.sign_in(described["awsEndpoint"], described["userPoolClientId"], self.email,
                                       PASSWORD)["IdToken"]


def call(described: dict, method: str, path: str, body=None, token: str = "", headers: dict | None = None):
    hdrs = {"Content-Type": "application/json", "Authorization": f"Bearer {token}", **(headers or {})}
    data = json.dumps(body).encode() if body is not None else None
    status, raw = stack.http(method, described["apiUrl"] + path, data, hdrs, timeout=120)
    return status, (json.loads(raw) if raw else None)


def stock_books(described: dict, admin_token: str, count: int) -> list[str]:
    """`count` seeded books with stock for every order the run can place: as many copies as a
    book may have (adjusted from what it has now: other phases stock books too)."""
    books = sorted(book_id for book_id, available in described["stock"].items() if available >= 5)[:count]
    for book_id in books:
        path = f"/v1/inventory/{urllib.parse.quote(book_id)}"
        status, stock = call(described, "GET", path, token=admin_token)
        assert status == 200, (status, stock)
        if stock["available"] < MOST_STOCK:
            status, body = call(described, "PUT", path, {"adjust": MOST_STOCK - stock["available"]}, admin_token)
            assert status == 200, (status, body)
    return books


def place_orders(described: dict, shoppers: list[Shopper], books: list[str], orders: int) -> dict:
    """Every shopper at once, each one order after another (one book in the cart, the test
    card) until `orders` are placed. A shopper told to slow down (429: the per-shopper
    checkout limit) waits as told and tries again with the same Idempotency-Key."""
    left = iter(range(orders))
    lock = threading.Lock()
    placed: list[dict] = []
    rate_limited = [0]
    errors: list[str] = []
    body = {"payment": {"paymentMethod": APPROVED_CARD}, "shippingAddress": {
        "name": "Bench Shopper", "line1": "1 Main St", "city": "Springfield", "postalCode": "12345", "country": "US"}}

    def shop(n: int, shopper: Shopper) -> None:
        book = books[n % len(books)]
        while True:
            with lock:
                if next(left, None) is None or errors:
                    return
            status, answer = call(described, "PUT", f"/v1/cart/items/{urllib.parse.quote(book)}", {"quantity": 1},
                                  shopper.token)
            if status != 200:
                errors.append(f"PUT cart: {status} {answer}")
                return
            key = str(uuid.uuid4())
            while True:
                sent_ns = time.time_ns()
                status, answer = call(described, "POST", "/v1/orders", body, shopper.token, {"Idempotency-Key": key})
                answered_ns = time.time_ns()
                if status != 429:
                    break
                with lock:
                    rate_limited[0] += 1
                time.sleep(retry_after(answer))
            if status != 201:
                errors.append(f"POST /v1/orders: {status} {answer}")
                return
            with lock:
                placed.append({"id": answer["id"], "token": shopper.token, "sent_ns": sent_ns,
                               "answered_ns": answered_ns})

    def shop_or_fail(n: int, shopper: Shopper) -> None:
        try:
            shop(n, shopper)
        except Exception as err:  # noqa: BLE001 - any failure stops the run, with its reason
            errors.append(repr(err))

    started = time.monotonic()
    threads = [threading.Thread(target=shop_or_fail, args=(n, s), daemon=True) for n, s in enumerate(shoppers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"e2e: a shopper failed: {errors[0]}")
    return {"placed": placed, "rate_limited": rate_limited[0], "placing_s": time.monotonic() - started}


def retry_after(problem: dict | None) -> float:
    """The seconds a 429's problem detail asks for ("Try again in N seconds."), else one."""
    found = re.search(r"in (\d+) seconds", (problem or {}).get("detail", ""))
    return float(found.group(1)) if found else 1.0


# --------------------------------------------------------------------------
# Journeys, from the spans (pure)
# --------------------------------------------------------------------------

def load_spans(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open() as file:
        return [json.loads(line) for line in file if line.strip()]


def checkout_traces(spans: list[dict]) -> dict[str, list[dict]]:
    """order id -> the spans of the trace its `POST /v1/orders` began."""
    traces: dict[str, list[dict]] = defaultdict(list)
    for span in spans:
        traces[span["traceId"]].append(span)
    return {s["attributes"]["order.id"]: traces[s["traceId"]] for s in spans
            if s["name"] == "POST /v1/orders" and s["kind"] == "server" and s["attributes"].get("order.id")}


def is_call(span: dict) -> bool:
    """A call out of the function: AWS (the SDK's spans), Stripe, a direct invoke."""
    return "rpc.service" in span["attributes"] or span["kind"] == "client"


def is_send(span: dict) -> bool:
    attributes = span["attributes"]
    return (attributes.get("rpc.service"), attributes.get("rpc.method")) in SENDS


def journey(spans: list[dict], sent_ns: int) -> dict | None:
    """One order's critical path, from the shopper's POST (`sent_ns`) to its email's SendEmail;
    None until that call is in the trace.

    The path is the SendEmail span's ancestors. Each consumer span on it is a hop: the message
    waited from the end of the call that sent it (the last SQS send, or for the stream the last
    DynamoDB write, that the sending function made before the consumer started) to the start of
    the consumer's span, and the hop ran from there until its own send of the next message."""
    by_id = {s["spanId"]: s for s in spans}
    children: dict[str, list[dict]] = defaultdict(list)
    for span in spans:
        children[span["parentSpanId"]].append(span)
    emails = [s for s in spans if (s["attributes"].get("rpc.service"), s["attributes"].get("rpc.method"))
              == ("SESv2", "SendEmail") and s["service"] == MAILER]
    if not emails:
        return None
    email = min(emails, key=lambda s: s["endNs"])  # a redelivery finds it sent and sends nothing
    path = [email]
    while path[-1]["parentSpanId"] in by_id:
        path.append(by_id[path[-1]["parentSpanId"]])
    path.reverse()
    request = next((s for s in path if s["name"] == "POST /v1/orders"), None)
    if request is None:
        return None  # the email of another trace's order

    def own_calls(span: dict, service: str):
        """The calls `service` made under `span`, not crossing into another hop's consumer span."""
        for child in children.get(span["spanId"], []):
            if child["kind"] == "consumer":
                continue
            if child["service"] == service and is_call(child):
                yield child
            else:
                yield from own_calls(child, service)

    def sent_at(parent: dict, consumer: dict) -> int:
        by_stream = "messaging.destination.name" not in consumer["attributes"]
        sends = [s["endNs"] for s in [parent, *descendants(parent)]
                 if s["service"] == parent["service"] and is_send(s) and s["endNs"] <= consumer["startNs"]
                 and (s["attributes"]["rpc.service"] == "DynamoDB") == by_stream]
        return max(sends, default=parent["startNs"])

    def descendants(span: dict):
        for child in children.get(span["spanId"], []):
            if child["kind"] != "consumer":
                yield child
                yield from descendants(child)

    def calls_ms(hop: dict, start: int, end: int) -> float:
        """Time in the hop's top-level calls (AWS, Stripe, invokes), clipped to [start, end]."""
        return sum(max(0, min(c["endNs"], end) - max(c["startNs"], start))
                   for c in own_calls(hop, hop["service"])) / 1e6

    consumers = [i for i, s in enumerate(path) if s["kind"] == "consumer"]
    segments = [{"segment": "before order-api runs: the API stand-in, and watch finding (or starting) an instance",
                 "kind": "local API",
                 "ms": (request["startNs"] - sent_ns) / 1e6}]
    sends = [sent_at(path[i - 1], path[i]) for i in consumers]
    ends = sends + [email["endNs"]]
    segments.append({"segment": "order-api: POST /v1/orders until the order is written", "kind": "function",
                     "ms": (ends[0] - request["startNs"]) / 1e6,
                     "calls_ms": calls_ms(request, request["startNs"], ends[0])})
    confirmed_ns = None
    for n, i in enumerate(consumers):
        hop = path[i]
        event = hop["name"].rsplit(" ", 1)[-1]
        via = "queue" if "messaging.destination.name" in hop["attributes"] else "stream"
        segments.append({"segment": f"{via} wait before {hop['service']} ({event})", "kind": via,
                         "ms": (hop["startNs"] - sends[n]) / 1e6})
        until = "the email is sent" if n == len(consumers) - 1 else "it sends on"
        segments.append({"segment": f"{hop['service']}: {event} until {until}", "kind": "function",
                         "ms": (ends[n + 1] - hop["startNs"]) / 1e6,
                         "calls_ms": calls_ms(hop, hop["startNs"], ends[n + 1])})
        if hop["service"] == CONFIRMER and confirmed_ns is None:
            confirmed_ns = ends[n + 1]  # its send is the write that makes the order CONFIRMED
    return {"confirmed": confirmed_ns is not None and path[consumers[-1]]["name"].endswith("OrderConfirmed"),
            "to_confirmed_ms": (confirmed_ns - sent_ns) / 1e6 if confirmed_ns else None,
            "to_email_ms": (email["endNs"] - sent_ns) / 1e6,
            # The asynchronous part alone: from the checkout's write, past the API and its queueing.
            "written_to_confirmed_ms": (confirmed_ns - ends[0]) / 1e6 if confirmed_ns else None,
            "written_to_email_ms": (email["endNs"] - ends[0]) / 1e6, "segments": segments}


def breakdown(journeys: list[dict], summarize: Callable[[list[float]], dict]) -> list[dict]:
    """Per segment, in path order, the p50 and p99 over the journeys (and of its calls)."""
    samples: dict[str, dict] = {}
    for one in journeys:
        for seg in one["segments"]:
            row = samples.setdefault(seg["segment"], {"kind": seg["kind"], "ms": [], "calls_ms": []})
            row["ms"].append(seg["ms"])
            if "calls_ms" in seg:
                row["calls_ms"].append(seg["calls_ms"])
    rows = []
    for name, row in samples.items():
        s = summarize(row["ms"])
        entry = {"segment": name, "kind": row["kind"], "p50_ms": s["median"], "p99_ms": s["p99"], "n": s["n"],
                 "source": "spans"}
        if row["calls_ms"]:
            calls = summarize(row["calls_ms"])
            entry.update(calls_p50_ms=calls["median"], calls_p99_ms=calls["p99"])
        rows.append(entry)
    return rows


# --------------------------------------------------------------------------
# The phase
# --------------------------------------------------------------------------

def wait_for_journeys(spans_path: Path, placed: list[dict], timeout: float) -> dict[str, dict]:
    """order id -> its journey, once every order's email is in the spans file (or at the deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        traces = checkout_traces(load_spans(spans_path))
        found = {p["id"]: j for p in placed if p["id"] in traces
                 and (j := journey(traces[p["id"]], p["sent_ns"])) is not None}
        print(f"    {len(found)}/{len(placed)} orders have reached their email", flush=True)
        if len(found) == len(placed) or time.monotonic() > deadline:
            return found
        time.sleep(5)


def statuses(described: dict, placed: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for order in placed:
        status, body = call(described, "GET", f"/v1/orders/{urllib.parse.quote(order['id'])}", token=order["token"])
        counts[body["status"] if status == 200 else f"HTTP {status}"] += 1
    return dict(counts)


def watch_concurrency(local_dir: Path) -> int | None:
    """The instances per function `cargo lambda watch` runs: --concurrency on its command line,
    else the default its --help states."""
    try:
        pid = int((local_dir / "watch.pid").read_text())
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if b"--concurrency" in argv:
            return int(argv[argv.index(b"--concurrency") + 1])
    except (OSError, ValueError, IndexError):
        pass
    helped = subprocess.run(["cargo", "lambda", "watch", "--help"], capture_output=True, text=True,
                            env={**os.environ, "PATH": f"{stack.VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"})
    found = re.search(r"concurrent instances per function \(default: (\d+)\)", helped.stdout)
    return int(found.group(1)) if found else None


def emulator_notes(described: dict, local_dir: Path) -> list[str]:
    """What in these times is the local stack's, not AWS's; numbers read from the stack's code."""
    instances = watch_concurrency(local_dir)
    mappings = described.get("eventSourceMappings", [])
    batch = sorted({str(m.get("batchSize")) for m in mappings if m.get("batchSize")})
    return [
        f"Queues: infra/driver.py plays Lambda's SQS event source mappings with one poller per queue, "
        f"invoking one batch (BatchSize {'/'.join(batch) or '?'}) at a time and waiting for it; Lambda "
        f"scales its pollers out and runs several batches of a queue at once.",
        f"Stream: the driver reads the orders stream when idle every {driver.STREAM_IDLE_SECONDS} s, "
        f"backing off to {driver.STREAM_IDLE_MAX_SECONDS} s while nothing comes; Lambda polls a shard "
        f"{LAMBDA_STREAM_POLLS_PER_S} times a second ({LAMBDA_STREAM_SOURCE}).",
        (f"Functions: cargo lambda watch runs up to {instances} instances of each function, one per concurrent "
         "request as Lambda does (each cold the first time), but all of them share this machine's cores."
         if instances and instances > 1 else
         f"Functions: cargo lambda watch runs {instances if instances is not None else '?'} instance(s) of each "
         f"function, so concurrent shoppers queue for order-api, cart and catalog-read (and the consumers for "
         f"each other); Lambda would start more instances, each paying a cold start the first time."),
        "AWS calls: moto answers DynamoDB, SQS, SES, Cognito and Lambda invokes in one Python process "
        "sharing this machine; the calls columns are moto's times, not AWS's (DynamoDB, SQS and SES "
        "answer in single-digit milliseconds within a region). Stripe is localstripe.",
        "Traces: each invocation exports its spans to infra/otlp_receiver.py over HTTP before it answers; "
        "in AWS the functions send X-Ray segments over UDP to the local daemon instead.",
        f"Everything (shoppers, API stand-in, watch, moto, the driver) shares this machine's "
        f"{os.cpu_count()} cores; in AWS each function instance has its own CPU share.",
    ]


def run(described: dict, local_dir: Path, orders: int, shopper_count: int, admin_token: str,
        summarize: Callable[[list[float]], dict]) -> dict:
    run_id = uuid.uuid4().hex[:8]
    print(f"==> e2e: {shopper_count} shoppers, {orders} orders", flush=True)
    shoppers = [Shopper(described, n, run_id) for n in range(shopper_count)]
    books = stock_books(described, admin_token, shopper_count)
    outcome = place_orders(described, shoppers, books, orders)
    placed = outcome["placed"]
    print(f"    placed {len(placed)} orders in {outcome['placing_s']:.1f} s "
          f"({outcome['rate_limited']} checkouts told to wait)", flush=True)
    found = wait_for_journeys(Path(described["spans"]), placed, timeout=max(300.0, 2.0 * orders))
    confirmed = [j for j in found.values() if j["confirmed"]]
    if not confirmed:
        raise SystemExit("e2e: no order reached CONFIRMED and its email: see .local/bench/driver.log")
    post_ms = [(p["answered_ns"] - p["sent_ns"]) / 1e6 for p in placed]
    return {
        "orders": len(placed), "shoppers": shopper_count, "books": len(books),
        "placing_s": outcome["placing_s"], "orders_per_s": len(placed) / outcome["placing_s"],
        "rate_limited": outcome["rate_limited"], "statuses": statuses(described, placed),
        "journeys": len(found), "confirmed_journeys": len(confirmed),
        "post_ms": summarize(post_ms),
        "to_confirmed_ms": summarize([j["to_confirmed_ms"] for j in confirmed]),
        "to_email_ms": summarize([j["to_email_ms"] for j in confirmed]),
        "written_to_confirmed_ms": summarize([j["written_to_confirmed_ms"] for j in confirmed]),
        "written_to_email_ms": summarize([j["written_to_email_ms"] for j in confirmed]),
        "where_the_time_goes": breakdown(confirmed, summarize),
        "emulator_notes": emulator_notes(described, local_dir),
    }


# --------------------------------------------------------------------------
# BENCHMARKS.md
# --------------------------------------------------------------------------

def ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def section(results: dict, stamp: Callable[[dict], str] = lambda phase: "") -> str:
    """The end-to-end part of BENCHMARKS.md, every number from results["e2e"], and the cold starts
    under a Lambda-sized CPU share (cpu_share.section) when the run has them; `stamp` writes the line
    that says when and at which commit each of the two was measured."""
    text = (stamp(results["e2e"]) if "e2e" in results else "") + end_to_end(results.get("e2e"))
    if "cold_throttled" in results:
        text += ("\n\n**Cold start under a small function's CPU share**\n\n" + stamp(results["cold_throttled"])
                 + cpu_share.section(results))
    return text


def end_to_end(e2e: dict | None) -> str:
    if not e2e:
        return "_Not measured in this run._"
    rows = [f"| CONFIRMED | {ms(e2e['to_confirmed_ms']['median'])} | {ms(e2e['to_confirmed_ms']['p99'])} | "
            f"{e2e['to_confirmed_ms']['n']} |",
            f"| the email sent (SES accepted it) | {ms(e2e['to_email_ms']['median'])} | "
            f"{ms(e2e['to_email_ms']['p99'])} | {e2e['to_email_ms']['n']} |"]
    if "written_to_email_ms" in e2e:
        rows += [f"| {what}, counted from the order's write | {ms(e2e[key]['median'])} | {ms(e2e[key]['p99'])} | "
                 f"{e2e[key]['n']} |" for what, key in (("CONFIRMED", "written_to_confirmed_ms"),
                                                      ("the email sent", "written_to_email_ms"))]
    parts = [
        f"{e2e['shoppers']} signed-in shoppers at once on a local stack started afresh for them, each putting one of "
        f"{e2e['books']} books in their cart and checking out with the test card, one order after another, "
        f"{e2e['orders']} orders in all ({e2e['placing_s']:.0f} s, {e2e['orders_per_s']:.1f} orders/s; "
        f"{e2e['rate_limited']} checkouts were told to slow down by the per-shopper checkout limit and retried "
        f"when told). Final statuses: "
        + ", ".join(f"{status} {count}" for status, count in sorted(e2e["statuses"].items())) + ". "
        "Times run from the shopper sending `POST /v1/orders` to the end of the write that makes the order "
        "CONFIRMED (in `order-stock-events`) and to the end of the SES `SendEmail` call (in "
        "`notification-events`), read from the spans the functions exported (`.local/bench/spans.jsonl`): "
        "the spans and the shoppers share the host's wall clock. The `POST` itself answered in "
        f"{ms(e2e['post_ms']['median'])} ms at the median, {ms(e2e['post_ms']['p99'])} ms at p99. Counted "
        "from the order's write instead, the times leave out the API and the shoppers waiting for the "
        "local stack's `order-api` instances: the asynchronous part alone.",
        "| from `POST /v1/orders` to | p50 ms | p99 ms | orders |\n|---|---|---|---|\n" + "\n".join(rows),
        "**Where the time goes**, along each order's critical path (its spans, from the shopper's `POST` to "
        "the email): each message's wait in the orders stream or a queue (from the end of the call that "
        "sent it to the start of the consumer's span for it), and each function's time on it until it sent "
        "the next one, with the part spent in calls (AWS through moto, Stripe through localstripe, direct "
        "invokes). Percentiles of each segment on its own: they do not add up to the totals' percentiles.",
        "| segment | p50 ms | p99 ms | of which calls, p50 ms |\n|---|---|---|---|\n" + "\n".join(
            f"| {row['segment']} | {ms(row['p50_ms'])} | {ms(row['p99_ms'])} | "
            f"{ms(row['calls_p50_ms']) if 'calls_p50_ms' in row else ''} |" for row in e2e["where_the_time_goes"]),
        "**What is the local emulator's, and what AWS would change:**\n\n"
        + "\n".join(f"- {note}" for note in e2e["emulator_notes"]),
    ]
    return "\n\n".join(parts)
