"""Tests of the pure parts of the end-to-end and throttled cold-start benchmarks
(infra/bench/e2e.py, infra/bench/cpu_share.py): an order's journey cut into hops from a
small trace, the percentiles over journeys, the sections BENCHMARKS.md prints, and the
cgroup bookkeeping against a fake /sys/fs/cgroup. No stack, no servers."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "infra"), str(REPO / "infra" / "bench")]

import bench  # noqa: E402
import cpu_share  # noqa: E402
import e2e  # noqa: E402

ORDER = "0193a5b2-7c4e-7d10-9f3a-2b6c8d9e0f11"
MS = 1_000_000


def span(span_id: str, parent: str, service: str, name: str, start_ms: float, end_ms: float, kind: str = "internal",
         **attributes) -> dict:
    return {"traceId": "t1", "spanId": span_id, "parentSpanId": parent, "name": name, "kind": kind,
            "startNs": int(start_ms * MS), "endNs": int(end_ms * MS), "status": "ok", "statusMessage": "",
            "service": service, "namespace": service.split("-")[0], "attributes": attributes, "events": []}


def aws(span_id: str, parent: str, service: str, rpc: str, start_ms: float, end_ms: float) -> dict:
    rpc_service, method = rpc.split(".")
    return span(span_id, parent, service, rpc, start_ms, end_ms, **{"rpc.system": "aws-api",
                                                                    "rpc.service": rpc_service, "rpc.method": method})


def queue(name: str) -> dict:
    return {"messaging.destination.name": name}


def checkout_trace(shift_ms: float = 0) -> list[dict]:
    """A checkout from POST to the confirmation email, shaped as the functions export it:
    the stream relays are children of the span that wrote the outbox item, each queue's
    consumer a child of the publisher's producer span."""
    s = shift_ms
    return [
        span("r", "lambda-root", "order-api", "order-api", 0.5, 40),
        span("p", "r", "order-api", "POST /v1/orders", 1, 40, "server", **{"order.id": ORDER}),
        span("cart", "p", "order-api", "GET /v1/cart", 2, 8, "client"),
        aws("cart-invoke", "cart", "order-api", "Lambda.Invoke", 2.1, 7.9),
        span("cart-server", "cart", "cart", "GET /v1/cart", 3, 7, "server"),
        aws("cart-write", "cart-server", "cart", "DynamoDB.UpdateItem", 4, 6),  # not order-api's send
        aws("p-write", "p", "order-api", "DynamoDB.TransactWriteItems", 10, 20),
        span("relay1", "p", "order-publisher", "relay OrderPlaced", 50 + s, 70 + s, "consumer"),
        span("pub1", "relay1", "order-publisher", "InventoryQueue publish OrderPlaced", 52 + s, 60 + s, "producer"),
        aws("pub1-send", "pub1", "order-publisher", "SQS.SendMessage", 53 + s, 59 + s),
        span("inv", "pub1", "inventory-events", "InventoryQueue process OrderPlaced", 80 + s, 95 + s, "consumer",
             **queue("InventoryQueue")),
        aws("inv-write", "inv", "inventory-events", "DynamoDB.TransactWriteItems", 82 + s, 88 + s),
        span("inv-pub", "inv", "inventory-events", "OrderQueue publish StockReserved", 89 + s, 94 + s, "producer"),
        aws("inv-send", "inv-pub", "inventory-events", "SQS.SendMessage", 90 + s, 93 + s),
        span("stock", "inv-pub", "order-stock-events", "OrderQueue process StockReserved", 100 + s, 130 + s,
             "consumer", **queue("OrderQueue")),
        span("stripe", "stock", "order-stock-events", "Stripe POST /v1/payment_intents/{id}/capture", 102 + s,
             110 + s, "client", **{"peer.service": "stripe"}),
        aws("confirm", "stock", "order-stock-events", "DynamoDB.TransactWriteItems", 111 + s, 120 + s),
        span("relay2", "stock", "order-publisher", "relay OrderConfirmed", 150 + s, 170 + s, "consumer"),
        span("pub2", "relay2", "order-publisher", "NotificationQueue publish OrderConfirmed", 151 + s, 160 + s,
             "producer"),
        aws("pub2-send", "pub2", "order-publisher", "SQS.SendMessage", 152 + s, 158 + s),
        span("mail", "pub2", "notification-events", "NotificationQueue process OrderConfirmed", 180 + s, 200 + s,
             "consumer", **queue("NotificationQueue")),
        aws("mail-user", "mail", "notification-events", "Cognito Identity Provider.AdminGetUser", 181 + s, 184 + s),
        aws("mail-send", "mail", "notification-events", "SESv2.SendEmail", 185 + s, 190 + s),
        aws("mail-log", "mail", "notification-events", "DynamoDB.UpdateItem", 191 + s, 195 + s),
    ]


