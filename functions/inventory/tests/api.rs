//! The inventory's HTTP routes end to end over the in-memory store, fed the sample API
//! Gateway events in `events/inventory/`, with claims from the JWT authorizer as in AWS.

use std::collections::HashMap;

use bookish_shared::auth::Authenticator;
use bookish_shared::http::serve;
use inventory::routes;
use inventory::stock::{BookId, Line, OrderId, Quantity, ReservationRequest};
use inventory::store::{MemoryStockStore, Reserve, StockStore};
use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{json, Value};
use time::OffsetDateTime;

const SAMPLE_BOOK: &str = "0123456789abcdef";

fn event(name: &str) -> Request {
    let path = format!("{}/../../events/inventory/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    lambda_http::request::from_str(&text).unwrap()
}

fn for_book(req: Request, book_id: &str) -> Request {
    req.with_path_parameters(HashMap::from([("bookId".to_owned(), book_id.to_owned())]))
}

/// An admin's PUT of `body`, with `If-Match: <if_match>` (or none).
fn put(body: &str, if_match: Option<&str>) -> Request {
    let mut req = event("set-stock-as-admin.json");
    *req.body_mut() = Body::Text(body.to_owned());
    with_if_match(req, if_match)
}

fn with_if_match(mut req: Request, if_match: Option<&str>) -> Request {
    let headers = req.headers_mut();
    headers.remove(header::IF_MATCH);
    if let Some(value) = if_match {
        headers.insert(header::IF_MATCH, HeaderValue::from_str(value).unwrap());
    }
    req
}

fn set(available: i64, if_match: &str) -> Request {
    put(&json!({"available": available}).to_string(), Some(if_match))
}

fn adjust(by: i64) -> Request {
    put(&json!({"adjust": by}).to_string(), None)
}

async fn send(store: &MemoryStockStore, req: Request) -> Response<Body> {
    serve(req, |req| routes::handle(store, &Authenticator::ApiGateway, req)).await.unwrap()
}

fn json_of(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).unwrap()
}

