"""Payments as the provider sees them: every checkout, stock outcome, cancellation
and settler run is checked against localstripe (a fake Stripe, stack.json
`stripeEndpoint`), where the order service keeps its PaymentIntents
(`capture_method=manual`, `metadata.order_id`) and Refunds.

The saga (functions/order/src/service.rs): checkout records the order (PENDING,
payment PENDING), asks for a hold (an intent in `requires_capture`) and records
it (AUTHORIZED, OrderPlaced) or the decline (REJECTED, PAYMENT_DECLINED); the
stock answer captures it (CONFIRMED, CAPTURED: intent `succeeded`) or voids it
(REJECTED, OUT_OF_STOCK, VOIDED: intent `canceled`); a cancellation refunds a
capture (REFUNDED, `refundedAt`). The scheduled settler (`order-settler`, every
3 s in the test stack) finishes any of these steps an order has owed for more
than SETTLE_AFTER_SECONDS (900).

localstripe does not honour Idempotency-Key (each POST makes a new object), so
the number of intents (and refunds) it holds for an order is exactly the number
of holds (and refunds) the service asked for.

Like the other checkout tests: own books and brand-new shoppers, bounded waits
(`wait_for`, 90 s) and no timing assertions; mail is checked against moto at
the end of the module (see `Outbox` in shop.py).
"""

from __future__ import annotations

import copy
import uuid
from datetime import datetime, timedelta, timezone

from shop import APPROVED_CARD, DECLINED_CARD, SETTLED, Stripe, checkout_body, order_path, wait_for
from support import assert_problem


def lines_of(cart_or_order: dict) -> list[tuple[str, int]]:
    key = "items" if "items" in cart_or_order else "lines"
    return sorted((line["bookId"], line["quantity"]) for line in cart_or_order[key])


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def the_intent(stripe: Stripe, order_id: str) -> dict:
    """The one PaymentIntent localstripe holds for the order."""
    intents = stripe.intents_for(order_id)
    assert len(intents) == 1, f"{len(intents)} payment intents for order {order_id}: {Stripe.summary(intents)}"
    return intents[0]


def assert_hold_for(intent: dict, order: dict) -> None:
    """The intent is a manual-capture hold for exactly the order's total."""
    assert intent["metadata"] == {"order_id": order["id"]}, Stripe.summary([intent])
    assert intent["capture_method"] == "manual", Stripe.summary([intent])
    assert intent["amount"] == order["total"]["amount"], (Stripe.summary([intent]), order["total"])
    assert intent["currency"] == order["total"]["currency"].lower(), (Stripe.summary([intent]), order["total"])


# --------------------------------------------------------------------------- capture

def test_a_confirmed_order_has_one_captured_intent_for_its_total(shop, stripe, new_shopper, stocked_book):
    shopper = new_shopper()
    a = stocked_book(5, price={"amount": 1234, "currency": "USD"})
    b = stocked_book(5, price={"amount": 999, "currency": "USD"})
    order = shop.place(shopper, {a["id"]: 2, b["id"]: 1})
    assert order["status"] == "PENDING" and order["paymentStatus"] == "AUTHORIZED", order
    assert order["total"] == {"amount": 2 * 1234 + 999, "currency": "USD"}
    # The hold exists once checkout has answered (captured already if the stock was that quick).
    hold = the_intent(stripe, order["id"])
    assert hold["status"] in ("requires_capture", "succeeded"), Stripe.summary([hold])

    confirmed = shop.wait_status(shopper, order["id"], SETTLED)
    assert confirmed["status"] == "CONFIRMED" and confirmed["paymentStatus"] == "CAPTURED", confirmed
    assert "refundedAt" not in confirmed

    intent = the_intent(stripe, order["id"])
    assert intent["id"] == hold["id"]
    assert_hold_for(intent, confirmed)
    assert intent["status"] == "succeeded", Stripe.summary([intent])
    charges = Stripe.charges(intent)
    assert charges and all(c["captured"] and c["amount"] == confirmed["total"]["amount"] for c in charges), charges
    assert stripe.refunds(intent["id"]) == []


# --------------------------------------------------------------------------- refund

