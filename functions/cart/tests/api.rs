//! The cart's HTTP routes over the in-memory store and a fixed catalog, fed the sample
//! API Gateway events in `events/cart/`, with claims from the JWT authorizer as in AWS.

use bookish_shared::auth::Authenticator;
use bookish_shared::catalog_client::{CatalogBook, StaticCatalog};
use bookish_shared::http::serve;
use bookish_shared::money::{Currency, Money};
use cart::routes;
use cart::store::{CartStore, MemoryCartStore};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{json, Value};

const SAMPLE_BOOK: &str = "0123456789abcdef";

fn event(name: &str) -> Request {
    let path = format!("{}/../../events/cart/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    lambda_http::request::from_str(&text).unwrap()
}

fn put(book_id: &str, body: Value) -> Request {
    let params = std::collections::HashMap::from([("bookId".to_owned(), book_id.to_owned())]);
    let mut req = event("set-quantity.json").with_path_parameters(params);
    *req.body_mut() = Body::Text(body.to_string());
    req
}

fn remove(book_id: &str) -> Request {
    let params = std::collections::HashMap::from([("bookId".to_owned(), book_id.to_owned())]);
    event("remove-line.json").with_path_parameters(params)
}

fn book(id: &str, title: &str, amount: i64, currency: &str) -> CatalogBook {
    CatalogBook { id: id.into(), title: title.into(), price: Money::new(amount, Currency::parse(currency).unwrap()) }
}

struct Shop {
    store: MemoryCartStore,
    catalog: StaticCatalog,
}

impl Shop {
    fn new() -> Self {
        let catalog = StaticCatalog::default();
        *catalog.books.lock().unwrap() = vec![
            book(SAMPLE_BOOK, "1984", 999, "USD"),
            book("gatsby", "The Great Gatsby", 1250, "USD"),
            book("euro-book", "Le Petit Prince", 800, "EUR"),
        ];
        Self { store: MemoryCartStore::default(), catalog }
    }

    async fn send(&self, req: Request) -> Response<Body> {
        serve(req, |req| routes::handle(&self.store, &self.catalog, &Authenticator::ApiGateway, req)).await.unwrap()
    }
}

fn json_of(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).unwrap()
}

#[tokio::test]
async fn an_empty_cart_is_an_empty_200() {
    let response = Shop::new().send(event("get-cart.json")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        json_of(&response),
        json!({"items": [], "subtotal": {"amount": 0, "currency": "USD"}, "itemCount": 0, "updatedAt": null})
    );
}

#[tokio::test]
async fn prices_lines_from_the_catalog_and_totals_them() {
    let shop = Shop::new();
    assert_eq!(shop.send(event("set-quantity.json")).await.status(), StatusCode::OK);
    let cart = json_of(&shop.send(put("gatsby", json!({"quantity": 3}))).await);
    assert_eq!(
        cart["items"][0],
        json!({"bookId": SAMPLE_BOOK, "title": "1984", "unitPrice": {"amount": 999, "currency": "USD"}, "quantity": 2, "lineTotal": {"amount": 1998, "currency": "USD"}})
    );
    assert_eq!(cart["items"][1]["lineTotal"], json!({"amount": 3750, "currency": "USD"}));
    assert_eq!(cart["subtotal"], json!({"amount": 5748, "currency": "USD"}));
    assert_eq!(cart["itemCount"], 5);

    // A price change in the catalog shows on the next read.
    shop.catalog.books.lock().unwrap()[1].price.amount = 1000;
    let cart = json_of(&shop.send(event("get-cart.json")).await);
    assert_eq!(cart["subtotal"]["amount"], 1998 + 3000);
}

#[tokio::test]
async fn removes_a_line_and_empties_the_cart() {
    let shop = Shop::new();
    shop.send(event("set-quantity.json")).await;
    shop.send(put("gatsby", json!({"quantity": 1}))).await;
    let cart = json_of(&shop.send(event("remove-line.json")).await);
    assert_eq!(cart["items"].as_array().unwrap().len(), 1);
    assert_eq!(shop.send(remove("not-in-cart")).await.status(), StatusCode::OK);
    let cleared = shop.send(event("clear-cart.json")).await;
    assert_eq!(cleared.status(), StatusCode::NO_CONTENT);
    assert_eq!(json_of(&shop.send(event("get-cart.json")).await)["items"], json!([]));
}

