"""GET /v1/books: page size, paging with nextCursor, ordering, cursor integrity,
conditional GET."""

from __future__ import annotations

import base64
import json

import pytest

from support import TITLE_KEYS, assert_problem, tag, title_orders_matching


def test_default_limit_is_20(api, seed):
    r = api.get("/v1/books")
    assert r.status_code == 200
    body = r.json()
    assert len(body["items"]) == 20
    assert isinstance(body["nextCursor"], str) and body["nextCursor"]


@pytest.mark.parametrize("limit", [1, 7, 100])
def test_limit_within_bounds(api, seed, limit):
    r = api.get("/v1/books", params={"limit": limit})
    assert r.status_code == 200
    n = len(r.json()["items"])
    if limit <= len(seed):
        assert n == limit
    else:
        assert len(seed) <= n <= limit


@pytest.mark.parametrize("limit", ["0", "101", "abc", "-1", "1.5", "", "1e1", "99999999999999999999"])
def test_limit_out_of_bounds(api, limit):
    r = api.get("/v1/books", params={"limit": limit})
    assert_problem(r, 400, "validation-error", field="limit")


def _ordered(items: list[dict]) -> None:
    titles = [b["title"] for b in items]
    assert title_orders_matching(titles), (
        f"items are not ordered by title under any of {list(TITLE_KEYS)}: {titles}"
    )


def test_paging_visits_every_book_once_in_title_order(api, seed, make_book):
    t = tag()
    mine = {make_book(title=f"Paging {t} {n}")["id"] for n in ("one", "two", "three")}

    small, pages = api.list_all(limit=7)
    ids = [b["id"] for b in small]
    assert len(ids) == len(set(ids)), "a book was returned twice"
    assert pages >= len(ids) // 7
    isbns = {b["isbn"] for b in small}
    missing = [b["title"] for b in seed if b["isbn"] not in isbns]
    assert not missing, f"seed books never returned: {missing}"
    assert mine <= set(ids)
    _ordered(small)

    # Same sequence whatever the page size.
    big, _ = api.list_all(limit=100)
    assert [b["id"] for b in big] == ids