/// The stock everyone reads, and its ETag.
async fn read(store: &MemoryStockStore) -> (Value, String) {
    let response = send(store, event("get-stock.json")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let etag = response.headers()[header::ETAG].to_str().unwrap().to_owned();
    (json_of(&response), etag)
}

fn stock(available: u32, version: u64) -> Value {
    json!({"bookId": SAMPLE_BOOK, "available": available, "version": version})
}

/// A problem+json answer of `status` and `slug`; returns the problem.
fn problem_of(response: &Response<Body>, status: StatusCode, slug: &str) -> Value {
    assert_eq!(response.status(), status, "{:?}", response.body());
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json");
    assert!(response.headers().get(header::ETAG).is_none());
    let problem = json_of(response);
    assert_eq!(problem["type"], format!("urn:bookish:problem:{slug}"));
    assert_eq!(problem["status"], status.as_u16());
    problem
}

#[tokio::test]
async fn a_book_never_stocked_has_none_available_at_version_0() {
    let response = send(&MemoryStockStore::default(), event("get-stock.json")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(response.headers()[header::ETAG], "\"0\"");
    assert_eq!(response.headers()["x-correlation-id"], "sample-correlation-id");
    assert_eq!(json_of(&response), stock(0, 0));
}

#[tokio::test]
async fn an_admin_sets_the_stock_on_the_etag_everyone_reads() {
    let store = MemoryStockStore::default();
    // The sample creates the stock of a book that has none (`If-Match: *`).
    let response = send(&store, event("set-stock-as-admin.json")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::ETAG], "\"1\"");
    assert_eq!(json_of(&response), stock(12, 1));
    assert_eq!(read(&store).await, (stock(12, 1), "\"1\"".to_owned()));
    for (available, version) in [(0, 2), (1_000_000, 3)] {
        let (_, etag) = read(&store).await;
        let response = send(&store, set(available, &etag)).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(json_of(&response), stock(available as u32, version));
        assert_eq!(response.headers()[header::ETAG], format!("\"{version}\""));
    }
    assert_eq!(read(&store).await.0, stock(1_000_000, 3));
}

#[tokio::test]
async fn the_etag_of_a_book_never_stocked_sets_it_too() {
    let store = MemoryStockStore::default();
    let (_, etag) = read(&store).await;
    assert_eq!(json_of(&send(&store, set(4, &etag)).await), stock(4, 1));
}

#[tokio::test]
async fn a_set_on_a_stale_etag_is_412_and_changes_nothing() {
    let store = MemoryStockStore::default();
    send(&store, set(10, "*")).await;
    let (_, read_by_admin) = read(&store).await;
    // Meanwhile another admin adjusts it.
    assert_eq!(send(&store, adjust(3)).await.status(), StatusCode::OK);
    let response = send(&store, set(15, &read_by_admin)).await;
    let detail = problem_of(&response, StatusCode::PRECONDITION_FAILED, "precondition-failed")["detail"].clone();
    let detail = detail.as_str().unwrap();
    assert!(detail.contains("GET") && detail.contains("13 copies") && detail.contains("\"2\""), "{detail}");
    assert_eq!(read(&store).await.0, stock(13, 2));
    // `*` only creates stock: this book has some.
    let response = send(&store, set(15, "*")).await;
    problem_of(&response, StatusCode::PRECONDITION_FAILED, "precondition-failed");
    // So does an ETag from the future.
    problem_of(&send(&store, set(15, "\"9\"")).await, StatusCode::PRECONDITION_FAILED, "precondition-failed");
    assert_eq!(read(&store).await.0, stock(13, 2));
}

/// The race of the issue: an admin reads 10, a reservation takes 2, the admin sets 15 on
/// what they read. Before versions that made 2 copies out of nothing; now it is 412, and
/// the admin's second try is on the count the reservation left.
#[tokio::test]
async fn a_reservation_since_the_admin_read_makes_their_set_stale() {
    let store = MemoryStockStore::default();
    send(&store, set(10, "*")).await;
    let (seen, etag) = read(&store).await;
    assert_eq!(seen["available"], 10);
    let book = BookId::parse(SAMPLE_BOOK).unwrap();
    let order = ReservationRequest {
        order_id: OrderId::parse("0193a5b2-7c4e-7d10-9f3a-2b6c8d9e0f11").unwrap(),
        customer_id: "sub-shopper".into(),
        lines: vec![Line { book_id: book.clone(), quantity: Quantity::parse(2).unwrap() }],
    };
    assert!(matches!(store.reserve(&order, OffsetDateTime::now_utc()).await.unwrap(), Reserve::Reserved(_)));
    problem_of(&send(&store, set(15, &etag)).await, StatusCode::PRECONDITION_FAILED, "precondition-failed");
    let (seen, etag) = read(&store).await;
    assert_eq!(seen, stock(8, 2));
    assert_eq!(json_of(&send(&store, set(13, &etag)).await), stock(13, 3));
}

#[tokio::test]
async fn a_set_without_if_match_is_428_and_changes_nothing() {
    let store = MemoryStockStore::default();
    send(&store, set(5, "*")).await;
    let response = send(&store, put(r#"{"available": 7}"#, None)).await;
    let problem = problem_of(&response, StatusCode::PRECONDITION_REQUIRED, "precondition-required");
    assert!(problem["detail"].as_str().unwrap().contains("If-Match"));
    assert!(problem.get("field").is_none());
    assert_eq!(read(&store).await.0, stock(5, 1));
}

#[tokio::test]
async fn a_malformed_if_match_is_400_naming_it() {
    let store = MemoryStockStore::default();
    send(&store, set(5, "*")).await;
    for if_match in ["1", "W/\"1\"", "\"1\", \"2\"", "\"one\"", "\"01\"", "\"-1\"", "", "\"1"] {
        for req in [set(6, if_match), with_if_match(adjust(1), Some(if_match))] {
            let response = send(&store, req).await;
            assert_eq!(
                problem_of(&response, StatusCode::BAD_REQUEST, "validation-error")["field"],
                "If-Match",
                "{if_match}"
            );
        }
    }
    // Two If-Match headers are no more one ETag than a list is.
    let mut twice = set(6, "\"1\"");
    twice.headers_mut().append(header::IF_MATCH, HeaderValue::from_static("\"1\""));
    assert_eq!(
        problem_of(&send(&store, twice).await, StatusCode::BAD_REQUEST, "validation-error")["field"],
        "If-Match"
    );
    assert_eq!(read(&store).await.0, stock(5, 1));
}

#[tokio::test]
async fn an_admin_adjusts_whatever_the_count_is() {
    let store = MemoryStockStore::default();
    // A book with no stock yet starts from 0.
    let response = send(&store, adjust(5)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::ETAG], "\"1\"");
    assert_eq!(json_of(&response), stock(5, 1));
    assert_eq!(json_of(&send(&store, adjust(-5)).await), stock(0, 2));
    assert_eq!(json_of(&send(&store, adjust(1_000_000)).await), stock(1_000_000, 3));
    assert_eq!(json_of(&send(&store, adjust(-1_000_000)).await), stock(0, 4));
    // The sample takes two away.
    send(&store, adjust(3)).await;
    let response = send(&store, event("adjust-stock-as-admin.json")).await;
    assert_eq!(json_of(&response), stock(1, 6));
    assert_eq!(read(&store).await, (stock(1, 6), "\"6\"".to_owned()));
}

#[tokio::test]
async fn an_adjustment_past_either_end_is_409_naming_the_stock() {
    let store = MemoryStockStore::default();
    send(&store, set(3, "*")).await;
    for by in [-4, -1_000_000] {
        let problem = problem_of(&send(&store, adjust(by)).await, StatusCode::CONFLICT, "conflict");
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains("There are 3 copies") && detail.contains("Nothing was changed"), "{detail}");
        assert!(problem.get("field").is_none());
    }
    send(&store, adjust(999_997)).await;
    let problem = problem_of(&send(&store, adjust(1)).await, StatusCode::CONFLICT, "conflict");
    assert!(problem["detail"].as_str().unwrap().contains("1000000 copies"), "{problem}");
    assert_eq!(read(&store).await.0, stock(1_000_000, 2));
    // A book never stocked has nothing to take away, and stays unstocked: `*` still creates it.
    let never = "fedcba9876543210";
    let problem = problem_of(&send(&store, for_book(adjust(-1), never)).await, StatusCode::CONFLICT, "conflict");
    assert!(problem["detail"].as_str().unwrap().contains("There are 0 copies"), "{problem}");
    assert_eq!(send(&store, for_book(set(2, "*"), never)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_adjustment_honours_an_if_match_it_is_sent() {
    let store = MemoryStockStore::default();
    send(&store, set(3, "*")).await;
    let response = send(&store, with_if_match(adjust(2), Some("\"1\""))).await;
    assert_eq!(json_of(&response), stock(5, 2));
    let stale = send(&store, with_if_match(adjust(2), Some("\"1\""))).await;
    problem_of(&stale, StatusCode::PRECONDITION_FAILED, "precondition-failed");
    problem_of(
        &send(&store, with_if_match(adjust(2), Some("*"))).await,
        StatusCode::PRECONDITION_FAILED,
        "precondition-failed",
    );
    assert_eq!(read(&store).await.0, stock(5, 2));
}

#[tokio::test]
async fn only_admins_set_or_adjust_stock() {
    let store = MemoryStockStore::default();
    for body in [r#"{"available": 12}"#, r#"{"adjust": 12}"#] {
        let mut shopper = event("set-stock-as-shopper.json");
        *shopper.body_mut() = Body::Text(body.into());
        problem_of(&send(&store, shopper).await, StatusCode::FORBIDDEN, "forbidden");
        let mut anonymous = event("set-stock-unauthenticated.json");
        *anonymous.body_mut() = Body::Text(body.into());
        let response = send(&store, anonymous).await;
        problem_of(&response, StatusCode::UNAUTHORIZED, "unauthorized");
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }
    // Even without If-Match: who asks is settled first.
    let shopper = with_if_match(event("set-stock-as-shopper.json"), None);
    assert_eq!(send(&store, shopper).await.status(), StatusCode::FORBIDDEN);
    let anonymous = with_if_match(event("set-stock-unauthenticated.json"), None);
    assert_eq!(send(&store, anonymous).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(read(&store).await.0, stock(0, 0));
}

#[tokio::test]
async fn refuses_bad_bodies_naming_the_field() {
    let store = MemoryStockStore::default();
    for (body, field) in [
        (r#"{"available": -1}"#, "available"),
        (r#"{"available": 1000001}"#, "available"),
        (r#"{"available": 1.5}"#, "available"),
        (r#"{"available": "3"}"#, "available"),
        (r#"{"available": null}"#, "available"),
        (r#"{"available": 99999999999999999999}"#, "available"),
        (r#"{}"#, "available"),
        (r#"{"adjust": 0}"#, "adjust"),
        (r#"{"adjust": 1000001}"#, "adjust"),
        (r#"{"adjust": -1000001}"#, "adjust"),
        (r#"{"adjust": 1.5}"#, "adjust"),
        (r#"{"adjust": "2"}"#, "adjust"),
        (r#"{"adjust": true}"#, "adjust"),
        (r#"{"adjust": null}"#, "adjust"),
        (r#"{"available": 3, "adjust": 1}"#, "body"),
        (r#"{"adjust": 1, "available": 3}"#, "body"),
        (r#"{"available": 3, "reserved": 1}"#, "reserved"),
        (r#"{"adjust": 3, "version": 1}"#, "version"),
        (r#"[3]"#, "body"),
        (r#"{"available": 3, "available": 4}"#, "body"),
        (r#"{"adjust": 3, "adjust": 4}"#, "body"),
        (r#"{"available": 3"#, "body"),
        ("", "body"),
    ] {
        // With and without If-Match: the body is judged first.
        for if_match in [Some("\"0\""), None] {
            let response = send(&store, put(body, if_match)).await;
            assert_eq!(problem_of(&response, StatusCode::BAD_REQUEST, "validation-error")["field"], field, "{body}");
        }
    }
    let mut form = put("available=3", Some("*"));
    form.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
    problem_of(&send(&store, form).await, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type");
    assert_eq!(read(&store).await.0, stock(0, 0));
}

#[tokio::test]
async fn implausible_book_ids_are_not_found() {
    let store = MemoryStockStore::default();
    for id in ["a b", "a#b", "STOCK#x", &"x".repeat(65)] {
        assert_eq!(send(&store, for_book(event("get-stock.json"), id)).await.status(), StatusCode::NOT_FOUND, "{id}");
        for req in [event("set-stock-as-admin.json"), adjust(1)] {
            problem_of(&send(&store, for_book(req, id)).await, StatusCode::NOT_FOUND, "not-found");
        }
    }
}

#[tokio::test]
async fn other_methods_are_not_allowed() {
    let mut req = event("get-stock.json");
    *req.method_mut() = Method::DELETE;
    assert_eq!(send(&MemoryStockStore::default(), req).await.status(), StatusCode::METHOD_NOT_ALLOWED);
}
