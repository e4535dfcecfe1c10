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
