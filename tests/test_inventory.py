"""Stock: GET /v1/inventory/{bookId} (public) and PUT /v1/inventory/{bookId}
(admin): `{"available": n}` on the ETag a GET gave (If-Match), or `{"adjust": d}`.

Every test works on books it creates (uuid-based titles, fresh ISBNs), so the
stock it reads is its own. Stock is set here through this module's own helpers
(If-Match from a GET), not shop.set_stock.
"""

from __future__ import annotations

import threading
import uuid

import pytest

from shop import SETTLED, in_parallel, stock_path
from support import assert_problem, assert_unauthorized, bad_authorizations


# --------------------------------------------------------------------------- helpers

def read(api, book_id: str) -> tuple[dict, str]:
    """GET the stock: (body, ETag)."""
    r = api.get(stock_path(book_id))
    assert r.status_code == 200, f"GET stock {book_id}: {r.status_code} {r.text}"
    body = r.json()
    assert r.headers["ETag"] == f'"{body["version"]}"', (r.headers.get("ETag"), body)
    return body, r.headers["ETag"]


def put(api, token: str | None, book_id: str, body, if_match: str | None = None, **kw):
    headers = {"If-Match": if_match} if if_match is not None else {}
    return api.put(stock_path(book_id), json=body, token=token, headers=headers, **kw)


def set_stock(api, token: str, book_id: str, available: int) -> dict:
    """Sets the count on the ETag a GET just gave; returns the 200 body."""
    _, etag = read(api, book_id)
    r = put(api, token, book_id, {"available": available}, etag)
    assert r.status_code == 200, f"PUT stock {book_id}={available}: {r.status_code} {r.text}"
    assert r.json()["available"] == available, r.text
    assert r.headers["ETag"] == f'"{r.json()["version"]}"', r.headers
    return r.json()


def adjust(api, token: str, book_id: str, by: int):
    return put(api, token, book_id, {"adjust": by})


@pytest.fixture
def stocked(api, admin_token, make_book):
    """stocked(available) -> (book, stock body): a new book whose stock is created with If-Match: *."""

    def make(available: int) -> tuple[dict, dict]:
        book = make_book()
        r = put(api, admin_token, book["id"], {"available": available}, "*")
        assert r.status_code == 200, r.text
        assert r.json() == {"bookId": book["id"], "available": available, "version": 1}, r.text
        return book, r.json()

    return make


# --------------------------------------------------------------------------- reading

def test_get_is_public_and_has_the_documented_shape(api, stocked):
    book, _ = stocked(7)
    r = api.get(stock_path(book["id"]))  # no token
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].split(";")[0] == "application/json"
    assert r.json() == {"bookId": book["id"], "available": 7, "version": 1}
    assert r.headers["ETag"] == '"1"'


def test_book_without_stock_has_zero_available_at_version_0(api, make_book):
    book = make_book()  # never stocked
    r = api.get(stock_path(book["id"]))
    assert r.status_code == 200, r.text
    assert r.json() == {"bookId": book["id"], "available": 0, "version": 0}
    assert r.headers["ETag"] == '"0"'


def test_unknown_book_has_zero_available(api):
    book_id = uuid.uuid4().hex  # the shape of a book id, but no such book
    r = api.get(stock_path(book_id))
    assert r.status_code == 200, r.text
    assert r.json() == {"bookId": book_id, "available": 0, "version": 0}


# --------------------------------------------------------------------------- setting

@pytest.mark.parametrize("available", [0, 1, 12, 1_000_000])
def test_admin_sets_the_stock_on_its_etag(api, admin_token, make_book, available):
    book = make_book()
    first = set_stock(api, admin_token, book["id"], 3)  # on ETag "0": never stocked
    assert first == {"bookId": book["id"], "available": 3, "version": 1}
    r = put(api, admin_token, book["id"], {"available": available}, '"1"')
    assert r.status_code == 200, r.text
    assert r.json() == {"bookId": book["id"], "available": available, "version": 2}
    assert r.headers["ETag"] == '"2"'
    assert read(api, book["id"]) == ({"bookId": book["id"], "available": available, "version": 2}, '"2"')


def test_put_sets_rather_than_adds(api, admin_token, make_book, shop):
    book = make_book()
    set_stock(api, admin_token, book["id"], 10)
    set_stock(api, admin_token, book["id"], 4)
    assert shop.stock(book["id"]) == 4


