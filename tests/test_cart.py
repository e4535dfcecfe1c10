"""The cart: GET/DELETE /v1/cart, PUT/DELETE /v1/cart/items/{bookId}.

A cart belongs to the token's `sub`; nothing in a request names whose cart
it is. Titles and prices come from the catalog, never from the client, and a
catalog change shows on the next read. Different books changed at the same
moment (two tabs) never lose a line.

Shoppers: the seeded shopper@bookish.local (its cart is emptied before and
after each test that uses it) and brand-new users signed up through Cognito
for the session (`new_shopper`), whose carts never existed. Books: created
for this module with known prices, or the seed catalogue where many distinct
books are needed (the 50-line limit, parallel PUTs).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest

from support import (
    assert_problem,
    assert_unauthorized,
    bad_authorizations,
    jwt_parts,
    now,
    sign_rs256,
    tag,
)

CART = "/v1/cart"
MAX_LINES = 50


def item(book_id: str) -> str:
    return f"/v1/cart/items/{book_id}"


class CartClient:
    """One shopper's calls on the cart API, through a validating client."""

    def __init__(self, api, shopper, token: str | None = None):
        self.api, self.shopper = api, shopper
        self.token = token or shopper.id_token

    def get(self) -> dict:
        r = self.api.get(CART, token=self.token)
        assert r.status_code == 200, f"GET /v1/cart: {r.status_code} {r.text}"
        return r.json()

    def put(self, book_id: str, quantity, api=None):
        return (api or self.api).put(item(book_id), json={"quantity": quantity}, token=self.token)

    def set(self, book_id: str, quantity: int) -> dict:
        r = self.put(book_id, quantity)
        assert r.status_code == 200, f"PUT {book_id} x{quantity}: {r.status_code} {r.text}"
        return r.json()

    def remove(self, book_id: str) -> dict:
        r = self.api.delete(item(book_id), token=self.token)
        assert r.status_code == 200, f"DELETE line {book_id}: {r.status_code} {r.text}"
        return r.json()

    def clear(self) -> None:
        r = self.api.delete(CART, token=self.token)
        assert r.status_code == 204, f"DELETE /v1/cart: {r.status_code} {r.text}"


# --------------------------------------------------------------------------- checks

def lines(cart: dict) -> dict[str, dict]:
    """bookId -> line; each book appears at most once."""
    ids = [line["bookId"] for line in cart["items"]]
    assert len(ids) == len(set(ids)), f"a book appears twice: {ids}"
    return {line["bookId"]: line for line in cart["items"]}


def quantities(cart: dict) -> dict[str, int]:
    return {book_id: line["quantity"] for book_id, line in lines(cart).items()}


def assert_totals(cart: dict) -> None:
    """lineTotal = unitPrice x quantity; subtotal = sum of line totals;
    itemCount = sum of quantities; one currency throughout."""
    for line in cart["items"]:
        assert line["lineTotal"] == {
            "amount": line["unitPrice"]["amount"] * line["quantity"],
            "currency": line["unitPrice"]["currency"],
        }, line
    assert cart["subtotal"]["amount"] == sum(line["lineTotal"]["amount"] for line in cart["items"]), cart
    assert cart["itemCount"] == sum(line["quantity"] for line in cart["items"]), cart
    for line in cart["items"]:
        assert line["unitPrice"]["currency"] == cart["subtotal"]["currency"], cart


def assert_priced_from(cart: dict, books: dict[str, dict]) -> None:
    """Every line carries the catalog's title and price of its book."""
    for book_id, line in lines(cart).items():
        book = books[book_id]
        assert line["title"] == book["title"], (line, book)
        assert line["unitPrice"] == book["price"], (line, book)


def assert_empty(cart: dict, never_existed: bool = False) -> None:
    assert cart["items"] == [] and cart["itemCount"] == 0, cart
    assert cart["subtotal"]["amount"] == 0, cart
    if never_existed:
        assert cart["updatedAt"] is None, cart


def parse_time(text: str) -> datetime:
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert t.utcoffset() == timezone.utc.utcoffset(None), f"not UTC: {text}"
    return t


def same_cart(a: dict, b: dict) -> None:
    """The same lines, totals and timestamp (order of lines aside)."""
    assert lines(a) == lines(b) and {k: v for k, v in a.items() if k != "items"} == {
        k: v for k, v in b.items() if k != "items"}, (a, b)