def test_a_journey_is_cut_into_waits_and_function_time_that_add_up():
    journey = e2e.journey(checkout_trace(), sent_ns=0)
    assert journey["confirmed"]
    assert journey["to_confirmed_ms"] == 120  # the end of order-stock-events' write
    assert journey["to_email_ms"] == 190  # the end of SendEmail
    assert (journey["written_to_confirmed_ms"], journey["written_to_email_ms"]) == (100, 170)  # from 20 ms
    segments = {s["segment"]: s for s in journey["segments"]}
    assert [(s["segment"], s["ms"]) for s in journey["segments"]] == [
        ("before order-api runs: the API stand-in, and watch finding (or starting) an instance", 1),
        ("order-api: POST /v1/orders until the order is written", 19),
        ("stream wait before order-publisher (OrderPlaced)", 30),
        ("order-publisher: OrderPlaced until it sends on", 9),
        ("queue wait before inventory-events (OrderPlaced)", 21),
        ("inventory-events: OrderPlaced until it sends on", 13),
        ("queue wait before order-stock-events (StockReserved)", 7),
        ("order-stock-events: StockReserved until it sends on", 20),
        ("stream wait before order-publisher (OrderConfirmed)", 30),
        ("order-publisher: OrderConfirmed until it sends on", 8),
        ("queue wait before notification-events (OrderConfirmed)", 22),
        ("notification-events: OrderConfirmed until the email is sent", 10),
    ]
    assert sum(s["ms"] for s in journey["segments"]) == journey["to_email_ms"]
    # Calls: the cart invoke and the transaction; Stripe and the confirming write; the
    # SES call and the directory lookup, not the sent-log write after the email.
    assert segments["order-api: POST /v1/orders until the order is written"]["calls_ms"] == 16
    assert segments["order-stock-events: StockReserved until it sends on"]["calls_ms"] == 17
    assert segments["notification-events: OrderConfirmed until the email is sent"]["calls_ms"] == 8


def test_no_journey_until_the_email_is_in_the_trace():
    trace = [s for s in checkout_trace() if s["spanId"] != "mail-send"]
    assert e2e.journey(trace, sent_ns=0) is None


def test_traces_are_found_by_the_orders_post():
    other = [{**s, "traceId": "t2"} for s in checkout_trace() if s["name"] != "POST /v1/orders"]
    traces = e2e.checkout_traces(checkout_trace() + other)
    assert list(traces) == [ORDER] and {s["traceId"] for s in traces[ORDER]} == {"t1"}


def test_breakdown_gives_each_segments_percentiles_in_path_order():
    journeys = [e2e.journey(checkout_trace(shift), sent_ns=0) for shift in (0, 10, 20)]
    rows = e2e.breakdown(journeys, bench.summary)
    assert [r["segment"] for r in rows] == [s["segment"] for s in journeys[0]["segments"]]
    stream_wait = next(r for r in rows if r["segment"] == "stream wait before order-publisher (OrderPlaced)")
    assert (stream_wait["p50_ms"], stream_wait["p99_ms"], stream_wait["n"]) == (40, 50, 3)  # waits of 30, 40, 50
    assert "calls_p50_ms" not in stream_wait
    assert next(r for r in rows if r["kind"] == "function")["calls_p50_ms"] == 16


@pytest.mark.parametrize("samples, median, p99", [
    ([5.0], 5.0, 5.0),
    ([1.0, 2.0, 3.0, 4.0], 2.5, 4.0),
    ([float(n) for n in range(1, 101)], 50.5, 99.0),  # nearest rank of 99 % of the way
])
def test_percentiles(samples, median, p99):
    s = bench.summary(samples)
    assert (s["median"], s["p99"], s["n"]) == (median, p99, len(samples))


def e2e_results() -> dict:
    journeys = [e2e.journey(checkout_trace(shift), sent_ns=0) for shift in (0, 3.25, 7.5)]
    return {"e2e": {
        "orders": 3, "shoppers": 2, "books": 2, "placing_s": 4.75, "orders_per_s": 0.63, "rate_limited": 0,
        "statuses": {"CONFIRMED": 3}, "journeys": 3, "confirmed_journeys": 3,
        "post_ms": bench.summary([39.0, 41.5, 44.0]),
        "to_confirmed_ms": bench.summary([j["to_confirmed_ms"] for j in journeys]),
        "to_email_ms": bench.summary([j["to_email_ms"] for j in journeys]),
        "written_to_confirmed_ms": bench.summary([j["written_to_confirmed_ms"] for j in journeys]),
        "written_to_email_ms": bench.summary([j["written_to_email_ms"] for j in journeys]),
        "where_the_time_goes": e2e.breakdown(journeys, bench.summary),
        "emulator_notes": ["Queues: one poller per queue (BatchSize 10)."],
    }}


