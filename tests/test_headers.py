"""x-request-id on every response; x-correlation-id echo.

(The OpenAPI check in conftest.py already requires both headers on every
response of every test; these tests pin down their values.)"""

from __future__ import annotations

import uuid

import pytest

from support import book_input, tag


def _requests(api, admin_token):
    """One request of each kind of answer: 200, 304, 400, 401, 404, 201, 204."""
    yield "list", lambda h: api.get("/v1/books", params={"limit": 1}, headers=h)
    yield "bad-limit", lambda h: api.get("/v1/books", params={"limit": 0}, headers=h)
    yield "not-found", lambda h: api.get(f"/v1/books/nope-{tag()}", headers=h)
    yield "unauthorized", lambda h: api.post("/v1/books", json=book_input(), headers=h)
    yield "invalid-body", lambda h: api.post("/v1/books", json={"foo": 1}, headers=dict(h, Authorization=f"Bearer {admin_token}"))


@pytest.fixture
def kinds(api, admin_token):
    return dict(_requests(api, admin_token))


@pytest.mark.parametrize("kind", ["list", "bad-limit", "not-found", "unauthorized", "invalid-body"])
def test_correlation_id_is_echoed(kinds, kind):
    cid = f"test-{uuid.uuid4()}"
    r = kinds[kind]({"x-correlation-id": cid})
    assert r.headers["x-correlation-id"] == cid
    assert r.headers["x-request-id"] and r.headers["x-request-id"] != cid


@pytest.mark.parametrize("kind", ["list", "bad-limit", "not-found", "unauthorized", "invalid-body"])
def test_correlation_id_defaults_to_request_id(kinds, kind):
    r = kinds[kind]({})
    assert r.headers["x-correlation-id"] == r.headers["x-request-id"]


@pytest.mark.parametrize("bad", ["has spaces in it", "angle<brackets>", 'quote"d', "x" * 1000, "", "tab\there",
                                 "caf\u00e9"])
def test_insane_correlation_id_replaced_by_request_id(api, bad):
    r = api.get("/v1/books", params={"limit": 1}, headers={"x-correlation-id": bad})
    assert r.status_code == 200
    assert r.headers["x-correlation-id"] == r.headers["x-request-id"]


def test_request_ids_are_unique(api):
    ids = {api.get("/v1/books", params={"limit": 1}).headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5


def test_request_id_on_write_responses(api, admin_token, make_book):
    r = api.post("/v1/books", json=book_input(), token=admin_token)
    assert r.status_code == 201 and r.headers["x-request-id"]
    make_book.track(r.json()["id"])
    r304 = api.get(f"/v1/books/{r.json()['id']}", headers={"If-None-Match": '"1"'})
    assert r304.status_code == 304 and r304.headers["x-request-id"]
    d = api.delete(f"/v1/books/{r.json()['id']}", token=admin_token)
    assert d.status_code == 204 and d.headers["x-request-id"]


# --------------------------------------------------------------------------- 405
# The router never sends these methods to the functions, so they are outside
# the OpenAPI document; the functions are reached through the invoke API.

@pytest.mark.parametrize("function,method,path", [
    ("catalog-admin", "PATCH", "/v1/books/abc"),
    ("catalog-admin", "GET", "/v1/books/abc"),
    ("catalog-read", "POST", "/v1/books"),
    ("catalog-read", "DELETE", "/v1/books/abc"),
])
def test_method_not_served_by_function_405(invoke, admin_token, function, method, path):
    r = invoke(method, path, b"{}", {"Content-Type": "application/json", "Authorization": f"Bearer {admin_token}"},
               function=function, validate=False)
    assert r.status_code == 405, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"] == "urn:bookish:problem:method-not-allowed" and body["status"] == 405
    assert r.headers.get("x-request-id")
