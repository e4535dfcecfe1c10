"""A shopper places at most 10 orders a minute (CHECKOUTS_PER_MINUTE in template.yaml):
past it, 429 problem+json with Retry-After, and nothing is ordered or charged."""

from __future__ import annotations

import time

from support import assert_problem

LIMIT = 10


def test_the_eleventh_checkout_in_a_minute_is_429(shop, new_shopper, stocked_book):
    shopper = new_shopper()
    book = stocked_book(LIMIT + 5)
    # The limit counts calendar minutes: start early in one, so all eleven fall in it.
    if time.gmtime().tm_sec > 30:
        time.sleep(61 - time.gmtime().tm_sec)
    first_key = f"limits-{shopper.id_token[-12:]}"
    placed = [shop.place(shopper, {book["id"]: 1}, key=first_key)]
    placed += [shop.place(shopper, {book["id"]: 1}) for _ in range(LIMIT - 1)]
    assert len({order["id"] for order in placed}) == LIMIT

    shop.fill_cart(shopper, {book["id"]: 1})
    r = shop.checkout(shopper)
    assert_problem(r, 429, "too-many-requests")
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert "10 orders a minute" in r.json()["detail"]
    assert len(shop.list_all(shopper)) == LIMIT, "the refused checkout stored nothing"
    assert [i["bookId"] for i in shop.cart(shopper)["items"]] == [book["id"]], "and kept the cart"

    # A retry of a checkout that was placed is a replay, never limited.
    again = shop.checkout(shopper, key=first_key)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true", again.text
    assert again.json()["id"] == placed[0]["id"]
