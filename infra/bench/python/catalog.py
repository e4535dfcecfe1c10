"""Bookish catalog `GET /v1/books/{id}` written for Python 3.11, as a benchmark reference.

Exists only for the cold-start comparison in infra/bench: the same route as the Rust
`catalog-read` function (functions/catalog/src/routes/read.rs), answered the same way,
so the two can be started side by side under a Lambda Runtime API and compared from
exec to first `GET /next` and per invocation. Not deployed, not part of the API.
infra/bench/node/catalog.mjs is the same handler for Node.js.

Behaves like the Rust handler:
- GetItem on `BOOKS_TABLE` by key pk `BOOK#<id>`, sk `BOOK` (store/dynamodb.rs);
- 200 with the book as camelCase JSON in the Rust struct's field order (book.rs),
  `ETag: "<version>"`, `Cache-Control: public, max-age=60`;
  304 (same ETag and Cache-Control, empty body) when `If-None-Match` names the tag;
- 404 / 405 / 500 as application/problem+json (shared/src/problem.rs);
- `x-request-id` (the Lambda request id) and `x-correlation-id` (the caller's, if sane,
  else the request id) on every response, and one JSON log line per request
  (shared/src/http.rs).
Any id is looked up as given (the Rust handler has no id format, so no 400).
Without an `id` path parameter the Rust function lists books; this one only serves the
single-book route and answers 404.

Run under the official runtime interface client (PyPI awslambdaric, pinned in
infra/bench/requirements.txt), cwd infra/bench/python:
    ../../../.venv/bin/python -m awslambdaric catalog.handler
"""

import json
import os
import re
import time
import traceback
from datetime import datetime, timezone

import boto3

CACHE_CONTROL = "public, max-age=60"
# Fails init when unset, as config::required does in Rust.
TABLE = os.environ["BOOKS_TABLE"]
# One client per cold start. boto3 reads AWS_ENDPOINT_URL itself (locally: moto), but
# only AWS_DEFAULT_REGION for the region: Lambda sets both, a local harness may not.
DYNAMO = boto3.client("dynamodb", region_name=os.environ.get("AWS_REGION"))

PROBLEMS = {
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    500: ("internal-error", "Something went wrong on our side"),
}
SANE_TOKEN = re.compile(r"[A-Za-z0-9\-_.:]{1,128}", re.ASCII)


def handler(event, context):
    started = time.perf_counter()
    headers = event.get("headers") or {}
    http = (event.get("requestContext") or {}).get("http") or {}
    method = http.get("method", "GET")
    request_id = getattr(context, "aws_request_id", "") or "local"
    caller = header(headers, "x-correlation-id")
    correlation_id = caller if caller is not None and SANE_TOKEN.fullmatch(caller) else request_id

    try:
        status, response_headers, body = get(event, headers, method)
    except Exception:  # noqa: BLE001 - every failure becomes a 500, as in Rust
        log("ERROR", {"error": traceback.format_exc()}, "internal error", request_id, correlation_id)
        status, response_headers, body = problem(500, "The request failed unexpectedly. Please try again later.")
    response_headers["x-request-id"] = request_id
    response_headers["x-correlation-id"] = correlation_id

    route_key = (event.get("requestContext") or {}).get("routeKey") or ""
    route = route_key if "/" in route_key else f"{method} {event.get('rawPath', '')}"
    latency_ms = (time.perf_counter() - started) * 1000
    log("INFO", {"method": method, "route": route, "status": status, "latency_ms": latency_ms},
        "request", request_id, correlation_id)

    return {"statusCode": status, "headers": response_headers, "multiValueHeaders": {}, "body": body,
            "isBase64Encoded": False, "cookies": []}


def get(event, headers, method):
    if method != "GET":
        return problem(405, f"{method} is not supported on {event.get('rawPath', '')}.")
    book_id = (event.get("pathParameters") or {}).get("id")
    if book_id is None:
        return problem(404, "This benchmark function serves GET /v1/books/{id} only.")
    item = DYNAMO.get_item(TableName=TABLE, Key={"pk": {"S": f"BOOK#{book_id}"}, "sk": {"S": "BOOK"}}).get("Item")
    if item is None:
        return problem(404, f"There is no book with id '{book_id}'.")
    book = book_of(item)
    etag = f'"{book["version"]}"'
    cached = {"etag": etag, "cache-control": CACHE_CONTROL}
    if matches_any(header(headers, "if-none-match"), etag):
        return 304, cached, ""
    return 200, {"content-type": "application/json", **cached}, to_json(book)


def book_of(item):
    """The book as the API shows it: Book's fields in declaration order, store keys left out."""
    price = attr(item, "price", "M")
    genres = attr(item, "genres", "L")
    if any("S" not in g for g in genres):
        raise ValueError("genres holds a non-string")
    return {
        "id": attr(item, "id", "S"),
        "isbn": attr(item, "isbn", "S"),
        "title": attr(item, "title", "S"),
        "author": attr(item, "author", "S"),
        "genres": [g["S"] for g in genres],
        "description": attr(item, "description", "S"),
        "publishedYear": int(attr(item, "publishedYear", "N")),
        "price": {"amount": int(attr(price, "amount", "N")), "currency": attr(price, "currency", "S")},
        "createdAt": attr(item, "createdAt", "S"),
        "updatedAt": attr(item, "updatedAt", "S"),
        "version": int(attr(item, "version", "N")),
    }


def attr(item, name, kind):
    try:
        return item[name][kind]
    except KeyError:
        raise ValueError(f"book item has no {kind} attribute '{name}'") from None


def problem(status, detail):
    slug, title = PROBLEMS[status]
    body = to_json({"type": f"urn:bookish:problem:{slug}", "title": title, "status": status, "detail": detail})
    return status, {"content-type": "application/problem+json"}, body


def header(headers, name):
    """API Gateway sends header names in lower case; look further only if it did not."""
    if name in headers:
        return headers[name]
    return next((v for k, v in headers.items() if k.lower() == name), None)


def matches_any(value, etag):
    """Whether an If-None-Match value lists `etag` (or `*`); weak tags compare by value."""
    if value is None:
        return False
    for candidate in value.split(","):
        candidate = candidate.strip()
        if candidate == "*":
            return True
        while candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate == etag:
            return True
    return False


def to_json(value):
    """Compact and UTF-8 as serde_json writes it (Python would escape non-ASCII)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def log(level, fields, message, request_id, correlation_id):
    """One JSON object per line on stdout, shaped like the Rust functions' tracing output."""
    timestamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    line = {"timestamp": timestamp, "level": level, "message": message, **fields,
            "span": {"correlation_id": correlation_id, "request_id": request_id, "name": "request"}}
    print(to_json(line), flush=True)
