"""Checkout and orders over HTTP against the local stack: POST /v1/orders,
GET /v1/orders, GET /v1/orders/{id}, POST /v1/orders/{id}/cancel, with the
inventory, payments and notifications they set in motion.

Orders settle asynchronously (orders stream -> order-publisher ->
InventoryQueue -> inventory-events -> OrderStockQueue -> order-stock-events ->
... -> NotificationQueue -> notification-events, driven by infra/driver.py):
tests poll GET /v1/orders/{id} (and the stock, and the notification service's
sent log) with a bounded wait and fail with the last state seen; nothing is
timed.

Every test uses books it creates (unique titles and ISBNs) with stock it sets,
and brand-new shoppers (Cognito SignUp + AdminConfirmSignUp), so tests never
share an order list, a cart or a stock count. Mail is found in moto's SES
(GET /moto-api/data.json) by the order id in the subject: each test records
the emails and SMS it expects (`mail.expect_*`: exactly one email per order
and status, to the shopper, naming the order id, titles, total and status)
and they are all checked against one data.json fetch when the module is done
(see `Outbox` in shop.py: that document grows with the run and is slow).
"""

from __future__ import annotations

import threading
import uuid

import pytest

from shop import (
    DECLINED_CARD,
    SETTLED,
    address,
    checkout_body,
    in_parallel,
    order_path,
    unique_phone,
)
from support import assert_problem, assert_unauthorized, tag


def assert_money(m: dict, amount: int, currency: str = "USD") -> None:
    assert m == {"amount": amount, "currency": currency}, m


def assert_priced(order: dict, books: dict[str, tuple[dict, int]]) -> None:
    """The order's lines are the books at their catalog price, and the total is their sum.
    books: bookId -> (book as the catalog has it now, quantity)."""
    lines = {line["bookId"]: line for line in order["lines"]}
    assert set(lines) == set(books), order["lines"]
    total = 0
    for book_id, (book, quantity) in books.items():
        line = lines[book_id]
        assert line["title"] == book["title"]
        assert line["quantity"] == quantity
        assert_money(line["unitPrice"], book["price"]["amount"], book["price"]["currency"])
        assert_money(line["lineTotal"], book["price"]["amount"] * quantity, book["price"]["currency"])
        total += book["price"]["amount"] * quantity
    assert_money(order["total"], total)


# --------------------------------------------------------------------------- the journey

def test_full_journey(shop, mail, queues, new_shopper, stocked_book, api):
    shopper = new_shopper()
    a = stocked_book(10, price={"amount": 1234, "currency": "USD"})
    b = stocked_book(4, price={"amount": 500, "currency": "USD"})
    shop.fill_cart(shopper, {a["id"]: 2, b["id"]: 1})

    key = str(uuid.uuid4())
    r = shop.checkout(shopper, checkout_body(), key=key)
    assert r.status_code == 201, r.text
    placed = r.json()
    assert r.headers["Location"].endswith(order_path(placed["id"]))
    assert r.headers.get("idempotent-replayed") is None
    assert placed["status"] == "PENDING"
    assert placed["paymentStatus"] == "AUTHORIZED"
    assert "reason" not in placed
    assert placed["shippingAddress"] == address()
    assert placed["createdAt"] and placed["updatedAt"]
    assert_priced(placed, {a["id"]: (a, 2), b["id"]: (b, 1)})
    assert placed["total"]["amount"] == 2 * 1234 + 500

    # The cart is emptied once the order is placed.
    assert shop.cart(shopper)["items"] == []

    got = shop.get(shopper, placed["id"])
    assert got["id"] == placed["id"] and got["lines"] == placed["lines"] and got["total"] == placed["total"]

    confirmed = shop.wait_status(shopper, placed["id"], SETTLED)
    assert confirmed["status"] == "CONFIRMED", confirmed
    assert confirmed["paymentStatus"] == "CAPTURED", confirmed
    assert "reason" not in confirmed
    assert confirmed["createdAt"] == placed["createdAt"]
    assert confirmed["lines"] == placed["lines"] and confirmed["total"] == placed["total"]
    assert (shop.stock(a["id"]), shop.stock(b["id"])) == (8, 3)

    mail.wait_sent(placed["id"], "CONFIRMED")
    mail.expect_email(confirmed, "CONFIRMED", shopper.email)

    listed = shop.list(shopper)
    assert [o["id"] for o in listed["items"]] == [placed["id"]]
    assert listed["items"][0]["status"] == "CONFIRMED"

    # Cancel: the payment is refunded, the stock comes back, a cancellation email goes out.
    r = shop.cancel(shopper, placed["id"])
    assert r.status_code == 200, r.text
    cancelled = r.json()
    assert cancelled["status"] == "CANCELLED" and cancelled["paymentStatus"] == "REFUNDED", cancelled
    assert cancelled["id"] == placed["id"] and cancelled["lines"] == placed["lines"]
    assert shop.get(shopper, placed["id"])["status"] == "CANCELLED"
    shop.wait_stock(a["id"], 10, "released by the cancellation")
    shop.wait_stock(b["id"], 4, "released by the cancellation")

    mail.wait_sent(placed["id"], "CANCELLED")
    mail.expect_email(cancelled, "CANCELLED", shopper.email)
    # One confirmation, one cancellation, nothing else.
    mail.expect_email_count(placed["id"], 2)

    # A cancelled order cannot be cancelled again.
    assert_problem(shop.cancel(shopper, placed["id"]), 409, "conflict")
    queues.wait_drained()
    assert (shop.stock(a["id"]), shop.stock(b["id"])) == (10, 4)
    assert shop.get(shopper, placed["id"])["status"] == "CANCELLED"


