"""Body validation of POST and PUT: every rejected write answers a problem
document (with the offending `field` where there is one) and stores nothing."""

from __future__ import annotations

import json

import pytest

from support import assert_problem, bad_checksum, book_input, isbn13_check_digit, tag


def _set(path: str, value):
    def apply(body: dict) -> dict:
        target = body
        keys = path.split(".")
        for k in keys[:-1]:
            target = target[k]
        target[keys[-1]] = value
        return body
    return apply


def _del(path: str):
    def apply(body: dict) -> dict:
        target = body
        keys = path.split(".")
        for k in keys[:-1]:
            target = target[k]
        del target[keys[-1]]
        return body
    return apply


def _isbn_prefix_977(body):
    first12 = "977" + body["isbn"][3:12]
    body["isbn"] = first12 + isbn13_check_digit(first12)
    return body


def _genres_with_blank_third(body):
    body["genres"] = ["One", "Two", "   "]
    return body


# (id, mutation, expected field)
CASES = [
    ("unknown-field", _set("foo", 1), "foo"),
    ("unknown-nested-field", _set("price.foo", 1), "price.foo"),
    ("server-field-id", _set("id", "abc"), "id"),
    ("server-field-version", _set("version", 5), "version"),
    ("amount-string", _set("price.amount", "9.99"), "price.amount"),
    ("amount-float", _set("price.amount", 9.99), "price.amount"),
    ("amount-fraction", _set("price.amount", 999.5), "price.amount"),
    ("amount-negative", _set("price.amount", -1), "price.amount"),
    ("amount-too-big", _set("price.amount", 100_000_001), "price.amount"),
    ("amount-missing", _del("price.amount"), "price.amount"),
    ("currency-lowercase", _set("price.currency", "usd"), "price.currency"),
    ("currency-short", _set("price.currency", "US"), "price.currency"),
    ("currency-long", _set("price.currency", "USDX"), "price.currency"),
    ("currency-number", _set("price.currency", 840), "price.currency"),
    ("price-missing", _del("price"), "price"),
    ("price-null", _set("price", None), "price"),
    ("price-number", _set("price", 999), "price"),
    ("year-string", _set("publishedYear", "1949"), "publishedYear"),
    ("year-float", _set("publishedYear", 1949.5), "publishedYear"),
    ("year-zero", _set("publishedYear", 0), "publishedYear"),
    ("year-2101", _set("publishedYear", 2101), "publishedYear"),
    ("year-missing", _del("publishedYear"), "publishedYear"),
    ("title-empty", _set("title", ""), "title"),
    ("title-blank", _set("title", "   \t "), "title"),
    ("title-too-long", _set("title", "x" * 301), "title"),
    # 300 characters, but each folds (NFD) into three 3-byte jamo: a 2700-byte search key,
    # more than a DynamoDB sort key holds.
    ("title-key-too-long", _set("title", "각" * 300), "title"),
    ("title-null", _set("title", None), "title"),
    ("title-number", _set("title", 1984), "title"),
    ("title-missing", _del("title"), "title"),
    ("author-empty", _set("author", ""), "author"),
    ("author-blank", _set("author", "  "), "author"),
    ("author-too-long", _set("author", "y" * 201), "author"),
    ("author-missing", _del("author"), "author"),
    ("isbn-bad-checksum", lambda b: _set("isbn", bad_checksum(b["isbn"]))(b), "isbn"),
    ("isbn-prefix-977", _isbn_prefix_977, "isbn"),
    ("isbn-12-digits", lambda b: _set("isbn", b["isbn"][:12])(b), "isbn"),
    ("isbn-letters", _set("isbn", "978045152493X"), "isbn"),
    ("isbn-number", _set("isbn", 9780451524935), "isbn"),
    ("isbn-10", _set("isbn", "0451524934"), "isbn"),
    ("isbn-missing", _del("isbn"), "isbn"),
    ("genres-too-many", _set("genres", [f"G{i}" for i in range(11)]), "genres"),
    ("genres-empty", _set("genres", []), "genres"),
    ("genres-string", _set("genres", "Fantasy"), "genres"),
    ("genres-missing", _del("genres"), "genres"),
    ("genre-blank-index-2", _genres_with_blank_third, "genres.2"),
    ("genre-number-index-1", _set("genres", ["Fantasy", 5]), "genres.1"),
    ("genre-too-long-index-0", _set("genres", ["g" * 51]), "genres.0"),
    ("description-too-long", _set("description", "d" * 10001), "description"),
    ("description-number", _set("description", 5), "description"),
]


