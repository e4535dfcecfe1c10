"""GET /v1/books?ids=a,b,c: up to 100 books by id, in the order given,
unknown ids left out, nextCursor null; not combinable with other parameters.
(Other services, e.g. the cart, price their lines with it.)"""

from __future__ import annotations

import pytest

from support import assert_problem, tag


@pytest.fixture(scope="module")
def trio(module_books) -> list[dict]:
    return [module_books(price={"amount": amount, "currency": "USD"}) for amount in (100, 200, 300)]


def lookup(api, ids: list[str], **extra):
    return api.get("/v1/books", params={"ids": ",".join(ids), **extra})


def test_lookup_in_the_order_given(api, trio):
    a, b, c = trio
    r = lookup(api, [c["id"], a["id"], b["id"]])
    assert r.status_code == 200, r.text
    body = r.json()
    assert [book["id"] for book in body["items"]] == [c["id"], a["id"], b["id"]]
    assert body["nextCursor"] is None
    for book in body["items"]:
        assert book == api.get(f"/v1/books/{book['id']}").json()


def test_lookup_leaves_out_unknown_and_deleted(api, admin_token, trio, make_book):
    a, b, _ = trio
    gone = make_book()
    assert api.delete(f"/v1/books/{gone['id']}", token=admin_token).status_code == 204
    r = lookup(api, [f"nope-{tag()}", a["id"], gone["id"], b["id"]])
    assert r.status_code == 200, r.text
    assert [book["id"] for book in r.json()["items"]] == [a["id"], b["id"]]
    r = lookup(api, [f"nope-{tag()}"])
    assert r.status_code == 200 and r.json() == {"items": [], "nextCursor": None}


def test_lookup_a_repeated_id_once(api, trio):
    a = trio[0]
    r = lookup(api, [a["id"], a["id"]])
    assert r.status_code == 200, r.text
    assert [book["id"] for book in r.json()["items"]] == [a["id"]]


def test_lookup_up_to_100_ids(api, trio):
    ids = [b["id"] for b in trio] + [f"nope-{tag()}" for _ in range(97)]
    r = lookup(api, ids)
    assert r.status_code == 200, r.text
    assert [book["id"] for book in r.json()["items"]] == [b["id"] for b in trio]
    assert_problem(lookup(api, ids + [f"nope-{tag()}"]), 400, "validation-error", field="ids")


@pytest.mark.parametrize("extra", [{"limit": 10}, {"author": "George Orwell"}, {"genre": "Classics"},
                                   {"q": "the"}, {"cursor": "abc"}])
def test_lookup_with_other_parameters_400(api, trio, extra):
    assert_problem(lookup(api, [trio[0]["id"]], **extra), 400, "validation-error", field="ids")


@pytest.mark.parametrize("raw", ["", ",", "a,,b", ",a"])
def test_lookup_empty_entries_400(api, raw):
    r = api.get("/v1/books", params={"ids": raw})
    assert_problem(r, 400, "validation-error", field="ids")