def parallel(api, n: int, fn):
    """Runs fn(i, client) for i in range(n) at the same moment (a barrier),
    each thread with its own validating client; returns the results in order."""
    barrier = threading.Barrier(n)
    clients = [api.fresh() for _ in range(n)]

    def job(i):
        barrier.wait(timeout=60)
        return fn(i, clients[i])

    try:
        with ThreadPoolExecutor(max_workers=n) as pool:
            return list(pool.map(job, range(n)))
    finally:
        for c in clients:
            c.session.close()


def fill(cart: CartClient, book_ids: list[str], quantity: int = 1, workers: int = 6) -> None:
    """Adds these books (in parallel batches, to keep it quick)."""
    def add(i, api):
        results = []
        for book_id in book_ids[i::workers]:
            r = cart.put(book_id, quantity, api=api)
            results.append((book_id, r.status_code, r.text))
        return results

    for batch in parallel(cart.api, workers, add):
        for book_id, status, text in batch:
            assert status == 200, f"PUT {book_id}: {status} {text}"


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def books(module_books) -> dict[str, dict]:
    """Books made for this module: name -> Book. Prices chosen to make the
    sums checkable (including a free book and the highest price)."""
    prices = {"a": 1234, "b": 999, "c": 2500, "free": 0, "dear": 100_000_000}
    return {name: module_books(price={"amount": amount, "currency": "USD"}) for name, amount in prices.items()}


@pytest.fixture(scope="module")
def seed_ids(api, seed) -> list[str]:
    """Ids of the seed catalogue's books (all priced in USD)."""
    isbns = {b["isbn"] for b in seed}
    items, _ = api.list_all()
    ids = [b["id"] for b in items if b["isbn"] in isbns and b["price"]["currency"] == "USD"]
    assert len(ids) >= MAX_LINES + 5, f"need {MAX_LINES + 5} seed books, have {len(ids)}"
    return ids


@pytest.fixture
def shopper(api, seeded_shopper) -> CartClient:
    """The seeded shopper, with an empty cart before and after the test."""
    cart = CartClient(api, seeded_shopper)
    cart.clear()
    yield cart
    cart.clear()


@pytest.fixture
def fresh(api, new_shopper) -> CartClient:
    """A shopper signed up just now: their cart has never existed."""
    return CartClient(api, new_shopper())


def admin_replace(api, admin_token, book: dict, **changes) -> dict:
    body = {k: book[k] for k in ("isbn", "title", "author", "genres", "description", "publishedYear", "price")}
    body.update(changes)
    r = api.put(f"/v1/books/{book['id']}", json=body, token=admin_token)
    assert r.status_code == 200, r.text
    return r.json()


# --------------------------------------------------------------------------- authentication

ROUTES = {
    "get-cart": ("GET", lambda ids: CART, False),
    "clear-cart": ("DELETE", lambda ids: CART, False),
    "set-line": ("PUT", lambda ids: item(ids["new"]), True),
    "remove-line": ("DELETE", lambda ids: item(ids["held"]), False),
}

BAD_KINDS = [
    "no-header", "bearer-garbage", "bearer-only", "basic", "basic-admin-creds",
    "forged-own-key", "expired", "wrong-audience", "wrong-issuer", "no-exp", "alg-none",
    "signature-stripped", "payload-tampered",
]


@pytest.fixture(scope="module")
def victims(api, new_shopper, books):
    """Two shoppers: `owner` holds a line of book a (x3); `other` has no cart.
    The bad tokens carry the owner's claims; "payload-tampered" is the owner's
    real token with the other's `sub` pasted into its payload."""
    owner, other = CartClient(api, new_shopper()), CartClient(api, new_shopper())
    owner.set(books["a"]["id"], 3)
    return owner, other, {"held": books["a"]["id"], "new": books["b"]["id"]}


@pytest.fixture(scope="module")
def bad_cart_auth(victims, stack, moto_key) -> dict:
    owner, other, _ = victims
    return bad_authorizations(owner.shopper.id_token, {"sub": other.shopper.sub}, stack, moto_key)


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("kind", BAD_KINDS)
def test_cart_route_bad_token_401(api, victims, bad_cart_auth, route, kind):
    owner, other, ids = victims
    before = owner.get()
    method, path, has_body = ROUTES[route]
    kw = {"json": {"quantity": 5}} if has_body else {}
    r = api.request(method, path(ids), auth=bad_cart_auth[kind], **kw)
    assert_unauthorized(r)
    assert owner.get() == before
    assert_empty(other.get(), never_existed=True)


