"""One checkout is one trace: from the `POST /v1/orders` request to the confirmation
email's SES call, across the five services, the direct invokes, the orders stream and
every queue (issue #11).

The functions export their spans over OTLP/HTTP to the stack's receiver
(infra/otlp_receiver.py), which appends them to the file stack.json names under
"spans"; infra/trace.py (`make trace`) reads the same file.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from shop import SETTLED, checkout_body, wait_for

ROOT = Path(__file__).resolve().parent.parent
SERVICES = {"catalog", "cart", "order", "inventory", "notification"}


def journey_module():
    """infra/trace.py, loaded by path: its name would import the standard library's `trace`."""
    spec = importlib.util.spec_from_file_location("order_journey", ROOT / "infra" / "trace.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def is_send_email(span: dict) -> bool:
    return span["attributes"].get("rpc.method") == "SendEmail" and span["namespace"] == "notification"


def test_a_checkout_is_one_connected_trace_to_the_confirmation_email(shop, mail, new_shopper, stocked_book,
                                                                       stack):
    journey = journey_module()
    shopper = new_shopper()
    book = stocked_book(5, price={"amount": 1500, "currency": "USD"})
    shop.fill_cart(shopper, {book["id"]: 1})
    r = shop.checkout(shopper, checkout_body())
    assert r.status_code == 201, r.text
    order_id = r.json()["id"]
    assert shop.wait_status(shopper, order_id, SETTLED)["status"] == "CONFIRMED"
    mail.wait_sent(order_id, "CONFIRMED")

    spans_file = Path(stack["spans"])

    def checkout_trace():
        """The trace that holds the order's POST /v1/orders span, once its email's span is in."""
        if not spans_file.exists():
            return False, "no spans file yet"
        for spans in journey.order_traces(journey.load(spans_file), order_id).values():
            if any(s["name"] == "POST /v1/orders" for s in spans):
                return any(is_send_email(s) for s in spans), sorted({s["name"] for s in spans})
        return False, "no POST /v1/orders span names the order"

    wait_for(checkout_trace, f"the trace of order {order_id} to reach the confirmation email")
    spans = next(t for t in journey.order_traces(journey.load(spans_file), order_id).values()
                 if any(s["name"] == "POST /v1/orders" for s in t))

    roots, children = journey.roots_and_children(spans)
    assert len(roots) == 1, ("the trace is not one tree", [(r["service"], r["name"]) for r in roots])
    by_id = {s["spanId"]: s for s in spans}

    def ancestors(span: dict) -> list[dict]:
        chain = []
        while span["parentSpanId"] in by_id:
            span = by_id[span["parentSpanId"]]
            chain.append(span)
        return chain

    request = next(s for s in spans if s["name"] == "POST /v1/orders")
    assert request["attributes"]["order.id"] == order_id and request["kind"] == "server"
    email = next(s for s in spans if is_send_email(s))
    path = ancestors(email)
    assert request in path, ("the SES call does not descend from POST /v1/orders",
                             [(s["service"], s["name"]) for s in path])
    # The path crosses the stream (the relay), inventory's queue and back, and the
    # notification queue: each hop a consumer span under the span that sent to it.
    hops = [s["service"] for s in reversed(path) if s["kind"] == "consumer"]
    assert hops == ["order-publisher", "inventory-events", "order-stock-events", "order-publisher",
                    "notification-events"], hops
    assert all("messaging.wait_ms" in s["attributes"] for s in path if s["kind"] == "consumer")
    assert {s["namespace"] for s in spans} >= SERVICES, sorted({s["namespace"] for s in spans})
    # Direct invokes: the cart (for the lines) and the catalog (for prices) answer inside the request.
    invoked = {s["service"] for s in spans if s["kind"] == "server" and request in ancestors(s)}
    assert {"cart", "catalog-read"} <= invoked, invoked
    # Every AWS call is a span of its own, named for its service and operation.
    aws_calls = {(s["attributes"]["rpc.service"], s["attributes"]["rpc.method"]) for s in spans
                 if s["attributes"].get("rpc.system") == "aws-api"}
    assert {("DynamoDB", "TransactWriteItems"), ("SQS", "SendMessage"), ("Lambda", "Invoke")} <= aws_calls, aws_calls
    assert any(s["attributes"].get("peer.service") == "stripe" for s in spans), "no Stripe call in the trace"

    # make trace prints the same journey.
    printed = "\n".join(journey.waterfall(spans))
    assert "POST /v1/orders" in printed and "SESv2.SendEmail" in printed and "not connected" not in printed, printed
    json.dumps(spans)  # the file's lines are plain JSON
