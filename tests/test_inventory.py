"""Stock: GET /v1/inventory/{bookId} (public) and PUT /v1/inventory/{bookId}
(admin) {available}.

Every test works on books it creates (uuid-based titles, fresh ISBNs), so the
stock it reads is its own.
"""

from __future__ import annotations

import uuid

import pytest

from shop import stock_path
from support import assert_problem, assert_unauthorized, bad_authorizations


def test_get_is_public_and_has_the_documented_shape(api, make_book, shop):
    book = make_book()
    shop.set_stock(book["id"], 7)
    r = api.get(stock_path(book["id"]))  # no token
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].split(";")[0] == "application/json"
    assert r.json() == {"bookId": book["id"], "available": 7}


def test_book_without_stock_has_zero_available(api, make_book):
    book = make_book()  # never stocked
    r = api.get(stock_path(book["id"]))
    assert r.status_code == 200, r.text
    assert r.json() == {"bookId": book["id"], "available": 0}


def test_unknown_book_has_zero_available(api):
    book_id = uuid.uuid4().hex  # the shape of a book id, but no such book
    r = api.get(stock_path(book_id))
    assert r.status_code == 200, r.text
    assert r.json() == {"bookId": book_id, "available": 0}


@pytest.mark.parametrize("available", [0, 1, 12, 1_000_000])
def test_admin_sets_the_stock(api, admin_token, make_book, available):
    book = make_book()
    r = api.put(stock_path(book["id"]), json={"available": 3}, token=admin_token)
    assert r.status_code == 200, r.text
    r = api.put(stock_path(book["id"]), json={"available": available}, token=admin_token)
    assert r.status_code == 200, r.text
    assert r.json() == {"bookId": book["id"], "available": available}
    got = api.get(stock_path(book["id"]))
    assert got.status_code == 200 and got.json() == {"bookId": book["id"], "available": available}, got.text


def test_put_sets_rather_than_adds(api, admin_token, make_book, shop):
    book = make_book()
    shop.set_stock(book["id"], 10)
    shop.set_stock(book["id"], 4)
    assert shop.stock(book["id"]) == 4


def test_admin_access_token_works(api, admin_access_token, make_book, shop):
    book = make_book()
    r = api.put(stock_path(book["id"]), json={"available": 5}, token=admin_access_token)
    assert r.status_code == 200, r.text
    assert shop.stock(book["id"]) == 5


def test_stock_is_per_book(api, make_book, shop):
    a, b = make_book(), make_book()
    shop.set_stock(a["id"], 2)
    shop.set_stock(b["id"], 9)
    assert (shop.stock(a["id"]), shop.stock(b["id"])) == (2, 9)


def test_shopper_cannot_set_stock(api, shopper_token, make_book, shop):
    book = make_book()
    shop.set_stock(book["id"], 3)
    r = api.put(stock_path(book["id"]), json={"available": 999}, token=shopper_token)
    assert_problem(r, 403, "forbidden")
    assert shop.stock(book["id"]) == 3


def test_put_without_token_is_401(api, make_book, shop):
    book = make_book()
    shop.set_stock(book["id"], 3)
    r = api.put(stock_path(book["id"]), json={"available": 999})
    assert_unauthorized(r)
    assert shop.stock(book["id"]) == 3


def test_put_with_bad_tokens_is_401(api, admin_token, stack, moto_key, make_book, shop):
    book = make_book()
    shop.set_stock(book["id"], 3)
    bad = bad_authorizations(admin_token, {"cognito:groups": ["admin"]}, stack, moto_key)
    for name, authorization in bad.items():
        r = api.put(stock_path(book["id"]), json={"available": 999}, auth=authorization)
        assert r.status_code == 401, f"{name}: {r.status_code} {r.text}"
        assert_unauthorized(r)
    assert shop.stock(book["id"]) == 3


INVALID = [
    ("negative", {"available": -1}, "available"),
    ("too-many", {"available": 1_000_001}, "available"),
    ("fraction", {"available": 1.5}, "available"),
    ("string", {"available": "3"}, "available"),
    ("null", {"available": None}, "available"),
    ("boolean", {"available": True}, "available"),
    ("missing", {}, "available"),
    ("unknown-field", {"available": 3, "reserved": 1}, "reserved"),
    ("array", [3], None),
]


@pytest.mark.parametrize("name,body,field", INVALID, ids=[c[0] for c in INVALID])
def test_invalid_bodies_are_400_with_field(api, admin_token, make_book, shop, name, body, field):
    book = make_book()
    shop.set_stock(book["id"], 3)
    r = api.put(stock_path(book["id"]), json=body, token=admin_token)
    problem = assert_problem(r, 400, "validation-error", field)
    assert problem.get("field"), problem
    assert shop.stock(book["id"]) == 3


def test_invalid_json_is_400(api, admin_token, make_book, shop):
    book = make_book()
    shop.set_stock(book["id"], 3)
    r = api.put(stock_path(book["id"]), data=b'{"available": ', token=admin_token,
                headers={"Content-Type": "application/json"})
    # Which field a syntax error is pinned on (the body, or where the parser stopped) is not fixed.
    assert assert_problem(r, 400, "validation-error").get("field")
    assert shop.stock(book["id"]) == 3


def test_non_json_content_type_is_415(api, admin_token, make_book, shop):
    book = make_book()
    shop.set_stock(book["id"], 3)
    r = api.put(stock_path(book["id"]), data=b'{"available": 5}', token=admin_token,
                headers={"Content-Type": "text/plain"})
    assert_problem(r, 415, "unsupported-media-type")
    assert shop.stock(book["id"]) == 3


def test_headers_are_present(api, make_book):
    book = make_book()
    r = api.get(stock_path(book["id"]), headers={"x-correlation-id": "inv-test-123"})
    assert r.status_code == 200, r.text
    assert r.headers.get("x-request-id")
    assert r.headers.get("x-correlation-id") == "inv-test-123"