def test_minted_control_token_reads_own_cart(api, victims, moto_key):
    """A token minted like the bad ones but with correct claims is accepted:
    the 401s above are due to what is wrong in each, not to the minting."""
    owner, _, _ = victims
    _, claims = jwt_parts(owner.shopper.id_token)
    token = sign_rs256(dict(claims, iat=now(), auth_time=now(), exp=now() + 3600), moto_key)
    r = api.get(CART, token=token)
    assert r.status_code == 200, r.text
    assert r.json() == owner.get()


def test_access_token_and_id_token_share_one_cart(api, fresh, books):
    by_access = CartClient(api, fresh.shopper, token=fresh.shopper.access_token)
    assert jwt_parts(fresh.shopper.access_token)[1]["sub"] == fresh.shopper.sub
    by_access.set(books["a"]["id"], 2)
    assert quantities(fresh.get()) == {books["a"]["id"]: 2}
    fresh.set(books["b"]["id"], 1)
    assert quantities(by_access.get()) == {books["a"]["id"]: 2, books["b"]["id"]: 1}
    by_access.clear()
    assert_empty(fresh.get())


def test_admin_has_a_cart_too(api, admin_token, books):
    """Any signed-in user has a cart (the admin group is not required, nor refused)."""
    cart = CartClient(api, None, token=admin_token)
    cart.clear()
    try:
        assert quantities(cart.set(books["c"]["id"], 1)) == {books["c"]["id"]: 1}
    finally:
        cart.clear()


# --------------------------------------------------------------------------- reading

def test_empty_cart_is_200_not_404(fresh):
    cart = fresh.get()
    assert cart == {"items": [], "subtotal": {"amount": 0, "currency": cart["subtotal"]["currency"]},
                    "itemCount": 0, "updatedAt": None}


def test_add_books_priced_from_catalog(shopper, books):
    a, b = books["a"], books["b"]
    cart = shopper.set(a["id"], 2)
    assert quantities(cart) == {a["id"]: 2}
    assert lines(cart)[a["id"]] == {
        "bookId": a["id"], "title": a["title"], "unitPrice": {"amount": 1234, "currency": "USD"},
        "quantity": 2, "lineTotal": {"amount": 2468, "currency": "USD"},
    }
    first_update = parse_time(cart["updatedAt"])

    cart = shopper.set(b["id"], 3)
    assert quantities(cart) == {a["id"]: 2, b["id"]: 3}
    assert_priced_from(cart, {a["id"]: a, b["id"]: b})
    assert_totals(cart)
    assert cart["subtotal"] == {"amount": 2 * 1234 + 3 * 999, "currency": "USD"}
    assert cart["itemCount"] == 5
    assert parse_time(cart["updatedAt"]) >= first_update

    got = shopper.get()
    same_cart(got, cart)


def test_totals_with_free_and_most_expensive_books(shopper, books):
    free, dear, c = books["free"], books["dear"], books["c"]
    shopper.set(free["id"], 7)
    shopper.set(dear["id"], 99)
    cart = shopper.set(c["id"], 4)
    assert_totals(cart)
    assert_priced_from(cart, {free["id"]: free, dear["id"]: dear, c["id"]: c})
    assert lines(cart)[free["id"]]["lineTotal"] == {"amount": 0, "currency": "USD"}
    assert lines(cart)[dear["id"]]["lineTotal"] == {"amount": 9_900_000_000, "currency": "USD"}
    assert cart["subtotal"] == {"amount": 9_900_000_000 + 4 * 2500, "currency": "USD"}
    assert cart["itemCount"] == 7 + 99 + 4
    same_cart(shopper.get(), cart)


def test_client_cannot_supply_title_or_price(shopper, books):
    a = books["a"]
    for extra in ({"title": "Free book"}, {"unitPrice": {"amount": 1, "currency": "USD"}},
                  {"price": {"amount": 1, "currency": "USD"}}):
        r = shopper.api.put(item(a["id"]), json={"quantity": 1, **extra}, token=shopper.token)
        assert_problem(r, 400, "validation-error", field=next(iter(extra)))
    assert_empty(shopper.get())
    cart = shopper.set(a["id"], 1)
    assert_priced_from(cart, {a["id"]: a})


# --------------------------------------------------------------------------- changing

def test_put_sets_quantity_not_adds(shopper, books):
    a, b = books["a"]["id"], books["b"]["id"]
    shopper.set(a, 2)
    shopper.set(b, 1)
    cart = shopper.set(a, 5)
    assert quantities(cart) == {a: 5, b: 1}
    assert_totals(cart)
    cart = shopper.set(a, 1)
    assert quantities(cart) == {a: 1, b: 1}
    cart = shopper.set(a, 99)
    assert quantities(cart) == {a: 99, b: 1}
    assert cart["subtotal"]["amount"] == 99 * 1234 + 999
    same_cart(shopper.get(), cart)


