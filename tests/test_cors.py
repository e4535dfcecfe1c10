"""CORS as API Gateway does it, from the platform template's CorsConfiguration: the local API
answers a preflight for every route of the template itself, exposes the headers a
browser client must read, and gives a disallowed origin no CORS headers at all."""

from __future__ import annotations

import sys

import pytest
import requests

from support import REPO, book_input

sys.path.insert(0, str(REPO / "infra"))
import apigw  # noqa: E402
import provision  # noqa: E402

TEMPLATE = provision.store_template(REPO / "template.yaml")
ROUTES = apigw.routes_from_template(TEMPLATE)
CONFIG = next(r for r in TEMPLATE["Resources"].values()
              if r["Type"] == "AWS::ApiGatewayV2::Api")["Properties"]["CorsConfiguration"]
OTHER_ORIGIN = "http://evil.example"


def concrete(path: str) -> str:
    return "/".join("some-id" if part.startswith("{") else part for part in path.split("/"))


def cors_headers(response: requests.Response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


def listed(value: str) -> set[str]:
    return {v.strip().lower() for v in value.split(",")}


@pytest.fixture(scope="module")
def origin(stack) -> str:
    """The local storefront's origin: the StorefrontOrigin parameter's local value."""
    return stack["storefrontUrl"].rstrip("/")


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.key)
def test_every_route_answers_a_preflight_from_the_storefront(api_url, origin, route):
    r = requests.options(api_url + concrete(route.path), timeout=30, headers={
        "Origin": origin, "Access-Control-Request-Method": route.method,
        "Access-Control-Request-Headers": "authorization,content-type,idempotency-key,if-match"})
    assert r.status_code == 204, r.text
    got = cors_headers(r)
    assert got["access-control-allow-origin"] == origin
    assert route.method.lower() in listed(got["access-control-allow-methods"])
    assert {h.lower() for h in CONFIG["AllowHeaders"]} <= listed(got["access-control-allow-headers"])
    assert got["access-control-max-age"] == str(CONFIG["MaxAge"])


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.key)
def test_a_preflight_from_another_origin_gets_no_cors_headers(api_url, route):
    r = requests.options(api_url + concrete(route.path), timeout=30, headers={
        "Origin": OTHER_ORIGIN, "Access-Control-Request-Method": route.method})
    assert cors_headers(r) == {}


def test_real_responses_expose_the_headers_clients_read(api, origin, admin_token):
    exposed = {h.lower() for h in CONFIG["ExposeHeaders"]}
    created = api.post("/v1/books", json=book_input(), token=admin_token, headers={"Origin": origin})
    try:
        assert created.status_code == 201, created.text
        for response in (created, api.get(created.headers["Location"].split(api.base, 1)[-1],
                                          headers={"Origin": origin})):
            got = cors_headers(response)
            assert got["access-control-allow-origin"] == origin
            assert exposed <= listed(got["access-control-expose-headers"])
            assert "etag" in {k.lower() for k in response.headers}
        problem = api.get("/v1/cart", headers={"Origin": origin})  # a 401 problem is readable too
        assert problem.status_code == 401 and cors_headers(problem)["access-control-allow-origin"] == origin
    finally:
        api.delete(f"/v1/books/{created.json()['id']}", token=admin_token)


def test_real_responses_to_another_origin_carry_no_cors_headers(api):
    r = api.get("/v1/books", params={"limit": 1}, headers={"Origin": OTHER_ORIGIN})
    assert r.status_code == 200 and cors_headers(r) == {}
