"""At-least-once delivery: every consumer handles the same batch twice with no
second effect, and a malformed message goes to its queue's DLQ while the rest
of its batch succeeds.

Consumers are invoked directly through the local Lambda invoke API
(POST <apiUrl>/2015-03-31/functions/<binary>/invocations) with the exact
events Lambda's SQS and DynamoDB-stream mappings deliver. The messages are the
real ones: the order's own outbox events (read from the orders table, as the
stream hands them to order-publisher) and the envelopes the contract
describes. infra/driver.py delivers the same events through the real queues
meanwhile, so a "first" direct delivery may race with the pipeline's: each
check holds whichever delivery came first, and the end state must be the
state of exactly one delivery.

The DLQ tests go through the real queues (SendMessage) with the queue's
VisibilityTimeout lowered to 2 s for the test (the driver, like Lambda, uses
the queue's own setting), and restored afterwards.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

from shop import DECLINED_CARD, SETTLED, WAIT_SECONDS, checkout_body, unique_phone, wait_for


def envelope(kind: str, data: dict, correlation: str | None = None, event_id: str | None = None) -> str:
    return json.dumps({
        "eventId": event_id or str(uuid.uuid4()), "type": kind, "version": 1,
        "occurredAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "correlationId": correlation or f"redelivery-test-{uuid.uuid4().hex[:8]}", "data": data,
    })


def stock_event(kind: str, order: dict, shopper) -> str:
    data = {"orderId": order["id"], "customerId": shopper.sub}
    if kind == "StockRejected":
        data.update(reason="OUT_OF_STOCK",
                    shortages=[{"bookId": line["bookId"], "requested": line["quantity"], "available": 0}
                               for line in order["lines"]])
    return envelope(kind, data, event_id=f"{kind}-{order['id']}")


def fake_notice(kind: str, template: dict, phone: str | None = None) -> tuple[str, str, str]:
    """An order event for an order id that exists nowhere else (only the
    notification service acts on it): (body, order id, email address)."""
    order_id = str(uuid.uuid4())
    email = f"redelivery-{uuid.uuid4().hex[:10]}@test.bookish.local"
    status = {"OrderConfirmed": "CONFIRMED", "OrderRejected": "REJECTED", "OrderCancelled": "CANCELLED"}[kind]
    order = {k: v for k, v in template.items() if k not in ("reason", "phone")}
    # The contacts are the customer's verified ones, as the order service records them.
    customer = {"sub": "redelivery-test", "email": email, **({"phone": phone} if phone else {})}
    order.update(id=order_id, status=status, paymentStatus="CAPTURED" if status == "CONFIRMED" else "VOIDED",
                 customer=customer)
    if status == "REJECTED":
        order["reason"] = "OUT_OF_STOCK"
    return envelope(kind, {"order": order, "customerId": "redelivery-test"}), order_id, email


TEMPLATE = {
    "status": "CONFIRMED",
    "lines": [{"bookId": "0123456789abcdef", "title": "Redelivery Testbook",
               "unitPrice": {"amount": 999, "currency": "USD"}, "quantity": 2,
               "lineTotal": {"amount": 1998, "currency": "USD"}}],
    "total": {"amount": 1998, "currency": "USD"},
    "shippingAddress": {"name": "Ada Lovelace", "line1": "12 St James's Square", "city": "London",
                        "postalCode": "SW1Y 4JH", "country": "GB"},
    "paymentStatus": "CAPTURED", "createdAt": "2026-11-27T12:00:00Z", "updatedAt": "2026-11-27T12:00:03Z",
}


def order_event(kind: str, order: dict, shopper) -> str:
    """OrderPlaced / OrderCancelled for a real order, shaped as the order service
    publishes them (the order as GET shows it, plus customer; customerId)."""
    snapshot = {k: v for k, v in order.items() if k != "reason"}
    snapshot.update(status="PENDING" if kind == "OrderPlaced" else "CANCELLED",
                    paymentStatus="AUTHORIZED" if kind == "OrderPlaced" else "VOIDED",
                    customer={"sub": shopper.sub, "email": shopper.email})
    return envelope(kind, {"order": snapshot, "customerId": shopper.sub})


def same_state(a: dict, b: dict) -> bool:
    keys = ("status", "reason", "paymentStatus", "updatedAt", "lines", "total")
    return all(a.get(k) == b.get(k) for k in keys)


@pytest.fixture
def declined(shop, new_shopper, stocked_book):
    """A fresh shopper, a book with 5 copies, and a REJECTED (card declined) order
    for 2 of them. A declined order never publishes OrderPlaced, so inventory
    holds nothing for it and the pipeline never delivers an OrderPlaced or an
    OrderCancelled for it: a direct delivery of one is the first and only one,
    and what follows from it downstream (StockReserved for a REJECTED order)
    changes nothing."""
    shopper = new_shopper()
    book = stocked_book(5)
    order = shop.place(shopper, {book["id"]: 2}, checkout_body(DECLINED_CARD))
    assert order["status"] == "REJECTED" and order["reason"] == "PAYMENT_DECLINED", order
    return shopper, book, order


@pytest.fixture
def placed(shop, new_shopper, stocked_book):
    """A fresh shopper, a book with 5 copies, and an order for 2 of them (PENDING)."""
    shopper = new_shopper(phone=unique_phone())
    book = stocked_book(5)
    order = shop.place(shopper, {book["id"]: 2}, checkout_body())
    return shopper, book, order


# --------------------------------------------------------------------------- inventory-events

def test_inventory_events_same_batch_twice_reserves_and_releases_once(shop, queues, consumers, declined):
    shopper, book, order = declined
    placed_batch = consumers.sqs_batch("InventoryQueue", [order_event("OrderPlaced", order, shopper)])

    first = consumers.invoke("inventory-events", placed_batch)
    assert consumers.failures(first) == [], first
    assert shop.stock(book["id"]) == 3, "the first delivery of OrderPlaced reserves the 2 copies"
    second = consumers.invoke("inventory-events", placed_batch)
    assert consumers.failures(second) == [], second
    assert shop.stock(book["id"]) == 3, "the redelivered OrderPlaced reserved the copies again"

    cancelled_batch = consumers.sqs_batch("InventoryQueue", [order_event("OrderCancelled", order, shopper)])
    first = consumers.invoke("inventory-events", cancelled_batch)
    assert consumers.failures(first) == [], first
    assert shop.stock(book["id"]) == 5, "the first delivery of OrderCancelled releases the 2 copies"
    second = consumers.invoke("inventory-events", cancelled_batch)
    assert consumers.failures(second) == [], second
    assert shop.stock(book["id"]) == 5, "the redelivered OrderCancelled released the copies again"

    # An OrderPlaced arriving after the release reserves nothing.
    late = consumers.invoke("inventory-events", placed_batch)
    assert consumers.failures(late) == [], late
    assert shop.stock(book["id"]) == 5

    # The StockReserved announced for an order that was never PENDING changed nothing.
    queues.wait_drained("OrderStockQueue")
    final = shop.get(shopper, order["id"])
    assert same_state(final, order), (order, final)
    assert shop.stock(book["id"]) == 5


def test_inventory_events_cancel_before_place_reserves_nothing(shop, queues, consumers, declined):
    shopper, book, order = declined
    cancelled_batch = consumers.sqs_batch("InventoryQueue", [order_event("OrderCancelled", order, shopper)])
    for _ in range(2):
        out = consumers.invoke("inventory-events", cancelled_batch)
        assert consumers.failures(out) == [], out
        assert shop.stock(book["id"]) == 5
    placed_batch = consumers.sqs_batch("InventoryQueue", [order_event("OrderPlaced", order, shopper)])
    out = consumers.invoke("inventory-events", placed_batch)
    assert consumers.failures(out) == [], out
    assert shop.stock(book["id"]) == 5, "a late OrderPlaced reserved stock for a cancelled order"


def test_inventory_events_real_order_placed_redelivered(shop, mail, queues, tables, consumers, placed):
    shopper, book, order = placed
    confirmed = shop.wait_status(shopper, order["id"], SETTLED)
    assert confirmed["status"] == "CONFIRMED", confirmed
    shop.wait_stock(book["id"], 3, "reserved")
    _, placed_event = tables.outbox_event(shopper.sub, order["id"], "OrderPlaced")
    batch = consumers.sqs_batch("InventoryQueue", [json.dumps(placed_event)])
    for _ in range(2):
        out = consumers.invoke("inventory-events", batch)
        assert consumers.failures(out) == [], out
        assert shop.stock(book["id"]) == 3, "the redelivered OrderPlaced reserved again"

    mail.wait_sent(order["id"], "CONFIRMED")
    queues.wait_drained()
    assert shop.stock(book["id"]) == 3
    assert same_state(shop.get(shopper, order["id"]), confirmed)
    mail.expect_email_count(order["id"], 1)


def test_inventory_events_real_order_cancelled_redelivered(shop, queues, tables, consumers, placed):
    shopper, book, order = placed
    assert shop.wait_status(shopper, order["id"], SETTLED)["status"] == "CONFIRMED"
    shop.wait_stock(book["id"], 3, "reserved")
    r = shop.cancel(shopper, order["id"])
    assert r.status_code == 200 and r.json()["status"] == "CANCELLED", r.text
    shop.wait_stock(book["id"], 5, "released by the cancellation")
    _, cancelled_event = tables.outbox_event(shopper.sub, order["id"], "OrderCancelled")
    batch = consumers.sqs_batch("InventoryQueue", [json.dumps(cancelled_event)])
    for _ in range(2):
        out = consumers.invoke("inventory-events", batch)
        assert consumers.failures(out) == [], out
        assert shop.stock(book["id"]) == 5, "the redelivered OrderCancelled released the stock again"
    queues.wait_drained()
    assert shop.stock(book["id"]) == 5
    assert shop.get(shopper, order["id"])["status"] == "CANCELLED"


# --------------------------------------------------------------------------- order-stock-events

def test_order_stock_events_stock_reserved_twice_confirms_once(shop, mail, queues, consumers, stripe, placed):
    shopper, book, order = placed
    # Wait until inventory really reserved the stock, so the event tells the truth.
    shop.wait_stock(book["id"], 3, "reserved by inventory")
    batch = consumers.sqs_batch("OrderStockQueue", [stock_event("StockReserved", order, shopper)])

    first = consumers.invoke("order-stock-events", batch)
    assert consumers.failures(first) == [], first
    after_first = shop.get(shopper, order["id"])
    assert after_first["status"] == "CONFIRMED" and after_first["paymentStatus"] == "CAPTURED", after_first

    second = consumers.invoke("order-stock-events", batch)
    assert consumers.failures(second) == [], second
    after_second = shop.get(shopper, order["id"])
    assert same_state(after_second, after_first), (after_first, after_second)

    # A late, contradicting outcome changes nothing either.
    late = consumers.invoke("order-stock-events",
                            consumers.sqs_batch("OrderStockQueue", [stock_event("StockRejected", order, shopper)]))
    assert consumers.failures(late) == [], late
    assert same_state(shop.get(shopper, order["id"]), after_first)

    mail.wait_sent(order["id"], "CONFIRMED")
    mail.wait_sent(order["id"], "CONFIRMED", "sms")
    queues.wait_drained()
    final = shop.get(shopper, order["id"])
    assert same_state(final, after_first), (after_first, final)
    assert shop.stock(book["id"]) == 3
    # One hold, captured once; the late StockRejected neither voided nor refunded it.
    intents = stripe.intents_for(order["id"])
    assert [i["status"] for i in intents] == ["succeeded"], stripe.summary(intents)
    assert stripe.refunds(intents[0]["id"]) == []
    mail.expect_email(final, "CONFIRMED", shopper.email)
    mail.expect_email_count(order["id"], 1)
    mail.expect_sms(shopper.phone, order["id"])


# --------------------------------------------------------------------------- notification-events

@pytest.mark.parametrize("kind", ["OrderConfirmed", "OrderRejected", "OrderCancelled"])
def test_notification_events_same_batch_twice_sends_once(mail, consumers, kind):
    phone = unique_phone()
    body, order_id, email = fake_notice(kind, TEMPLATE, phone=phone)
    status = json.loads(body)["data"]["order"]["status"]
    batch = consumers.sqs_batch("NotificationQueue", [body])

    first = consumers.invoke("notification-events", batch)
    assert consumers.failures(first) == [], first
    sent = {ch: mail.sent_record(order_id, status, ch) for ch in ("email", "sms")}
    assert all(r and r.get("state") == "SENT" for r in sent.values()), sent

    second = consumers.invoke("notification-events", batch)
    assert consumers.failures(second) == [], second
    again = {ch: mail.sent_record(order_id, status, ch) for ch in ("email", "sms")}
    assert again == sent, "the redelivery sent again (its sent-log records changed)"

    mail.expect_email(json.loads(body)["data"]["order"], status, email)
    mail.expect_email_count(order_id, 1)
    mail.expect_sms(phone, order_id)


def test_notification_events_real_confirmation_redelivered(shop, mail, tables, consumers, placed):
    shopper, _, order = placed
    assert shop.wait_status(shopper, order["id"], SETTLED)["status"] == "CONFIRMED"
    mail.wait_sent(order["id"], "CONFIRMED")
    mail.wait_sent(order["id"], "CONFIRMED", "sms")
    _, confirmed_event = tables.outbox_event(shopper.sub, order["id"], "OrderConfirmed")
    batch = consumers.sqs_batch("NotificationQueue", [json.dumps(confirmed_event)])
    for _ in range(2):
        out = consumers.invoke("notification-events", batch)
        assert consumers.failures(out) == [], out
    mail.expect_email_count(order["id"], 1)
    mail.expect_sms(shopper.phone, order["id"])


# --------------------------------------------------------------------------- order-publisher

def test_order_publisher_relays_twice_without_downstream_effect(shop, mail, queues, tables, consumers, placed):
    shopper, book, order = placed
    confirmed = shop.wait_status(shopper, order["id"], SETTLED)
    assert confirmed["status"] == "CONFIRMED", confirmed
    mail.wait_sent(order["id"], "CONFIRMED")
    mail.wait_sent(order["id"], "CONFIRMED", "sms")
    queues.wait_drained()

    items = tables.outbox_items(shopper.sub, order["id"])
    kinds = [json.loads(i["event"]["S"])["type"] for i in items]
    assert kinds == ["OrderPlaced", "OrderConfirmed"], kinds
    base = int(time.time() * 1000)
    event = {"Records": [consumers.stream_record(item, str(base + n)) for n, item in enumerate(items)]}

    for _ in range(2):
        out = consumers.invoke("order-publisher", event)
        assert consumers.failures(out) == [], out

    # The relay published both events again (twice): let every consumer handle them.
    queues.wait_drained("InventoryQueue", "OrderStockQueue", "NotificationQueue")
    final = shop.get(shopper, order["id"])
    assert same_state(final, confirmed), (confirmed, final)
    assert shop.stock(book["id"]) == 3
    mail.expect_email_count(order["id"], 1)
    mail.expect_sms(shopper.phone, order["id"])


# --------------------------------------------------------------------------- malformed in a batch

MALFORMED = ["this is not an event", json.dumps({"hello": "world"}), "{\"eventId\": "]


def test_inventory_events_fail_only_the_malformed_messages(shop, consumers, declined):
    shopper, book, order = declined
    bad_data = envelope("OrderPlaced", {"order": {"id": "not an id", "lines": []}, "customerId": shopper.sub})
    batch = consumers.sqs_batch("InventoryQueue", MALFORMED + [bad_data, order_event("OrderPlaced", order, shopper)])
    out = consumers.invoke("inventory-events", batch)
    ids = [r["messageId"] for r in batch["Records"]]
    assert sorted(consumers.failures(out)) == sorted(ids[:-1]), out
    assert shop.stock(book["id"]) == 3, "the valid OrderPlaced of the batch was not applied"


def test_order_stock_events_fail_only_the_malformed_messages(shop, consumers, placed):
    shopper, book, order = placed
    shop.wait_stock(book["id"], 3, "reserved by inventory")
    bad_data = envelope("StockReserved", {"orderId": order["id"]})  # no customerId
    batch = consumers.sqs_batch("OrderStockQueue", MALFORMED + [bad_data, stock_event("StockReserved", order, shopper)])
    out = consumers.invoke("order-stock-events", batch)
    ids = [r["messageId"] for r in batch["Records"]]
    assert sorted(consumers.failures(out)) == sorted(ids[:-1]), out
    got = shop.get(shopper, order["id"])
    assert got["status"] == "CONFIRMED" and got["paymentStatus"] == "CAPTURED", got


def test_notification_events_fail_only_the_malformed_messages(mail, consumers):
    body, order_id, email = fake_notice("OrderConfirmed", TEMPLATE)
    bad_data = envelope("OrderConfirmed", {"order": {"id": str(uuid.uuid4())}})  # no lines, no total
    batch = consumers.sqs_batch("NotificationQueue", MALFORMED + [bad_data, body])
    out = consumers.invoke("notification-events", batch)
    ids = [r["messageId"] for r in batch["Records"]]
    assert sorted(consumers.failures(out)) == sorted(ids[:-1]), out
    assert (mail.sent_record(order_id, "CONFIRMED") or {}).get("state") == "SENT"
    mail.expect_email_count(order_id, 1)


# --------------------------------------------------------------------------- the DLQ, through the real queues

@pytest.fixture
def fast_retry(queues):
    """fast_retry(queue): the queue's VisibilityTimeout at 2 s for this test (restored after)."""
    changed: list[tuple[str, str]] = []

    def lower(name: str) -> None:
        queues.require(name)
        info = queues.info[name]
        assert info.get("maxReceiveCount"), f"{name} has no redrive policy in stack.json: {info}"
        changed.append((name, queues.attribute(name, "VisibilityTimeout")))
        # The driver, like Lambda, gives what it receives the queue's setting as it is
        # at delivery (infra/driver.py follows a change made during its long poll).
        queues.set_attribute(name, "VisibilityTimeout", "2")

    yield lower
    for name, value in changed:
        queues.set_attribute(name, "VisibilityTimeout", value)