def test_changing_quantity_keeps_the_line_order(shopper, books):
    ids = [books[n]["id"] for n in ("a", "b", "c")]
    for book_id in ids:
        shopper.set(book_id, 1)
    order = [line["bookId"] for line in shopper.get()["items"]]
    shopper.set(ids[0], 4)
    assert [line["bookId"] for line in shopper.get()["items"]] == order


def test_remove_line(shopper, books):
    a, b = books["a"]["id"], books["b"]["id"]
    shopper.set(a, 2)
    shopper.set(b, 3)
    cart = shopper.remove(a)
    assert quantities(cart) == {b: 3}
    assert cart["subtotal"] == {"amount": 3 * 999, "currency": "USD"}
    assert cart["itemCount"] == 3
    same_cart(shopper.get(), cart)
    # Removing a line that is not there is still a 200 with the cart.
    again = shopper.remove(a)
    assert quantities(again) == {b: 3} and again["subtotal"] == cart["subtotal"]
    other = shopper.remove(f"no-such-book-{tag()}")
    assert quantities(other) == {b: 3}
    # The last line out leaves an empty cart.
    assert_empty(shopper.remove(b))
    assert_empty(shopper.get())


def test_remove_line_from_a_cart_that_never_existed(fresh, books):
    assert_empty(fresh.remove(books["a"]["id"]))
    assert_empty(fresh.get())


def test_clear_cart_204_then_empty(shopper, books):
    shopper.set(books["a"]["id"], 2)
    shopper.set(books["b"]["id"], 1)
    r = shopper.api.delete(CART, token=shopper.token)
    assert r.status_code == 204 and r.content == b""
    assert_empty(shopper.get(), never_existed=True)
    # Emptying an empty cart is fine too.
    shopper.clear()
    assert_empty(shopper.get(), never_existed=True)
    # And it fills again.
    assert quantities(shopper.set(books["c"]["id"], 1)) == {books["c"]["id"]: 1}


def test_clear_a_cart_that_never_existed(fresh):
    fresh.clear()
    assert_empty(fresh.get(), never_existed=True)


# --------------------------------------------------------------------------- removing the lines an order took
#
# DELETE /v1/cart with {"lines": [{"bookId", "quantity"}]} (what checkout sends) removes each
# listed line only while it still holds exactly that quantity: a line changed or added in
# another tab while the order was placed stays in the cart.

def remove_ordered(cart: CartClient, ordered: dict[str, int], **kw):
    body = {"lines": [{"bookId": book_id, "quantity": q} for book_id, q in ordered.items()]}
    return cart.api.delete(CART, json=body, token=cart.token, **kw)


def test_clear_only_the_ordered_lines(shopper, books):
    a, b, c, d = (books[n]["id"] for n in ("a", "b", "c", "free"))
    shopper.set(a, 2)
    shopper.set(b, 1)
    shopper.set(c, 4)
    ordered = quantities(shopper.get())  # what checkout read and ordered
    # Meanwhile, in another tab: one more copy of b, and a new book d.
    shopper.set(b, 2)
    shopper.set(d, 1)
    r = remove_ordered(shopper, ordered)
    assert r.status_code == 204 and r.content == b"", r.text
    assert quantities(shopper.get()) == {b: 2, d: 1}
    # Sent again (a retried checkout), it changes nothing more.
    assert remove_ordered(shopper, ordered).status_code == 204
    assert quantities(shopper.get()) == {b: 2, d: 1}


def test_removing_every_line_empties_the_cart_as_a_plain_delete_does(shopper, books):
    a, b = books["a"]["id"], books["b"]["id"]
    shopper.set(a, 3)
    shopper.set(b, 1)
    assert remove_ordered(shopper, {a: 3, b: 1}).status_code == 204
    assert_empty(shopper.get(), never_existed=True)


def test_remove_ordered_lines_from_a_cart_that_never_existed(fresh, books):
    assert remove_ordered(fresh, {books["a"]["id"]: 1}).status_code == 204
    assert_empty(fresh.get(), never_existed=True)


def test_remove_ordered_lines_ignores_lines_not_in_the_cart(shopper, books):
    a = books["a"]["id"]
    shopper.set(a, 1)
    assert remove_ordered(shopper, {books["b"]["id"]: 1, f"nope-{tag()}": 1, "a.b": 2}).status_code == 204
    assert quantities(shopper.get()) == {a: 1}
    assert remove_ordered(shopper, {}).status_code == 204
    assert quantities(shopper.get()) == {a: 1}


