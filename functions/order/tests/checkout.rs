//! The order rules and routes over in-memory fakes, fed the sample events in
//! `events/order/`: checkout, payment, stock outcomes, cancellation, the outbox relay.

use std::sync::Mutex;

use async_trait::async_trait;
use aws_lambda_events::event::sqs::SqsEvent;
use bookish_shared::auth::Authenticator;
use bookish_shared::catalog_client::{CatalogBook, StaticCatalog};
use bookish_shared::http::serve;
use bookish_shared::money::{Currency, Money};
use bookish_shared::sqs::{for_each_record, MemoryPublisher};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use order::cart_client::{CartLine, MemoryCart};
use order::payments::{Authorization, PaymentError, PaymentGateway, SandboxPayments};
use order::publisher::{relay, Routes};
use order::service::Services;
use order::store::{MemoryOrderStore, OrderStore};
use order::{consumer, routes};
use serde_json::{json, Value};

const SHOPPER: &str = "9b1d3c2e-shopper";

fn fixture(name: &str) -> String {
    let path = format!("{}/../../events/order/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn event(name: &str) -> Request {
    lambda_http::request::from_str(&fixture(name)).unwrap()
}

/// The sandbox, recording every call so tests can count charges.
#[derive(Default)]
struct RecordingPayments {
    calls: Mutex<Vec<String>>,
}

impl RecordingPayments {
    fn count(&self, verb: &str) -> usize {
        self.calls.lock().unwrap().iter().filter(|c| c.starts_with(verb)).count()
    }
}

#[async_trait]
impl PaymentGateway for RecordingPayments {
    async fn authorize(&self, token: &str, amount: &Money, key: &str) -> Result<Authorization, PaymentError> {
        let result = SandboxPayments.authorize(token, amount, key).await;
        self.calls.lock().unwrap().push(format!("authorize {token} {}", amount.amount));
        result
    }
    async fn capture(&self, id: &str, _key: &str) -> Result<(), PaymentError> {
        self.calls.lock().unwrap().push(format!("capture {id}"));
        Ok(())
    }
    async fn void(&self, id: &str, _key: &str) -> Result<(), PaymentError> {
        self.calls.lock().unwrap().push(format!("void {id}"));
        Ok(())
    }
    async fn refund(&self, id: &str, _key: &str) -> Result<(), PaymentError> {
        self.calls.lock().unwrap().push(format!("refund {id}"));
        Ok(())
    }
}

struct Shop {
    store: MemoryOrderStore,
    cart: MemoryCart,
    catalog: StaticCatalog,
    payments: RecordingPayments,
}

impl Shop {
    fn new() -> Self {
        let catalog = StaticCatalog::default();
        let usd = Currency::parse("USD").unwrap();
        *catalog.books.lock().unwrap() = vec![
            CatalogBook { id: "book-1984".into(), title: "1984".into(), price: Money::new(999, usd.clone()) },
            CatalogBook { id: "book-gatsby".into(), title: "The Great Gatsby".into(), price: Money::new(1250, usd) },
        ];
        let shop = Self {
            store: MemoryOrderStore::default(),
            cart: MemoryCart::default(),
            catalog,
            payments: RecordingPayments::default(),
        };
        shop.fill_cart();
        shop
    }

    fn fill_cart(&self) {
        *self.cart.lines.lock().unwrap() = vec![
            CartLine { book_id: "book-1984".into(), quantity: 2 },
            CartLine { book_id: "book-gatsby".into(), quantity: 1 },
        ];
    }

    fn services(&self) -> Services<'_> {
        Services { store: &self.store, cart: &self.cart, catalog: &self.catalog, payments: &self.payments }
    }

    async fn send(&self, req: Request) -> Response<Body> {
        let services = self.services();
        serve(req, |req| routes::handle(&services, &Authenticator::ApiGateway, req)).await.unwrap()
    }

    async fn place(&self, token: &str, key: &str) -> (StatusCode, Value) {
        let mut req = event("place-order.json");
        let mut body = checkout_body();
        body["payment"]["token"] = json!(token);
        *req.body_mut() = Body::Text(body.to_string());
        req.headers_mut().insert("idempotency-key", key.parse().unwrap());
        let response = self.send(req).await;
        (response.status(), json_of(&response))
    }

    async fn order(&self, id: &str) -> Value {
        let params = std::collections::HashMap::from([("id".to_owned(), id.to_owned())]);
        json_of(&self.send(event("get-order.json").with_path_parameters(params)).await)
    }

    async fn cancel(&self, id: &str) -> (StatusCode, Value) {
        let params = std::collections::HashMap::from([("id".to_owned(), id.to_owned())]);
        let mut req = event("cancel-order.json").with_path_parameters(params);
        *req.uri_mut() = format!("/v1/orders/{id}/cancel").parse().unwrap();
        let response = self.send(req).await;
        (response.status(), json_of(&response))
    }

    /// Delivers a stock outcome the way the SQS consumer receives it.
    async fn stock(&self, kind: &str, order_id: &str) -> Vec<String> {
        let record = |id: &str| {
            json!({"messageId": id, "body": json!({"eventId": format!("{kind}-{order_id}"), "type": kind, "version": 1,
                "occurredAt": "2026-11-27T12:00:01Z", "correlationId": "c", "data": {"orderId": order_id, "customerId": SHOPPER,
                "reason": "OUT_OF_STOCK", "shortages": []}}).to_string()})
        };
        let batch: SqsEvent = serde_json::from_value(json!({"Records": [record("m1")]})).unwrap();
        let services = self.services();
        let response = for_each_record(batch, "request-1", |envelope| consumer::handle(&services, envelope)).await;
        response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect()
    }

    fn event_types(&self) -> Vec<String> {
        self.store
            .outbox()
            .iter()
            .map(|e| serde_json::from_str::<Value>(&e.envelope).unwrap()["type"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn checkout_body() -> Value {
    let req = event("place-order.json");
    match req.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap(),
        _ => panic!("text body"),
    }
}

fn json_of(response: &Response<Body>) -> Value {
    if response.body().is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(response.body().as_ref()).unwrap()
}

#[tokio::test]
async fn checkout_prices_from_the_catalog_and_empties_the_cart() {
    let shop = Shop::new();
    let response = shop.send(event("place-order.json")).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let order = json_of(&response);
    assert_eq!(order["status"], "PENDING");
    assert_eq!(order["total"], json!({"amount": 999 * 2 + 1250, "currency": "USD"}));
    assert_eq!(order["lines"][0]["lineTotal"], json!({"amount": 1998, "currency": "USD"}));
    assert_eq!(order["paymentStatus"], "AUTHORIZED");
    assert_eq!(response.headers()["location"], format!("/v1/orders/{}", order["id"].as_str().unwrap()));
    assert!(shop.cart.lines.lock().unwrap().is_empty());
    assert_eq!(shop.event_types(), ["OrderPlaced"]);
    let placed: Value = serde_json::from_str(&shop.store.outbox()[0].envelope).unwrap();
    assert_eq!(placed["correlationId"], "sample-correlation-id");
    assert_eq!(placed["data"]["customerId"], SHOPPER);
    assert_eq!(placed["data"]["order"]["customer"]["email"], "shopper@bookish.local");
}

#[tokio::test]
async fn the_same_key_and_body_place_one_order_and_charge_once() {
    let shop = Shop::new();
    let (first_status, first) = shop.place("tok_visa", "key-1").await;
    shop.fill_cart();
    let (second_status, second) = shop.place("tok_visa", "key-1").await;
    assert_eq!((first_status, second_status), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(first, second);
    // A retry that arrives after the first emptied the cart still gets the order.
    let (third_status, third) = shop.place("tok_visa", "key-1").await;
    assert_eq!((third_status, &third), (StatusCode::CREATED, &first));
    assert_eq!(shop.payments.count("authorize"), 1);
    assert_eq!(shop.event_types(), ["OrderPlaced"]);
    // The same key with another body is refused.
    let (status, problem) = shop.place("tok_chargeDeclined", "key-1").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["status"], 422);
}

#[tokio::test]
async fn refuses_empty_carts_bad_tokens_and_missing_keys() {
    let shop = Shop::new();
    shop.cart.lines.lock().unwrap().clear();
    assert_eq!(shop.place("tok_visa", "key-empty").await.0, StatusCode::CONFLICT);
    shop.fill_cart();
    let (status, problem) = shop.place("tok_unknown", "key-bad-token").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["field"], "payment.token");
    let mut no_key = event("place-order.json");
    no_key.headers_mut().remove("idempotency-key");
    assert_eq!(shop.send(no_key).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(shop.send(event("place-order-unauthenticated.json")).await.status(), StatusCode::UNAUTHORIZED);
    assert!(shop.store.outbox().is_empty());
    assert_eq!(shop.cart.lines.lock().unwrap().len(), 2, "a refused checkout keeps the cart");
}

#[tokio::test]
async fn a_declined_card_rejects_the_order_without_touching_stock() {
    let shop = Shop::new();
    let (status, order) = shop.place("tok_chargeDeclined", "key-declined").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(order["status"], "REJECTED");
    assert_eq!(order["reason"], "PAYMENT_DECLINED");
    assert_eq!(shop.event_types(), ["OrderRejected"], "no OrderPlaced: inventory never hears of it");
}

#[tokio::test]
async fn reserved_stock_captures_once_and_confirms() {
    let shop = Shop::new();
    let (_, order) = shop.place("tok_visa", "key-confirm").await;
    let id = order["id"].as_str().unwrap();
    assert!(shop.stock("StockReserved", id).await.is_empty());
    assert!(shop.stock("StockReserved", id).await.is_empty(), "a redelivery succeeds");
    let order = shop.order(id).await;
    assert_eq!(order["status"], "CONFIRMED");
    assert_eq!(order["paymentStatus"], "CAPTURED");
    assert_eq!(shop.payments.count("capture"), 1);
    assert_eq!(shop.event_types(), ["OrderPlaced", "OrderConfirmed"]);
}

#[tokio::test]
async fn rejected_stock_voids_the_payment_and_rejects() {
    let shop = Shop::new();
    let (_, order) = shop.place("tok_visa", "key-reject").await;
    let id = order["id"].as_str().unwrap();
    shop.stock("StockRejected", id).await;
    shop.stock("StockRejected", id).await;
    let order = shop.order(id).await;
    assert_eq!((order["status"].as_str(), order["reason"].as_str()), (Some("REJECTED"), Some("OUT_OF_STOCK")));
    assert_eq!(order["paymentStatus"], "VOIDED");
    assert_eq!(shop.payments.count("capture"), 0);
    assert_eq!(shop.event_types(), ["OrderPlaced", "OrderRejected"]);
}

#[tokio::test]
async fn cancelling_refunds_a_confirmed_order_once() {
    let shop = Shop::new();
    let (_, order) = shop.place("tok_visa", "key-cancel").await;
    let id = order["id"].as_str().unwrap();
    shop.stock("StockReserved", id).await;
    let (status, cancelled) = shop.cancel(id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cancelled["status"], "CANCELLED");
    assert_eq!(cancelled["paymentStatus"], "REFUNDED");
    assert_eq!(shop.cancel(id).await.0, StatusCode::CONFLICT);
    assert_eq!(shop.payments.count("refund"), 1);
    assert_eq!(shop.event_types(), ["OrderPlaced", "OrderConfirmed", "OrderCancelled"]);
    // A late reservation for a cancelled order changes nothing.
    shop.stock("StockReserved", id).await;
    assert_eq!(shop.order(id).await["status"], "CANCELLED");
    assert_eq!(shop.payments.count("capture"), 1);
}

#[tokio::test]
async fn cancelling_a_pending_order_voids_the_hold() {
    let shop = Shop::new();
    let (_, order) = shop.place("tok_visa", "key-cancel-pending").await;
    let (status, cancelled) = shop.cancel(order["id"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cancelled["paymentStatus"], "VOIDED");
    shop.fill_cart();
    let (_, declined) = shop.place("tok_chargeDeclined", "key-cancel-rejected").await;
    assert_eq!(shop.cancel(declined["id"].as_str().unwrap()).await.0, StatusCode::CONFLICT);
    assert_eq!(shop.cancel("no-such-order").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn lists_own_orders_newest_first_with_a_cursor() {
    let shop = Shop::new();
    let mut ids = Vec::new();
    for i in 0..5 {
        shop.fill_cart();
        ids.push(shop.place("tok_visa", &format!("key-list-{i}")).await.1["id"].as_str().unwrap().to_owned());
    }
    ids.reverse();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = std::collections::HashMap::from([("limit".to_owned(), "2".to_owned())]);
        if let Some(cursor) = &cursor {
            query.insert("cursor".into(), cursor.clone());
        }
        let page = json_of(&shop.send(event("list-orders.json").with_query_string_parameters(query)).await);
        seen.extend(page["items"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_owned()));
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    // Another shopper's order is not found.
    let stranger = shop.store.get("someone-else", &ids[0]).await.unwrap();
    assert!(stranger.is_none());
}

#[tokio::test]
async fn the_consumer_reports_only_the_malformed_message() {
    let shop = Shop::new();
    let batch: SqsEvent = serde_json::from_str(&fixture("stock-rejected-with-malformed.json")).unwrap();
    let services = shop.services();
    let response = for_each_record(batch, "request-1", |envelope| consumer::handle(&services, envelope)).await;
    let failed: Vec<String> = response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect();
    // The first record names an order this store never had: it fails too, and is retried.
    assert_eq!(failed, ["5e1a0c2d-0002", "5e1a0c2d-0003"]);
}

#[tokio::test]
async fn the_relay_routes_each_event_and_stops_at_a_failure() {
    let routes = Routes { inventory_queue: "inventory".into(), notification_queue: "notification".into() };
    let publisher = MemoryPublisher::default();
    let stream = || serde_json::from_str(&fixture("outbox-stream.json")).unwrap();
    let response = relay(&publisher, &routes, stream()).await;
    assert!(response.batch_item_failures.is_empty());
    let types = |queue: &str| {
        publisher.sent_to(queue).iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(types("inventory"), ["OrderPlaced", "OrderCancelled"]);
    assert_eq!(types("notification"), ["OrderCancelled"]);

    let failing = MemoryPublisher::default();
    failing.failing.store(true, std::sync::atomic::Ordering::SeqCst);
    let response = relay(&failing, &routes, stream()).await;
    let failed: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
    assert_eq!(failed, [Some("111000000000000000000001".to_owned())]);
}