def test_lines_are_priced_from_the_catalog_at_checkout(api, admin_token, shop, new_shopper, stocked_book):
    shopper = new_shopper()
    book = stocked_book(5, price={"amount": 1000, "currency": "USD"})
    shop.fill_cart(shopper, {book["id"]: 3})
    # The admin changes the price after the book went into the cart.
    body = {k: book[k] for k in ("isbn", "title", "author", "genres", "description", "publishedYear")}
    body["price"] = {"amount": 1500, "currency": "USD"}
    r = api.put(f"/v1/books/{book['id']}", json=body, token=admin_token)
    assert r.status_code == 200, r.text
    placed = shop.checkout(shopper)
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["lines"][0]["unitPrice"] == {"amount": 1500, "currency": "USD"}
    assert_priced(order, {book["id"]: (r.json(), 3)})
    assert order["total"]["amount"] == 4500


def test_client_cannot_set_prices_or_totals(shop, new_shopper, stocked_book):
    shopper = new_shopper()
    book = stocked_book(5)
    shop.fill_cart(shopper, {book["id"]: 1})
    for extra in ({"total": {"amount": 1, "currency": "USD"}},
                  {"lines": [{"bookId": book["id"], "quantity": 1, "unitPrice": {"amount": 1, "currency": "USD"}}]}):
        r = shop.checkout(shopper, dict(checkout_body(), **extra))
        assert_problem(r, 400, "validation-error", next(iter(extra)))
    assert shop.list_all(shopper) == []
    assert [i["bookId"] for i in shop.cart(shopper)["items"]] == [book["id"]]


# --------------------------------------------------------------------------- rejections

def test_out_of_stock_rejects_and_reserves_nothing(shop, mail, queues, new_shopper, stocked_book):
    shopper = new_shopper()
    plenty = stocked_book(5)
    scarce = stocked_book(1)
    order = shop.place(shopper, {plenty["id"]: 2, scarce["id"]: 3})
    assert order["status"] == "PENDING" and order["paymentStatus"] == "AUTHORIZED"

    rejected = shop.wait_status(shopper, order["id"], SETTLED)
    assert rejected["status"] == "REJECTED", rejected
    assert rejected["reason"] == "OUT_OF_STOCK", rejected
    # Payment not captured: the hold is released.
    assert rejected["paymentStatus"] == "VOIDED", rejected
    # Nothing reserved, not even the line there was enough of.
    assert (shop.stock(plenty["id"]), shop.stock(scarce["id"])) == (5, 1)

    mail.wait_sent(order["id"], "REJECTED")
    mail.expect_email(rejected, "REJECTED", shopper.email, words=("stock",))
    assert shop.cart(shopper)["items"] == []

    # A rejected order cannot be cancelled.
    assert_problem(shop.cancel(shopper, order["id"]), 409, "conflict")
    assert shop.get(shopper, order["id"])["status"] == "REJECTED"

    queues.wait_drained()
    assert (shop.stock(plenty["id"]), shop.stock(scarce["id"])) == (5, 1)
    final = shop.get(shopper, order["id"])
    assert final["status"] == "REJECTED" and final["paymentStatus"] == "VOIDED", final
    mail.expect_email_count(order["id"], 1)