BAD_REMOVALS = {
    "no-lines": ({}, "lines"),
    "lines-not-a-list": ({"lines": "all"}, "lines"),
    "unknown-field": ({"lines": [], "all": True}, "all"),
    "too-many": ({"lines": [{"bookId": f"book-{i}", "quantity": 1} for i in range(51)]}, "lines"),
    "no-quantity": ({"lines": [{"bookId": "{a}"}]}, "lines.0.quantity"),
    "zero": ({"lines": [{"bookId": "{a}", "quantity": 0}]}, "lines.0.quantity"),
    "over-99": ({"lines": [{"bookId": "{b}", "quantity": 1}, {"bookId": "{a}", "quantity": 100}]}, "lines.1.quantity"),
    "no-book": ({"lines": [{"quantity": 1}]}, "lines.0.bookId"),
    "empty-book": ({"lines": [{"bookId": "", "quantity": 1}]}, "lines.0.bookId"),
    "book-too-long": ({"lines": [{"bookId": "x" * 65, "quantity": 1}]}, "lines.0.bookId"),
    "twice": ({"lines": [{"bookId": "{a}", "quantity": 1}, {"bookId": "{a}", "quantity": 2}]}, "lines.1.bookId"),
}


@pytest.mark.parametrize("name", list(BAD_REMOVALS))
def test_bad_removal_body_400_and_removes_nothing(shopper, books, name):
    import json

    a, b = books["a"]["id"], books["b"]["id"]
    body, field = BAD_REMOVALS[name]
    body = json.loads(json.dumps(body).replace("{a}", a).replace("{b}", b))
    shopper.set(a, 1)
    shopper.set(b, 1)
    r = shopper.api.delete(CART, json=body, token=shopper.token)
    assert_problem(r, 400, "validation-error", field=field)
    assert quantities(shopper.get()) == {a: 1, b: 1}


def test_removal_body_needs_json_content_type(shopper, books):
    a = books["a"]["id"]
    shopper.set(a, 1)
    body = '{"lines": [{"bookId": "%s", "quantity": 1}]}' % a
    r = shopper.api.delete(CART, data=body, token=shopper.token, headers={"Content-Type": "text/plain"})
    assert_problem(r, 415, "unsupported-media-type")
    assert quantities(shopper.get()) == {a: 1}


def test_removal_touches_only_the_callers_cart(api, shopper, new_shopper, books):
    a = books["a"]["id"]
    other = CartClient(api, new_shopper())
    other.set(a, 2)
    shopper.set(a, 2)
    assert remove_ordered(shopper, {a: 2}).status_code == 204
    assert quantities(other.get()) == {a: 2}


# --------------------------------------------------------------------------- unknown and deleted books

@pytest.mark.parametrize("book_id", [
    "nope-{t}",
    "0123456789abcdef0123456789abcdef",
    "x" * 65,
    "{t}.{t}",
], ids=["made-up", "id-shaped", "too-long", "with-dot"])
def test_unknown_book_404(shopper, books, book_id):
    book_id = book_id.format(t=tag())
    shopper.set(books["a"]["id"], 1)
    before = shopper.get()
    r = shopper.put(book_id, 1)
    assert_problem(r, 404, "not-found")
    if len(book_id) > 64 or "." in book_id:
        # An id the catalog never issues is no book for DELETE either (a real one that is
        # not in the cart is a 200).
        assert_problem(shopper.api.delete(item(book_id), token=shopper.token), 404, "not-found")
    same_cart(shopper.get(), before)


def test_deleted_book_404(api, admin_token, shopper, make_book):
    book = make_book()
    assert api.delete(f"/v1/books/{book['id']}", token=admin_token).status_code == 204
    assert_problem(shopper.put(book["id"], 1), 404, "not-found")
    assert_empty(shopper.get())


def test_cart_drops_a_line_whose_book_was_deleted(api, admin_token, shopper, books, make_book):
    gone = make_book(price={"amount": 700, "currency": "USD"})
    a = books["a"]
    shopper.set(gone["id"], 2)
    shopper.set(a["id"], 1)
    assert shopper.get()["subtotal"]["amount"] == 2 * 700 + 1234
    assert api.delete(f"/v1/books/{gone['id']}", token=admin_token).status_code == 204

    cart = shopper.get()
    assert quantities(cart) == {a["id"]: 1}
    assert cart["subtotal"] == {"amount": 1234, "currency": "USD"} and cart["itemCount"] == 1
    assert_totals(cart)
    # The deleted book cannot come back in, and its line can still be removed.
    assert_problem(shopper.put(gone["id"], 1), 404, "not-found")
    assert quantities(shopper.remove(gone["id"])) == {a["id"]: 1}
    # Other changes show the remaining lines only.
    assert quantities(shopper.set(books["b"]["id"], 1)) == {a["id"]: 1, books["b"]["id"]: 1}