# Cases whose ISBN is valid and also probed (create + delete) after the rejection.
ISBN_PROBED = {"unknown-field", "amount-string", "year-string", "title-blank", "genres-too-many",
               "genre-blank-index-2", "description-too-long", "currency-lowercase"}


@pytest.fixture(scope="module")
def target(module_books) -> dict:
    """A book that rejected PUTs must leave untouched."""
    return module_books()


@pytest.mark.parametrize("name,mutate,field", CASES, ids=[c[0] for c in CASES])
def test_post_invalid_body(api, admin_token, probe, name, mutate, field):
    body = mutate(book_input())
    r = api.post("/v1/books", json=body, token=admin_token)
    assert_problem(r, 400, "validation-error", field=field)
    probe.nothing_stored(body, isbn=name in ISBN_PROBED)


@pytest.mark.parametrize("name,mutate,field", CASES[::3], ids=[c[0] for c in CASES[::3]])
def test_put_invalid_body(api, admin_token, target, probe, name, mutate, field):
    body = mutate(book_input())
    r = api.put(f"/v1/books/{target['id']}", json=body, token=admin_token)
    assert_problem(r, 400, "validation-error", field=field)
    assert api.get(f"/v1/books/{target['id']}").json() == target
    probe.nothing_stored(body)


@pytest.mark.parametrize("raw", [
    b"[]",
    b"null",
    b"42",
    b'"a string"',
])
def test_post_body_not_an_object(api, admin_token, raw):
    r = api.post("/v1/books", data=raw, token=admin_token, headers={"Content-Type": "application/json"})
    assert_problem(r, 400, "validation-error")


def _raw(body: dict) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize("kind", ["truncated", "trailing-comma", "single-quotes", "empty", "trailing-garbage"])
def test_post_invalid_json(api, admin_token, probe, kind):
    body = book_input()
    good = _raw(body)
    raw = {
        "truncated": good[:-5],
        "trailing-comma": good[:-1] + b",}",
        "single-quotes": good.replace(b'"', b"'"),
        "empty": b"",
        "trailing-garbage": good + b"{}",
    }[kind]
    r = api.post("/v1/books", data=raw, token=admin_token, headers={"Content-Type": "application/json"})
    assert_problem(r, 400, "validation-error")
    probe.nothing_stored(body, isbn=kind == "trailing-garbage")


def test_post_duplicate_key(api, admin_token, probe):
    body = book_input()
    raw = _raw(body)[:-1] + b', "title": "Second title"}'
    r = api.post("/v1/books", data=raw, token=admin_token, headers={"Content-Type": "application/json"})
    assert_problem(r, 400, "validation-error")
    probe.nothing_stored(body)


# Invalid UTF-8 through the invoke API, as API Gateway delivers it (base64 body), and
# (below) over plain HTTP through the local API, which does the same.

@pytest.mark.parametrize("where", ["title", "author"])
def test_post_invalid_utf8(invoke, admin_token, probe, where):
    body = book_input()
    marker = f"BADUTF8{tag()}"
    body[where] = marker
    raw = _raw(body).replace(marker.encode(), marker.encode() + b"\xff\xfe\xc3")
    r = invoke("POST", "/v1/books", raw, {"Content-Type": "application/json",
                                          "Authorization": f"Bearer {admin_token}"})
    assert_problem(r, 400, "validation-error")
    probe.isbn_free(body["isbn"])
    if where == "title":
        probe.title_absent(marker)  # a prefix: would also find a lossily decoded title
        probe.author_empty(body["author"])
    else:
        probe.title_absent(body["title"])