def test_declined_card_rejects_and_leaves_stock_untouched(shop, mail, queues, new_shopper, stocked_book):
    shopper = new_shopper()
    book = stocked_book(3)
    shop.fill_cart(shopper, {book["id"]: 2})
    r = shop.checkout(shopper, checkout_body(DECLINED_CARD))
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["status"] == "REJECTED", order
    assert order["reason"] == "PAYMENT_DECLINED", order
    assert order["paymentStatus"] == "DECLINED", order
    assert order["total"]["amount"] == 2 * book["price"]["amount"]
    assert shop.get(shopper, order["id"])["status"] == "REJECTED"
    # A declined card keeps the cart, so the shopper can pay with another card.
    assert [(i["bookId"], i["quantity"]) for i in shop.cart(shopper)["items"]] == [(book["id"], 2)]

    mail.wait_sent(order["id"], "REJECTED")
    mail.expect_email(order, "REJECTED", shopper.email, words=("declined",))

    queues.wait_drained()
    assert shop.stock(book["id"]) == 3
    final = shop.get(shopper, order["id"])
    assert final["status"] == "REJECTED" and final["reason"] == "PAYMENT_DECLINED", final
    assert_problem(shop.cancel(shopper, order["id"]), 409, "conflict")
    assert [(i["bookId"], i["quantity"]) for i in shop.cart(shopper)["items"]] == [(book["id"], 2)]
    mail.expect_email_count(order["id"], 1)


# --------------------------------------------------------------------------- concurrency

def test_twenty_shoppers_race_for_the_last_five_copies(shop, mail, queues, new_shopper, stocked_book, api):
    book = stocked_book(5)
    shoppers = in_parallel(lambda _: new_shopper(), list(range(20)), workers=10)
    assert len({s.sub for s in shoppers}) == 20
    in_parallel(lambda s: shop.fill_cart(s, {book["id"]: 1}, api=api.fresh()), shoppers, workers=10)

    barrier = threading.Barrier(20)

    def checkout(shopper):
        client = api.fresh()
        barrier.wait()
        return shop.checkout(shopper, api=client)

    responses = in_parallel(checkout, shoppers)
    assert [r.status_code for r in responses] == [201] * 20, [(r.status_code, r.text[:300]) for r in responses]
    orders = [r.json() for r in responses]
    assert len({o["id"] for o in orders}) == 20
    assert all(o["status"] == "PENDING" for o in orders), [o["status"] for o in orders]

    finals = in_parallel(lambda so: shop.wait_status(so[0], so[1]["id"], SETTLED, api=api.fresh()),
                         list(zip(shoppers, orders)), workers=10)
    statuses = sorted(o["status"] for o in finals)
    assert statuses.count("CONFIRMED") == 5 and statuses.count("REJECTED") == 15, statuses
    for o in finals:
        if o["status"] == "CONFIRMED":
            assert o["paymentStatus"] == "CAPTURED", o
        else:
            assert o["reason"] == "OUT_OF_STOCK" and o["paymentStatus"] == "VOIDED", o
    assert shop.stock(book["id"]) == 0

    # One email per order (20 in all), each to its own shopper.
    for shopper, order in zip(shoppers, finals):
        mail.wait_sent(order["id"], order["status"])
        mail.expect_email(order, order["status"], shopper.email)
        mail.expect_email_count(order["id"], 1)

    queues.wait_drained()
    assert shop.stock(book["id"]) == 0
    assert sorted(shop.get(s, o["id"])["status"] for s, o in zip(shoppers, orders)) == statuses


# --------------------------------------------------------------------------- idempotency