# --------------------------------------------------------------------------- quantity and body validation

BAD_QUANTITY = {
    "zero": ({"quantity": 0}, "quantity"),
    "negative": ({"quantity": -1}, "quantity"),
    "over-99": ({"quantity": 100}, "quantity"),
    "huge": ({"quantity": 10**20}, "quantity"),
    "fraction": ({"quantity": 1.5}, "quantity"),
    "string": ({"quantity": "2"}, "quantity"),
    "null": ({"quantity": None}, "quantity"),
    "boolean": ({"quantity": True}, "quantity"),
    "array": ({"quantity": [2]}, "quantity"),
    "missing": ({}, "quantity"),
    "extra-field": ({"quantity": 2, "gift": True}, "gift"),
    "owner-field": ({"quantity": 2, "owner": "someone-else"}, "owner"),
}


@pytest.mark.parametrize("name", list(BAD_QUANTITY))
def test_bad_quantity_400(shopper, books, name):
    body, field = BAD_QUANTITY[name]
    held, target = books["b"]["id"], books["a"]["id"]
    shopper.set(held, 1)
    before = shopper.get()
    r = shopper.api.put(item(target), json=body, token=shopper.token)
    assert_problem(r, 400, "validation-error", field=field)
    # Neither a new line nor a change to an existing one.
    r = shopper.api.put(item(held), json=body, token=shopper.token)
    assert_problem(r, 400, "validation-error", field=field)
    same_cart(shopper.get(), before)


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b"null", b"2", b'{"quantity": 2} {}', b'{"quantity": 2,}'])
def test_invalid_json_body_400(shopper, books, raw):
    r = shopper.api.put(item(books["a"]["id"]), data=raw, token=shopper.token,
                        headers={"Content-Type": "application/json"})
    assert_problem(r, 400, "validation-error")
    assert_empty(shopper.get())


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_415(shopper, books, ctype):
    headers = {"Content-Type": ctype} if ctype else {}
    r = shopper.api.put(item(books["a"]["id"]), data=b'{"quantity": 2}', token=shopper.token, headers=headers)
    assert_problem(r, 415, "unsupported-media-type")
    assert_empty(shopper.get())


def test_json_with_charset_accepted(shopper, books):
    r = shopper.api.put(item(books["a"]["id"]), data=b'{"quantity": 2}', token=shopper.token,
                        headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 200, r.text
    assert quantities(r.json()) == {books["a"]["id"]: 2}


def test_body_over_64kib_413(shopper, books):
    raw = b'{"quantity": 2' + b" " * (64 * 1024) + b"}"
    r = shopper.api.put(item(books["a"]["id"]), data=raw, token=shopper.token,
                        headers={"Content-Type": "application/json"})
    assert_problem(r, 413, "payload-too-large")
    assert_empty(shopper.get())


# --------------------------------------------------------------------------- the 50-line limit

def test_51st_distinct_book_409(fresh, seed_ids):
    fill(fresh, seed_ids[:MAX_LINES])
    cart = fresh.get()
    assert set(quantities(cart)) == set(seed_ids[:MAX_LINES])
    extra = seed_ids[MAX_LINES]
    assert_problem(fresh.put(extra, 1), 409, "conflict")
    same_cart(fresh.get(), cart)
    # A full cart still changes quantities and removes lines...
    assert quantities(fresh.set(seed_ids[0], 3))[seed_ids[0]] == 3
    assert len(fresh.remove(seed_ids[1])["items"]) == MAX_LINES - 1
    # ...and then takes a new book.
    after = fresh.set(extra, 1)
    assert len(after["items"]) == MAX_LINES and extra in lines(after)
    assert_totals(after)


def test_parallel_adds_at_the_limit_keep_it(fresh, seed_ids):
    """48 lines, then 5 different books at once: exactly 2 fit."""
    fill(fresh, seed_ids[:MAX_LINES - 2])
    newcomers = seed_ids[MAX_LINES - 2:MAX_LINES + 3]
    results = parallel(fresh.api, len(newcomers), lambda i, api: fresh.put(newcomers[i], 1, api=api))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 200, 409, 409, 409], [(r.status_code, r.text[:200]) for r in results]
    for r in results:
        if r.status_code == 409:
            assert_problem(r, 409, "conflict")
    cart = fresh.get()
    assert len(cart["items"]) == MAX_LINES
    added = {newcomers[i] for i, r in enumerate(results) if r.status_code == 200}
    assert set(quantities(cart)) == set(seed_ids[:MAX_LINES - 2]) | added