def test_admin_access_token_works(api, admin_access_token, make_book, shop):
    book = make_book()
    r = put(api, admin_access_token, book["id"], {"available": 5}, "*")
    assert r.status_code == 200, r.text
    assert adjust(api, admin_access_token, book["id"], 2).status_code == 200
    assert shop.stock(book["id"]) == 7


def test_stock_is_per_book(api, stocked, shop):
    (a, _), (b, _) = stocked(2), stocked(9)
    assert (shop.stock(a["id"]), shop.stock(b["id"])) == (2, 9)


def test_a_stale_if_match_is_412_and_changes_nothing(api, admin_token, stocked):
    book, _ = stocked(10)
    _, etag = read(api, book["id"])  # an admin reads 10 ...
    assert adjust(api, admin_token, book["id"], -2).status_code == 200  # ... something takes 2 ...
    r = put(api, admin_token, book["id"], {"available": 15}, etag)  # ... and they set 15 on what they read
    problem = assert_problem(r, 412, "precondition-failed")
    assert "GET" in problem["detail"] and '"2"' in problem["detail"], problem
    assert "ETag" not in r.headers
    assert read(api, book["id"])[0] == {"bookId": book["id"], "available": 8, "version": 2}
    # Read again, decide again.
    _, etag = read(api, book["id"])
    r = put(api, admin_token, book["id"], {"available": 13}, etag)
    assert r.status_code == 200 and r.json()["version"] == 3, r.text


def test_if_match_star_only_creates_stock(api, admin_token, stocked, make_book):
    book, _ = stocked(4)
    assert_problem(put(api, admin_token, book["id"], {"available": 9}, "*"), 412, "precondition-failed")
    assert read(api, book["id"])[0]["available"] == 4
    fresh = make_book()
    r = put(api, admin_token, fresh["id"], {"available": 9}, "*")
    assert r.status_code == 200 and r.json() == {"bookId": fresh["id"], "available": 9, "version": 1}, r.text


def test_a_set_without_if_match_is_428_and_changes_nothing(api, admin_token, stocked, make_book):
    book, _ = stocked(5)
    never = make_book()
    for book_id in (book["id"], never["id"]):
        problem = assert_problem(put(api, admin_token, book_id, {"available": 9}), 428, "precondition-required")
        assert "If-Match" in problem["detail"] and "field" not in problem, problem
    assert read(api, book["id"])[0] == {"bookId": book["id"], "available": 5, "version": 1}
    assert read(api, never["id"])[0] == {"bookId": never["id"], "available": 0, "version": 0}


@pytest.mark.parametrize("if_match", ['1', 'W/"1"', '"1", "2"', '"one"', '"01"', '"-1"', '"1'])
def test_a_malformed_if_match_is_400(api, admin_token, stocked, if_match):
    book, _ = stocked(5)
    for body in ({"available": 9}, {"adjust": 1}):
        assert_problem(put(api, admin_token, book["id"], body, if_match), 400, "validation-error", "If-Match")
    assert read(api, book["id"])[0] == {"bookId": book["id"], "available": 5, "version": 1}


# --------------------------------------------------------------------------- adjusting

def test_admin_adjusts_whatever_the_count_is(api, admin_token, make_book):
    book = make_book()
    r = adjust(api, admin_token, book["id"], 5)  # from no stock at all
    assert r.status_code == 200, r.text
    assert r.json() == {"bookId": book["id"], "available": 5, "version": 1}
    assert r.headers["ETag"] == '"1"'
    r = adjust(api, admin_token, book["id"], -5)
    assert r.json() == {"bookId": book["id"], "available": 0, "version": 2}, r.text
    r = adjust(api, admin_token, book["id"], 1_000_000)
    assert r.json() == {"bookId": book["id"], "available": 1_000_000, "version": 3}, r.text
    assert read(api, book["id"]) == (r.json(), '"3"')