def test_cancelling_a_confirmed_order_refunds_it_exactly_once(shop, mail, queues, stripe, new_shopper, stocked_book):
    shopper = new_shopper()
    book = stocked_book(4, price={"amount": 1500, "currency": "USD"})
    order = shop.place(shopper, {book["id"]: 2})
    confirmed = shop.wait_status(shopper, order["id"], SETTLED)
    assert confirmed["status"] == "CONFIRMED" and confirmed["paymentStatus"] == "CAPTURED", confirmed
    intent = the_intent(stripe, order["id"])
    assert intent["status"] == "succeeded", Stripe.summary([intent])
    assert stripe.refunds(intent["id"]) == []

    r = shop.cancel(shopper, order["id"])
    assert r.status_code == 200, r.text
    cancelled = r.json()
    assert cancelled["status"] == "CANCELLED" and cancelled["paymentStatus"] == "REFUNDED", cancelled
    assert "refundedAt" in cancelled, cancelled
    assert parse_time(cancelled["refundedAt"]) >= parse_time(confirmed["updatedAt"]), cancelled
    got = shop.get(shopper, order["id"])
    assert (got["status"], got["paymentStatus"], got.get("refundedAt")) == \
        ("CANCELLED", "REFUNDED", cancelled["refundedAt"]), got

    refunds = stripe.refunds(intent["id"])
    assert len(refunds) == 1, f"{len(refunds)} refunds of {intent['id']}: {refunds}"
    assert refunds[0]["amount"] == confirmed["total"]["amount"], refunds
    assert refunds[0]["payment_intent"] == intent["id"] and refunds[0]["status"] == "succeeded", refunds

    # Cancelling again is refused and refunds nothing more.
    assert_problem(shop.cancel(shopper, order["id"]), 409, "conflict")
    mail.wait_sent(order["id"], "CANCELLED")
    shop.wait_stock(book["id"], 4, "released by the cancellation")
    queues.wait_drained()
    assert len(stripe.refunds(intent["id"])) == 1, stripe.refunds(intent["id"])
    assert [i["id"] for i in stripe.intents_for(order["id"])] == [intent["id"]]
    final = shop.get(shopper, order["id"])
    assert (final["status"], final["paymentStatus"], final.get("refundedAt")) == \
        ("CANCELLED", "REFUNDED", cancelled["refundedAt"]), final

    mail.expect_email(cancelled, "CANCELLED", shopper.email)
    mail.expect_email_count(order["id"], 2)  # the confirmation and the cancellation


# --------------------------------------------------------------------------- void

def test_an_out_of_stock_order_voids_its_hold_and_takes_nothing(shop, mail, queues, stripe, new_shopper,
                                                                 stocked_book):
    shopper = new_shopper()
    plenty = stocked_book(5)
    scarce = stocked_book(1)
    order = shop.place(shopper, {plenty["id"]: 1, scarce["id"]: 2})
    assert order["paymentStatus"] == "AUTHORIZED", order

    rejected = shop.wait_status(shopper, order["id"], SETTLED)
    assert rejected["status"] == "REJECTED" and rejected["reason"] == "OUT_OF_STOCK", rejected
    assert rejected["paymentStatus"] == "VOIDED", rejected
    assert "refundedAt" not in rejected, rejected

    mail.wait_sent(order["id"], "REJECTED")
    queues.wait_drained()
    intent = the_intent(stripe, order["id"])
    assert_hold_for(intent, rejected)
    # Voided: canceled, never captured, nothing to refund.
    assert intent["status"] == "canceled", Stripe.summary([intent])
    assert not Stripe.captured(intent), Stripe.summary([intent])
    assert intent.get("amount_received", 0) == 0, Stripe.summary([intent])
    assert stripe.refunds(intent["id"]) == []
    assert (shop.stock(plenty["id"]), shop.stock(scarce["id"])) == (5, 1)
    mail.expect_email(rejected, "REJECTED", shopper.email, words=("stock",))


# --------------------------------------------------------------------------- decline

def test_a_declined_card_keeps_the_cart_and_takes_nothing(shop, mail, queues, stripe, new_shopper, stocked_book):
    shopper = new_shopper()
    book = stocked_book(3)
    shop.fill_cart(shopper, {book["id"]: 2})
    r = shop.checkout(shopper, checkout_body(DECLINED_CARD))
    assert r.status_code == 201, r.text
    declined = r.json()
    assert (declined["status"], declined.get("reason"), declined["paymentStatus"]) == \
        ("REJECTED", "PAYMENT_DECLINED", "DECLINED"), declined
    assert lines_of(shop.cart(shopper)) == [(book["id"], 2)], "a declined card emptied the cart"

    mail.wait_sent(declined["id"], "REJECTED")
    queues.wait_drained()
    intents = stripe.intents_for(declined["id"])
    assert not [i for i in intents if Stripe.captured(i) or i["status"] == "requires_capture"], \
        Stripe.summary(intents)
    assert shop.stock(book["id"]) == 3
    assert lines_of(shop.cart(shopper)) == [(book["id"], 2)]
    mail.expect_email(declined, "REJECTED", shopper.email, words=("declined",))
    mail.expect_email_count(declined["id"], 1)

    # The cart that was kept is paid with another card.
    paid = shop.checkout(shopper, checkout_body(APPROVED_CARD))
    assert paid.status_code == 201, paid.text
    order = paid.json()
    assert order["id"] != declined["id"] and lines_of(order) == [(book["id"], 2)], order
    assert order["paymentStatus"] == "AUTHORIZED", order
    assert shop.cart(shopper)["items"] == []
    confirmed = shop.wait_status(shopper, order["id"], SETTLED)
    assert confirmed["status"] == "CONFIRMED", confirmed
    assert the_intent(stripe, order["id"])["status"] == "succeeded"
    assert shop.get(shopper, declined["id"])["status"] == "REJECTED"


