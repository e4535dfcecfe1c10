"""Authentication and authorisation of POST/PUT/DELETE.

Bad tokens of every kind get 401 with `WWW-Authenticate: Bearer` and change
nothing. The expired and wrong-audience tokens are signed with moto's own
Cognito private key (shipped inside the moto package), so only the claim is
wrong; a control token minted the same way with correct claims is accepted.
"""

from __future__ import annotations

import pytest

from support import (
    assert_problem,
    assert_unauthorized,
    bad_authorizations,
    book_input,
    jwt_parts,
    now,
    sign_rs256,
    tag,
)


@pytest.fixture(scope="session")
def admin_claims(admin_token) -> dict:
    header, claims = jwt_parts(admin_token)
    assert header.get("kid") == "dummy" and header.get("alg") == "RS256", header
    assert "admin" in claims.get("cognito:groups", []), claims
    return claims


@pytest.fixture(scope="session")
def bad_auth(admin_token, shopper_token, admin_claims, moto_key, stack) -> dict:
    """Authorization header values (None = no header) that must all give 401:
    the admin's claims with one thing wrong, and the shopper's real token with
    the admin group pasted into its payload."""
    bad = bad_authorizations(admin_token, {}, stack, moto_key)
    del bad["payload-tampered"]
    bad["shopper-payload-escalated"] = bad_authorizations(
        shopper_token, {"cognito:groups": ["admin"]}, stack, moto_key)["payload-tampered"]
    return bad


@pytest.fixture(scope="session")
def control_auth(admin_claims, moto_key) -> str:
    fresh = dict(admin_claims, iat=now(), auth_time=now(), exp=now() + 3600)
    return "Bearer " + sign_rs256(fresh, moto_key)


@pytest.fixture(scope="module")
def victim(api, admin_token):
    r = api.post("/v1/books", json=book_input(), token=admin_token)
    assert r.status_code == 201, r.text
    book = r.json()
    yield book
    api.delete(f"/v1/books/{book['id']}", token=admin_token)


BAD = [
    "no-header", "bearer-garbage", "bearer-only", "basic", "basic-admin-creds",
    "forged-own-key", "expired", "wrong-audience", "wrong-issuer", "no-exp", "alg-none",
    "signature-stripped", "shopper-payload-escalated",
]


def _assert_401(r):
    assert_unauthorized(r)


def test_minted_control_token_is_accepted(api, control_auth):
    """Proves the suite signs with the key the stack trusts, so the 401s for
    expired / wrong-audience tokens below are due to the claim alone."""
    r = api.delete(f"/v1/books/nope-{tag()}", auth=control_auth)
    assert_problem(r, 404, "not-found")


@pytest.mark.parametrize("kind", BAD)
def test_post_bad_token_401(api, bad_auth, probe, kind):
    body = book_input()
    r = api.post("/v1/books", json=body, auth=bad_auth[kind])
    _assert_401(r)
    probe.nothing_stored(body, isbn=kind in ("forged-own-key", "expired", "wrong-audience"))


@pytest.mark.parametrize("kind", BAD)
def test_put_bad_token_401(api, bad_auth, victim, kind):
    r = api.put(f"/v1/books/{victim['id']}", json=book_input(), auth=bad_auth[kind])
    _assert_401(r)
    assert api.get(f"/v1/books/{victim['id']}").json() == victim


@pytest.mark.parametrize("kind", BAD)
def test_delete_bad_token_401(api, bad_auth, victim, kind):
    r = api.delete(f"/v1/books/{victim['id']}", auth=bad_auth[kind])
    _assert_401(r)
    assert api.get(f"/v1/books/{victim['id']}").json() == victim


def test_bad_token_on_unknown_book_is_401_not_404(api, bad_auth):
    _assert_401(api.delete(f"/v1/books/nope-{tag()}", auth=bad_auth["expired"]))
    _assert_401(api.put(f"/v1/books/nope-{tag()}", json=book_input(), auth=bad_auth["wrong-audience"]))


# --------------------------------------------------------------------------- 403

@pytest.fixture(params=["id", "access"])
def shopper_bearer(request, shopper_auth) -> str:
    tok = shopper_auth["IdToken" if request.param == "id" else "AccessToken"]
    _, claims = jwt_parts(tok)
    assert "admin" not in claims.get("cognito:groups", [])
    return tok


def test_shopper_post_403(api, shopper_bearer, probe):
    body = book_input()
    r = api.post("/v1/books", json=body, token=shopper_bearer)
    assert_problem(r, 403, "forbidden")
    probe.nothing_stored(body, isbn=True)


def test_shopper_put_403(api, shopper_bearer, victim):
    r = api.put(f"/v1/books/{victim['id']}", json=book_input(), token=shopper_bearer)
    assert_problem(r, 403, "forbidden")
    assert api.get(f"/v1/books/{victim['id']}").json() == victim


def test_shopper_delete_403(api, shopper_bearer, victim):
    r = api.delete(f"/v1/books/{victim['id']}", token=shopper_bearer)
    assert_problem(r, 403, "forbidden")
    assert api.get(f"/v1/books/{victim['id']}").json() == victim


def test_shopper_reads_are_fine(api, shopper_token, victim):
    r = api.get(f"/v1/books/{victim['id']}", token=shopper_token)
    assert r.status_code == 200


# --------------------------------------------------------------------------- access token

def test_admin_access_token_works(api, admin_access_token, make_book):
    _, claims = jwt_parts(admin_access_token)
    assert claims.get("token_use") == "access" and "aud" not in claims
    r = api.post("/v1/books", json=book_input(), token=admin_access_token)
    assert r.status_code == 201, r.text
    book = r.json()
    make_book.track(book["id"])
    r = api.put(f"/v1/books/{book['id']}", json=book_input(), token=admin_access_token)
    assert r.status_code == 200, r.text
    r = api.delete(f"/v1/books/{book['id']}", token=admin_access_token)
    assert r.status_code == 204


def test_access_token_wrong_client_id_401(api, admin_access_token, moto_key, probe):
    _, claims = jwt_parts(admin_access_token)
    tok = sign_rs256(dict(claims, client_id="not-the-client-id", exp=now() + 3600), moto_key)
    body = book_input()
    _assert_401(api.post("/v1/books", json=body, token=tok))
    probe.nothing_stored(body)


def test_access_token_expired_401(api, admin_access_token, moto_key, probe):
    _, claims = jwt_parts(admin_access_token)
    tok = sign_rs256(dict(claims, iat=now() - 7200, exp=now() - 3600), moto_key)
    body = book_input()
    _assert_401(api.post("/v1/books", json=body, token=tok))
    probe.nothing_stored(body)
