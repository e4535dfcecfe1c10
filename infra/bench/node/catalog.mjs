// Bookish catalog `GET /v1/books/{id}` written for Node.js 20, as a benchmark reference.
//
// Exists only for the cold-start comparison in infra/bench: the same route as the Rust
// `catalog-read` function (functions/catalog/src/routes/read.rs), answered the same way,
// so the two can be started side by side under a Lambda Runtime API and compared from
// exec to first `GET /next` and per invocation. Not deployed, not part of the API.
//
// Behaves like the Rust handler:
// - GetItem on `BOOKS_TABLE` by key pk `BOOK#<id>`, sk `BOOK` (store/dynamodb.rs);
// - 200 with the book as camelCase JSON in the Rust struct's field order (book.rs),
//   `ETag: "<version>"`, `Cache-Control: public, max-age=60`;
//   304 (same ETag and Cache-Control, empty body) when `If-None-Match` names the tag;
// - 404 / 405 / 500 as application/problem+json (shared/src/problem.rs);
// - `x-request-id` (the Lambda request id) and `x-correlation-id` (the caller's, if sane,
//   else the request id) on every response, and one JSON log line per request
//   (shared/src/http.rs).
// Any id is looked up as given (the Rust handler has no id format, so no 400).
// Without an `id` path parameter the Rust function lists books; this one only serves the
// single-book route and answers 404.
//
// Run under the official runtime interface client, cwd infra/bench/node:
//   node node_modules/aws-lambda-ric/bin/index.mjs catalog.handler

import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";

const CACHE_CONTROL = "public, max-age=60";
const TABLE = process.env.BOOKS_TABLE;
if (!TABLE) {
  // Fails init, as config::required does in Rust.
  throw new Error("missing environment variable BOOKS_TABLE");
}
// One client per cold start. SDK v3 reads AWS_ENDPOINT_URL itself (locally: moto).
const dynamo = new DynamoDBClient({});

const PROBLEMS = {
  404: ["not-found", "Not found"],
  405: ["method-not-allowed", "Method not allowed"],
  500: ["internal-error", "Something went wrong on our side"],
};

export const handler = async (event, context) => {
  const started = performance.now();
  const headers = event.headers ?? {};
  const method = event.requestContext?.http?.method ?? "GET";
  const requestId = context.awsRequestId || "local";
  const caller = header(headers, "x-correlation-id");
  const correlationId = caller !== undefined && isSaneToken(caller) ? caller : requestId;

  let response;
  try {
    response = await get(event, headers, method);
  } catch (err) {
    log("ERROR", { error: String(err?.stack ?? err) }, "internal error", requestId, correlationId);
    response = problem(500, "The request failed unexpectedly. Please try again later.");
  }
  response.headers["x-request-id"] = requestId;
  response.headers["x-correlation-id"] = correlationId;

  const routeKey = event.requestContext?.routeKey;
  const route = routeKey?.includes("/") ? routeKey : `${method} ${event.rawPath ?? ""}`;
  const fields = { method, route, status: response.statusCode, latency_ms: performance.now() - started };
  log("INFO", fields, "request", requestId, correlationId);

  return { statusCode: response.statusCode, headers: response.headers, multiValueHeaders: {}, body: response.body, isBase64Encoded: false, cookies: [] };
};

async function get(event, headers, method) {
  if (method !== "GET") {
    return problem(405, `${method} is not supported on ${event.rawPath ?? ""}.`);
  }
  const id = event.pathParameters?.id;
  if (id === undefined) {
    return problem(404, "This benchmark function serves GET /v1/books/{id} only.");
  }
  const { Item } = await dynamo.send(
    new GetItemCommand({ TableName: TABLE, Key: { pk: { S: `BOOK#${id}` }, sk: { S: "BOOK" } } }),
  );
  if (!Item) {
    return problem(404, `There is no book with id '${id}'.`);
  }
  const book = bookOf(Item);
  const etag = `"${book.version}"`;
  const cached = { etag, "cache-control": CACHE_CONTROL };
  if (matchesAny(header(headers, "if-none-match"), etag)) {
    return { statusCode: 304, headers: cached, body: "" };
  }
  return {
    statusCode: 200,
    headers: { "content-type": "application/json", ...cached },
    body: JSON.stringify(book),
  };
}

/** The book as the API shows it: Book's fields in declaration order, store keys left out. */
function bookOf(item) {
  const price = attr(item, "price", "M");
  return {
    id: attr(item, "id", "S"),
    isbn: attr(item, "isbn", "S"),
    title: attr(item, "title", "S"),
    author: attr(item, "author", "S"),
    genres: attr(item, "genres", "L").map((g) => {
      if (g.S === undefined) throw new Error("genres holds a non-string");
      return g.S;
    }),
    description: attr(item, "description", "S"),
    publishedYear: Number(attr(item, "publishedYear", "N")),
    price: { amount: Number(attr(price, "amount", "N")), currency: attr(price, "currency", "S") },
    createdAt: attr(item, "createdAt", "S"),
    updatedAt: attr(item, "updatedAt", "S"),
    version: Number(attr(item, "version", "N")),
  };
}

function attr(item, name, type) {
  const value = item[name]?.[type];
  if (value === undefined) throw new Error(`book item has no ${type} attribute '${name}'`);
  return value;
}

function problem(status, detail) {
  const [slug, title] = PROBLEMS[status];
  const body = JSON.stringify({ type: `urn:bookish:problem:${slug}`, title, status, detail });
  return { statusCode: status, headers: { "content-type": "application/problem+json" }, body };
}

/** API Gateway sends header names in lower case; look further only if it did not. */
function header(headers, name) {
  if (headers[name] !== undefined) return headers[name];
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

function isSaneToken(id) {
  return id.length >= 1 && id.length <= 128 && /^[A-Za-z0-9\-_.:]+$/.test(id);
}

/** Whether an If-None-Match value lists `etag` (or `*`); weak tags compare by value. */
function matchesAny(value, etag) {
  if (value === undefined) return false;
  return value.split(",").some((candidate) => {
    const c = candidate.trim();
    return c === "*" || c.replace(/^(W\/)+/, "") === etag;
  });
}

/** One JSON object per line on stdout, shaped like the Rust functions' tracing output. */
function log(level, fields, message, requestId, correlationId) {
  const line = {
    timestamp: new Date().toISOString(),
    level,
    message,
    ...fields,
    span: { correlation_id: correlationId, request_id: requestId, name: "request" },
  };
  process.stdout.write(JSON.stringify(line) + "\n");
}
