"""GET /v1/books/{id}: 200/404, ETag, Cache-Control, If-None-Match."""

from __future__ import annotations

import uuid

import pytest

from support import assert_problem


def test_get_existing_book(api, make_book):
    book = make_book()
    r = api.get(f"/v1/books/{book['id']}")
    assert r.status_code == 200
    assert r.json() == book
    assert r.headers["ETag"] == '"1"'
    cc = r.headers["Cache-Control"].replace(" ", "").lower().split(",")
    assert "public" in cc and "max-age=60" in cc


def test_get_seed_book(api, seed):
    items, _ = api.list_all({"q": "1984"})
    [book] = items
    r = api.get(f"/v1/books/{book['id']}")
    assert r.status_code == 200
    assert r.json()["isbn"] == "9780451524935"
    assert r.json()["author"] == "George Orwell"
    assert r.json()["publishedYear"] == 1949
    assert r.headers["ETag"] == f'"{book["version"]}"'


@pytest.mark.parametrize("book_id", [
    str(uuid.uuid4()),
    "does-not-exist",
    "0",
    "x" * 200,
])
def test_get_unknown_book_404(api, book_id):
    r = api.get(f"/v1/books/{book_id}")
    assert_problem(r, 404, "not-found")


def test_if_none_match_304(api, make_book):
    book = make_book()
    r = api.get(f"/v1/books/{book['id']}", headers={"If-None-Match": '"1"'})
    assert r.status_code == 304
    assert r.content == b""


def test_if_none_match_stale_gives_200(api, make_book):
    book = make_book()
    for etag in ('"2"', '"0"', '"nope"'):
        r = api.get(f"/v1/books/{book['id']}", headers={"If-None-Match": etag})
        assert r.status_code == 200
        assert r.json()["id"] == book["id"]


def test_if_none_match_after_update(api, make_book, admin_token):
    from support import book_input

    book = make_book()
    new = book_input()
    assert api.put(f"/v1/books/{book['id']}", json=new, token=admin_token).status_code == 200
    r = api.get(f"/v1/books/{book['id']}", headers={"If-None-Match": '"1"'})
    assert r.status_code == 200
    assert r.headers["ETag"] == '"2"'
    r = api.get(f"/v1/books/{book['id']}", headers={"If-None-Match": '"2"'})
    assert r.status_code == 304 and r.content == b""
