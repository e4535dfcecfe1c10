"""Admin writes with the admin's ID token: POST, PUT, DELETE, conditional
requests, ISBN uniqueness, and how writes show up in the listings."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlparse

import pytest

from support import assert_problem, book_input, fold, hyphenate, isbn13, same_content, tag


def _ts(s: str) -> datetime:
    assert s.endswith("Z") or s.endswith("+00:00"), f"not UTC: {s}"
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def test_create_then_get(api, admin_token, make_book):
    inp = book_input()
    r = api.post("/v1/books", json=inp, token=admin_token)
    assert r.status_code == 201, r.text
    book = r.json()
    make_book.track(book["id"])
    same_content(book, inp)
    assert book["version"] == 1
    assert _ts(book["createdAt"]) <= _ts(book["updatedAt"])
    assert r.headers["ETag"] == '"1"'
    loc = r.headers["Location"]
    assert urlparse(loc).path == f"/v1/books/{book['id']}"

    g = api.get(f"/v1/books/{book['id']}")
    assert g.status_code == 200
    assert g.json() == book


def test_create_normalises_isbn_and_defaults_description(api, admin_token, make_book):
    isbn = isbn13()
    inp = book_input(isbn=hyphenate(isbn))
    del inp["description"]
    r = api.post("/v1/books", json=inp, token=admin_token)
    assert r.status_code == 201, r.text
    make_book.track(r.json()["id"])
    assert r.json()["isbn"] == isbn
    assert r.json()["description"] == ""


def test_create_isbn_with_spaces(api, admin_token, make_book):
    isbn = isbn13()
    r = api.post("/v1/books", json=book_input(isbn=f"{isbn[:3]} {isbn[3:6]} {isbn[6:]}"), token=admin_token)
    assert r.status_code == 201, r.text
    make_book.track(r.json()["id"])
    assert r.json()["isbn"] == isbn


def test_duplicate_genres_collapse(api, admin_token, make_book):
    t = tag()
    r = api.post(
        "/v1/books",
        json=book_input(genres=[f"Fantasy {t}", f"fantasy {t}", f"FÁNTASY {t}", f"Other {t}"]),
        token=admin_token,
    )
    assert r.status_code == 201, r.text
    make_book.track(r.json()["id"])
    genres = r.json()["genres"]
    assert len(genres) == 2, genres
    assert [fold(g) for g in genres] == [f"fantasy {t}", f"other {t}"]


def test_boundary_values_accepted(api, admin_token, make_book):
    inp = book_input(
        title="T" * 300, author="A" * 199 + tag()[:1], genres=[f"G{i}" + "g" * 48 for i in range(10)],
        description="d" * 10000, publishedYear=1, price={"amount": 100_000_000, "currency": "EUR"},
    )
    r = api.post("/v1/books", json=inp, token=admin_token)
    assert r.status_code == 201, r.text
    make_book.track(r.json()["id"])
    same_content(r.json(), inp)
    inp2 = book_input(price={"amount": 0, "currency": "JPY"}, publishedYear=datetime.now().year)
    r2 = api.post("/v1/books", json=inp2, token=admin_token)
    assert r2.status_code == 201, r2.text
    make_book.track(r2.json()["id"])


def test_put_replaces(api, admin_token, make_book):
    book = make_book()
    new = book_input(description="Replaced.", genres=["A", "B"], publishedYear=1999,
                     price={"amount": 1, "currency": "GBP"})
    r = api.put(f"/v1/books/{book['id']}", json=new, token=admin_token)
    assert r.status_code == 200, r.text
    upd = r.json()
    same_content(upd, new)
    assert upd["id"] == book["id"]
    assert upd["version"] == 2
    assert upd["createdAt"] == book["createdAt"]
    assert _ts(upd["updatedAt"]) >= _ts(book["updatedAt"])
    assert r.headers["ETag"] == '"2"'
    assert api.get(f"/v1/books/{book['id']}").json() == upd

    # Replaces *all* fields: an omitted description becomes "".
    newer = book_input()
    del newer["description"]
    r = api.put(f"/v1/books/{book['id']}", json=newer, token=admin_token)
    assert r.status_code == 200, r.text
    assert r.json()["description"] == ""
    assert r.json()["version"] == 3
    assert r.headers["ETag"] == '"3"'


def test_put_keeping_own_isbn(api, admin_token, make_book):
    book = make_book()
    r = api.put(f"/v1/books/{book['id']}", json=book_input(isbn=book["isbn"]), token=admin_token)
    assert r.status_code == 200, r.text
    assert r.json()["isbn"] == book["isbn"]


def test_put_unknown_id_404(api, admin_token, probe):
    body = book_input()
    r = api.put(f"/v1/books/nope-{tag()}", json=body, token=admin_token)
    assert_problem(r, 404, "not-found")
    probe.nothing_stored(body, isbn=True)


@pytest.mark.parametrize("if_match", ['"1"', "*"])
def test_put_with_matching_if_match(api, admin_token, make_book, if_match):
    book = make_book()
    r = api.put(f"/v1/books/{book['id']}", json=book_input(), token=admin_token, headers={"If-Match": if_match})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2


def test_put_with_stale_if_match_412(api, admin_token, make_book):
    book = make_book()
    assert api.put(f"/v1/books/{book['id']}", json=book_input(), token=admin_token).status_code == 200
    current = api.get(f"/v1/books/{book['id']}").json()
    stale_body = book_input()
    for stale in ('"1"', '"3"', '"garbage"'):
        r = api.put(f"/v1/books/{book['id']}", json=stale_body, token=admin_token, headers={"If-Match": stale})
        assert_problem(r, 412, "precondition-failed")
    assert api.get(f"/v1/books/{book['id']}").json() == current
    # The rejected body's ISBN was not claimed.
    r = api.put(f"/v1/books/{book['id']}", json=stale_body, token=admin_token, headers={"If-Match": '"2"'})
    assert r.status_code == 200 and r.json()["version"] == 3


def test_delete(api, admin_token, make_book):
    book = make_book()
    r = api.delete(f"/v1/books/{book['id']}", token=admin_token)
    assert r.status_code == 204
    assert r.content == b""
    assert_problem(api.get(f"/v1/books/{book['id']}"), 404, "not-found")
    assert_problem(api.delete(f"/v1/books/{book['id']}", token=admin_token), 404, "not-found")
    assert_problem(api.put(f"/v1/books/{book['id']}", json=book_input(), token=admin_token), 404, "not-found")


def test_delete_with_stale_if_match_412(api, admin_token, make_book):
    book = make_book()
    r = api.delete(f"/v1/books/{book['id']}", token=admin_token, headers={"If-Match": '"7"'})
    assert_problem(r, 412, "precondition-failed")
    assert api.get(f"/v1/books/{book['id']}").json() == book
    r = api.delete(f"/v1/books/{book['id']}", token=admin_token, headers={"If-Match": '"1"'})
    assert r.status_code == 204


def test_delete_with_star_if_match(api, admin_token, make_book):
    book = make_book()
    assert api.delete(f"/v1/books/{book['id']}", token=admin_token, headers={"If-Match": "*"}).status_code == 204


def test_deleted_isbn_is_free_again(api, admin_token, make_book):
    book = make_book()
    assert api.delete(f"/v1/books/{book['id']}", token=admin_token).status_code == 204
    again = make_book(isbn=book["isbn"])
    assert again["isbn"] == book["isbn"] and again["id"] != book["id"]


# --------------------------------------------------------------------------- ISBN conflicts

def test_duplicate_isbn_409(api, admin_token, make_book, probe):
    book = make_book()
    for isbn in (book["isbn"], hyphenate(book["isbn"])):
        dup = book_input(isbn=isbn)
        r = api.post("/v1/books", json=dup, token=admin_token)
        assert_problem(r, 409, "conflict")
        probe.author_empty(dup["author"])
        probe.title_absent(dup["title"])
    assert api.get(f"/v1/books/{book['id']}").json() == book


def test_put_taking_another_books_isbn_409(api, admin_token, make_book):
    a, b = make_book(), make_book()
    r = api.put(f"/v1/books/{b['id']}", json=book_input(isbn=a["isbn"]), token=admin_token)
    assert_problem(r, 409, "conflict")
    assert api.get(f"/v1/books/{a['id']}").json() == a
    assert api.get(f"/v1/books/{b['id']}").json() == b


def test_put_changing_isbn_frees_the_old_one(api, admin_token, make_book):
    book = make_book()
    old, new = book["isbn"], isbn13()
    r = api.put(f"/v1/books/{book['id']}", json=book_input(isbn=new), token=admin_token)
    assert r.status_code == 200 and r.json()["isbn"] == new
    # The new ISBN is taken, the old one free.
    assert_problem(api.post("/v1/books", json=book_input(isbn=new), token=admin_token), 409, "conflict")
    make_book(isbn=old)


# --------------------------------------------------------------------------- listings follow writes

def _ids(api, **params) -> list[str]:
    return [b["id"] for b in api.list_all(params)[0]]


def test_listings_follow_create_update_delete(api, admin_token, make_book):
    t = tag()
    a1, a2 = f"Mover Author {t}", f"Moved Author {t}"
    g1, g2 = f"Mover Genre {t}", f"Moved Genre {t}"
    q1, q2 = f"Moverbook {t}", f"Movedbook {t}"

    assert _ids(api, author=a1) == [] and _ids(api, genre=g1) == [] and _ids(api, q=q1) == []
    book = make_book(author=a1, genres=[g1], title=q1)
    bid = book["id"]
    assert _ids(api, author=a1) == [bid]
    assert _ids(api, genre=g1) == [bid]
    assert _ids(api, q=q1) == [bid]
    assert _ids(api, q=q1, author=a1) == [bid]
    assert _ids(api, q=q1, genre=g1) == [bid]
    assert bid in _ids(api)

    # Title change only.
    body = book_input(isbn=book["isbn"], author=a1, genres=[g1], title=q2)
    assert api.put(f"/v1/books/{bid}", json=body, token=admin_token).status_code == 200
    assert _ids(api, q=q1) == [] and _ids(api, q=q2) == [bid]
    assert _ids(api, q=q2, author=a1) == [bid] and _ids(api, q=q1, author=a1) == []
    assert _ids(api, q=q2, genre=g1) == [bid] and _ids(api, q=q1, genre=g1) == []

    # Author change only.
    body = dict(body, author=a2)
    assert api.put(f"/v1/books/{bid}", json=body, token=admin_token).status_code == 200
    assert _ids(api, author=a1) == [] and _ids(api, author=a2) == [bid]
    assert _ids(api, q=q2, author=a2) == [bid] and _ids(api, q=q2, author=a1) == []

    # Genre change only (and a second genre).
    body = dict(body, genres=[g2, f"Extra {t}"])
    assert api.put(f"/v1/books/{bid}", json=body, token=admin_token).status_code == 200
    assert _ids(api, genre=g1) == [] and _ids(api, genre=g2) == [bid]
    assert _ids(api, genre=f"extra {t}") == [bid]
    assert _ids(api, q=q2, genre=g2) == [bid] and _ids(api, q=q2, genre=g1) == []

    # Delete: gone everywhere.
    assert api.delete(f"/v1/books/{bid}", token=admin_token).status_code == 204
    for params in ({"author": a2}, {"genre": g2}, {"genre": f"Extra {t}"}, {"q": q2},
                   {"q": q2, "author": a2}, {"q": q2, "genre": g2}):
        assert _ids(api, **params) == [], params
    assert bid not in _ids(api)


def test_genre_removed_from_list_when_dropped(api, admin_token, make_book):
    t = tag()
    keep, drop = f"Keep {t}", f"Drop {t}"
    book = make_book(genres=[keep, drop])
    body = book_input(isbn=book["isbn"], title=book["title"], author=book["author"], genres=[keep])
    assert api.put(f"/v1/books/{book['id']}", json=body, token=admin_token).status_code == 200
    assert _ids(api, genre=drop) == []
    assert _ids(api, genre=keep) == [book["id"]]
