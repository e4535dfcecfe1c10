//! HTTP plumbing for API Gateway (HTTP API, payload v2) handlers: JSON bodies in and out,
//! conditional requests, and the one wrapper that turns problems into responses and logs
//! one line per request.

use std::future::Future;
use std::time::Instant;

use lambda_http::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::Instrument;

use crate::telemetry::{self, trace::TRACEPARENT};
use crate::{Problem, ProblemKind};

/// Request bodies larger than this are refused before parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub const REQUEST_ID: &str = "x-request-id";
pub const CORRELATION_ID: &str = "x-correlation-id";

pub type HttpResult = Result<Response<Body>, Problem>;

/// Identifies a request in logs and responses; the correlation id follows the work it
/// starts through every queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestIds {
    pub request_id: String,
    pub correlation_id: String,
}

impl RequestIds {
    pub fn of(req: &Request) -> Self {
        let request_id = req
            .lambda_context_ref()
            .map(|ctx| ctx.request_id.clone())
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| "local".to_owned());
        let correlation_id = req
            .headers()
            .get(CORRELATION_ID)
            .and_then(|v| v.to_str().ok())
            .filter(|id| is_sane_token(id))
            .map_or_else(|| request_id.clone(), str::to_owned);
        Self { request_id, correlation_id }
    }
}

fn is_sane_token(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// Names the order a request is about on its span (and so on its trace).
pub fn record_order_id(order_id: &str) {
    tracing::Span::current().record("order.id", order_id);
}

/// Runs one handler invocation: problems become problem+json responses, every response
/// carries the request and correlation ids, and one structured log line records it.
pub async fn serve<F, Fut>(req: Request, handler: F) -> Result<Response<Body>, std::convert::Infallible>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = HttpResult>,
{
    let started = Instant::now();
    let ids = RequestIds::of(&req);
    let method = req.method().clone();
    let route_key = route_key_of(&req);
    let route = route_key.clone().unwrap_or_else(|| format!("{} {}", req.method(), req.raw_http_path()));
    // The calling function's span when another function invoked this one; else the
    // invocation stays under Lambda's own trace context.
    let caller = req.headers().get(TRACEPARENT).and_then(|v| v.to_str().ok());
    telemetry::trace::adopt_traceparent(&tracing::Span::current(), caller);
    let span = tracing::info_span!(
        "request",
        request_id = %ids.request_id,
        correlation_id = %ids.correlation_id,
        "otel.name" = %route,
        "otel.kind" = "server",
        "http.route" = %route,
        "http.response.status_code" = tracing::field::Empty,
        "otel.status_code" = tracing::field::Empty,
        "order.id" = tracing::field::Empty,
    );
    let mut response = handler(req).instrument(span.clone()).await.unwrap_or_else(Problem::into_response);
    span.record("http.response.status_code", response.status().as_u16());
    if response.status().is_server_error() {
        span.record("otel.status_code", "error");
    }
    let headers = response.headers_mut();
    for (name, value) in [(REQUEST_ID, &ids.request_id), (CORRELATION_ID, &ids.correlation_id)] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
    let latency = started.elapsed();
    let status = response.status().as_u16();
    span.in_scope(|| {
        tracing::info!(
            method = %method,
            route = %route,
            status,
            latency_ms = latency.as_secs_f64() * 1000.0,
            "request"
        )
    });
    // A path is no dimension (one per book id): without a route key, API Gateway's own name.
    crate::metrics::request(route_key.as_deref().unwrap_or("$default"), status, latency);
    Ok(response)
}

/// The API Gateway route key (`GET /v1/books/{id}`), when the request has one.
fn route_key_of(req: &Request) -> Option<String> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.route_key.clone().filter(|key| key.contains('/')),
        _ => None,
    }
}

pub fn method_not_allowed(req: &Request) -> Problem {
    Problem::new(
        ProblemKind::MethodNotAllowed,
        format!("{} is not supported on {}.", req.method(), req.raw_http_path()),
    )
}

