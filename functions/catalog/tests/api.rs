//! The catalog's HTTP routes end to end over the in-memory store, fed the sample API
//! Gateway events in `events/catalog/`, with claims from the JWT authorizer as in AWS.

mod support;

use bookish_shared::auth::Authenticator;
use bookish_shared::http::serve;
use catalog::book::Book;
use catalog::routes::{admin, read};
use catalog::store::{BookStore, MemoryBookStore};
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{json, Value};

const SAMPLE_ID: &str = "0123456789abcdef";

fn event(name: &str) -> Request {
    let path = format!("{}/../../events/catalog/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    lambda_http::request::from_str(&text).unwrap()
}

fn with_body(mut req: Request, body: Value) -> Request {
    *req.body_mut() = Body::Text(body.to_string());
    req
}

fn with_header(mut req: Request, name: header::HeaderName, value: &str) -> Request {
    req.headers_mut().insert(name, HeaderValue::from_str(value).unwrap());
    req
}

async fn read(store: &MemoryBookStore, req: Request) -> Response<Body> {
    serve(req, |req| read::handle(store, req)).await.unwrap()
}

async fn admin(store: &MemoryBookStore, req: Request) -> Response<Body> {
    serve(req, |req| admin::handle(store, &Authenticator::ApiGateway, req)).await.unwrap()
}

fn json_of(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).unwrap()
}

fn sample_input() -> Value {
    serde_json::from_str::<Value>(match event("create-book-as-admin.json").body() {
        Body::Text(text) => text,
        _ => panic!("sample body is text"),
    })
    .unwrap()
}

async fn store_with_sample_book() -> MemoryBookStore {
    let store = MemoryBookStore::default();
    let book = Book { id: SAMPLE_ID.into(), ..support::book("1984", "George Orwell", &["Dystopian"]) };
    store.insert(&book).await.unwrap();
    store
}

#[tokio::test]
async fn gets_a_book_with_caching_headers_and_honours_if_none_match() {
    let store = store_with_sample_book().await;
    let response = read(&store, event("get-book.json")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_of(&response)["title"], "1984");
    assert_eq!(response.headers()[header::ETAG], "\"1\"");
    assert_eq!(response.headers()[header::CACHE_CONTROL], "public, max-age=60");
    assert_eq!(response.headers()["x-correlation-id"], "sample-correlation-id");
    assert!(response.headers().contains_key("x-request-id"));

    let again = read(&store, with_header(event("get-book.json"), header::IF_NONE_MATCH, "\"1\"")).await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(again.body().is_empty());
}

