"""Helpers shared by the black-box tests: ISBNs, unique book bodies, problem
checks, text folding, and JWT minting for the auth tests.

Nothing here talks to the stack by itself; the fixtures in conftest.py do.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import time
import unicodedata
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SPEC_PATH = REPO / "infra" / "openapi.yaml"
SEED_PATH = REPO / "infra" / "seed" / "books.json"

PROBLEM_JSON = "application/problem+json"


# --------------------------------------------------------------------------- ISBN

def isbn13_check_digit(first12: str) -> str:
    total = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(first12))
    return str((10 - total % 10) % 10)


def isbn13_valid(isbn: str) -> bool:
    return (
        re.fullmatch(r"97[89]\d{10}", isbn) is not None
        and isbn13_check_digit(isbn[:12]) == isbn[12]
    )


def isbn13(prefix: str = "979") -> str:
    """A fresh, random, checksum-valid ISBN-13 (979 by default: no real book
    in the seed uses 979, so it cannot collide with seed data)."""
    body = prefix + str(uuid.uuid4().int % 10**9).zfill(9)
    return body + isbn13_check_digit(body)


def bad_checksum(isbn: str) -> str:
    """The same ISBN with a wrong check digit."""
    return isbn[:12] + str((int(isbn[12]) + 1) % 10)


def hyphenate(isbn: str) -> str:
    return f"{isbn[:3]}-{isbn[3]}-{isbn[4:7]}-{isbn[7:12]}-{isbn[12]}"


# --------------------------------------------------------------------------- books

def tag() -> str:
    """A short unique token, letters and digits only."""
    return uuid.uuid4().hex[:12]


def book_input(**overrides: Any) -> dict:
    """A valid BookInput with a unique ISBN, title, author and genre."""
    t = tag()
    body = {
        "isbn": isbn13(),
        "title": f"Testbook {t}",
        "author": f"Author {t}",
        "genres": [f"Genre {t}"],
        "description": "Written by the test suite.",
        "publishedYear": 2001,
        "price": {"amount": 1234, "currency": "USD"},
    }
    body.update(overrides)
    return body


def same_content(book: dict, inp: dict) -> None:
    """Assert that a Book carries exactly the fields of a (normalised) BookInput."""
    assert book["isbn"] == re.sub(r"[ -]", "", inp["isbn"])
    assert book["title"] == inp["title"]
    assert book["author"] == inp["author"]
    assert book["genres"] == inp["genres"]
    assert book["description"] == inp.get("description", "")
    assert book["publishedYear"] == inp["publishedYear"]
    assert book["price"] == inp["price"]


# --------------------------------------------------------------------------- text

def fold(s: str) -> str:
    """Case- and accent-insensitive form, as the API compares filters."""
    decomposed = unicodedata.normalize("NFKD", s)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


# Plausible title sort keys: the contract says "ordered by title" without fixing
# the collation, so a page sequence must be sorted under at least one of these.
TITLE_KEYS = {
    "folded": fold,
    "folded-words": lambda t: re.sub(r"[^0-9a-z]+", " ", fold(t)).strip(),
    "folded-alnum": lambda t: re.sub(r"[^0-9a-z]", "", fold(t)),
    "raw": lambda t: t,
}


def title_orders_matching(titles: list[str]) -> list[str]:
    return [name for name, key in TITLE_KEYS.items() if [key(t) for t in titles] == sorted(key(t) for t in titles)]


def load_seed() -> list[dict]:
    return json.loads(SEED_PATH.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- problems

def assert_problem(resp, status: int, slug: str, field: str | None = None) -> dict:
    """The response is an application/problem+json of that status and slug.
    `field`: the expected offending field, or None not to check it."""
    assert resp.status_code == status, (
        f"expected {status} {slug}, got {resp.status_code}: {resp.text[:500]}"
    )
    ctype = resp.headers.get("Content-Type", "")
    assert ctype.split(";")[0].strip().lower() == PROBLEM_JSON, ctype
    body = resp.json()
    assert body["type"] == f"urn:bookish:problem:{slug}", body
    assert body["status"] == status, body
    assert isinstance(body.get("title"), str) and body["title"], body
    assert isinstance(body.get("detail"), str) and body["detail"], body
    if field is not None:
        assert body.get("field") == field, f"expected field {field!r}: {body}"
    return body


# --------------------------------------------------------------------------- JWT

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jwt_parts(token: str) -> tuple[dict, dict]:
    """(header, claims) of a JWT, without verifying it."""
    h, p, _ = token.split(".")
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(p))


def _int(s: str) -> int:
    return int.from_bytes(b64url_decode(s), "big")


def rsa_key_from_jwk(jwk: dict):
    from cryptography.hazmat.primitives.asymmetric import rsa

    n, e, d = _int(jwk["n"]), _int(jwk["e"]), _int(jwk["d"])
    if "p" in jwk and "q" in jwk:
        p, q = _int(jwk["p"]), _int(jwk["q"])
    else:  # moto's key has only n, e, d
        p, q = rsa.rsa_recover_prime_factors(n, e, d)
    return rsa.RSAPrivateNumbers(
        p=p, q=q, d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p), dmq1=rsa.rsa_crt_dmq1(d, q), iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(e, n),
    ).private_key()


def fresh_rsa_key():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def moto_cognito_private_jwk() -> dict:
    """The RSA key moto's Cognito signs every token with (it ships inside the
    moto package as cognitoidp/resources/jwks-private.json[.gz])."""
    import moto

    res = Path(moto.__file__).resolve().parent / "cognitoidp" / "resources"
    plain, gz = res / "jwks-private.json", res / "jwks-private.json.gz"
    if plain.exists():
        data = plain.read_bytes()
    elif gz.exists():
        data = gzip.decompress(gz.read_bytes())
    else:  # pragma: no cover - depends on the moto build
        raise FileNotFoundError(f"no jwks-private.json under {res}")
    doc = json.loads(data)
    return doc["keys"][0] if "keys" in doc else doc


def sign_rs256(claims: dict, private_key, kid: str = "dummy") -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    header = {"alg": "RS256", "kid": kid, "typ": "JWT"}
    signing_input = (
        b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url(json.dumps(claims, separators=(",", ":")).encode())
    )
    sig = private_key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64url(sig)


def unsigned_token(claims: dict) -> str:
    """alg "none" token (must never be accepted)."""
    header = {"alg": "none", "kid": "dummy", "typ": "JWT"}
    return (
        b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode()) + "."
    )


def now() -> int:
    return int(time.time())


def bad_authorizations(token: str, claims_override: dict, stack: dict, moto_key) -> dict:
    """Authorization header values (None = no header) that must all give 401.

    `token` is a real Cognito ID token; the forged, expired, wrong-audience,
    ... tokens carry its claims (refreshed iat/exp), so a function that
    accepted one would act as that user. `claims_override` is what an
    attacker would like to change in the payload (e.g. add the admin group,
    or another user's `sub`): "payload-tampered" keeps the real header and
    signature and swaps in a payload with those claims."""
    _, claims = jwt_parts(token)
    fresh = dict(claims, iat=now(), auth_time=now(), exp=now() + 3600)
    expired = dict(claims, iat=now() - 7200, auth_time=now() - 7200, exp=now() - 3600)
    other_pool = stack["userPoolId"].split("_")[0] + "_" + "0" * 10 + "other"
    h, p, sig = token.split(".")
    tampered = b64url(json.dumps(dict(claims, **claims_override)).encode())
    return {
        "no-header": None,
        "bearer-garbage": "Bearer garbage",
        "bearer-only": "Bearer",
        "basic": "Basic xyz",
        "basic-admin-creds": "Basic YWRtaW5AYm9va2lzaC5sb2NhbDpCb29raXNoLUFkbWluLTEh",
        "forged-own-key": "Bearer " + sign_rs256(fresh, fresh_rsa_key(), kid="dummy"),
        "expired": "Bearer " + sign_rs256(expired, moto_key),
        "wrong-audience": "Bearer " + sign_rs256(dict(fresh, aud="not-the-client-id"), moto_key),
        "wrong-issuer": "Bearer " + sign_rs256(
            dict(fresh, iss=f"https://cognito-idp.{stack['region']}.amazonaws.com/{other_pool}"), moto_key),
        "no-exp": "Bearer " + sign_rs256({k: v for k, v in fresh.items() if k != "exp"}, moto_key),
        "alg-none": "Bearer " + unsigned_token(fresh),
        "signature-stripped": f"Bearer {h}.{p}.",
        "payload-tampered": f"Bearer {h}.{tampered}.{sig}",
    }


def assert_unauthorized(resp) -> None:
    """401 problem with a Bearer challenge."""
    assert_problem(resp, 401, "unauthorized")
    www = resp.headers.get("WWW-Authenticate", "")
    assert www.split(" ")[0].split(",")[0] == "Bearer", f"WWW-Authenticate: {www!r}"