pub fn is(req: &Request, method: Method) -> bool {
    req.method() == method
}

pub fn path_param(req: &Request, name: &str) -> Option<String> {
    req.path_parameters_ref().and_then(|p| p.first(name)).map(str::to_owned)
}

pub fn query_param(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref().and_then(|q| q.first(name)).map(str::to_owned)
}

/// Parses a JSON request body into `T`, refusing (with a 4xx a person can act on) the
/// wrong content type, oversized bodies, invalid UTF-8, malformed JSON, unknown fields
/// and wrong types. `T` should deny unknown fields.
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, Problem> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return Err(Problem::new(
            ProblemKind::UnsupportedMediaType,
            "Send the request body as JSON with the header Content-Type: application/json.",
        ));
    }
    let bytes: &[u8] = match req.body() {
        Body::Empty => b"",
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => b"",
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(Problem::new(
            ProblemKind::PayloadTooLarge,
            format!("The request body is {} bytes; the limit is {MAX_BODY_BYTES} bytes.", bytes.len()),
        ));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::invalid("body", "The request body is empty; send a JSON object."));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| Problem::invalid("body", "The request body is not valid UTF-8 text."))?;
    // serde would fill a struct from an array too (`[3]`); every Bookish body is an object.
    if !text.trim_start().starts_with('{') {
        return Err(Problem::invalid("body", "The request body must be a JSON object."));
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = dotted(err.path());
        let inner = err.into_inner();
        let message = inner.to_string();
        // serde reports a missing field at its parent; name the field itself.
        let field = match (path.as_str(), missing_field(&message)) {
            ("", Some(name)) => name.to_owned(),
            (parent, Some(name)) => format!("{parent}.{name}"),
            ("", None) => "body".to_owned(),
            (path, None) => path.to_owned(),
        };
        let detail = if inner.is_syntax() || inner.is_eof() {
            format!("The request body is not valid JSON: {}.", strip_position(&message))
        } else {
            format!("{field}: {}.", strip_position(&message))
        };
        Problem::invalid(field, detail)
    })?;
    deserializer.end().map_err(|_| {
        Problem::invalid("body", "The request body has more after its JSON object; send exactly one object.")
    })?;
    Ok(value)
}

/// A field path as problems name it: `price.amount`, `genres.2`.
fn dotted(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let segments: Vec<String> = path
        .iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } => Some(key.clone()),
            Segment::Enum { variant } => Some(variant.clone()),
            Segment::Unknown => None,
        })
        .collect();
    segments.join(".")
}

fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next())
}

fn strip_position(message: &str) -> &str {
    message.split(" at line ").next().unwrap_or(message)
}

/// A JSON response with the given status.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let body = serde_json::to_string(value).expect("response types always serialize");
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

pub fn no_content() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// A strong entity tag, quoted as HTTP wants it.
pub fn etag(tag: impl std::fmt::Display) -> String {
    format!("\"{tag}\"")
}

/// The response to a cacheable GET: 304 when the client's copy is current, else `fresh()`.
pub fn cacheable(
    req: &Request,
    etag: &str,
    cache_control: &'static str,
    fresh: impl FnOnce() -> Response<Body>,
) -> Response<Body> {
    let mut response = if matches_any(req.headers(), header::IF_NONE_MATCH, etag) {
        let mut not_modified = Response::new(Body::Empty);
        *not_modified.status_mut() = StatusCode::NOT_MODIFIED;
        not_modified
    } else {
        fresh()
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control));
    response
}

/// Whether the request may change the resource whose entity tag is `current_etag`: it
/// sent no `If-Match`, or one that names that tag (or `*`).
pub fn if_match(req: &Request, current_etag: &str) -> bool {
    req.headers().get(header::IF_MATCH).is_none() || matches_any(req.headers(), header::IF_MATCH, current_etag)
}

