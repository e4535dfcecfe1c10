"""No identity without a verified token, even for a caller allowed to invoke a function.

One service calls another by invoking its function directly with an API Gateway event
(`functions/shared/src/invoke.rs`). Such an event's `requestContext.authorizer` says
whatever its sender wrote, so the functions never read claims from it: they verify the
bearer token, in AWS as locally.

These tests start each HTTP function's binary in its deployed configuration (the
template's environment, without the local stack's JWKS override) behind a Lambda Runtime
API on loopback, and hand it events with forged claims.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid

import pytest

from support import REPO, book_input

sys.path.insert(0, str(REPO / "infra" / "bench"))
from runtime_api import Function  # noqa: E402

FORGED = {"sub": "9b1d3c2e-victim", "cognito:username": "victim", "email": "victim@example.com",
          "cognito:groups": "[admin]"}


def event(method: str, path: str, body: dict | None, claims: dict, token: str | None = None,
          path_parameters: dict | None = None) -> bytes:
    headers = {"content-type": "application/json", "x-correlation-id": f"forged-{uuid.uuid4()}"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    payload = {
        "version": "2.0", "routeKey": f"{method} {path}", "rawPath": path, "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "forged", "requestId": str(uuid.uuid4()),
            "routeKey": f"{method} {path}", "stage": "$default", "timeEpoch": int(time.time() * 1000),
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                     "userAgent": "forger"},
            "authorizer": {"jwt": {"claims": claims, "scopes": None}},
        },
        "isBase64Encoded": False,
    }
    if body is not None:
        payload["body"] = json.dumps(body)
    if path_parameters:
        payload["pathParameters"] = path_parameters
    return json.dumps(payload).encode()


def deployed_env(stack: dict, keep_local_jwks: bool = False) -> dict[str, str]:
    env = dict(stack["functionEnv"])
    if not keep_local_jwks:
        env.pop("AUTH_JWKS_URL")  # never in the template: the JWKS is the issuer's
    env["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
    return env


def answer(binary: str, env: dict[str, str], payload: bytes, log) -> dict:
    path = REPO / "target" / "debug" / binary
    assert path.exists(), f"{path} is missing: the local stack builds it (make test)"
    with Function(binary, [str(path)], env, REPO, log) as function:
        return json.loads(function.wait(function.start(payload)).body)


BOOK = "0123456789abcdef0123456789abcdef"
CASES = [
    ("cart", "GET", "/v1/cart", None, None),
    ("cart", "PUT", "/v1/cart/items/{bookId}", {"quantity": 1}, {"bookId": BOOK}),
    ("catalog-admin", "POST", "/v1/books", book_input(), None),
    ("catalog-admin", "DELETE", "/v1/books/{id}", None, {"id": BOOK}),
    ("inventory-api", "PUT", "/v1/inventory/{bookId}", {"available": 0}, {"bookId": BOOK}),
    ("order-api", "GET", "/v1/orders", None, None),
]


@pytest.mark.parametrize("binary,method,route,body,params", CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
def test_forged_claims_without_a_token_are_401(stack, tmp_path, binary, method, route, body, params):
    path = route
    for name, value in (params or {}).items():
        path = path.replace("{" + name + "}", value)
    payload = event(method, path, body, FORGED, path_parameters=params)
    response = answer(binary, deployed_env(stack), payload, tmp_path / f"{binary}.log")
    assert response["statusCode"] == 401, response
    assert json.loads(response["body"])["type"] == "urn:bookish:problem:unauthorized"


def test_a_token_outranks_the_claims_beside_it(stack, tmp_path, shopper_token):
    """A real shopper's token with forged admin claims: the shopper, not an admin."""
    payload = event("POST", "/v1/books", book_input(), FORGED, token=shopper_token)
    response = answer("catalog-admin", deployed_env(stack, keep_local_jwks=True), payload, tmp_path / "admin.log")
    assert response["statusCode"] == 403, response