def test_put_invalid_utf8(invoke, api, admin_token, target):
    book = target
    raw = _raw(book_input()).replace(b"Testbook", b"Test\xffbook")
    r = invoke("PUT", f"/v1/books/{book['id']}", raw, {"Content-Type": "application/json",
                                                      "Authorization": f"Bearer {admin_token}"})
    assert_problem(r, 400, "validation-error")
    assert api.get(f"/v1/books/{book['id']}").json() == book


def test_invoke_path_control(invoke, admin_token, make_book):
    """The same invoke path with a valid body creates the book, so the 400s
    above come from the UTF-8 check and not from the event shape."""
    r = invoke("POST", "/v1/books", _raw(book_input()), {"Content-Type": "application/json",
                                                          "Authorization": f"Bearer {admin_token}"})
    assert r.status_code == 201, r.text
    make_book.track(r.json()["id"])


def test_put_invalid_json(api, admin_token, target):
    book = target
    for data in (b"{", b"", b"[]"):
        r = api.put(f"/v1/books/{book['id']}", data=data, token=admin_token, headers={"Content-Type": "application/json"})
        assert_problem(r, 400, "validation-error")
    assert api.get(f"/v1/books/{book['id']}").json() == book


# --------------------------------------------------------------------------- size

LIMIT = 64 * 1024


def _padded(body: dict, size: int) -> bytes:
    raw = _raw(body)
    assert len(raw) < size
    return raw[:-1] + b" " * (size - len(raw)) + b"}"


def test_body_over_64kib_413(api, admin_token, probe):
    body = book_input()
    raw = _padded(body, LIMIT + 1)
    assert len(raw) == LIMIT + 1
    r = api.post("/v1/books", data=raw, token=admin_token, headers={"Content-Type": "application/json"})
    assert_problem(r, 413, "payload-too-large")
    probe.nothing_stored(body, isbn=True)


def test_big_description_413(api, admin_token, probe):
    body = book_input(description="z" * (LIMIT + 100))
    r = api.post("/v1/books", json=body, token=admin_token)
    assert_problem(r, 413, "payload-too-large")
    probe.nothing_stored({"author": body["author"], "title": body["title"]})