def test_an_adjustment_out_of_range_is_409_naming_the_stock(api, admin_token, stocked, make_book):
    book, _ = stocked(3)
    for by in (-4, -1_000_000):
        problem = assert_problem(adjust(api, admin_token, book["id"], by), 409, "conflict")
        assert "3 copies" in problem["detail"] and "field" not in problem, problem
    assert adjust(api, admin_token, book["id"], 999_997).status_code == 200
    problem = assert_problem(adjust(api, admin_token, book["id"], 1), 409, "conflict")
    assert "1000000 copies" in problem["detail"], problem
    assert read(api, book["id"])[0] == {"bookId": book["id"], "available": 1_000_000, "version": 2}
    never = make_book()
    assert_problem(adjust(api, admin_token, never["id"], -1), 409, "conflict")
    assert read(api, never["id"])[0] == {"bookId": never["id"], "available": 0, "version": 0}


def test_an_adjustment_honours_if_match_when_sent(api, admin_token, stocked):
    book, _ = stocked(3)
    r = put(api, admin_token, book["id"], {"adjust": 2}, '"1"')
    assert r.status_code == 200 and r.json()["available"] == 5, r.text
    assert_problem(put(api, admin_token, book["id"], {"adjust": 2}, '"1"'), 412, "precondition-failed")
    assert read(api, book["id"])[0] == {"bookId": book["id"], "available": 5, "version": 2}


# --------------------------------------------------------------------------- who may

@pytest.mark.parametrize("body", [{"available": 999}, {"adjust": 999}])
def test_shopper_cannot_change_stock(api, shopper_token, stocked, shop, body):
    book, _ = stocked(3)
    assert_problem(put(api, shopper_token, book["id"], body, '"1"'), 403, "forbidden")
    assert shop.stock(book["id"]) == 3


@pytest.mark.parametrize("body", [{"available": 999}, {"adjust": 999}])
def test_put_without_token_is_401(api, stocked, shop, body):
    book, _ = stocked(3)
    assert_unauthorized(put(api, None, book["id"], body, '"1"'))
    assert shop.stock(book["id"]) == 3


def test_put_with_bad_tokens_is_401(api, admin_token, stack, moto_key, stocked, shop):
    book, _ = stocked(3)
    bad = bad_authorizations(admin_token, {"cognito:groups": ["admin"]}, stack, moto_key)
    for name, authorization in bad.items():
        r = api.put(stock_path(book["id"]), json={"available": 999}, auth=authorization, headers={"If-Match": '"1"'})
        assert r.status_code == 401, f"{name}: {r.status_code} {r.text}"
        assert_unauthorized(r)
    assert read(api, book["id"])[0] == {"bookId": book["id"], "available": 3, "version": 1}


# --------------------------------------------------------------------------- bodies

INVALID = [
    ("negative", {"available": -1}, "available"),
    ("too-many", {"available": 1_000_001}, "available"),
    ("fraction", {"available": 1.5}, "available"),
    ("string", {"available": "3"}, "available"),
    ("null", {"available": None}, "available"),
    ("boolean", {"available": True}, "available"),
    ("missing", {}, "available"),
    ("unknown-field", {"available": 3, "reserved": 1}, "reserved"),
    ("adjust-zero", {"adjust": 0}, "adjust"),
    ("adjust-too-many", {"adjust": 1_000_001}, "adjust"),
    ("adjust-too-few", {"adjust": -1_000_001}, "adjust"),
    ("adjust-fraction", {"adjust": 0.5}, "adjust"),
    ("adjust-string", {"adjust": "2"}, "adjust"),
    ("adjust-null", {"adjust": None}, "adjust"),
    ("adjust-unknown-field", {"adjust": 2, "version": 1}, "version"),
    ("both", {"available": 3, "adjust": 1}, "body"),
    ("array", [3], None),
]


@pytest.mark.parametrize("name,body,field", INVALID, ids=[c[0] for c in INVALID])
def test_invalid_bodies_are_400_with_field(api, admin_token, stocked, shop, name, body, field):
    book, _ = stocked(3)
    for if_match in ('"1"', None):  # the body is judged before If-Match is missed
        problem = assert_problem(put(api, admin_token, book["id"], body, if_match), 400, "validation-error", field)
        assert problem.get("field"), problem
    assert shop.stock(book["id"]) == 3


def test_invalid_json_is_400(api, admin_token, stocked, shop):
    book, _ = stocked(3)
    r = api.put(stock_path(book["id"]), data=b'{"available": ', token=admin_token,
                headers={"Content-Type": "application/json", "If-Match": '"1"'})
    # Which field a syntax error is pinned on (the body, or where the parser stopped) is not fixed.
    assert assert_problem(r, 400, "validation-error").get("field")
    assert shop.stock(book["id"]) == 3