# --------------------------------------------------------------------------- provider down

def test_a_checkout_the_provider_did_not_answer_finishes_on_retry_with_one_hold(shop, mail, queues, stripe,
                                                                                new_shopper, stocked_book):
    shopper = new_shopper()
    book = stocked_book(5)
    shop.fill_cart(shopper, {book["id"]: 1})
    key, body = str(uuid.uuid4()), checkout_body()

    # localstripe frozen: it accepts the connection and never answers, so the order
    # service's Stripe call times out (5 s) and checkout answers 503.
    with stripe.stopped():
        r = shop.checkout(shopper, body, key=key)
        assert_problem(r, 503, "service-unavailable")
        # The order is recorded, its payment not asked for (as far as the service knows).
        listed = shop.list_all(shopper)
        assert len(listed) == 1, listed
        between = shop.get(shopper, listed[0]["id"])
        assert (between["status"], between["paymentStatus"]) == ("PENDING", "PENDING"), between
        assert "reason" not in between, between
        assert lines_of(shop.cart(shopper)) == [(book["id"], 1)], "the cart went before the order was paid"

    again = shop.checkout(shopper, body, key=key)
    assert again.status_code == 201, again.text
    assert again.headers.get("idempotent-replayed") == "true", dict(again.headers)
    order = again.json()
    assert order["id"] == between["id"], (between, order)
    assert again.headers["Location"].endswith(order_path(order["id"]))
    assert (order["status"], order["paymentStatus"]) == ("PENDING", "AUTHORIZED"), order
    assert shop.cart(shopper)["items"] == []
    assert [o["id"] for o in shop.list_all(shopper)] == [order["id"]]

    confirmed = shop.wait_status(shopper, order["id"], SETTLED)
    assert confirmed["status"] == "CONFIRMED" and confirmed["paymentStatus"] == "CAPTURED", confirmed
    mail.wait_sent(order["id"], "CONFIRMED")
    queues.wait_drained()
    intents = stripe.intents_for(order["id"])
    assert len(intents) == 1, (
        f"{len(intents)} payment intents for order {order['id']}, expected one hold: {Stripe.summary(intents)}. "
        "The request the frozen provider had queued is processed when it resumes, and the retry asks again "
        "with the same Idempotency-Key (bookish-authorize-<orderId>); Stripe replays the first answer, "
        "localstripe makes a second hold unless something honours that key.")
    assert intents[0]["status"] == "succeeded", Stripe.summary(intents)
    assert_hold_for(intents[0], confirmed)
    assert shop.stock(book["id"]) == 4
    mail.expect_email(confirmed, "CONFIRMED", shopper.email)
    mail.expect_email_count(order["id"], 1)


# --------------------------------------------------------------------------- the settler