def test_same_key_same_body_returns_the_same_order(shop, mail, queues, new_shopper, stocked_book):
    phone = unique_phone()
    shopper = new_shopper(phone=phone)
    book = stocked_book(5)
    shop.fill_cart(shopper, {book["id"]: 2})
    key, body = str(uuid.uuid4()), checkout_body()

    first = shop.checkout(shopper, body, key=key)
    assert first.status_code == 201, first.text
    order = first.json()
    assert first.headers.get("idempotent-replayed") is None

    # The cart is empty now, yet the retry is answered with the order, not a 409.
    again = shop.checkout(shopper, body, key=key)
    assert again.status_code == 201, again.text
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json()["id"] == order["id"]
    assert again.headers["Location"].endswith(order_path(order["id"]))
    assert again.json()["lines"] == order["lines"] and again.json()["total"] == order["total"]

    confirmed = shop.wait_status(shopper, order["id"], SETTLED)
    assert confirmed["status"] == "CONFIRMED" and confirmed["paymentStatus"] == "CAPTURED", confirmed

    late = shop.checkout(shopper, body, key=key)
    assert late.status_code == 201 and late.json()["id"] == order["id"], late.text
    assert late.headers.get("idempotent-replayed") == "true"
    assert late.json()["status"] == "CONFIRMED" and late.json()["paymentStatus"] == "CAPTURED"

    # One order, one reservation, one email.
    assert [o["id"] for o in shop.list_all(shopper)] == [order["id"]]
    mail.wait_sent(order["id"], "CONFIRMED")
    queues.wait_drained()
    assert shop.stock(book["id"]) == 3
    assert [o["id"] for o in shop.list_all(shopper)] == [order["id"]]
    mail.expect_email(confirmed, "CONFIRMED", shopper.email)
    mail.expect_email_count(order["id"], 1)
    mail.expect_sms(phone, order["id"])


