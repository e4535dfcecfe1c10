"""infra/apigw.py on its own: the routes it reads from template.yaml, and the payload-2.0
events it builds, as API Gateway builds them. No servers."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

from aiohttp.test_utils import make_mocked_request

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "infra"))
import apigw  # noqa: E402
import provision  # noqa: E402

ROUTES = apigw.routes_from_template(provision.store_template(apigw.ROOT / "template.yaml"))


def test_every_http_event_of_the_template_is_a_route():
    keys = {r.key: r.binary for r in ROUTES}
    assert keys["GET /v1/books"] == "catalog-read"
    assert keys["POST /v1/orders/{id}/cancel"] == "order-api"
    assert keys["PUT /v1/inventory/{bookId}"] == "inventory-api"
    assert len(keys) == len(ROUTES) == 15


def test_matching_takes_the_method_and_the_most_specific_path():
    route, params = apigw.match(ROUTES, "GET", "/v1/books/abc")
    assert (route.key, params) == ("GET /v1/books/{id}", {"id": "abc"})
    route, params = apigw.match(ROUTES, "POST", "/v1/orders/o-1/cancel")
    assert (route.key, params) == ("POST /v1/orders/{id}/cancel", {"id": "o-1"})
    assert apigw.match(ROUTES, "PATCH", "/v1/books/abc") == (None, {})
    assert apigw.match(ROUTES, "GET", "/v1/nothing") == (None, {})
    # A parameter takes any character but '/', newlines too.
    assert apigw.match(ROUTES, "GET", "/v1/books/a\nb")[1] == {"id": "a\nb"}


def test_events_carry_raw_path_and_query_and_base64_for_bodies_that_are_not_utf8():
    request = make_mocked_request("POST", "/v1/books?q=caf%C3%A9&q=x", headers={
        "Content-Type": "application/json", "X-Multi": "a", "Cookie": "c1=v1; c2=v2"})
    route, params = apigw.match(ROUTES, "POST", "/v1/books")
    text = apigw.event_for(request, "{\"t\": \"é\"}".encode(), route, params, "req-1")
    assert text["routeKey"] == "POST /v1/books" and text["rawQueryString"] == "q=caf%C3%A9&q=x"
    assert text["queryStringParameters"] == {"q": "café,x"}
    assert text["cookies"] == ["c1=v1", "c2=v2"] and "cookie" not in text["headers"]
    assert (text["body"], text["isBase64Encoded"]) == ('{"t": "é"}', False)
    assert text["requestContext"]["requestId"] == "req-1"
    binary = apigw.event_for(request, b"\xff\xfe{", route, params, "req-2")
    assert binary["isBase64Encoded"] is True and base64.b64decode(binary["body"]) == b"\xff\xfe{"


def test_header_bytes_that_are_not_utf8_do_not_break_the_event():
    request = make_mocked_request("GET", "/v1/books", headers={"If-Match": "\u00dd0"})
    request._message = request._message._replace(raw_headers=((b"If-Match", b"\xdd0"),))
    route, params = apigw.match(ROUTES, "GET", "/v1/books")
    event = apigw.event_for(request, b"", route, params, "req-3")
    assert event["headers"]["if-match"] == "\ufffd0"
    event_json = __import__("json").dumps(event)
    assert "\\udc" not in event_json, "a lone surrogate would make the function refuse the event"


def test_a_function_answer_becomes_the_response_and_garbage_a_gateway_500():
    ok = apigw.response_from({"statusCode": 201, "headers": {"location": "/v1/books/1"},
                              "multiValueHeaders": {"vary": ["a", "b"]}, "body": "e30=",
                              "isBase64Encoded": True}, "req")
    assert ok.status == 201 and ok.body == b"{}" and ok.headers.getall("vary") == ["a", "b"]
    assert ok.headers["apigw-requestid"] == "req"
    for garbage in ({"errorType": "Panic", "errorMessage": "boom"}, {"statusCode": "x"}):
        failed = apigw.response_from(garbage, "req")
        assert failed.status == 500 and failed.body == b'{"message": "Internal Server Error"}'


def test_a_request_target_no_function_could_take_is_a_400_problem():
    response = apigw.too_long("req")
    assert response.status == 400 and response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["x-request-id"] == response.headers["x-correlation-id"] == "req"
    assert __import__("json").loads(response.body)["type"] == "urn:bookish:problem:validation-error"



TEMPLATE = provision.store_template(apigw.ROOT / "template.yaml")
LOCAL_ORIGIN = "http://127.0.0.1:9200"


def cors_with(**parameters):
    return apigw.cors_from_template(TEMPLATE, provision.template_parameters(TEMPLATE, parameters))


def test_cors_comes_from_the_template_with_the_local_origin_and_without_the_cloudfront_one():
    cors = cors_with(StorefrontOrigin=LOCAL_ORIGIN)
    assert cors.origins == {LOCAL_ORIGIN}, "the CloudFront origin exists only in AWS"
    assert {r.method for r in ROUTES} <= set(cors.methods.split(","))
    assert {"authorization", "content-type", "idempotency-key", "if-match"} <= set(cors.headers.split(","))
    assert {"etag", "location", "x-request-id", "retry-after"} <= set(cors.expose.split(","))
    assert cors.max_age and cors.max_age > 0
    assert cors_with(StorefrontOrigin="").origins == frozenset(), "an empty parameter allows no other origin"


def test_a_preflight_from_an_allowed_origin_gets_the_configuration_and_others_get_nothing():
    cors = cors_with(StorefrontOrigin=LOCAL_ORIGIN)
    allowed = cors.preflight(LOCAL_ORIGIN, "req")
    assert allowed.status == 204 and allowed.headers["Access-Control-Allow-Origin"] == LOCAL_ORIGIN
    assert allowed.headers["Access-Control-Allow-Methods"] == cors.methods
    assert allowed.headers["Access-Control-Max-Age"] == str(cors.max_age)
    refused = cors.preflight("http://evil.example", "req")
    assert refused.status == 204 and not [h for h in refused.headers if h.lower().startswith("access-control-")]


def test_responses_get_the_gateways_cors_headers_and_never_the_functions():
    cors = cors_with(StorefrontOrigin=LOCAL_ORIGIN)
    function_says = {"statusCode": 200, "headers": {"access-control-allow-origin": "*", "etag": '"1"'}, "body": "{}"}
    response = apigw.response_from(function_says, "req")
    cors.apply(LOCAL_ORIGIN, response)
    assert response.headers["Access-Control-Allow-Origin"] == LOCAL_ORIGIN
    assert "etag" in response.headers["Access-Control-Expose-Headers"].split(",")
    other = apigw.response_from(function_says, "req")
    cors.apply("http://evil.example", other)
    assert not [h for h in other.headers if h.lower().startswith("access-control-")]