def uuid7(at: datetime) -> str:
    """A UUIDv7 for the instant `at` (what the order service gives an order placed then)."""
    ms = int(at.timestamp() * 1000) & ((1 << 48) - 1)
    rand = uuid.uuid4().int
    value = (ms << 80) | (0x7 << 76) | ((rand & 0xFFF) << 64) | (0b10 << 62) | ((rand >> 12) & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def rfc3339(at: datetime) -> str:
    """As the service writes updatedAt: UTC, whole seconds, `Z`."""
    return at.astimezone(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def stuck_order(real: dict, order_id: str, at: datetime, payment_status: str,
                authorization_id: str | None) -> dict:
    """The stored item of an order a crash left PENDING at `at`: the real order's
    item (same shopper, lines, total, address) with a new id, rewritten as checkout
    writes it, and in the settler's index (settlePk/settleSk) as every write of a
    PENDING order puts it."""
    item = copy.deepcopy(real)
    when = rfc3339(at)
    item["sk"] = {"S": f"ORDER#{order_id}"}
    order = item["order"]["M"]
    order.update(id={"S": order_id}, status={"S": "PENDING"}, paymentStatus={"S": payment_status},
                 createdAt={"S": when}, updatedAt={"S": when})
    for gone in ("reason", "refundedAt"):
        order.pop(gone, None)
    item.pop("authorizationId", None)
    if authorization_id:
        item["authorizationId"] = {"S": authorization_id}
    item["paymentMethod"] = {"S": APPROVED_CARD}
    item["correlationId"] = {"S": f"settler-test-{order_id}"}
    item["version"] = {"N": "1"}
    item["settlePk"] = {"S": "UNSETTLED"}
    item["settleSk"] = {"S": f"{when}#{order_id}"}
    return item


def test_the_schedule_settles_orders_a_crash_left_behind(shop, mail, queues, tables, stripe, new_shopper,
                                                         stocked_book):
    """Nothing in the API can leave an order stuck: it takes a crash between two
    steps of the saga (after the order was recorded, before its hold was; or a
    stock answer that never came). So this test writes the two orders such a crash
    leaves straight into the orders table, built from a real order of the same
    shopper, an hour old (past SETTLE_AFTER_SECONDS), and lets the scheduled
    settler (fired every 3 s by infra/driver.py in the test stack) find them."""
    shopper = new_shopper()
    book = stocked_book(10, price={"amount": 2100, "currency": "USD"})
    real = shop.place(shopper, {book["id"]: 1})
    assert shop.wait_status(shopper, real["id"], SETTLED)["status"] == "CONFIRMED"
    item = tables.order_item(shopper.sub, real["id"])
    hour_ago = datetime.now(timezone.utc) - timedelta(hours=1)

    # (1) Checkout cut short before its payment: recorded, no hold asked for.
    unpaid_id = uuid7(hour_ago)
    tables.put_order_item(stuck_order(item, unpaid_id, hour_ago, "PENDING", None))
    # (2) A hold whose stock answer never came: the hold exists at the provider.
    held_id = uuid7(hour_ago + timedelta(seconds=1))
    hold = stripe.hold(held_id, real["total"]["amount"], real["total"]["currency"])
    tables.put_order_item(stuck_order(item, held_id, hour_ago + timedelta(seconds=1), "AUTHORIZED", hold["id"]))

    # The settler runs every few seconds here and may already be at them: nothing to assert
    # about their state before it.

    def settled(order_id: str, status: str):
        def probe():
            order = shop.get(shopper, order_id)
            return order["status"] == status and order["paymentStatus"] in ("CAPTURED", "VOIDED"), order

        return probe

    # (1) is authorized by the settler, which finishes its checkout: OrderPlaced, stock, capture.
    finished = wait_for(settled(unpaid_id, "CONFIRMED"), f"the settler to finish order {unpaid_id}")
    assert finished["paymentStatus"] == "CAPTURED" and "reason" not in finished, finished
    intent = the_intent(stripe, unpaid_id)
    assert intent["status"] == "succeeded", Stripe.summary([intent])
    assert_hold_for(intent, finished)

    # (2) waited too long for its stock: rejected, TIMED_OUT, the hold voided.
    timed_out = wait_for(settled(held_id, "REJECTED"), f"the settler to time out order {held_id}")
    assert (timed_out["reason"], timed_out["paymentStatus"]) == ("TIMED_OUT", "VOIDED"), timed_out
    assert "refundedAt" not in timed_out, timed_out
    voided = stripe.intent(hold["id"])
    assert voided["status"] == "canceled" and not Stripe.captured(voided), Stripe.summary([voided])
    assert [i["id"] for i in stripe.intents_for(held_id)] == [hold["id"]], "the settler asked for another hold"
    assert stripe.refunds(hold["id"]) == []

    mail.wait_sent(unpaid_id, "CONFIRMED")
    mail.wait_sent(held_id, "REJECTED")
    queues.wait_drained()
    # The real order and (1) hold a copy each; (2) never held one, and its rejection gave none back.
    assert shop.stock(book["id"]) == 8
    assert shop.get(shopper, unpaid_id)["status"] == "CONFIRMED"
    final = shop.get(shopper, held_id)
    assert (final["status"], final["reason"], final["paymentStatus"]) == ("REJECTED", "TIMED_OUT", "VOIDED"), final
    assert len(stripe.intents_for(unpaid_id)) == 1
    assert [o["id"] for o in shop.list_all(shopper)] == [real["id"], held_id, unpaid_id]

    mail.expect_email(finished, "CONFIRMED", shopper.email)
    mail.expect_email(timed_out, "REJECTED", shopper.email, words=("in time",))
    mail.expect_email_count(unpaid_id, 1)
    mail.expect_email_count(held_id, 1)