def test_concurrent_retries_with_one_key_place_one_order(shop, mail, queues, new_shopper, stocked_book, api):
    shopper = new_shopper()
    book = stocked_book(10)
    shop.fill_cart(shopper, {book["id"]: 1})
    key, body = str(uuid.uuid4()), checkout_body()
    barrier = threading.Barrier(5)

    def attempt(_):
        client = api.fresh()
        barrier.wait()
        return shop.checkout(shopper, body, key=key, api=client)

    responses = in_parallel(attempt, list(range(5)))
    # Every retry is answered with the one order: never a second order, and never
    # an "empty cart" for a retry that arrived after the first emptied the cart.
    assert [r.status_code for r in responses] == [201] * 5, [(r.status_code, r.text[:300]) for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1, [r.json()["id"] for r in responses]
    order_id = responses[0].json()["id"]
    assert sorted(r.headers.get("idempotent-replayed") or "" for r in responses) == [""] + ["true"] * 4
    assert [o["id"] for o in shop.list_all(shopper)] == [order_id]

    confirmed = shop.wait_status(shopper, order_id, SETTLED)
    assert confirmed["status"] == "CONFIRMED", confirmed
    mail.wait_sent(order_id, "CONFIRMED")
    queues.wait_drained()
    assert shop.stock(book["id"]) == 9
    mail.expect_email_count(order_id, 1)


def test_same_key_different_body_is_422(shop, new_shopper, stocked_book):
    shopper = new_shopper()
    book = stocked_book(5)
    shop.fill_cart(shopper, {book["id"]: 1})
    key = str(uuid.uuid4())
    first = shop.checkout(shopper, checkout_body(), key=key)
    assert first.status_code == 201, first.text

    shop.fill_cart(shopper, {book["id"]: 1})
    for body in (checkout_body(city="Paris", country="FR"), checkout_body(name="Someone Else"),
                 checkout_body(DECLINED_CARD)):
        r = shop.checkout(shopper, body, key=key)
        assert_problem(r, 422, "unprocessable-content")
    assert [o["id"] for o in shop.list_all(shopper)] == [first.json()["id"]]
    # The 422 placed nothing: the cart refilled after the first order is still there.
    assert [i["bookId"] for i in shop.cart(shopper)["items"]] == [book["id"]]


def test_idempotency_keys_belong_to_their_shopper(shop, new_shopper, stocked_book):
    alice, bob = new_shopper(), new_shopper()
    book = stocked_book(5)
    key, body = str(uuid.uuid4()), checkout_body()
    a = shop.place(alice, {book["id"]: 1}, body, key=key)
    b = shop.place(bob, {book["id"]: 1}, body, key=key)
    assert b["id"] != a["id"], "another shopper's key returned their order"
    assert [o["id"] for o in shop.list_all(bob)] == [b["id"]]
    assert [o["id"] for o in shop.list_all(alice)] == [a["id"]]


# --------------------------------------------------------------------------- request errors

def test_empty_cart_is_409(shop, new_shopper):
    shopper = new_shopper()
    r = shop.checkout(shopper)
    assert_problem(r, 409, "conflict")
    assert shop.list_all(shopper) == []


def test_a_payment_method_that_is_not_a_stripe_id_is_400(shop, new_shopper, stocked_book):
    shopper = new_shopper()
    book = stocked_book(5)
    shop.fill_cart(shopper, {book["id"]: 1})
    for method in ("tok_visa", "PM_CARD_VISA", "pm_", "pm_card visa", "4242424242424242", "pm_" + "a" * 251):
        r = shop.checkout(shopper, checkout_body(method))
        assert_problem(r, 400, "validation-error", "payment.paymentMethod")
    assert shop.list_all(shopper) == []
    assert [i["bookId"] for i in shop.cart(shopper)["items"]] == [book["id"]]
    assert shop.stock(book["id"]) == 5


@pytest.mark.parametrize("key", [None, "", "k" * 256])
def test_missing_or_invalid_idempotency_key_is_400(shop, new_shopper, stocked_book, key):
    shopper = new_shopper()
    book = stocked_book(5)
    shop.fill_cart(shopper, {book["id"]: 1})
    r = shop.checkout(shopper, key=key)
    assert_problem(r, 400, "validation-error", "Idempotency-Key")
    assert shop.list_all(shopper) == []
    assert [i["bookId"] for i in shop.cart(shopper)["items"]] == [book["id"]]


def test_idempotency_key_of_255_characters_is_accepted(shop, new_shopper, stocked_book):
    shopper = new_shopper()
    book = stocked_book(5)
    order = shop.place(shopper, {book["id"]: 1}, key="k" * 254 + tag()[:1])
    assert order["status"] == "PENDING"


def _without(d: dict, dotted: str) -> dict:
    import copy

    d = copy.deepcopy(d)
    *parents, last = dotted.split(".")
    node = d
    for p in parents:
        node = node[p]
    del node[last]
    return d


def _with(d: dict, dotted: str, value) -> dict:
    import copy

    d = copy.deepcopy(d)
    *parents, last = dotted.split(".")
    node = d
    for p in parents:
        node = node[p]
    node[last] = value
    return d


INVALID_BODIES = [
    ("no-address", lambda b: _without(b, "shippingAddress"), "shippingAddress"),
    ("no-payment", lambda b: _without(b, "payment"), "payment"),
    ("no-payment-method", lambda b: _without(b, "payment.paymentMethod"), "payment.paymentMethod"),
    ("no-name", lambda b: _without(b, "shippingAddress.name"), "shippingAddress.name"),
    ("no-line1", lambda b: _without(b, "shippingAddress.line1"), "shippingAddress.line1"),
    ("no-city", lambda b: _without(b, "shippingAddress.city"), "shippingAddress.city"),
    ("no-postal-code", lambda b: _without(b, "shippingAddress.postalCode"), "shippingAddress.postalCode"),
    ("no-country", lambda b: _without(b, "shippingAddress.country"), "shippingAddress.country"),
    ("blank-name", lambda b: _with(b, "shippingAddress.name", "  "), "shippingAddress.name"),
    ("country-not-iso", lambda b: _with(b, "shippingAddress.country", "usa"), "shippingAddress.country"),
    ("city-number", lambda b: _with(b, "shippingAddress.city", 7), "shippingAddress.city"),
    ("unknown-address-field", lambda b: _with(b, "shippingAddress.state", "CA"), "shippingAddress.state"),
    ("unknown-field", lambda b: _with(b, "coupon", "FREE"), "coupon"),
    ("empty-payment-method", lambda b: _with(b, "payment.paymentMethod", ""), "payment.paymentMethod"),
    # Texts go to the account's verified number only: a number in the body is refused.
    ("phone-in-body", lambda b: _with(b, "phone", "+15555550100"), "phone"),
]


@pytest.mark.parametrize("name,mutate,field", INVALID_BODIES, ids=[c[0] for c in INVALID_BODIES])
def test_invalid_checkout_bodies_are_400_with_field(shop, new_shopper, stocked_book, name, mutate, field):
    shopper = new_shopper()
    book = stocked_book(5)
    shop.fill_cart(shopper, {book["id"]: 1})
    r = shop.checkout(shopper, mutate(checkout_body()))
    assert_problem(r, 400, "validation-error", field)
    assert shop.list_all(shopper) == []
    assert [i["bookId"] for i in shop.cart(shopper)["items"]] == [book["id"]]


def test_invalid_json_and_media_type(api, shop, new_shopper, stocked_book):
    shopper = new_shopper()
    book = stocked_book(5)
    shop.fill_cart(shopper, {book["id"]: 1})
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    r = api.post("/v1/orders", data=b'{"shippingAddress": ', token=shopper.id_token,
                 headers=dict(headers, **{"Content-Type": "application/json"}))
    assert_problem(r, 400, "validation-error")
    r = api.post("/v1/orders", data=b"{}", token=shopper.id_token,
                 headers=dict(headers, **{"Content-Type": "text/plain"}))
    assert_problem(r, 415, "unsupported-media-type")
    assert shop.list_all(shopper) == []


ROUTES = [("POST", "/v1/orders"), ("GET", "/v1/orders"), ("GET", "/v1/orders/{id}"),
          ("POST", "/v1/orders/{id}/cancel")]


@pytest.mark.parametrize("method,path", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_orders_need_a_valid_token(api, stack, moto_key, shopper_token, method, path):
    from support import bad_authorizations

    path = path.replace("{id}", str(uuid.uuid4()))
    kw = {"json": checkout_body(), "headers": {"Idempotency-Key": str(uuid.uuid4())}} if method == "POST" else {}
    for name, authorization in bad_authorizations(shopper_token, {"sub": str(uuid.uuid4())}, stack, moto_key).items():
        r = api.request(method, path, auth=authorization, **kw)
        assert r.status_code == 401, f"{name}: {r.status_code} {r.text}"
        assert_unauthorized(r)


def test_access_token_works_too(api, shop, mail, new_shopper, stocked_book):
    shopper = new_shopper()
    book = stocked_book(5)
    shop.fill_cart(shopper, {book["id"]: 1})
    r = shop.checkout(shopper, token=shopper.access_token)
    assert r.status_code == 201, r.text
    order = r.json()
    got = api.get(order_path(order["id"]), token=shopper.access_token)
    assert got.status_code == 200 and got.json()["id"] == order["id"], got.text
    assert shop.get(shopper, order["id"])["id"] == order["id"]
    # An access token has no email claim: the confirmation goes to the account's address.
    confirmed = shop.wait_status(shopper, order["id"], "CONFIRMED")
    mail.wait_sent(order["id"], "CONFIRMED")
    mail.expect_email(confirmed, "CONFIRMED", shopper.email)


# --------------------------------------------------------------------------- own orders, listing

def test_shoppers_see_only_their_own_orders(api, shop, new_shopper, stocked_book):
    alice, bob = new_shopper(), new_shopper()
    book = stocked_book(5)
    order = shop.place(alice, {book["id"]: 1})
    bobs = shop.place(bob, {book["id"]: 1}, checkout_body(DECLINED_CARD))

    assert_problem(api.get(order_path(order["id"]), token=bob.id_token), 404, "not-found")
    assert_problem(shop.cancel(bob, order["id"]), 404, "not-found")
    assert [o["id"] for o in shop.list_all(bob)] == [bobs["id"]]
    assert [o["id"] for o in shop.list_all(alice)] == [order["id"]]
    # Alice's order was not touched by Bob's cancel.
    assert shop.get(alice, order["id"])["status"] != "CANCELLED"
    shop.wait_status(alice, order["id"], SETTLED)


def test_unknown_order_is_404(api, shop, new_shopper):
    shopper = new_shopper()
    for order_id in (str(uuid.uuid4()), "not-an-order"):
        assert_problem(api.get(order_path(order_id), token=shopper.id_token), 404, "not-found")
        assert_problem(shop.cancel(shopper, order_id), 404, "not-found")


def test_list_is_newest_first_with_cursor_paging(shop, new_shopper, stocked_book):
    shopper = new_shopper()
    book = stocked_book(10)
    placed = []
    for _ in range(5):
        # A declined card settles at once: the listing test waits for nothing.
        placed.append(shop.place(shopper, {book["id"]: 1}, checkout_body(DECLINED_CARD))["id"])
    newest_first = list(reversed(placed))

    empty_or_new = shop.list(shopper)
    assert [o["id"] for o in empty_or_new["items"]] == newest_first
    assert empty_or_new["nextCursor"] is None

    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = shop.list(shopper, **params)
        assert len(page["items"]) <= 2
        seen.extend(o["id"] for o in page["items"])
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
        assert pages < 10
    assert seen == newest_first
    assert pages == 3
    created = [o["createdAt"] for o in shop.list_all(shopper)]
    assert created == sorted(created, reverse=True)


@pytest.mark.parametrize("params,field", [
    ({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"limit": "x"}, "limit"),
    ({"cursor": "garbage"}, "cursor"),
])
def test_list_parameter_errors(api, new_shopper, params, field):
    shopper = new_shopper()
    r = api.get("/v1/orders", token=shopper.id_token, params=params)
    assert_problem(r, 400, "validation-error", field)


def test_a_cursor_belongs_to_its_shopper(api, shop, new_shopper, stocked_book):
    alice, bob = new_shopper(), new_shopper()
    book = stocked_book(5)
    for _ in range(3):
        shop.place(alice, {book["id"]: 1}, checkout_body(DECLINED_CARD))
    cursor = shop.list(alice, limit=1)["nextCursor"]
    assert cursor
    r = api.get("/v1/orders", token=bob.id_token, params={"cursor": cursor})
    if r.status_code == 200:
        assert r.json()["items"] == [], "another shopper's cursor showed their orders"
    else:
        assert_problem(r, 400, "validation-error", "cursor")


# --------------------------------------------------------------------------- cancel

def test_cancel_right_after_checkout(shop, mail, queues, new_shopper, stocked_book):
    shopper = new_shopper()
    book = stocked_book(6)
    order = shop.place(shopper, {book["id"]: 2})
    r = shop.cancel(shopper, order["id"])
    assert r.status_code == 200, r.text
    cancelled = r.json()
    assert cancelled["status"] == "CANCELLED", cancelled
    # Cancelled while PENDING: the hold is voided; if the confirmation won the race: refunded.
    assert cancelled["paymentStatus"] in ("VOIDED", "REFUNDED"), cancelled

    # Whatever the order of events, the stock ends where it began and the order stays cancelled.
    shop.wait_stock(book["id"], 6, "released (or never reserved) after the cancellation")
    mail.wait_sent(order["id"], "CANCELLED")
    queues.wait_drained()
    assert shop.stock(book["id"]) == 6
    final = shop.get(shopper, order["id"])
    assert final["status"] == "CANCELLED", final
    assert final["paymentStatus"] == cancelled["paymentStatus"], final
    mail.expect_email(final, "CANCELLED", shopper.email)
    if cancelled["paymentStatus"] == "VOIDED":
        # Cancelled while pending: no confirmation may go out, ever.
        assert mail.sent_record(order["id"], "CONFIRMED") is None
        mail.expect_email_count(order["id"], 1)
    else:
        mail.expect_email_count(order["id"], 2)
    assert_problem(shop.cancel(shopper, order["id"]), 409, "conflict")


def test_cancel_confirmed_order_refunds(shop, mail, new_shopper, stocked_book):
    shopper = new_shopper()
    book = stocked_book(3)
    order = shop.place(shopper, {book["id"]: 3})
    assert shop.wait_status(shopper, order["id"], SETTLED)["status"] == "CONFIRMED"
    shop.wait_stock(book["id"], 0, "all three reserved")
    r = shop.cancel(shopper, order["id"])
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "CANCELLED" and r.json()["paymentStatus"] == "REFUNDED", r.json()
    shop.wait_stock(book["id"], 3, "released by the cancellation")
    mail.wait_sent(order["id"], "CANCELLED")
    mail.expect_email(r.json(), "CANCELLED", shopper.email)
    mail.expect_email_count(order["id"], 2)


# --------------------------------------------------------------------------- SMS

def test_sms_to_the_accounts_verified_phone(shop, mail, queues, new_shopper, stocked_book):
    phone = unique_phone()
    shopper = new_shopper(phone=phone)
    book = stocked_book(5)
    order = shop.place(shopper, {book["id"]: 1})
    assert "phone" not in order, "the number is the account's, not the order's"
    final = shop.wait_status(shopper, order["id"], SETTLED)
    assert final["status"] == "CONFIRMED", final

    mail.wait_sent(order["id"], "CONFIRMED", "sms")
    mail.wait_sent(order["id"], "CONFIRMED", "email")
    queues.wait_drained()
    mail.expect_sms(phone, order["id"])
    mail.expect_email(final, "CONFIRMED", shopper.email)


def test_no_sms_to_an_unverified_phone(shop, mail, queues, new_shopper, stocked_book, cognito, stack):
    shopper = new_shopper()
    # A number on the account that was never verified gets nothing.
    cognito.admin_update_user_attributes(UserPoolId=stack["userPoolId"], Username=shopper.email,
                                         UserAttributes=[{"Name": "phone_number", "Value": unique_phone()}])
    book = stocked_book(5)
    order = shop.place(shopper, {book["id"]: 1})
    assert "phone" not in order
    shop.wait_status(shopper, order["id"], SETTLED)
    mail.wait_sent(order["id"], "CONFIRMED")
    queues.wait_drained()
    assert mail.sent_record(order["id"], "CONFIRMED", "sms") is None
    mail.expect_no_sms(order["id"])


# --------------------------------------------------------------------------- the OpenAPI document

def test_openapi_describes_orders_and_inventory():
    import yaml

    from support import SPEC_PATH

    spec = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    schemas = spec["components"]["schemas"]
    for name in ("Order", "OrderLine", "ShippingAddress", "CheckoutInput", "OrderPage", "Stock", "StockInput"):
        assert schemas[name]["additionalProperties"] is False, name
    assert set(schemas["Order"]["required"]) >= {"id", "status", "lines", "total", "createdAt", "paymentStatus"}
    assert schemas["Order"]["properties"]["status"]["enum"] == ["PENDING", "CONFIRMED", "REJECTED", "CANCELLED"]

    def resolve(node):
        while "$ref" in node:
            kind, name = node["$ref"].split("/")[-2:]
            node = spec["components"][kind][name]
        return node

    paths = ("/v1/orders", "/v1/orders/{id}", "/v1/orders/{id}/cancel", "/v1/inventory/{bookId}")
    for path in paths:
        for method, op in spec["paths"][path].items():
            if method == "parameters":
                continue
            public = path.startswith("/v1/inventory") and method == "get"
            assert op["security"] == ([] if public else [{"cognitoJwt": []}]), (path, method)
            assert ("401" in op["responses"]) != public, (path, method)
            for status, resp in op["responses"].items():
                resp = resolve(resp)
                assert {"x-request-id", "x-correlation-id"} <= set(resp["headers"]), (path, method, status)
                if status.startswith(("4", "5")):
                    assert list(resp["content"]) == ["application/problem+json"], (path, method, status)
    post = spec["paths"]["/v1/orders"]["post"]
    assert {"201", "400", "401", "409", "422", "503"} <= set(post["responses"])
    unavailable = resolve(post["responses"]["503"])["content"]["application/problem+json"]["schema"]
    assert resolve(unavailable)["allOf"][1]["properties"]["type"]["const"] == "urn:bookish:problem:service-unavailable"
    order_props = schemas["Order"]["properties"]
    assert set(order_props["paymentStatus"]["enum"]) == {"PENDING", "AUTHORIZED", "CAPTURED", "VOIDED", "REFUNDED",
                                                         "DECLINED", "FAILED"}
    assert set(order_props["reason"]["enum"]) == {"OUT_OF_STOCK", "PAYMENT_DECLINED", "PAYMENT_FAILED", "TIMED_OUT"}
    assert order_props["refundedAt"]["format"] == "date-time"
    assert "paymentMethod" in schemas["CheckoutInput"]["properties"]["payment"]["required"]
    keys = [resolve(p) for p in post["parameters"] if resolve(p).get("name") == "Idempotency-Key"]
    assert len(keys) == 1 and keys[0]["in"] == "header" and keys[0]["required"] is True
    assert keys[0]["schema"]["minLength"] == 1 and keys[0]["schema"]["maxLength"] == 255
    assert post["responses"]["201"]["headers"]["Location"]["required"] is True
    unprocessable = resolve(post["responses"]["422"])["content"]["application/problem+json"]["schema"]
    assert resolve(unprocessable)["allOf"][1]["properties"]["type"]["const"] == "urn:bookish:problem:unprocessable-content"
    assert "409" in spec["paths"]["/v1/orders/{id}/cancel"]["post"]["responses"]
    assert "403" in spec["paths"]["/v1/inventory/{bookId}"]["put"]["responses"]