def test_non_json_content_type_is_415(api, admin_token, stocked, shop):
    book, _ = stocked(3)
    r = api.put(stock_path(book["id"]), data=b'{"available": 5}', token=admin_token,
                headers={"Content-Type": "text/plain", "If-Match": '"1"'})
    assert_problem(r, 415, "unsupported-media-type")
    assert shop.stock(book["id"]) == 3


def test_headers_are_present(api, make_book):
    book = make_book()
    r = api.get(stock_path(book["id"]), headers={"x-correlation-id": "inv-test-123"})
    assert r.status_code == 200, r.text
    assert r.headers.get("x-request-id")
    assert r.headers.get("x-correlation-id") == "inv-test-123"


# --------------------------------------------------------------------------- racing

def test_orders_adjustments_and_sets_racing_make_and_lose_no_copy(api, admin_token, stocked, shop, queues,
                                                                   new_shopper):
    """Shoppers check out one book while admins adjust its stock and others count it
    and set what they counted plus what they found (on the ETag they read, reading
    again after each 412). When everything has settled, the stock is exactly the
    initial count, plus every adjustment that was made and every set's change over
    what it read, less the copies of the CONFIRMED orders: none made, none lost."""
    initial = 6
    book, _ = stocked(initial)
    quantities = [1, 2, 1, 2, 1, 2, 1, 2]  # 12 copies asked of 6 (+ whatever the admins add)
    shoppers = in_parallel(lambda _: new_shopper(), quantities, workers=8)
    in_parallel(lambda sq: shop.fill_cart(sq[0], {book["id"]: sq[1]}, api=api.fresh()),
                list(zip(shoppers, quantities)), workers=8)
    adjusters = [[3, -2], [4, -1], [-3, 2]]
    setters = [2, -1]  # copies each counting admin finds over what it read
    barrier = threading.Barrier(len(shoppers) + len(adjusters) + len(setters))

    def checkout(shopper):
        client = api.fresh()
        barrier.wait()
        r = shop.checkout(shopper, api=client)
        assert r.status_code == 201, r.text
        return r.json()

    def adjust_all(deltas):
        client, applied = api.fresh(), []
        barrier.wait()
        for by in deltas:
            r = adjust(client, admin_token, book["id"], by)
            assert r.status_code in (200, 409), r.text  # 409: it would have gone below 0
            applied.append(by if r.status_code == 200 else 0)
        return applied

    def count_and_set(found):
        client = api.fresh()
        barrier.wait()
        for _ in range(50):
            seen, etag = read(client, book["id"])
            intended = max(seen["available"] + found, 0)
            r = put(client, admin_token, book["id"], {"available": intended}, etag)
            if r.status_code == 200:
                assert r.json()["available"] == intended, r.text
                return intended - seen["available"]
            if r.status_code != 409:  # 409: "changing right now, try again"
                assert_problem(r, 412, "precondition-failed")
        raise AssertionError("the stock kept changing under 50 reads")

    jobs = ([(checkout, s) for s in shoppers] + [(adjust_all, d) for d in adjusters]
            + [(count_and_set, f) for f in setters])
    results = in_parallel(lambda job: job[0](job[1]), jobs)
    orders = results[:len(shoppers)]
    adjusted = [by for applied in results[len(shoppers):len(shoppers) + len(adjusters)] for by in applied]
    set_changes = results[len(shoppers) + len(adjusters):]

    finals = in_parallel(lambda so: shop.wait_status(so[0], so[1]["id"], SETTLED, api=api.fresh()),
                         list(zip(shoppers, orders)), workers=8)
    queues.wait_drained()
    confirmed = sum(q for q, order in zip(quantities, finals) if order["status"] == "CONFIRMED")
    expected = initial + sum(adjusted) + sum(set_changes) - confirmed
    stock, _ = read(api, book["id"])
    assert stock["available"] == expected, {
        "initial": initial, "adjusted": adjusted, "setChanges": set_changes,
        "orders": [(q, o["status"], o.get("reason")) for q, o in zip(quantities, finals)], "stock": stock}
    assert {o["status"] for o in finals} <= {"CONFIRMED", "REJECTED"}
