#!/usr/bin/env python3
"""The local HTTP API: what API Gateway does in front of the functions, read from
the store's templates (template.yaml and the stacks it nests), so the local API is the
deployed one.

- Routes: every `AWS::ApiGatewayV2::Route` of the service stacks (method and path, with
  `{param}` segments), matched as HTTP APIs match them; anything else is 404
  `{"message":"Not Found"}` from the gateway itself.
- Each request becomes the payload-2.0 event API Gateway sends (`routeKey`, `rawPath`,
  `rawQueryString`, comma-joined `headers` and `queryStringParameters`, `cookies`,
  `pathParameters`, `requestContext`), and the function is invoked through `cargo lambda
  watch`'s Lambda Invoke API. A body that is not UTF-8 goes base64-encoded
  (`isBase64Encoded`), as API Gateway sends binary bodies: the function answers it.
- The function's answer (`statusCode`, `headers`, `multiValueHeaders`, `cookies`, `body`,
  `isBase64Encoded`) becomes the HTTP response; a function that fails or returns garbage
  is 500 `{"message":"Internal Server Error"}`, as API Gateway answers.
- `/2015-03-31/functions/...` (the Lambda Invoke API) passes through to watch, so one
  function can invoke another, and the event driver can, at the same address.
- CORS, from the platform API's `CorsConfiguration`, as API Gateway does it: a preflight
  (OPTIONS with `Origin` and `Access-Control-Request-Method`) is answered here, whatever
  the routes, and never reaches a function; a response to an allowed origin gets
  `Access-Control-Allow-Origin` and `-Expose-Headers`; CORS headers a function sends are
  dropped; a disallowed origin gets no CORS headers at all. Origins are evaluated with
  the template's parameters (`--parameter Name=value` for local values); one that only
  AWS can resolve (the CloudFront domain) is left out.

Not emulated: the JWT authorizer (every
function verifies the token itself, so a request without a valid token gets the
function's 401 problem+json rather than API Gateway's `{"message":"Unauthorized"}`),
throttling, and the 30 s integration timeout (watch may spend minutes building a
function on its first request).

  infra/apigw.py --port 9000 --lambda http://127.0.0.1:9100
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import re
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from aiohttp import ClientSession, ClientTimeout, web

sys.path.insert(0, str(Path(__file__).resolve().parent))
import provision  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_ID = "123456789012"
INVOKE_TIMEOUT = ClientTimeout(total=15 * 60)  # a first build of a function takes minutes
INVOKE_PREFIX = "/2015-03-31/functions/"
# Longer request targets never reach a function: the Rust runtime cannot even build the
# request of one (the http crate's URI limit is 64 KB). API Gateway's own limit is lower
# (request line and headers: 10 KB together).
MAX_TARGET_BYTES = 60_000


@dataclass(frozen=True)
class Route:
    method: str  # GET, POST, ... or ANY
    path: str  # /v1/books/{id}
    binary: str
    pattern: re.Pattern

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def literal_segments(self) -> int:
        return sum(1 for part in self.path.split("/") if part and not part.startswith("{"))


def route(method: str, path: str, binary: str) -> Route:
    regex = ""
    for part in path.strip("/").split("/"):
        if part.startswith("{") and part.endswith("+}"):
            regex += f"/(?P<{part[1:-2]}>.+)"
        elif part.startswith("{") and part.endswith("}"):
            regex += f"/(?P<{part[1:-1]}>[^/]+)"
        else:
            regex += "/" + re.escape(part)
    return Route(method.upper(), path, binary, re.compile(f"^{regex or '/'}$"))


def routes_from_template(template: dict) -> list[Route]:
    """Every AWS::ApiGatewayV2::Route of the store (each service's stack adds its own to
    the platform's API) with the function its integration proxies to, most specific first."""
    resources = template.get("Resources", {})
    binaries = provision.function_binaries(template)
    found = []
    for logical, res in resources.items():
        if res.get("Type") != "AWS::ApiGatewayV2::Route":
            continue
        props = res["Properties"]
        method, path = props["RouteKey"].split(" ", 1) if " " in props["RouteKey"] else ("ANY", props["RouteKey"])
        target = props["Target"]
        text = target["Fn::Sub"] if isinstance(target, dict) else target
        integration = re.fullmatch(r"integrations/\$\{(\w+)\}", text)
        if not integration or integration.group(1) not in resources:
            raise SystemExit(f"{logical}: Target {target!r} is not an integration of the template")
        uri = resources[integration.group(1)]["Properties"]["IntegrationUri"]
        function = uri["Fn::GetAtt"][0] if isinstance(uri.get("Fn::GetAtt"), list) else str(uri.get("Fn::GetAtt", "")).split(".")[0]
        if function not in binaries:
            raise SystemExit(f"{logical}: its integration's IntegrationUri {uri!r} is not a function of the template")
        found.append(route(method, path, binaries[function]))
    return sorted(found, key=lambda r: (-r.literal_segments, -r.path.count("/"), r.method == "ANY"))


@dataclass(frozen=True)
class Cors:
    """An HttpApi's CorsConfiguration, evaluated."""

    origins: frozenset[str]
    methods: str
    headers: str
    expose: str
    max_age: int | None

    def allows(self, origin: str) -> bool:
        origin = origin.lower()
        scheme = origin.split("://", 1)[0]
        return bool({origin, "*", f"{scheme}://*"} & self.origins)

    def preflight(self, origin: str, request_id: str) -> web.Response:
        response = web.Response(status=204, headers={"apigw-requestid": request_id})
        if self.allows(origin):
            response.headers["Access-Control-Allow-Origin"] = origin
            for name, value in (("Methods", self.methods), ("Headers", self.headers)):
                if value:
                    response.headers[f"Access-Control-Allow-{name}"] = value
            if self.max_age is not None:
                response.headers["Access-Control-Max-Age"] = str(self.max_age)
        return response

    def apply(self, origin: str | None, response: web.StreamResponse) -> None:
        """API Gateway's CORS headers replace any the function sent."""
        for name in [n for n in response.headers if n.lower().startswith("access-control-")]:
            response.headers.popall(name, None)
        if origin and self.allows(origin):
            response.headers["Access-Control-Allow-Origin"] = origin
            if self.expose:
                response.headers["Access-Control-Expose-Headers"] = self.expose


class OnlyInAws(LookupError):
    """A value naming something that exists only in AWS (a CloudFront domain, say)."""


def evaluate(value, template: dict, parameters: dict[str, str]):
    """A CloudFormation value with what exists locally: parameters, pseudo parameters and
    conditions. None is AWS::NoValue."""
    if isinstance(value, dict) and "Fn::If" in value:
        name, when_true, when_false = value["Fn::If"]
        chosen = when_true if condition(name, template, parameters) else when_false
        return evaluate(chosen, template, parameters)
    if isinstance(value, dict) and value.get("Ref") == "AWS::NoValue":
        return None
    refs = {**provision.PSEUDO_PARAMETERS, **parameters}
    try:
        return provision.resolve(value, refs)
    except (KeyError, SystemExit) as err:
        raise OnlyInAws(str(value)) from err


def condition(name: str, template: dict, parameters: dict[str, str]) -> bool:
    def holds(expr) -> bool:
        (fn, args), = expr.items()
        if fn == "Condition":
            return holds(template["Conditions"][args])
        if fn == "Fn::Not":
            return not holds(args[0])
        if fn == "Fn::And":
            return all(holds(a) for a in args)
        if fn == "Fn::Or":
            return any(holds(a) for a in args)
        if fn == "Fn::Equals":
            return evaluate(args[0], template, parameters) == evaluate(args[1], template, parameters)
        raise SystemExit(f"condition {name}: {fn} is not evaluated locally")

    return holds(template["Conditions"][name])


def cors_from_template(template: dict, parameters: dict[str, str]) -> Cors | None:
    """The CorsConfiguration of the template's HTTP API (None without one)."""
    apis = [r for r in template.get("Resources", {}).values() if r.get("Type") == "AWS::ApiGatewayV2::Api"]
    config = apis[0].get("Properties", {}).get("CorsConfiguration") if len(apis) == 1 else None
    if not config:
        return None
    origins = set()
    for value in config.get("AllowOrigins", []):
        try:
            origin = evaluate(value, template, parameters)
        except OnlyInAws:
            continue
        if origin:
            origins.add(origin.lower())
    max_age = config.get("MaxAge")
    return Cors(frozenset(origins), ",".join(config.get("AllowMethods", [])),
                ",".join(config.get("AllowHeaders", [])).lower(), ",".join(config.get("ExposeHeaders", [])).lower(),
                None if max_age is None else int(max_age))


def match(routes: list[Route], method: str, path: str) -> tuple[Route | None, dict]:
    for r in routes:
        m = r.pattern.match(path)
        if m and r.method in (method, "ANY"):
            return r, m.groupdict()
    return None, {}


def event_for(request: web.Request, body: bytes, r: Route, params: dict, request_id: str) -> dict:
    headers: dict[str, str] = {}
    for raw_name, raw_value in request.raw_headers:
        # Header bytes that are not UTF-8 become U+FFFD: the event is JSON, and a lone
        # surrogate in it would make the function's runtime refuse the whole event.
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("utf-8", errors="replace")
        if name == "cookie":
            continue
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    query: dict[str, str] = {}
    for name, value in request.query.items():
        query[name] = f"{query[name]},{value}" if name in query else value
    now = time.time()
    event = {
        "version": "2.0",
        "routeKey": r.key,
        # Raw (still percent-encoded), as API Gateway sends them: the functions build a URI of them.
        "rawPath": request.rel_url.raw_path,
        "rawQueryString": request.rel_url.raw_query_string,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": "local",
            "domainName": request.host,
            "domainPrefix": request.host.split(".")[0],
            "http": {"method": request.method, "path": request.rel_url.raw_path, "protocol": f"HTTP/{request.version.major}.{request.version.minor}",
                     "sourceIp": request.remote or "127.0.0.1", "userAgent": request.headers.get("User-Agent", "")},
            "requestId": request_id,
            "routeKey": r.key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    cookies = [c.strip() for c in request.headers.get("Cookie", "").split(";") if c.strip()]
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if params:
        event["pathParameters"] = params
    if body:
        try:
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


def gateway_error(status: int, message: str, request_id: str) -> web.Response:
    return web.json_response({"message": message}, status=status, headers={"apigw-requestid": request_id})


def too_long(request_id: str) -> web.Response:
    """A bad request, in the API's own problem format (infra/openapi.yaml, `TargetTooLong`)."""
    problem = {"type": "urn:bookish:problem:validation-error", "title": "Your request is not valid", "status": 400,
               "detail": "The path and query string are too long; send fewer or shorter parameters."}
    return web.Response(status=400, body=json.dumps(problem).encode(),
                        headers={"Content-Type": "application/problem+json", "apigw-requestid": request_id,
                                 "x-request-id": request_id, "x-correlation-id": request_id})


def response_from(result: object, request_id: str) -> web.Response:
    """The function's payload-2.0 answer as HTTP; anything malformed is API Gateway's 500."""
    if not isinstance(result, dict) or "statusCode" not in result:
        # Payload 2.0 also takes a bare JSON value as a 200 application/json body.
        if isinstance(result, dict) and ("errorType" in result or "errorMessage" in result):
            return gateway_error(500, "Internal Server Error", request_id)
        return web.Response(status=200, body=json.dumps(result).encode(), content_type="application/json",
                            headers={"apigw-requestid": request_id})
    try:
        status = int(result["statusCode"])
        raw = result.get("body") or ""
        body = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode("utf-8")
        response = web.Response(status=status, body=body)
        for name, value in (result.get("headers") or {}).items():
            response.headers[name] = str(value)
        for name, values in (result.get("multiValueHeaders") or {}).items():
            response.headers.popall(name, None)
            for value in values:
                response.headers.add(name, str(value))
        for cookie in result.get("cookies") or []:
            response.headers.add("Set-Cookie", cookie)
    except (ValueError, TypeError, AttributeError):
        return gateway_error(500, "Internal Server Error", request_id)
    response.headers["apigw-requestid"] = request_id
    return response


def make_app(routes: list[Route], lambda_url: str, cors: Cors | None = None) -> web.Application:
    session: ClientSession | None = None

    async def start(app: web.Application) -> None:
        nonlocal session
        session = ClientSession(timeout=INVOKE_TIMEOUT)

    async def stop(app: web.Application) -> None:
        if session:
            await session.close()

    async def passthrough(request: web.Request, body: bytes) -> web.StreamResponse:
        url = f"{lambda_url}{request.rel_url}"
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with session.request(request.method, url, data=body, headers=headers) as upstream:
            payload = await upstream.read()
            out = web.Response(status=upstream.status, body=payload)
            for name, value in upstream.headers.items():
                if name.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                    out.headers.add(name, value)
            return out

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if request.path.startswith(INVOKE_PREFIX):
            return await passthrough(request, body)
        request_id = str(uuid.uuid4())
        origin = request.headers.get("Origin")
        if cors and request.method == "OPTIONS" and origin and "Access-Control-Request-Method" in request.headers:
            return cors.preflight(origin, request_id)
        response = await route_request(request, body, request_id)
        if cors:
            cors.apply(origin, response)
        return response

    async def route_request(request: web.Request, body: bytes, request_id: str) -> web.StreamResponse:
        r, params = match(routes, request.method, request.path)
        if len(request.rel_url.raw_path_qs) > MAX_TARGET_BYTES:
            return too_long(request_id)
        if r is None:
            response = gateway_error(404, "Not Found", request_id)
        else:
            event = event_for(request, body, r, params, request_id)
            try:
                async with session.post(f"{lambda_url}{INVOKE_PREFIX}{r.binary}/invocations", json=event) as answer:
                    text = await answer.read()
                    failed = answer.status >= 300 or "x-amz-function-error" in answer.headers
                result = None if failed else json.loads(text)
                response = gateway_error(500, "Internal Server Error", request_id) if failed \
                    else response_from(result, request_id)
            except (OSError, ValueError, asyncio.TimeoutError) as err:
                print(f"apigw: {r.key}: invoke failed: {err!r}", file=sys.stderr, flush=True)
                response = gateway_error(500, "Internal Server Error", request_id)
        return response

    app = web.Application(client_max_size=10 * 1024 * 1024)  # API Gateway's payload limit
    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.router.add_route("*", r"/{tail:[\s\S]*}", handle)  # newlines too
    return app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--lambda", dest="lambda_url", required=True, help="cargo lambda watch's address")
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    parser.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE",
                        help="a template parameter's local value (e.g. StorefrontOrigin=http://127.0.0.1:9200)")
    args = parser.parse_args()
    template = provision.store_template(args.template)
    routes = routes_from_template(template)
    parameters = provision.template_parameters(template, dict(p.split("=", 1) for p in args.parameter))
    cors = cors_from_template(template, parameters)
    # Long request lines go to the functions, which refuse over-long parameters in
    # problem+json; aiohttp's own limit (8 KB a line) would refuse them in plain text first.
    # (API Gateway takes request line and headers up to 10 KB together: a difference that
    # only lets more reach the functions here.)
    limit = 1024 * 1024
    web.run_app(make_app(routes, args.lambda_url.rstrip("/"), cors), host=args.host, port=args.port,
                access_log=None, print=None, max_line_size=limit, max_field_size=limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