def numbers_in(value) -> set[str]:
    """Every number in `value` (nested; keys too, for the percentiles' "p99"), in the forms the
    sections print it."""
    if isinstance(value, dict):
        return set().union(*(numbers_in(k) | numbers_in(v) for k, v in value.items())) if value else set()
    if isinstance(value, list):
        return set().union(*(numbers_in(v) for v in value)) if value else set()
    if isinstance(value, bool):
        return set()
    if isinstance(value, (int, float)):
        return {str(value), e2e.ms(value), cpu_share.ms(value), f"{value:.0f}", f"{value:.1f}", f"{value:.1%}"[:-1]}
    return set(re.findall(r"\d+(?:\.\d+)?", str(value)))


def untraced_numbers(text: str, results: dict) -> list[str]:
    prose = re.sub(r"`[^`]*`|\]\([^)]*\)", "", text)  # code (routes, paths) and link targets
    return [n for n in re.findall(r"\d+(?:\.\d+)?", prose) if n not in numbers_in(results)]


def test_the_e2e_section_prints_only_numbers_from_the_results():
    results = e2e_results()
    text = e2e.section(results)
    assert "| CONFIRMED | 123 | 128 | 3 |" in text  # 120 ms after the POST, shifted by 0, 3.25 and 7.5
    assert "| CONFIRMED, counted from the order's write | 103 | 108 | 3 |" in text
    assert "| queue wait before inventory-events (OrderPlaced) | 21.0 | 21.0 |  |" in text
    assert "Queues: one poller per queue" in text
    assert untraced_numbers(text, results) == []
    assert "CPU share" not in text  # no throttled cold starts in these results


def test_sections_without_results_say_so():
    assert e2e.section({}) == cpu_share.section({}) == "_Not measured in this run._"
    assert "cgroup.procs: Read-only file system" in cpu_share.section(
        {"cold_throttled": {"skipped": "/sys/fs/cgroup/cgroup.procs: Read-only file system"}})


def test_the_cold_throttled_section_prints_only_numbers_from_the_results():
    def cold(init: float, first: float) -> dict:
        return {"init_ms": bench.summary([init]), "first_response_ms": bench.summary([first])}

    results = {"cold_throttled": {
        "cpu_max": "7236 100000", "cpu_share": 0.07236, "cgroup": "v1", "memory_mb": 128, "mb_per_vcpu": 1769,
        "source": cpu_share.SOURCE, "rounds": 2,
        "subjects": {"catalog-read": cold(41.5, 90.25)}, "unthrottled": {"catalog-read": cold(4.15, 11.5)},
        "init_x_unthrottled": {"catalog-read": 10.0}}}
    text = cpu_share.section(results)
    assert "| `catalog-read` | 41.50 | 4.15 | 10.0× | 90.25 | 11.50 |" in text
    assert untraced_numbers(text, results) == []
    # BENCHMARKS.md gets it through e2e.section, after the end-to-end part.
    both = e2e.section({**e2e_results(), **results})
    assert both.index("| CONFIRMED |") < both.index(text) and untraced_numbers(both, {**e2e_results(), **results}) == []
    # Each part under its own stamp: the two phases run at different times of a bench.
    stamped = e2e.section({**e2e_results(), **results}, stamp=lambda phase: "cgroup" if "cgroup" in phase else "spans")
    assert stamped.startswith("spans") and stamped.index("| CONFIRMED |") < stamped.index("CPU share**\n\ncgroup")


# --------------------------------------------------------------------------- cgroups

def test_the_quota_is_the_memorys_share_of_a_vcpu():
    assert cpu_share.quota_us(1769) == cpu_share.PERIOD_US
    assert cpu_share.quota_us(128) == round(cpu_share.PERIOD_US * 128 / 1769)


def test_a_v1_hierarchy_gets_a_cfs_quota(tmp_path):
    (tmp_path / "cpu" / "user").mkdir(parents=True)
    (tmp_path / "cpu" / "cgroup.procs").write_text("")
    own = "4:memory:/elsewhere\n1:cpu:/user\n0::/"
    group = cpu_share.Cgroup("limited", 7236, root=tmp_path, own=own)
    assert group.version == 1 and group.path == tmp_path / "cpu" / "user" / "limited"
    assert (group.path / "cpu.cfs_quota_us").read_text() == "7236"
    assert group.limit == "7236 100000"
    assert cpu_share.Cgroup("free", None, root=tmp_path, own=own).limit == "max 100000"


def test_a_v2_hierarchy_gets_cpu_max_and_the_controller_enabled(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids")
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "cgroup.subtree_control").write_text("memory")
    group = cpu_share.Cgroup("limited", 7236, root=tmp_path, own="0::/bench\n")
    assert group.version == 2 and (tmp_path / "bench" / "cgroup.subtree_control").read_text() == "+cpu"
    assert group.limit == "7236 100000"
    assert group.wrap(["bin/f", "x"]) == ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"',
                                          str(group.path / "cgroup.procs"), "bin/f", "x"]


def test_a_refusal_says_what_the_machine_said(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpu")
    with pytest.raises(cpu_share.Refused, match="gone/cgroup.subtree_control: No such file or directory"):
        cpu_share.Cgroup("limited", 7236, root=tmp_path, own="0::/gone\n")