def test_body_of_exactly_64kib_accepted(api, admin_token, make_book):
    body = book_input()
    raw = _padded(body, LIMIT)
    assert len(raw) == LIMIT
    r = api.post("/v1/books", data=raw, token=admin_token, headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    make_book.track(r.json()["id"])


def test_put_over_64kib_413(api, admin_token, target):
    book = target
    raw = _padded(book_input(), LIMIT + 1)
    r = api.put(f"/v1/books/{book['id']}", data=raw, token=admin_token, headers={"Content-Type": "application/json"})
    assert_problem(r, 413, "payload-too-large")
    assert api.get(f"/v1/books/{book['id']}").json() == book


# --------------------------------------------------------------------------- content type

@pytest.mark.parametrize("ctype", [
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/xml",
    "application/jsonx",
    "text/json",
    None,
])
def test_post_wrong_content_type_415(api, admin_token, probe, ctype):
    body = book_input()
    headers = {"Content-Type": ctype} if ctype else {}
    r = api.post("/v1/books", data=_raw(body), token=admin_token, headers=headers)
    assert_problem(r, 415, "unsupported-media-type")
    probe.nothing_stored(body, isbn=ctype is None)


def test_put_wrong_content_type_415(api, admin_token, target):
    book = target
    r = api.put(f"/v1/books/{book['id']}", data=_raw(book_input()), token=admin_token,
                headers={"Content-Type": "text/plain"})
    assert_problem(r, 415, "unsupported-media-type")
    assert api.get(f"/v1/books/{book['id']}").json() == book


@pytest.mark.parametrize("ctype", ["application/json; charset=utf-8", "application/json;charset=UTF-8"])
def test_post_json_with_charset_accepted(api, admin_token, make_book, ctype):
    r = api.post("/v1/books", data=_raw(book_input()), token=admin_token, headers={"Content-Type": ctype})
    assert r.status_code == 201, r.text
    make_book.track(r.json()["id"])


def test_post_unicode_content_roundtrips(api, admin_token, make_book):
    t = tag()
    body = book_input(title=f"Cien años — 百年の孤独 {t}", author=f"Gabriel García Márquez {t}",
                      genres=[f"Realismo mágico {t}"], description="«Muchos años después…» 🦋")
    r = api.post("/v1/books", data=_raw(body), token=admin_token, headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    make_book.track(r.json()["id"])
    got = api.get(f"/v1/books/{r.json()['id']}").json()
    for k in ("title", "author", "genres", "description"):
        assert got[k] == body[k]


# --------------------------------------------------------------------------- query and path limits
#
# infra/openapi.yaml bounds every query parameter and path id; past the bound the answer is
# a 400 naming the parameter (never a 500 from the database, never a silent 200).

LIMITS = {"q": 300, "author": 200, "genre": 50}


@pytest.mark.parametrize("name", list(LIMITS))
@pytest.mark.parametrize("char", ["x", "é", "각", "\U0001d400"], ids=["ascii", "accented", "hangul", "astral"])
def test_filter_at_its_max_length_is_accepted(api, name, char):
    r = api.get("/v1/books", params={name: char * LIMITS[name]})
    assert r.status_code == 200, r.text
    assert r.json() == {"items": [], "nextCursor": None}


@pytest.mark.parametrize("name", list(LIMITS))
@pytest.mark.parametrize("extra", [1, 5000], ids=["one-more", "far-more"])
def test_filter_over_its_max_length_400(api, name, extra):
    r = api.get("/v1/books", params={name: "x" * (LIMITS[name] + extra)})
    assert_problem(r, 400, "validation-error", field=name)


def test_cursor_over_its_max_length_400(api):
    r = api.get("/v1/books", params={"cursor": "A" * 2049})
    assert_problem(r, 400, "validation-error", field="cursor")


@pytest.mark.parametrize("ids", [
    "y" * 65,
    "abc," + "y" * 65,
    "y" * 3000,
    ",".join(["z" * 64] * 101),
], ids=["one-too-long", "second-too-long", "far-too-long", "whole-list-too-long"])
def test_lookup_with_an_over_long_id_400(api, ids):
    r = api.get("/v1/books", params={"ids": ids})
    assert_problem(r, 400, "validation-error", field="ids")


def test_lookup_leaves_out_ids_no_book_could_have(api, make_book):
    book = make_book()
    r = api.get("/v1/books", params={"ids": f"a.b,{book['id']},{'z' * 64},é,a/b"})
    assert r.status_code == 200, r.text
    assert [b["id"] for b in r.json()["items"]] == [book["id"]]


@pytest.mark.parametrize("book_id", ["x" * 65, "x" * 3000, "a.b", "%C3%A9", "a%20b"],
                         ids=["65", "3000", "dot", "accent", "space"])
def test_book_id_the_catalog_never_issues_is_404(api, admin_token, book_id):
    path = f"/v1/books/{book_id}"
    assert_problem(api.get(path), 404, "not-found")
    assert_problem(api.put(path, json=book_input(), token=admin_token), 404, "not-found")
    assert_problem(api.delete(path, token=admin_token), 404, "not-found")


WRITE_ROUTES = [("POST", "/v1/books"), ("PUT", "/v1/books/{book}"), ("PUT", "/v1/cart/items/{book}"),
                ("DELETE", "/v1/cart"), ("POST", "/v1/orders"), ("PUT", "/v1/inventory/{book}")]


@pytest.mark.parametrize("method,route", WRITE_ROUTES, ids=[f"{m} {r}" for m, r in WRITE_ROUTES])
def test_a_body_that_is_not_utf8_is_a_400_problem_on_every_write_route(api, admin_token, target, method, route):
    """Over plain HTTP, as a browser or curl sends it: the function answers, in problem+json
    with its request id, never the gateway with a bare 500."""
    r = api.request(method, route.format(book=target["id"]), data=b"\xff\xfe{", token=admin_token,
                    headers={"Content-Type": "application/json", "Idempotency-Key": f"utf8-{tag()}",
                             "If-Match": "*"})
    assert_problem(r, 400, "validation-error")
    assert r.headers["x-request-id"]