def test_paging_a_filtered_listing(api, make_book):
    t = tag()
    author = f"Pager {t}"
    books = [make_book(author=author, title=f"{name} {t}") for name in ("Echo", "Alpha", "Delta", "Bravo", "Charlie")]

    seen, cursor, pages = [], None, 0
    while True:
        params = {"author": author, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        r = api.get("/v1/books", params=params)
        assert r.status_code == 200
        body = r.json()
        assert len(body["items"]) <= 2
        seen += body["items"]
        pages += 1
        cursor = body["nextCursor"]
        if cursor is None:
            break
        assert pages < 10
    assert pages >= 3
    assert [b["title"] for b in seen] == [f"{n} {t}" for n in ("Alpha", "Bravo", "Charlie", "Delta", "Echo")]
    assert sorted(b["id"] for b in seen) == sorted(b["id"] for b in books)


def test_last_page_has_null_cursor(api, make_book):
    author = f"Single {tag()}"
    make_book(author=author)
    r = api.get("/v1/books", params={"author": author, "limit": 5})
    assert r.status_code == 200
    assert len(r.json()["items"]) == 1
    assert r.json()["nextCursor"] is None


def test_empty_result(api):
    r = api.get("/v1/books", params={"author": f"Nobody {tag()}"})
    assert r.status_code == 200
    assert r.json() == {"items": [], "nextCursor": None}


# --------------------------------------------------------------------------- cursors

@pytest.fixture
def cursor(api, seed) -> str:
    r = api.get("/v1/books", params={"limit": 2})
    assert r.status_code == 200
    c = r.json()["nextCursor"]
    assert c
    # It is valid as it is.
    assert api.get("/v1/books", params={"limit": 2, "cursor": c}).status_code == 200
    return c


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_B64STD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _flip(c: str, i: int) -> str:
    """Change character i so that all 6 bits it encodes in base64 change meaning
    (xor 32), staying inside the same alphabet where possible."""
    ch = c[i]
    for alphabet in (_B64, _B64STD):
        if ch in alphabet:
            return c[:i] + alphabet[alphabet.index(ch) ^ 32] + c[i + 1:]
    return c[:i] + ("A" if ch != "A" else "B") + c[i + 1:]


@pytest.mark.parametrize("where", ["first", "middle", "second-last-quarter"])
def test_tampered_cursor_flipped_character(api, cursor, where):
    i = {"first": 0, "middle": len(cursor) // 2, "second-last-quarter": (3 * len(cursor)) // 4}[where]
    bad = _flip(cursor, i)
    assert bad != cursor
    r = api.get("/v1/books", params={"limit": 2, "cursor": bad})
    assert_problem(r, 400, "validation-error", field="cursor")


@pytest.mark.parametrize("cut", ["drop-4", "half", "one-char"])
def test_truncated_cursor(api, cursor, cut):
    bad = {"drop-4": cursor[:-4], "half": cursor[: len(cursor) // 2], "one-char": cursor[:1]}[cut]
    r = api.get("/v1/books", params={"limit": 2, "cursor": bad})
    assert_problem(r, 400, "validation-error", field="cursor")


def test_extended_cursor(api, cursor):
    r = api.get("/v1/books", params={"limit": 2, "cursor": cursor + "AAAA"})
    assert_problem(r, 400, "validation-error", field="cursor")


@pytest.mark.parametrize("garbage", [
    "garbage",
    "!!!!",
    "%%%",
    " ",
    "null",
    base64.urlsafe_b64encode(b'{"foo":"bar"}').decode().rstrip("="),
    base64.urlsafe_b64encode(json.dumps({"pk": {"S": "BOOK#x"}, "sk": {"S": "BOOK"}}).encode()).decode(),
    "eyJ" + "A" * 200,
])
def test_garbage_cursor(api, garbage):
    r = api.get("/v1/books", params={"cursor": garbage})
    assert_problem(r, 400, "validation-error", field="cursor")


@pytest.fixture(scope="module")
def filtered_cursors(api, module_books) -> dict:
    """Cursors minted under several filters (each filter matches 3 books)."""
    t = tag()
    author, genre = f"Cursor Author {t}", f"Cursor Genre {t}"
    for n in (1, 2, 3):
        module_books(author=author, genres=[genre], title=f"Cursor {t} {n}")
    combos = {
        "none": {},
        "author": {"author": author},
        "genre": {"genre": genre},
        "q": {"q": f"Cursor {t}"},
        "q+author": {"q": f"Cursor {t}", "author": author},
        "q+genre": {"q": f"Cursor {t}", "genre": genre},
    }
    cursors = {}
    for name, params in combos.items():
        r = api.get("/v1/books", params=dict(params, limit=1))
        assert r.status_code == 200
        assert r.json()["nextCursor"], name
        cursors[name] = (params, r.json()["nextCursor"])
    other = {"author": f"Other Author {t}", "genre": f"Other Genre {t}", "q": f"Other {t}"}
    return {"cursors": cursors, "used": {"author": author, "genre": genre, "q": f"Cursor {t}"}, "other": other}


REUSES = [
    ("none", {"author": "{author}"}),
    ("none", {"q": "Cursor"}),
    ("author", {}),
    ("author", {"author": "{other_author}"}),
    ("author", {"genre": "{genre}"}),
    ("author", {"q": "Cursor", "author": "{author}"}),
    ("genre", {"genre": "{other_genre}"}),
    ("genre", {}),
    ("q", {"q": "{other_q}"}),
    ("q", {}),
    ("q+author", {"author": "{author}"}),
    ("q+author", {"q": "{q}"}),
    ("q+genre", {"q": "{q}", "author": "{author}"}),
]


@pytest.mark.parametrize("origin,reuse", REUSES, ids=[f"{o}->{'+'.join(r) or 'none'}" for o, r in REUSES])
def test_cursor_reused_with_other_filters(api, filtered_cursors, origin, reuse):
    params, c = filtered_cursors["cursors"][origin]
    used, other = filtered_cursors["used"], filtered_cursors["other"]
    subst = dict(used, **{f"other_{k}": v for k, v in other.items()})
    new = {k: v.format(**subst) for k, v in reuse.items()}
    assert new != params
    # The cursor is fine where it came from...
    assert api.get("/v1/books", params=dict(params, limit=1, cursor=c)).status_code == 200
    # ...and rejected anywhere else.
    r = api.get("/v1/books", params=dict(new, limit=1, cursor=c))
    assert_problem(r, 400, "validation-error", field="cursor")


# --------------------------------------------------------------------------- caching

def test_list_etag_cache_control_and_304(api, make_book):
    author = f"Etag {tag()}"
    make_book(author=author)
    r = api.get("/v1/books", params={"author": author})
    assert r.status_code == 200
    etag = r.headers["ETag"]
    cc = r.headers["Cache-Control"].replace(" ", "").lower().split(",")
    assert "public" in cc and "max-age=60" in cc

    r304 = api.get("/v1/books", params={"author": author}, headers={"If-None-Match": etag})
    assert r304.status_code == 304
    assert r304.content == b""

    other = api.get("/v1/books", params={"author": author}, headers={"If-None-Match": '"nope"'})
    assert other.status_code == 200

    # The listing changes: the old ETag no longer matches.
    make_book(author=author)
    r2 = api.get("/v1/books", params={"author": author}, headers={"If-None-Match": etag})
    assert r2.status_code == 200
    assert len(r2.json()["items"]) == 2
    assert r2.headers["ETag"] != etag


# --------------------------------------------------------------------------- forged cursors
#
# A cursor is <base64url(position)>.<base64url(digest)>, the digest being the first 12
# bytes of SHA-256("bookish-cursor-v1\0" <scope> "\0" <position>) and the scope naming
# the query ("books|all|q=<folded q>", "books|author=<folded author>|q=", ...). The
# digest is not a secret: anyone can mint a cursor whose digest checks. Such a cursor
# must still never page outside its own query, nor break the query (500).

def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def cursor_position(c: str) -> str:
    return _unb64(c.split(".")[0]).decode()


def mint_cursor(scope: str, position: str) -> str:
    import hashlib

    digest = hashlib.sha256(b"bookish-cursor-v1\0" + scope.encode() + b"\0" + position.encode()).digest()[:12]
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    return f"{b64(position.encode())}.{b64(digest)}"


@pytest.fixture(scope="module")
def prefixed(api, module_books) -> dict:
    """Three books whose titles share a unique prefix, and a real cursor after the first."""
    t = tag()
    q = f"forge {t}"
    ids = [module_books(title=f"Forge {t} {n}")["id"] for n in ("one", "two", "three")]
    r = api.get("/v1/books", params={"q": q, "limit": 1})
    assert r.status_code == 200
    c = r.json()["nextCursor"]
    assert c and cursor_position(c).startswith(q + " ")
    return {"q": q, "ids": ids, "cursor": c, "scope": f"books|all|q={q}"}


def test_a_reminted_cursor_is_the_same_cursor(api, prefixed):
    """Control for the forgeries below: minting reproduces the real format."""
    q, c = prefixed["q"], prefixed["cursor"]
    assert mint_cursor(prefixed["scope"], cursor_position(c)) == c
    r = api.get("/v1/books", params={"q": q, "limit": 5, "cursor": c})
    assert r.status_code == 200
    assert [b["title"].lower().startswith(q) for b in r.json()["items"]] == [True, True]


FORGED_POSITIONS = {
    "before-the-prefix": "a#{id}",
    "far-before": "0#{id}",
    "just-before": "{q_before}#{id}",
    "after-the-prefix": "zzzz#{id}",
    "other-prefix": "the#{id}",
    "empty": "",
    "no-id": "{q} one",
    "empty-id": "{q} one#",
    "odd-id": "{q} one#a.b",
    "id-too-long": "{q} one#" + "x" * 65,
    "too-long": "{q} " + "x" * 2000 + "#{id}",
    "max-char": "{q}\U0010ffff#{id}",
}


@pytest.mark.parametrize("kind", list(FORGED_POSITIONS))
def test_forged_cursor_with_a_valid_digest_never_leaves_the_title_prefix(api, prefixed, kind):
    q = prefixed["q"]
    position = FORGED_POSITIONS[kind].format(q=q, q_before=q[:-1] + chr(ord(q[-1]) - 1), id=prefixed["ids"][0])
    forged = mint_cursor(prefixed["scope"], position)
    r = api.get("/v1/books", params={"q": q, "limit": 100, "cursor": forged})
    assert_problem(r, 400, "validation-error", field="cursor")


@pytest.mark.parametrize("scope_params", [{}, {"author": "George Orwell"}, {"genre": "Classics"}],
                         ids=["all", "author", "genre"])
@pytest.mark.parametrize("position", ["", "x" * 2000 + "#abc", "no id here", "animal farm#a/b"],
                         ids=["empty", "too-long", "no-id", "odd-id"])
def test_forged_cursor_that_no_listing_could_have_made(api, seed, scope_params, position):
    scope = {"author": "author=george orwell", "genre": "genre=classics"}
    name = next(iter(scope_params), None)
    forged = mint_cursor(f"books|{scope[name] if name else 'all'}|q=", position)
    r = api.get("/v1/books", params=dict(scope_params, cursor=forged))
    assert_problem(r, 400, "validation-error", field="cursor")


def test_forged_cursor_inside_the_listing_pages_from_there(api, seed):
    """A minted position that a listing could have made is just a place to start."""
    r = api.get("/v1/books", params={"author": "George Orwell",
                                     "cursor": mint_cursor("books|author=george orwell|q=", "1984#~")})
    assert_problem(r, 400, "validation-error", field="cursor")  # "~" is no book id
    r = api.get("/v1/books", params={"author": "George Orwell",
                                     "cursor": mint_cursor("books|author=george orwell|q=", "1984#ffffffff")})
    assert r.status_code == 200
    assert [b["title"] for b in r.json()["items"]] == ["Animal Farm"]