#[tokio::test]
async fn refuses_bad_quantities_unknown_books_and_mixed_currencies() {
    let shop = Shop::new();
    for body in [
        json!({"quantity": 0}),
        json!({"quantity": -1}),
        json!({"quantity": 100}),
        json!({"quantity": 1.5}),
        json!({"quantity": "2"}),
        json!({}),
        json!({"quantity": 1, "price": 1}),
    ] {
        let response = shop.send(put(SAMPLE_BOOK, body.clone())).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    assert_eq!(shop.send(put("no-such-book", json!({"quantity": 1}))).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(shop.send(put("bad/id", json!({"quantity": 1}))).await.status(), StatusCode::NOT_FOUND);
    shop.send(event("set-quantity.json")).await;
    assert_eq!(shop.send(put("euro-book", json!({"quantity": 1}))).await.status(), StatusCode::CONFLICT);
    let cart = json_of(&shop.send(event("get-cart.json")).await);
    assert_eq!(cart["itemCount"], 2);
}

#[tokio::test]
async fn a_deleted_book_leaves_the_cart_view() {
    let shop = Shop::new();
    shop.send(event("set-quantity.json")).await;
    shop.send(put("gatsby", json!({"quantity": 1}))).await;
    shop.catalog.books.lock().unwrap().retain(|b| b.id != "gatsby");
    let cart = json_of(&shop.send(event("get-cart.json")).await);
    assert_eq!(cart["items"].as_array().unwrap().len(), 1);
    assert_eq!(cart["subtotal"]["amount"], 1998);
    // The next change drops the dead line, so it holds no place toward the limit.
    shop.send(put(SAMPLE_BOOK, json!({"quantity": 1}))).await;
    let stored = shop.store.get("9b1d3c2e-shopper").await.unwrap().unwrap();
    assert_eq!(stored.book_ids().collect::<Vec<_>>(), [SAMPLE_BOOK]);
}

#[tokio::test]
async fn a_book_repriced_in_another_currency_does_not_break_reading_the_cart() {
    let shop = Shop::new();
    shop.send(event("set-quantity.json")).await;
    shop.send(put("gatsby", json!({"quantity": 1}))).await;
    shop.catalog.books.lock().unwrap()[1].price.currency = Currency::parse("EUR").unwrap();
    let response = shop.send(event("get-cart.json")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cart = json_of(&response);
    assert_eq!(cart["items"].as_array().unwrap().len(), 1);
    assert_eq!(cart["subtotal"], json!({"amount": 1998, "currency": "USD"}));
    assert_eq!(shop.send(remove("gatsby")).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn requires_a_signed_in_shopper() {
    let response = Shop::new().send(event("get-cart-unauthenticated.json")).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

fn clear_lines(body: &str) -> Request {
    let mut req = event("clear-ordered-lines.json");
    *req.body_mut() = Body::Text(body.to_owned());
    req
}

fn quantities(cart: &Value) -> Vec<(String, u64)> {
    cart["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| (line["bookId"].as_str().unwrap().to_owned(), line["quantity"].as_u64().unwrap()))
        .collect()
}

#[tokio::test]
async fn checkout_removes_only_the_lines_it_ordered() {
    let shop = Shop::new();
    shop.catalog.books.lock().unwrap().push(book("dune", "Dune", 1100, "USD"));
    shop.send(event("set-quantity.json")).await; // 1984 x2
    shop.send(put("gatsby", json!({"quantity": 1}))).await;
    // Checkout read {1984: 2, gatsby: 1} and ordered it (the sample event's body). Meanwhile,
    // in another tab: one more Gatsby, and Dune.
    shop.send(put("gatsby", json!({"quantity": 3}))).await;
    shop.send(put("dune", json!({"quantity": 1}))).await;
    let response = shop.send(event("clear-ordered-lines.json")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.body().is_empty());
    let cart = json_of(&shop.send(event("get-cart.json")).await);
    assert_eq!(quantities(&cart), [("gatsby".to_owned(), 3), ("dune".to_owned(), 1)]);
    // A retried checkout sends it again: nothing more goes.
    assert_eq!(shop.send(event("clear-ordered-lines.json")).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(quantities(&json_of(&shop.send(event("get-cart.json")).await)).len(), 2);
}

#[tokio::test]
async fn removing_every_ordered_line_empties_the_cart_like_a_plain_delete() {
    let shop = Shop::new();
    shop.send(event("set-quantity.json")).await;
    shop.send(put("gatsby", json!({"quantity": 1}))).await;
    assert_eq!(shop.send(event("clear-ordered-lines.json")).await.status(), StatusCode::NO_CONTENT);
    let cart = json_of(&shop.send(event("get-cart.json")).await);
    assert_eq!(cart["items"], json!([]));
    assert_eq!(cart["updatedAt"], Value::Null);
    assert!(shop.store.get("9b1d3c2e-shopper").await.unwrap().is_none());
    // On a cart that does not exist, and with nothing listed, it is a 204 all the same.
    assert_eq!(shop.send(event("clear-ordered-lines.json")).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(shop.send(clear_lines(r#"{"lines": []}"#)).await.status(), StatusCode::NO_CONTENT);
    // Whitespace is no body: the whole cart goes.
    shop.send(put("gatsby", json!({"quantity": 4}))).await;
    assert_eq!(shop.send(clear_lines(" \n")).await.status(), StatusCode::NO_CONTENT);
    assert!(shop.store.get("9b1d3c2e-shopper").await.unwrap().is_none());
}

#[tokio::test]
async fn refuses_bad_removal_bodies_and_removes_nothing() {
    let shop = Shop::new();
    shop.send(event("set-quantity.json")).await;
    shop.send(put("gatsby", json!({"quantity": 1}))).await;
    let line = |id: &str, quantity: i64| json!({"bookId": id, "quantity": quantity});
    let fifty_one: Vec<Value> = (0..51).map(|i| line(&format!("book-{i}"), 1)).collect();
    for (body, field) in [
        (json!({}), "lines"),
        (json!({"lines": "all"}), "lines"),
        (json!({"lines": null}), "lines"),
        (json!({"lines": [], "all": true}), "all"),
        (json!({"lines": fifty_one}), "lines"),
        (json!({"lines": [{"bookId": SAMPLE_BOOK}]}), "lines.0.quantity"),
        (json!({"lines": [line(SAMPLE_BOOK, 0)]}), "lines.0.quantity"),
        (json!({"lines": [line("gatsby", 1), line(SAMPLE_BOOK, 100)]}), "lines.1.quantity"),
        (json!({"lines": [{"bookId": SAMPLE_BOOK, "quantity": "2"}]}), "lines.0.quantity"),
        (json!({"lines": [{"quantity": 1}]}), "lines.0.bookId"),
        (json!({"lines": [line("", 1)]}), "lines.0.bookId"),
        (json!({"lines": [line(&"x".repeat(65), 1)]}), "lines.0.bookId"),
        (json!({"lines": [line(SAMPLE_BOOK, 2), line(SAMPLE_BOOK, 1)]}), "lines.1.bookId"),
        (json!({"lines": [{"bookId": SAMPLE_BOOK, "quantity": 2, "price": 1}]}), "lines.0.price"),
    ] {
        let response = shop.send(clear_lines(&body.to_string())).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(json_of(&response)["field"], field, "{body}");
    }
    for raw in ["[]", "null", "{", "lines"] {
        assert_eq!(shop.send(clear_lines(raw)).await.status(), StatusCode::BAD_REQUEST, "{raw}");
    }
    let mut form = clear_lines(&json!({"lines": [line(SAMPLE_BOOK, 2)]}).to_string());
    form.headers_mut().insert("content-type", "text/plain".parse().unwrap());
    assert_eq!(shop.send(form).await.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let cart = json_of(&shop.send(event("get-cart.json")).await);
    assert_eq!(quantities(&cart), [(SAMPLE_BOOK.to_owned(), 2), ("gatsby".to_owned(), 1)]);
    // Ids the catalog never issues are in no cart: listing one removes nothing, and is no error.
    let odd = json!({"lines": [line("a.b", 2), line("é", 1)]}).to_string();
    assert_eq!(shop.send(clear_lines(&odd)).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(quantities(&json_of(&shop.send(event("get-cart.json")).await)).len(), 2);
}

#[tokio::test]
async fn book_ids_no_book_could_have_never_reach_the_store() {
    let shop = Shop::new();
    let long_ago = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
    let two = cart::cart::Quantity::parse(2).unwrap();
    let before = shop.store.set_line("9b1d3c2e-shopper", SAMPLE_BOOK, two, long_ago).await.unwrap();
    for id in ["x".repeat(65), "x".repeat(5000), "a.b".into(), "é".into()] {
        assert_eq!(shop.send(put(&id, json!({"quantity": 1}))).await.status(), StatusCode::NOT_FOUND, "{id}");
        assert_eq!(shop.send(remove(&id)).await.status(), StatusCode::NOT_FOUND, "{id}");
    }
    // Not even touched: the cart's updatedAt is where it was.
    assert_eq!(shop.store.get("9b1d3c2e-shopper").await.unwrap().unwrap(), before);
}

// ---- What checkout sends (order::cart_client, whose tests check it still sends these records) ----

/// A recorded request from checkout, with the shopper's identity as the JWT authorizer
/// hands it to these tests: in AWS the cart verifies the forwarded bearer token instead
/// (`bookish_shared::auth`'s tests cover that).
fn from_checkout(name: &str) -> Request {
    let path = format!("{}/../../events/cart/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut recorded: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    recorded["requestContext"]["authorizer"] = json!({"jwt": {"claims": {"sub": "9b1d3c2e-shopper"}, "scopes": null}});
    lambda_http::request::from_str(&recorded.to_string()).unwrap()
}

#[tokio::test]
async fn answers_the_requests_checkout_sends() {
    let shop = Shop::new();
    shop.catalog.books.lock().unwrap().push(book("dune", "Dune", 1100, "USD"));
    shop.send(event("set-quantity.json")).await; // 1984 x2
    shop.send(put("gatsby", json!({"quantity": 1}))).await;
    shop.send(put("dune", json!({"quantity": 1}))).await;
    let response = shop.send(from_checkout("checkout-reads-cart.json")).await;
    assert_eq!(response.status(), StatusCode::OK);
    // What checkout reads of it: items of bookId and quantity.
    let read = quantities(&json_of(&response));
    assert_eq!(read, [(SAMPLE_BOOK.to_owned(), 2), ("gatsby".to_owned(), 1), ("dune".to_owned(), 1)]);

    let response = shop.send(from_checkout("checkout-removes-ordered-lines.json")).await;
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(quantities(&json_of(&shop.send(event("get-cart.json")).await)), [("dune".to_owned(), 1)]);
}