def test_a_line_whose_book_was_deleted_does_not_count_toward_the_limit(api, admin_token, fresh, seed_ids, make_book):
    """The view drops the line of a deleted book; a shopper who sees 49 lines
    can add a 50th book."""
    gone = make_book()
    fill(fresh, seed_ids[:MAX_LINES - 1] + [gone["id"]])
    assert api.delete(f"/v1/books/{gone['id']}", token=admin_token).status_code == 204
    assert len(fresh.get()["items"]) == MAX_LINES - 1
    r = fresh.put(seed_ids[MAX_LINES - 1], 1)
    assert r.status_code == 200, f"a cart showing {MAX_LINES - 1} lines refused a new book: {r.status_code} {r.text}"
    assert len(r.json()["items"]) == MAX_LINES


# --------------------------------------------------------------------------- catalog changes

def test_price_change_shows_on_next_read(api, admin_token, shopper, make_book, books):
    book = make_book(price={"amount": 1000, "currency": "USD"})
    shopper.set(book["id"], 3)
    shopper.set(books["b"]["id"], 1)
    assert lines(shopper.get())[book["id"]]["lineTotal"]["amount"] == 3000

    changed = admin_replace(api, admin_token, book, price={"amount": 1500, "currency": "USD"},
                            title=book["title"] + " (2nd edition)")
    cart = shopper.get()
    line = lines(cart)[book["id"]]
    assert line["unitPrice"] == {"amount": 1500, "currency": "USD"}
    assert line["title"] == changed["title"]
    assert line["lineTotal"] == {"amount": 4500, "currency": "USD"}
    assert cart["subtotal"] == {"amount": 4500 + 999, "currency": "USD"}
    assert_totals(cart)

    # A price cut shows as well, and the quantity is untouched.
    admin_replace(api, admin_token, changed, price={"amount": 250, "currency": "USD"})
    cart = shopper.get()
    assert lines(cart)[book["id"]]["quantity"] == 3
    assert cart["subtotal"]["amount"] == 3 * 250 + 999


def test_one_cart_one_currency(api, shopper, fresh, make_book, books):
    """Not in the issue; the implementation refuses to mix currencies (409)
    and the spec documents it. An empty cart takes any currency."""
    euro = make_book(price={"amount": 1500, "currency": "EUR"})
    shopper.set(books["a"]["id"], 1)
    before = shopper.get()
    assert_problem(shopper.put(euro["id"], 1), 409, "conflict")
    same_cart(shopper.get(), before)
    cart = fresh.set(euro["id"], 2)
    assert cart["subtotal"] == {"amount": 3000, "currency": "EUR"}
    assert_totals(cart)


def test_currency_change_in_catalog_does_not_lock_the_cart(api, admin_token, shopper, make_book, books):
    """An admin reprices a carted book in another currency: the shopper can
    still read the cart (200, as the spec says GET answers) and take the
    line out."""
    book = make_book(price={"amount": 1000, "currency": "USD"})
    shopper.set(books["a"]["id"], 1)
    shopper.set(book["id"], 2)
    admin_replace(api, admin_token, book, price={"amount": 900, "currency": "EUR"})
    r = api.get(CART, token=shopper.token)
    assert r.status_code == 200, f"GET /v1/cart after a currency change: {r.status_code} {r.text}"
    assert_totals(r.json())
    r = api.delete(item(book["id"]), token=shopper.token)
    assert r.status_code == 200, f"DELETE the repriced line: {r.status_code} {r.text}"
    assert quantities(r.json()) == {books["a"]["id"]: 1}


# --------------------------------------------------------------------------- isolation

def test_second_shopper_sees_only_their_own_cart(api, shopper, new_shopper, books):
    a, b, c = books["a"]["id"], books["b"]["id"], books["c"]["id"]
    other = CartClient(api, new_shopper())
    assert other.shopper.sub != shopper.shopper.sub
    shopper.set(a, 2)
    mine = shopper.set(b, 1)

    assert_empty(other.get(), never_existed=True)
    # The other shopper puts the same book in their own cart...
    theirs = other.set(a, 7)
    assert quantities(theirs) == {a: 7}
    same_cart(shopper.get(), mine)
    # ...adds, removes and empties: none of it reaches the first cart.
    other.set(c, 1)
    other.remove(b)
    other.remove(a)
    assert quantities(other.get()) == {c: 1}
    other.set(a, 4)
    other.clear()
    assert_empty(other.get(), never_existed=True)
    same_cart(shopper.get(), mine)
    assert quantities(shopper.get()) == {a: 2, b: 1}