def _send_batch(queues, name: str, bodies: list[str]) -> None:
    r = queues.sqs.send_message_batch(
        QueueUrl=queues.url(name),
        Entries=[{"Id": f"m{i}", "MessageBody": b} for i, b in enumerate(bodies)],
    )
    assert not r.get("Failed"), r


def _wait_dead_lettered(queues, name: str, body: str) -> dict:
    # maxReceiveCount receives, each after a visibility timeout: allow for the 60 s one too.
    return wait_for(lambda: queues.find_in_dlq(name, body), f"the malformed message in {name}'s DLQ",
                    timeout=max(180.0, WAIT_SECONDS), interval=1.0)


def test_malformed_notification_goes_to_the_dlq_and_the_rest_is_sent(mail, queues, fast_retry):
    fast_retry("NotificationQueue")
    malformed = f"not an event {uuid.uuid4()}"
    body, order_id, email = fake_notice("OrderConfirmed", TEMPLATE)
    _send_batch(queues, "NotificationQueue", [malformed, body])

    mail.wait_sent(order_id, "CONFIRMED")  # the valid message of the batch
    dead = _wait_dead_lettered(queues, "NotificationQueue", malformed)
    assert dead["Body"] == malformed
    mail.expect_email_count(order_id, 1)


def test_malformed_inventory_event_goes_to_the_dlq_and_the_rest_is_applied(shop, queues, fast_retry, declined):
    shopper, book, order = declined
    malformed = envelope("OrderPlaced", {"order": {"id": f"not an id {uuid.uuid4()}"}, "customerId": shopper.sub})
    fast_retry("InventoryQueue")
    _send_batch(queues, "InventoryQueue", [malformed, order_event("OrderPlaced", order, shopper)])

    shop.wait_stock(book["id"], 3, "reserved by the valid message of the batch")
    dead = _wait_dead_lettered(queues, "InventoryQueue", malformed)
    assert dead["Body"] == malformed
    assert shop.stock(book["id"]) == 3
    queues.wait_drained("InventoryQueue", "OrderStockQueue")
    assert shop.get(shopper, order["id"])["status"] == "REJECTED"
