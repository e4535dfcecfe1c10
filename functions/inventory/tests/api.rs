//! The inventory's HTTP routes end to end over the in-memory store, fed the sample API
//! Gateway events in `events/inventory/`, with claims from the JWT authorizer as in AWS.

use std::collections::HashMap;

use bookish_shared::auth::Authenticator;
use bookish_shared::http::serve;
use inventory::routes;
use inventory::store::MemoryStockStore;
use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{json, Value};

const SAMPLE_BOOK: &str = "0123456789abcdef";

fn event(name: &str) -> Request {
    let path = format!("{}/../../events/inventory/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    lambda_http::request::from_str(&text).unwrap()
}

fn for_book(req: Request, book_id: &str) -> Request {
    req.with_path_parameters(HashMap::from([("bookId".to_owned(), book_id.to_owned())]))
}

fn put(body: &str) -> Request {
    let mut req = event("set-stock-as-admin.json");
    *req.body_mut() = Body::Text(body.to_owned());
    req
}

async fn send(store: &MemoryStockStore, req: Request) -> Response<Body> {
    serve(req, |req| routes::handle(store, &Authenticator::ApiGateway, req)).await.unwrap()
}

fn json_of(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).unwrap()
}

#[tokio::test]
async fn a_book_never_stocked_has_none_available() {
    let response = send(&MemoryStockStore::default(), event("get-stock.json")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(response.headers()["x-correlation-id"], "sample-correlation-id");
    assert_eq!(json_of(&response), json!({"bookId": SAMPLE_BOOK, "available": 0}));
}

#[tokio::test]
async fn an_admin_sets_the_stock_everyone_reads() {
    let store = MemoryStockStore::default();
    let response = send(&store, event("set-stock-as-admin.json")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_of(&response), json!({"bookId": SAMPLE_BOOK, "available": 12}));
    assert_eq!(json_of(&send(&store, event("get-stock.json")).await)["available"], 12);
    for available in [0, 1_000_000] {
        let response = send(&store, put(&json!({"available": available}).to_string())).await;
        assert_eq!(json_of(&response)["available"], available);
    }
    assert_eq!(json_of(&send(&store, event("get-stock.json")).await)["available"], 1_000_000);
}

#[tokio::test]
async fn only_admins_set_stock() {
    let store = MemoryStockStore::default();
    let shopper = send(&store, event("set-stock-as-shopper.json")).await;
    assert_eq!(shopper.status(), StatusCode::FORBIDDEN);
    assert_eq!(shopper.headers()[header::CONTENT_TYPE], "application/problem+json");
    let anonymous = send(&store, event("set-stock-unauthenticated.json")).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.headers()[header::WWW_AUTHENTICATE], "Bearer");
    assert_eq!(json_of(&send(&store, event("get-stock.json")).await)["available"], 0);
}

#[tokio::test]
async fn refuses_bad_counts_naming_the_field() {
    let store = MemoryStockStore::default();
    for (body, field) in [
        (r#"{"available": -1}"#, "available"),
        (r#"{"available": 1000001}"#, "available"),
        (r#"{"available": 1.5}"#, "available"),
        (r#"{"available": "3"}"#, "available"),
        (r#"{"available": null}"#, "available"),
        (r#"{"available": 99999999999999999999}"#, "available"),
        (r#"{}"#, "available"),
        (r#"{"available": 3, "reserved": 1}"#, "reserved"),
        (r#"[3]"#, "body"),
        (r#"{"available": 3, "available": 4}"#, "body"),
        (r#"{"available": 3"#, "body"),
        ("", "body"),
    ] {
        let response = send(&store, put(body)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json");
        let problem = json_of(&response);
        assert_eq!(problem["type"], "urn:bookish:problem:validation-error", "{body}");
        assert_eq!(problem["field"], field, "{body}");
    }
    let mut form = put("available=3");
    form.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
    assert_eq!(send(&store, form).await.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(json_of(&send(&store, event("get-stock.json")).await)["available"], 0);
}

#[tokio::test]
async fn implausible_book_ids_are_not_found() {
    let store = MemoryStockStore::default();
    for id in ["a b", "a#b", "STOCK#x", &"x".repeat(65)] {
        assert_eq!(send(&store, for_book(event("get-stock.json"), id)).await.status(), StatusCode::NOT_FOUND, "{id}");
        let response = send(&store, for_book(event("set-stock-as-admin.json"), id)).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{id}");
        assert_eq!(json_of(&response)["type"], "urn:bookish:problem:not-found");
    }
}

#[tokio::test]
async fn other_methods_are_not_allowed() {
    let mut req = event("get-stock.json");
    *req.method_mut() = Method::DELETE;
    assert_eq!(send(&MemoryStockStore::default(), req).await.status(), StatusCode::METHOD_NOT_ALLOWED);
}