/// Whether a conditional header lists `etag` (or `*`); weak tags compare by value.
fn matches_any(headers: &HeaderMap, name: header::HeaderName, etag: &str) -> bool {
    headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|candidate| {
        let candidate = candidate.trim();
        candidate == "*" || candidate.trim_start_matches("W/") == etag
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Input {
        name: String,
        price: Price,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Basket {
        items: Vec<Price>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Price {
        amount: i64,
    }

    fn post(content_type: &str, body: Body) -> Request {
        let mut req = Request::new(body);
        *req.method_mut() = Method::POST;
        req.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap());
        req
    }

    fn problem_of(body: &str) -> Problem {
        json_body::<Input>(&post("application/json", Body::Text(body.into()))).unwrap_err()
    }

    #[test]
    fn accepts_json_with_charset() {
        let req = post("application/json; charset=utf-8", Body::Text(r#"{"name":"a","price":{"amount":1}}"#.into()));
        assert!(json_body::<Input>(&req).is_ok());
    }

    #[test]
    fn names_the_offending_field() {
        assert_eq!(problem_of(r#"{"name":"a","price":{"amount":"1"}}"#).field.as_deref(), Some("price.amount"));
        assert_eq!(problem_of(r#"{"name":"a","price":{"amount":1.5}}"#).field.as_deref(), Some("price.amount"));
        assert_eq!(problem_of(r#"{"name":"a","price":{"amount":1},"x":1}"#).field.as_deref(), Some("x"));
        assert_eq!(problem_of(r#"{"name":"a","price":{"amount":1,"y":2}}"#).field.as_deref(), Some("price.y"));
        assert_eq!(problem_of(r#"{"price":{"amount":1}}"#).field.as_deref(), Some("name"));
        assert_eq!(problem_of(r#"{"name":"a","price":{}}"#).field.as_deref(), Some("price.amount"));
        assert_eq!(
            json_body::<Basket>(&post(
                "application/json",
                Body::Text(r#"{"items":[{"amount":1},{"amount":"x"}]}"#.into())
            ))
            .unwrap_err()
            .field
            .as_deref(),
            Some("items.1.amount")
        );
    }

    #[test]
    fn refuses_bad_bodies_with_the_right_status() {
        assert_eq!(problem_of("{").status(), 400);
        assert_eq!(problem_of("").status(), 400);
        assert_eq!(problem_of("[]").status(), 400);
        assert_eq!(problem_of(r#"["a", {"amount": 1}]"#).field.as_deref(), Some("body"));
        assert_eq!(problem_of(r#"{"name":"a","price":{"amount":1}} {}"#).field.as_deref(), Some("body"));
        let too_big = format!(r#"{{"name":"{}"}}"#, "a".repeat(MAX_BODY_BYTES));
        assert_eq!(problem_of(&too_big).status(), 413);
        let not_utf8 = post("application/json", Body::Binary(vec![b'{', 0xff, b'}']));
        assert_eq!(json_body::<Input>(&not_utf8).unwrap_err().status(), 400);
        let form = post("application/x-www-form-urlencoded", Body::Text("name=a".into()));
        assert_eq!(json_body::<Input>(&form).unwrap_err().status(), 415);
    }

    #[test]
    fn conditional_requests_compare_entity_tags() {
        let mut req = Request::new(Body::Empty);
        assert!(if_match(&req, "\"2\""));
        req.headers_mut().insert(header::IF_MATCH, HeaderValue::from_static("\"1\""));
        assert!(!if_match(&req, "\"2\""));
        req.headers_mut().insert(header::IF_MATCH, HeaderValue::from_static("\"1\", W/\"2\""));
        assert!(if_match(&req, "\"2\""));

        req.headers_mut().insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"2\""));
        let response = cacheable(&req, "\"2\"", "public, max-age=60", || unreachable!());
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(response.headers()[header::ETAG], "\"2\"");
    }
}