#[tokio::test]
async fn an_unknown_book_is_a_problem_404() {
    let response = read(&MemoryBookStore::default(), event("get-book.json")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json");
    assert_eq!(json_of(&response)["type"], "urn:bookish:problem:not-found");
}

#[tokio::test]
async fn pages_through_every_book_exactly_once() {
    let store = MemoryBookStore::default();
    for i in 0..12 {
        store.insert(&support::book(&format!("Title {i:02}"), "Ada", &["Tests"])).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = std::collections::HashMap::from([("limit".to_owned(), "5".to_owned())]);
        if let Some(cursor) = &cursor {
            query.insert("cursor".into(), cursor.clone());
        }
        let response = read(&store, event("list-books.json").with_query_string_parameters(query)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let page = json_of(&response);
        seen.extend(page["items"].as_array().unwrap().iter().map(|b| b["title"].as_str().unwrap().to_owned()));
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..12).map(|i| format!("Title {i:02}")).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn refuses_bad_list_parameters() {
    let store = MemoryBookStore::default();
    for (name, value, field) in [
        ("limit", "0", "limit"),
        ("limit", "101", "limit"),
        ("limit", "ten", "limit"),
        ("cursor", "bm90LWEtY3Vyc29y.AAAA", "cursor"),
        ("q", "  ", "q"),
    ] {
        let query = std::collections::HashMap::from([(name.to_owned(), value.to_owned())]);
        let response = read(&store, event("list-books.json").with_query_string_parameters(query)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name}={value}");
        assert_eq!(json_of(&response)["field"], field);
    }
    let both =
        std::collections::HashMap::from([("author".to_owned(), "a".to_owned()), ("genre".to_owned(), "b".to_owned())]);
    let response = read(&store, event("list-books.json").with_query_string_parameters(both)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn searches_by_author_and_title_prefix() {
    let store = MemoryBookStore::default();
    for (title, author) in
        [("Animal Farm", "George Orwell"), ("1984", "George Orwell"), ("Anna Karenina", "Leo Tolstoy")]
    {
        store.insert(&support::book(title, author, &["Classics"])).await.unwrap();
    }
    let response = read(&store, event("search-books.json")).await;
    let titles: Vec<Value> =
        json_of(&response)["items"].as_array().unwrap().iter().map(|b| b["title"].clone()).collect();
    assert_eq!(titles, [json!("Animal Farm")]);
}

#[tokio::test]
async fn looks_books_up_by_id_in_the_order_asked() {
    let store = MemoryBookStore::default();
    let (a, b) = (support::book("A", "Ada", &["Tests"]), support::book("B", "Ada", &["Tests"]));
    store.insert(&a).await.unwrap();
    store.insert(&b).await.unwrap();
    let ids = format!("{},missing,{},{}", b.id, a.id, b.id);
    let query = std::collections::HashMap::from([("ids".to_owned(), ids)]);
    let response = read(&store, event("list-books.json").with_query_string_parameters(query)).await;
    let page = json_of(&response);
    assert_eq!(
        page["items"].as_array().unwrap().iter().map(|b| b["title"].clone()).collect::<Vec<_>>(),
        [json!("B"), json!("A")]
    );
    assert_eq!(page["nextCursor"], Value::Null);

    let mixed = std::collections::HashMap::from([("ids".to_owned(), a.id.clone()), ("q".to_owned(), "a".to_owned())]);
    let response = read(&store, event("list-books.json").with_query_string_parameters(mixed)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let too_many = std::collections::HashMap::from([(
        "ids".to_owned(),
        (0..101).map(|i| format!("id{i}")).collect::<Vec<_>>().join(","),
    )]);
    let response = read(&store, event("list-books.json").with_query_string_parameters(too_many)).await;
    assert_eq!(json_of(&response)["field"], "ids");
}

#[tokio::test]
async fn reads_refuse_other_methods() {
    let mut req = event("get-book.json");
    *req.method_mut() = lambda_http::http::Method::POST;
    assert_eq!(read(&MemoryBookStore::default(), req).await.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn an_admin_creates_a_book_once_per_isbn() {
    let store = MemoryBookStore::default();
    let response = admin(&store, event("create-book-as-admin.json")).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let book = json_of(&response);
    assert_eq!(response.headers()[header::LOCATION], format!("/v1/books/{}", book["id"].as_str().unwrap()));
    assert_eq!(response.headers()[header::ETAG], "\"1\"");
    assert_eq!(book["isbn"], "9780451524935");
    assert_eq!(book["price"], json!({"amount": 999, "currency": "USD"}));
    assert_eq!(book["version"], 1);

    let duplicate = admin(&store, event("create-book-as-admin.json")).await;
    assert_eq!(duplicate.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn only_admins_may_write() {
    let store = MemoryBookStore::default();
    let shopper = admin(&store, event("create-book-as-shopper.json")).await;
    assert_eq!(shopper.status(), StatusCode::FORBIDDEN);
    // A bearer token with no authorizer claims behind it is never trusted in AWS mode.
    let anonymous = admin(&store, event("create-book-unauthenticated.json")).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.headers()[header::WWW_AUTHENTICATE], "Bearer");
    let listed = read(&store, event("list-books.json")).await;
    assert_eq!(json_of(&listed)["items"], json!([]));
}

#[tokio::test]
async fn invalid_input_is_refused_and_nothing_is_stored() {
    let store = MemoryBookStore::default();
    let mut negative = sample_input();
    negative["price"]["amount"] = json!(-1);
    let mut float = sample_input();
    float["price"]["amount"] = json!(9.99);
    let mut unknown = sample_input();
    unknown["rating"] = json!(5);
    let mut blank = sample_input();
    blank["title"] = json!("  ");
    for (body, field) in [(negative, "price.amount"), (float, "price.amount"), (unknown, "rating"), (blank, "title")] {
        let response = admin(&store, with_body(event("create-book-as-admin.json"), body)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(json_of(&response)["field"], field);
    }
    let listed = read(&store, event("list-books.json")).await;
    assert_eq!(json_of(&listed)["items"], json!([]));
}

#[tokio::test]
async fn replace_honours_if_match_and_delete_removes() {
    let store = store_with_sample_book().await;
    let replaced = admin(&store, event("replace-book-as-admin.json")).await;
    assert_eq!(replaced.status(), StatusCode::OK);
    let book = json_of(&replaced);
    assert_eq!(book["version"], 2);
    assert_eq!(book["price"]["amount"], 1099);
    assert_eq!(book["createdAt"], "2026-11-27T12:00:00Z");
    assert_eq!(replaced.headers()[header::ETAG], "\"2\"");

    let stale = admin(&store, event("replace-book-as-admin.json")).await;
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);

    let deleted = admin(&store, event("delete-book-as-admin.json")).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(admin(&store, event("delete-book-as-admin.json")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(read(&store, event("get-book.json")).await.status(), StatusCode::NOT_FOUND);
}