def test_nothing_in_a_request_names_the_cart(api, shopper, new_shopper, books):
    """The owner's sub in a query, a header or the body does not reach their cart."""
    a = books["a"]["id"]
    mine = shopper.set(a, 2)
    other = CartClient(api, new_shopper())
    victim = shopper.shopper
    for params in ({"owner": victim.sub}, {"sub": victim.sub}, {"userId": victim.sub},
                   {"cartId": victim.sub}, {"email": victim.email}):
        r = api.get(CART, token=other.token, params=params)
        assert r.status_code == 200, r.text
        assert_empty(r.json(), never_existed=True)
        r = api.delete(CART, token=other.token, params=params)
        assert r.status_code == 204
        r = api.delete(item(a), token=other.token, params=params)
        assert r.status_code == 200
        assert_empty(r.json())
    for header in ("x-user-id", "x-cart-owner", "x-amzn-oidc-identity", "x-forwarded-user"):
        r = api.delete(item(a), token=other.token, headers={header: victim.sub})
        assert r.status_code == 200
        r = api.get(CART, token=other.token, headers={header: victim.sub})
        assert_empty(r.json(), never_existed=True)
    r = api.put(item(a), json={"quantity": 9, "owner": victim.sub}, token=other.token)
    assert_problem(r, 400, "validation-error", field="owner")
    same_cart(shopper.get(), mine)


# --------------------------------------------------------------------------- concurrency

def test_parallel_puts_of_different_books_all_land(api, fresh, seed_ids):
    """Two tabs (the ID token and the access token of one shopper) fire 12
    PUTs of different books at the same moment, into a cart that does not
    exist yet: every line is there afterwards."""
    ids = seed_ids[:12]
    tabs = [fresh.shopper.id_token, fresh.shopper.access_token]

    def put(i, client):
        return client.put(item(ids[i]), json={"quantity": i + 1}, token=tabs[i % 2])

    results = parallel(api, len(ids), put)
    for i, r in enumerate(results):
        assert r.status_code == 200, f"PUT {ids[i]}: {r.status_code} {r.text}"
        assert quantities(r.json()).get(ids[i]) == i + 1, r.text
    cart = fresh.get()
    assert quantities(cart) == {book_id: i + 1 for i, book_id in enumerate(ids)}
    assert_totals(cart)
    assert cart["itemCount"] == sum(range(1, 13))


def test_parallel_mixed_changes_lose_nothing(api, fresh, seed_ids):
    """On a cart of 8 lines, at the same moment: 4 quantity changes, 2
    removals and 6 new books. The result is exactly what they add up to."""
    held, new = seed_ids[:8], seed_ids[8:14]
    fill(fresh, held, quantity=1)
    ops = ([("PUT", book_id, 5) for book_id in held[:4]] + [("DELETE", book_id, None) for book_id in held[4:6]]
           + [("PUT", book_id, 2) for book_id in new])

    def run(i, client):
        method, book_id, qty = ops[i]
        if method == "PUT":
            return client.put(item(book_id), json={"quantity": qty}, token=fresh.token)
        return client.delete(item(book_id), token=fresh.token)

    results = parallel(api, len(ops), run)
    for op, r in zip(ops, results):
        assert r.status_code == 200, f"{op}: {r.status_code} {r.text}"
    expected = {**{b: 5 for b in held[:4]}, **{b: 1 for b in held[6:]}, **{b: 2 for b in new}}
    cart = fresh.get()
    assert quantities(cart) == expected
    assert_totals(cart)


# --------------------------------------------------------------------------- headers

@pytest.mark.parametrize("route", list(ROUTES))
def test_correlation_id_echoed(api, fresh, books, route):
    method, path, has_body = ROUTES[route]
    cid = f"cart-{tag()}"
    kw = {"json": {"quantity": 1}} if has_body else {}
    r = api.request(method, path({"held": books["a"]["id"], "new": books["b"]["id"]}), token=fresh.token,
                    headers={"x-correlation-id": cid}, **kw)
    assert r.status_code in (200, 204), r.text
    assert r.headers["x-correlation-id"] == cid
    assert r.headers.get("x-request-id")
