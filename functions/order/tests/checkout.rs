//! The order rules and routes over in-memory fakes, fed the sample events in
//! `events/order/`: checkout, payment, stock outcomes, cancellation, the settler and the
//! outbox relay. Payments go to `support::FakePayments`, which keeps Stripe's promises.

mod support;

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_lambda_events::event::sqs::SqsEvent;
use bookish_shared::auth::{Authenticator, Claims};
use bookish_shared::catalog_client::{CatalogBook, StaticCatalog};
use bookish_shared::events::rfc3339;
use bookish_shared::http::serve;
use bookish_shared::money::{Currency, Money};
use bookish_shared::sqs::{for_each_record, MemoryPublisher};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use order::cart_client::{Caller, Cart, CartLine, CartUnavailable, MemoryCart};
use order::order::{CheckoutInput, IdempotencyKey, Order, PaymentStatus, Reason, Status, StoredOrder};
use order::payments::{Authorization, Capture, PaymentError, PaymentGateway, Void};
use order::publisher::{relay, Routes};
use order::service::{self, CheckoutLimit, Saga, Services, Settled};
use order::store::{MemoryOrderStore, OrderStore};
use order::{consumer, routes, OrderError};
use serde_json::{json, Value};
use support::{FakePayments, HoldState, Verb, DECLINED, VISA};
use time::OffsetDateTime;

const SHOPPER: &str = "9b1d3c2e-shopper";
/// What the cart costs: two copies of 1984 and one Gatsby.
const TOTAL: i64 = 999 * 2 + 1250;
/// How long an order may owe the saga a step before the settler takes it.
const SETTLE_AFTER: Duration = Duration::from_secs(15 * 60);
const HOUR: Duration = Duration::from_secs(3600);

fn fixture(name: &str) -> String {
    let path = format!("{}/../../events/order/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn event(name: &str) -> Request {
    lambda_http::request::from_str(&fixture(name)).unwrap()
}

struct Shop {
    store: MemoryOrderStore,
    cart: MemoryCart,
    catalog: StaticCatalog,
    payments: FakePayments,
    limit: CheckoutLimit,
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
            payments: FakePayments::default(),
            limit: CheckoutLimit::default(),
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

    fn cart_len(&self) -> usize {
        self.cart.lines.lock().unwrap().len()
    }

    fn saga(&self) -> Saga<'_> {
        Saga { store: &self.store, payments: &self.payments }
    }

    fn services(&self) -> Services<'_> {
        Services { saga: self.saga(), cart: &self.cart, catalog: &self.catalog, limit: self.limit }
    }

    async fn send(&self, req: Request) -> Response<Body> {
        let services = self.services();
        serve(req, |req| routes::handle(&services, &Authenticator::ApiGateway, req)).await.unwrap()
    }

    async fn place(&self, payment_method: &str, key: &str) -> (StatusCode, Value) {
        let response = self.send(checkout_request(payment_method, key)).await;
        (response.status(), json_of(&response))
    }

    /// Checks out through the rules as `POST /v1/orders` would have at `at`.
    async fn place_at(&self, payment_method: &str, key: &str, at: OffsetDateTime) -> Result<Order, OrderError> {
        self.fill_cart();
        let claims = Claims {
            subject: SHOPPER.into(),
            username: Some(SHOPPER.into()),
            email: Some("shopper@bookish.local".into()),
            phone: None,
            groups: Vec::new(),
        };
        let caller = Caller { claims, authorization: None, correlation_id: "sample-correlation-id".into() };
        let mut body = checkout_body();
        body["payment"]["paymentMethod"] = json!(payment_method);
        let input: CheckoutInput = serde_json::from_value(body).unwrap();
        let key = IdempotencyKey::parse(Some(key)).unwrap();
        service::place_order(&self.services(), &caller, &key, input, at).await.map(|placed| placed.order)
    }

    async fn order(&self, id: &str) -> Value {
        let params = HashMap::from([("id".to_owned(), id.to_owned())]);
        json_of(&self.send(event("get-order.json").with_path_parameters(params)).await)
    }

    async fn stored(&self, id: &str) -> StoredOrder {
        self.store.get(SHOPPER, id).await.unwrap().unwrap_or_else(|| panic!("no order {id}"))
    }

    /// The shopper's one and only order.
    async fn only_order(&self) -> StoredOrder {
        let mut orders = self.store.list(SHOPPER, 10, None).await.unwrap();
        assert_eq!(orders.len(), 1, "the shopper has one order");
        orders.remove(0)
    }

    async fn cancel(&self, id: &str) -> (StatusCode, Value) {
        let params = HashMap::from([("id".to_owned(), id.to_owned())]);
        let mut req = event("cancel-order.json").with_path_parameters(params);
        *req.uri_mut() = format!("/v1/orders/{id}/cancel").parse().unwrap();
        let response = self.send(req).await;
        (response.status(), json_of(&response))
    }

    /// Delivers a stock outcome the way the SQS consumer receives it; the failed messages.
    async fn stock(&self, kind: &str, order_id: &str) -> Vec<String> {
        self.deliver(json!({"eventId": format!("{kind}-{order_id}"), "type": kind, "version": 1,
            "occurredAt": "2026-11-27T12:00:01Z", "correlationId": "c", "data": {"orderId": order_id, "customerId": SHOPPER,
            "reason": "OUT_OF_STOCK", "shortages": []}}))
        .await
    }

    /// Delivers one event to the stock outcomes' consumer as SQS would; the failed messages.
    async fn deliver(&self, event: Value) -> Vec<String> {
        let batch: SqsEvent =
            serde_json::from_value(json!({"Records": [{"messageId": "m1", "body": event.to_string()}]})).unwrap();
        let saga = self.saga();
        let response = for_each_record(batch, "request-1", |envelope| consumer::handle(&saga, envelope)).await;
        response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect()
    }

    /// One settler run at `now`, for orders that have waited `SETTLE_AFTER`.
    async fn settle(&self, now: OffsetDateTime, deadline: Option<SystemTime>) -> Settled {
        service::settle(&self.saga(), now, SETTLE_AFTER, deadline).await.unwrap()
    }

    /// The outbox's envelopes, in order.
    fn events(&self) -> Vec<Value> {
        self.store.outbox().iter().map(|e| serde_json::from_str(&e.envelope).unwrap()).collect()
    }

    fn event_types(&self) -> Vec<String> {
        self.events().iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect()
    }
}

fn checkout_body() -> Value {
    let req = event("place-order.json");
    match req.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap(),
        _ => panic!("text body"),
    }
}

fn checkout_request(payment_method: &str, key: &str) -> Request {
    let mut req = event("place-order.json");
    let mut body = checkout_body();
    body["payment"]["paymentMethod"] = json!(payment_method);
    *req.body_mut() = Body::Text(body.to_string());
    req.headers_mut().insert("idempotency-key", key.parse().unwrap());
    req
}

fn json_of(response: &Response<Body>) -> Value {
    if response.body().is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(response.body().as_ref()).unwrap()
}

fn id_of(order: &Value) -> String {
    order["id"].as_str().unwrap_or_else(|| panic!("no order id in {order}")).to_owned()
}

fn state(order: &StoredOrder) -> (Status, Option<Reason>, PaymentStatus) {
    (order.order.status, order.order.reason, order.order.payment_status)
}

#[tokio::test]
async fn checkout_prices_from_the_catalog_holds_the_total_and_empties_the_cart() {
    let shop = Shop::new();
    let response = shop.send(event("place-order.json")).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let order = json_of(&response);
    let id = id_of(&order);
    assert_eq!(order["status"], "PENDING");
    assert_eq!(order["total"], json!({"amount": TOTAL, "currency": "USD"}));
    assert_eq!(order["lines"][0]["lineTotal"], json!({"amount": 1998, "currency": "USD"}));
    assert_eq!(order["paymentStatus"], "AUTHORIZED");
    assert_eq!(response.headers()["location"], format!("/v1/orders/{id}"));
    assert!(shop.cart.lines.lock().unwrap().is_empty());
    // One hold, of the order's total, on the shopper's payment method, for this order.
    let holds = shop.payments.holds();
    assert_eq!(holds.len(), 1);
    assert_eq!((holds[0].order_id.as_str(), holds[0].payment_method.as_str()), (id.as_str(), VISA));
    assert_eq!((holds[0].amount.amount, holds[0].amount.currency.as_str()), (TOTAL, "USD"));
    assert_eq!(holds[0].state, HoldState::Held);
    assert_eq!(shop.stored(&id).await.authorization_id.as_deref(), Some(holds[0].id.as_str()));
    assert_eq!(shop.event_types(), ["OrderPlaced"]);
    let placed = &shop.events()[0];
    assert_eq!(placed["correlationId"], "sample-correlation-id");
    assert_eq!(placed["data"]["customerId"], SHOPPER);
    assert_eq!(placed["data"]["order"]["customer"]["email"], "shopper@bookish.local");
    assert_eq!(placed["data"]["order"]["paymentStatus"], "AUTHORIZED");
}

#[tokio::test]
async fn the_order_records_the_accounts_verified_phone_and_a_body_phone_is_refused() {
    let shop = Shop::new();
    // A number in the body is not ours to text: the body is refused, nothing is stored.
    let mut req = checkout_request(VISA, "key-phone");
    let mut body = checkout_body();
    body["phone"] = json!("+15555550199");
    *req.body_mut() = Body::Text(body.to_string());
    let response = shop.send(req).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        json_of(&response)["detail"].as_str().unwrap().contains("unknown field `phone`"),
        "{:?}",
        json_of(&response)
    );
    assert!(shop.store.list(SHOPPER, 10, None).await.unwrap().is_empty());
    assert_eq!(shop.payments.calls(Verb::Authorize), 0);

    // The token's verified number is recorded on the customer, not shown on the order.
    let response = shop.send(event("place-order.json")).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let order = json_of(&response);
    assert!(order.get("phone").is_none(), "{order}");
    let stored = shop.stored(&id_of(&order)).await;
    assert_eq!(stored.customer.phone.as_deref(), Some("+447700900123"));
    assert_eq!(stored.customer.email.as_deref(), Some("shopper@bookish.local"));
    let placed = &shop.events()[0];
    assert_eq!(placed["type"], "OrderPlaced");
    assert_eq!(placed["data"]["order"]["customer"]["phone"], "+447700900123");
    assert!(placed["data"]["order"].get("phone").is_none(), "{placed}");
}

#[tokio::test]
async fn unverified_contacts_in_the_token_are_not_recorded() {
    let shop = Shop::new();
    let unverified = fixture("place-order.json")
        .replace(r#""email_verified": "true""#, r#""email_verified": "false""#)
        .replace(r#""phone_number_verified": "true""#, r#""phone_number_verified": "false""#);
    let response = shop.send(lambda_http::request::from_str(&unverified).unwrap()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let stored = shop.stored(&id_of(&json_of(&response))).await;
    assert_eq!((stored.customer.email, stored.customer.phone), (None, None));
    // The username stays, for the notification service to find the account's verified ones.
    assert_eq!(stored.customer.username.as_deref(), Some(SHOPPER));
    assert!(shop.events()[0]["data"]["order"]["customer"].get("phone").is_none());
}

#[tokio::test]
async fn the_same_key_and_body_place_one_order_and_hold_once() {
    let shop = Shop::new();
    let (first_status, first) = shop.place(VISA, "key-1").await;
    shop.fill_cart();
    let (second_status, second) = shop.place(VISA, "key-1").await;
    assert_eq!((first_status, second_status), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(first, second);
    // A retry that arrives after the first emptied the cart still gets the order.
    let (third_status, third) = shop.place(VISA, "key-1").await;
    assert_eq!((third_status, &third), (StatusCode::CREATED, &first));
    // A replay of a recorded answer does not even ask the provider again.
    assert_eq!(shop.payments.calls(Verb::Authorize), 1);
    assert_eq!(shop.payments.holds().len(), 1);
    assert_eq!(shop.event_types(), ["OrderPlaced"]);
    // The same key with another body is refused.
    let (status, problem) = shop.place(DECLINED, "key-1").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["status"], 422);
    assert_eq!(shop.payments.calls(Verb::Authorize), 1);
}

#[tokio::test]
async fn refuses_empty_carts_missing_keys_and_strangers() {
    let shop = Shop::new();
    shop.cart.lines.lock().unwrap().clear();
    assert_eq!(shop.place(VISA, "key-empty").await.0, StatusCode::CONFLICT);
    shop.fill_cart();
    let mut no_key = event("place-order.json");
    no_key.headers_mut().remove("idempotency-key");
    assert_eq!(shop.send(no_key).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(shop.send(event("place-order-unauthenticated.json")).await.status(), StatusCode::UNAUTHORIZED);
    assert!(shop.store.list(SHOPPER, 10, None).await.unwrap().is_empty());
    assert!(shop.store.outbox().is_empty());
    assert_eq!(shop.payments.calls(Verb::Authorize), 0);
    assert_eq!(shop.cart_len(), 2, "a refused checkout keeps the cart");
}

#[tokio::test]
async fn a_malformed_payment_method_is_refused_before_anything_is_stored() {
    let shop = Shop::new();
    let too_long = format!("pm_{}", "a".repeat(251));
    let bad = ["tok_visa", "", "pm_", "pm_a b", "pm_card-visa", "PM_card_visa", "4242424242424242", &too_long];
    for (i, method) in bad.into_iter().enumerate() {
        let (status, problem) = shop.place(method, &format!("key-bad-{i}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method}");
        assert_eq!(problem["field"], "payment.paymentMethod", "{method}");
    }
    // The body checkout took before payment methods (a card token) is refused too.
    let mut old = checkout_request(VISA, "key-old-shape");
    let mut body = checkout_body();
    body["payment"] = json!({"token": "tok_visa"});
    *old.body_mut() = Body::Text(body.to_string());
    assert_eq!(shop.send(old).await.status(), StatusCode::BAD_REQUEST);
    assert!(shop.store.list(SHOPPER, 10, None).await.unwrap().is_empty(), "no order is recorded");
    assert_eq!(shop.store.idempotency(SHOPPER, "key-bad-0").await.unwrap(), None, "the key is not used up");
    assert_eq!(shop.payments.calls(Verb::Authorize), 0, "the provider is never asked");
    assert!(shop.store.outbox().is_empty());
    assert_eq!(shop.cart_len(), 2);
    // The longest id Stripe could make is accepted, and the corrected request places the order.
    assert_eq!(shop.place(VISA, "key-bad-0").await.0, StatusCode::CREATED);
    shop.fill_cart();
    let (status, declined) = shop.place(&format!("pm_{}", "a".repeat(250)), "key-longest").await;
    assert_eq!((status, declined["reason"].as_str()), (StatusCode::CREATED, Some("PAYMENT_DECLINED")));
}

#[tokio::test]
async fn a_declined_card_rejects_the_order_and_keeps_the_cart() {
    let shop = Shop::new();
    let (status, order) = shop.place(DECLINED, "key-declined").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(order["status"], "REJECTED");
    assert_eq!(order["reason"], "PAYMENT_DECLINED");
    assert_eq!(order["paymentStatus"], "DECLINED");
    assert_eq!(shop.cart_len(), 2, "the shopper can pay with another card");
    assert!(shop.payments.holds().is_empty());
    assert_eq!(shop.event_types(), ["OrderRejected"], "no OrderPlaced: inventory never hears of it");
    let rejected = &shop.events()[0];
    assert_eq!(rejected["data"]["order"]["id"], order["id"]);
    assert_eq!(rejected["data"]["order"]["reason"], "PAYMENT_DECLINED");
    assert_eq!(rejected["data"]["order"]["paymentStatus"], "DECLINED");
    // Nothing is owed: the settler leaves it alone.
    let later = OffsetDateTime::now_utc() + HOUR;
    assert_eq!(shop.settle(later, None).await, Settled::default());
    // Another card, under a new key, pays for the same cart.
    let (status, placed) = shop.place(VISA, "key-declined-retry").await;
    assert_eq!((status, placed["paymentStatus"].as_str()), (StatusCode::CREATED, Some("AUTHORIZED")));
    assert_eq!(shop.cart_len(), 0);
}

#[tokio::test]
async fn reserved_stock_captures_once_and_confirms() {
    let shop = Shop::new();
    let (_, order) = shop.place(VISA, "key-confirm").await;
    let id = id_of(&order);
    assert!(shop.stock("StockReserved", &id).await.is_empty());
    assert!(shop.stock("StockReserved", &id).await.is_empty(), "a redelivery succeeds");
    let order = shop.order(&id).await;
    assert_eq!(order["status"], "CONFIRMED");
    assert_eq!(order["paymentStatus"], "CAPTURED");
    assert_eq!(shop.payments.effects(Verb::Capture), 1);
    assert_eq!(shop.payments.calls(Verb::Capture), 1, "a redelivery for a confirmed order asks nothing");
    assert_eq!(shop.payments.holds()[0].state, HoldState::Captured);
    assert_eq!(shop.event_types(), ["OrderPlaced", "OrderConfirmed"]);
}

#[tokio::test]
async fn a_failed_capture_rejects_the_order_as_payment_failed() {
    let shop = Shop::new();
    let (_, order) = shop.place(VISA, "key-capture-fails").await;
    let id = id_of(&order);
    shop.payments.fail_captures();
    assert!(shop.stock("StockReserved", &id).await.is_empty());
    let order = shop.order(&id).await;
    assert_eq!(order["status"], "REJECTED");
    assert_eq!(order["reason"], "PAYMENT_FAILED");
    assert_eq!(order["paymentStatus"], "FAILED");
    assert_eq!(shop.payments.effects(Verb::Capture), 0, "no money was taken");
    // OrderRejected tells inventory to release the stock it reserved.
    assert_eq!(shop.event_types(), ["OrderPlaced", "OrderRejected"]);
    let rejected = &shop.events()[1];
    assert_eq!(rejected["data"]["order"]["reason"], "PAYMENT_FAILED");
    assert_eq!(rejected["data"]["order"]["paymentStatus"], "FAILED");
    // A redelivery changes nothing, the order cannot be cancelled, and nothing is owed.
    assert!(shop.stock("StockReserved", &id).await.is_empty());
    assert_eq!(shop.payments.calls(Verb::Capture), 1);
    assert_eq!(shop.cancel(&id).await.0, StatusCode::CONFLICT);
    assert_eq!(shop.settle(OffsetDateTime::now_utc() + HOUR, None).await, Settled::default());
    assert_eq!(shop.event_types(), ["OrderPlaced", "OrderRejected"]);
}

#[tokio::test]
async fn rejected_stock_voids_the_payment_and_rejects() {
    let shop = Shop::new();
    let (_, order) = shop.place(VISA, "key-reject").await;
    let id = id_of(&order);
    assert!(shop.stock("StockRejected", &id).await.is_empty());
    assert!(shop.stock("StockRejected", &id).await.is_empty(), "a redelivery succeeds");
    let order = shop.order(&id).await;
    assert_eq!((order["status"].as_str(), order["reason"].as_str()), (Some("REJECTED"), Some("OUT_OF_STOCK")));
    assert_eq!(order["paymentStatus"], "VOIDED");
    assert_eq!(shop.payments.calls(Verb::Capture), 0);
    assert_eq!(shop.payments.effects(Verb::Void), 1);
    assert_eq!(shop.payments.holds()[0].state, HoldState::Voided);
    assert_eq!(shop.event_types(), ["OrderPlaced", "OrderRejected"]);
    assert_eq!(shop.events()[1]["data"]["order"]["reason"], "OUT_OF_STOCK");
}

#[tokio::test]
async fn cancelling_a_captured_order_refunds_it_once() {
    let shop = Shop::new();
    let (_, order) = shop.place(VISA, "key-cancel").await;
    let id = id_of(&order);
    shop.stock("StockReserved", &id).await;
    let (status, cancelled) = shop.cancel(&id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cancelled["status"], "CANCELLED");
    assert_eq!(cancelled["paymentStatus"], "REFUNDED");
    assert!(cancelled["refundedAt"].is_string(), "refundedAt in {cancelled}");
    assert_eq!(cancelled["refundedAt"], cancelled["updatedAt"]);
    assert_eq!(shop.order(&id).await, cancelled);
    assert_eq!(shop.payments.effects(Verb::Refund), 1);
    assert_eq!(shop.payments.holds()[0].state, HoldState::Refunded);
    // Cancelling again is refused, and refunds nothing more.
    let (status, problem) = shop.cancel(&id).await;
    assert_eq!((status, &problem["status"]), (StatusCode::CONFLICT, &json!(409)));
    assert_eq!(shop.payments.calls(Verb::Refund), 1);
    assert_eq!(shop.payments.effects(Verb::Refund), 1);
    assert_eq!(shop.event_types(), ["OrderPlaced", "OrderConfirmed", "OrderCancelled"]);
    // A late reservation for a cancelled order changes nothing.
    shop.stock("StockReserved", &id).await;
    assert_eq!(shop.order(&id).await, cancelled);
    assert_eq!(shop.payments.calls(Verb::Capture), 1);
}

#[tokio::test]
async fn cancelling_a_pending_order_voids_the_hold() {
    let shop = Shop::new();
    let (_, order) = shop.place(VISA, "key-cancel-pending").await;
    let (status, cancelled) = shop.cancel(&id_of(&order)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cancelled["paymentStatus"], "VOIDED");
    assert!(cancelled.get("refundedAt").is_none());
    assert_eq!(shop.payments.effects(Verb::Void), 1);
    assert_eq!(shop.payments.calls(Verb::Refund), 0);
    assert_eq!(shop.event_types(), ["OrderPlaced", "OrderCancelled"]);
    shop.fill_cart();
    let (_, declined) = shop.place(DECLINED, "key-cancel-rejected").await;
    assert_eq!(shop.cancel(&id_of(&declined)).await.0, StatusCode::CONFLICT);
    assert_eq!(shop.cancel("no-such-order").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_cancel_the_provider_fails_still_cancels_and_the_settler_returns_the_money() {
    let shop = Shop::new();
    let (_, order) = shop.place(VISA, "key-cancel-void-fails").await;
    let id = id_of(&order);
    shop.payments.fail_next(Verb::Void, 1);
    let (status, cancelled) = shop.cancel(&id).await;
    assert_eq!(status, StatusCode::OK, "the shopper's cancel does not wait for the provider");
    assert_eq!(
        (cancelled["status"].as_str(), cancelled["paymentStatus"].as_str()),
        (Some("CANCELLED"), Some("AUTHORIZED"))
    );
    assert_eq!(shop.event_types(), ["OrderPlaced", "OrderCancelled"], "inventory releases the stock at once");
    assert_eq!(shop.payments.holds()[0].state, HoldState::Held);
    let report = shop.settle(OffsetDateTime::now_utc() + HOUR, None).await;
    assert_eq!(report, Settled { examined: 1, settled: 1, failed: 0, stopped_early: false });
    assert_eq!(shop.order(&id).await["paymentStatus"], "VOIDED");
    assert_eq!(shop.payments.holds()[0].state, HoldState::Voided);
    assert_eq!(shop.event_types(), ["OrderPlaced", "OrderCancelled"]);
}

#[tokio::test]
async fn the_provider_down_at_checkout_records_the_order_and_a_retry_finishes_it() {
    let shop = Shop::new();
    shop.payments.fail_next(Verb::Authorize, 1);
    let response = shop.send(checkout_request(VISA, "key-down")).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let problem = json_of(&response);
    assert_eq!(problem["type"], "urn:bookish:problem:service-unavailable");
    assert_eq!(problem["status"], 503);
    assert!(problem["detail"].as_str().unwrap().contains("Idempotency-Key"), "{problem}");
    let recorded = shop.only_order().await;
    assert_eq!((recorded.order.status, recorded.order.payment_status), (Status::Pending, PaymentStatus::Pending));
    assert_eq!((recorded.authorization_id.as_deref(), recorded.payment_method.as_deref()), (None, Some(VISA)));
    assert!(shop.store.outbox().is_empty(), "inventory hears nothing of an unpaid order");
    assert!(shop.payments.holds().is_empty());
    assert_eq!(shop.cart_len(), 2);

    // The client retries with the same key: the recorded order is finished, not a new one.
    let (status, order) = shop.place(VISA, "key-down").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(id_of(&order), recorded.order.id);
    assert_eq!((order["status"].as_str(), order["paymentStatus"].as_str()), (Some("PENDING"), Some("AUTHORIZED")));
    assert_eq!(shop.payments.holds().len(), 1);
    assert_eq!(shop.event_types(), ["OrderPlaced"]);
    assert_eq!(shop.only_order().await.authorization_id, Some(shop.payments.holds()[0].id.clone()));
    assert_eq!(shop.cart_len(), 0, "the finished checkout empties the cart");
}

#[tokio::test]
async fn a_lost_authorization_answer_is_recovered_under_the_same_key() {
    let shop = Shop::new();
    shop.payments.lose_next(Verb::Authorize, 1);
    assert_eq!(shop.place(VISA, "key-lost").await.0, StatusCode::SERVICE_UNAVAILABLE);
    // The provider made the hold; the order does not know it yet.
    assert_eq!(shop.payments.holds().len(), 1);
    let recorded = shop.only_order().await;
    assert_eq!((recorded.order.payment_status, recorded.authorization_id.as_deref()), (PaymentStatus::Pending, None));

    let (status, order) = shop.place(VISA, "key-lost").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(order["paymentStatus"], "AUTHORIZED");
    assert_eq!(shop.payments.calls(Verb::Authorize), 2);
    assert_eq!(shop.payments.effects(Verb::Authorize), 1, "the order's key gets the first hold back");
    let holds = shop.payments.holds();
    assert_eq!(holds.len(), 1);
    assert_eq!(shop.stored(&id_of(&order)).await.authorization_id.as_deref(), Some(holds[0].id.as_str()));
    assert_eq!(shop.event_types(), ["OrderPlaced"]);
}

#[tokio::test]
async fn a_reservation_for_an_order_cancelled_meanwhile_gives_the_money_back() {
    let shop = Shop::new();
    let (_, order) = shop.place(VISA, "key-cancelled-then-reserved").await;
    let id = id_of(&order);
    // Cancelled while the provider was down: the hold is still there.
    shop.payments.fail_next(Verb::Void, 1);
    assert_eq!(shop.cancel(&id).await.1["paymentStatus"], "AUTHORIZED");
    // Inventory had reserved the stock before it saw the cancellation.
    assert!(shop.stock("StockReserved", &id).await.is_empty());
    let order = shop.stored(&id).await;
    assert_eq!(state(&order), (Status::Cancelled, None, PaymentStatus::Voided));
    assert_eq!(shop.payments.calls(Verb::Capture), 0, "a cancelled order is not charged");
    assert_eq!(shop.payments.effects(Verb::Void), 1);
    assert_eq!(shop.event_types(), ["OrderPlaced", "OrderCancelled"]);
}

/// The shop's payments, except that the shopper cancels the order while its capture is on
/// the way, and the provider is down for the cancel's void.
struct CancelDuringCapture<'a> {
    shop: &'a Shop,
}

#[async_trait]
impl PaymentGateway for CancelDuringCapture<'_> {
    async fn authorize(
        &self,
        method: &str,
        amount: &Money,
        id: &str,
        key: &str,
    ) -> Result<Authorization, PaymentError> {
        self.shop.payments.authorize(method, amount, id, key).await
    }

    async fn capture(&self, authorization_id: &str, key: &str) -> Result<Capture, PaymentError> {
        let captured = self.shop.payments.capture(authorization_id, key).await;
        let hold = self.shop.payments.holds().into_iter().find(|h| h.id == authorization_id).unwrap();
        self.shop.payments.fail_next(Verb::Void, 1);
        let cancelled =
            service::cancel_order(&self.shop.saga(), SHOPPER, &hold.order_id, OffsetDateTime::now_utc()).await.unwrap();
        assert_eq!((cancelled.status, cancelled.payment_status), (Status::Cancelled, PaymentStatus::Authorized));
        captured
    }

    async fn void(&self, authorization_id: &str, key: &str) -> Result<Void, PaymentError> {
        self.shop.payments.void(authorization_id, key).await
    }

    async fn refund(&self, authorization_id: &str, key: &str) -> Result<(), PaymentError> {
        self.shop.payments.refund(authorization_id, key).await
    }
}

#[tokio::test]
async fn a_capture_that_races_a_cancel_is_refunded() {
    let shop = Shop::new();
    let (_, order) = shop.place(VISA, "key-race").await;
    let id = id_of(&order);
    let racing = CancelDuringCapture { shop: &shop };
    let saga = Saga { store: &shop.store, payments: &racing };
    service::on_stock_reserved(&saga, SHOPPER, &id, OffsetDateTime::now_utc()).await.unwrap();
    let order = shop.stored(&id).await;
    assert_eq!(state(&order), (Status::Cancelled, None, PaymentStatus::Refunded));
    assert!(order.order.refunded_at.is_some());
    assert_eq!(shop.payments.effects(Verb::Capture), 1);
    assert_eq!(shop.payments.effects(Verb::Refund), 1, "the captured money goes back");
    assert_eq!(shop.payments.holds()[0].state, HoldState::Refunded);
    assert_eq!(shop.event_types(), ["OrderPlaced", "OrderCancelled"], "never confirmed");
}

#[tokio::test]
async fn the_settler_finishes_a_checkout_whose_answer_was_lost() {
    let shop = Shop::new();
    let now = OffsetDateTime::now_utc();
    shop.payments.lose_next(Verb::Authorize, 1);
    let failed = shop.place_at(VISA, "key-settle-lost", now - HOUR).await;
    assert!(matches!(failed, Err(OrderError::Payment(_))), "{:?}", failed.map(|o| o.id));
    assert_eq!(shop.only_order().await.order.payment_status, PaymentStatus::Pending);

    let report = shop.settle(now, None).await;
    assert_eq!(report, Settled { examined: 1, settled: 1, failed: 0, stopped_early: false });
    let order = shop.only_order().await;
    assert_eq!(state(&order), (Status::Pending, None, PaymentStatus::Authorized));
    let holds = shop.payments.holds();
    assert_eq!(holds.len(), 1, "the settler asked under the order's key: one hold");
    assert_eq!(order.authorization_id.as_deref(), Some(holds[0].id.as_str()));
    assert_eq!(order.order.updated_at, rfc3339(now));
    assert_eq!(shop.event_types(), ["OrderPlaced"]);
    // Now it waits for its stock like any other order.
    assert_eq!(shop.settle(now, None).await, Settled::default());
}

#[tokio::test]
async fn the_settler_times_out_an_order_left_pending_and_releases_its_hold() {
    let shop = Shop::new();
    let now = OffsetDateTime::now_utc();
    let placed = shop.place_at(VISA, "key-settle-old", now - HOUR).await.unwrap();
    assert_eq!(placed.payment_status, PaymentStatus::Authorized);
    let report = shop.settle(now, None).await;
    assert_eq!(report, Settled { examined: 1, settled: 1, failed: 0, stopped_early: false });
    let order = shop.stored(&placed.id).await;
    assert_eq!(state(&order), (Status::Rejected, Some(Reason::TimedOut), PaymentStatus::Voided));
    assert_eq!(shop.payments.holds()[0].state, HoldState::Voided);
    assert_eq!(shop.payments.effects(Verb::Void), 1);
    // OrderRejected releases any stock inventory reserved.
    assert_eq!(shop.event_types(), ["OrderPlaced", "OrderRejected"]);
    assert_eq!(shop.events()[1]["data"]["order"]["reason"], "TIMED_OUT");
    assert_eq!(shop.settle(now + HOUR, None).await, Settled::default(), "nothing is owed any more");
}

#[tokio::test]
async fn the_settler_leaves_fresh_orders_alone() {
    let shop = Shop::new();
    let now = OffsetDateTime::now_utc();
    let old = shop.place_at(VISA, "key-fresh-old", now - HOUR).await.unwrap();
    let recent = shop.place_at(VISA, "key-fresh-recent", now - SETTLE_AFTER + Duration::from_secs(60)).await.unwrap();
    shop.payments.fail_next(Verb::Authorize, 1);
    assert!(shop.place_at(VISA, "key-fresh-unpaid", now - Duration::from_secs(60)).await.is_err());
    let authorize_calls = shop.payments.calls(Verb::Authorize);
    assert_eq!(shop.store.list(SHOPPER, 10, None).await.unwrap().len(), 3);

    let report = shop.settle(now, None).await;
    assert_eq!(report, Settled { examined: 1, settled: 1, failed: 0, stopped_early: false });
    assert_eq!(shop.stored(&old.id).await.order.status, Status::Rejected);
    let recent_now = shop.stored(&recent.id).await;
    assert_eq!(state(&recent_now), (Status::Pending, None, PaymentStatus::Authorized));
    assert_eq!(recent_now.order.updated_at, recent.updated_at);
    assert_eq!(shop.payments.holds_for(&recent.id)[0].state, HoldState::Held);
    assert_eq!(shop.payments.calls(Verb::Authorize), authorize_calls, "the unpaid one is not asked for yet");
    assert_eq!(shop.payments.effects(Verb::Void), 1);
}

#[tokio::test]
async fn the_settler_refunds_a_cancelled_order_whose_refund_failed() {
    let shop = Shop::new();
    let (_, order) = shop.place(VISA, "key-settle-refund").await;
    let id = id_of(&order);
    shop.stock("StockReserved", &id).await;
    shop.payments.fail_next(Verb::Refund, 1);
    let (status, cancelled) = shop.cancel(&id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (cancelled["status"].as_str(), cancelled["paymentStatus"].as_str()),
        (Some("CANCELLED"), Some("CAPTURED"))
    );
    assert!(cancelled.get("refundedAt").is_none());
    assert_eq!(shop.payments.effects(Verb::Refund), 0);

    let later = OffsetDateTime::now_utc() + HOUR;
    let report = shop.settle(later, None).await;
    assert_eq!(report, Settled { examined: 1, settled: 1, failed: 0, stopped_early: false });
    let order = shop.stored(&id).await;
    assert_eq!(state(&order), (Status::Cancelled, None, PaymentStatus::Refunded));
    assert_eq!(order.order.refunded_at, Some(rfc3339(later)));
    assert_eq!(shop.payments.effects(Verb::Refund), 1);
    assert_eq!(shop.payments.holds()[0].state, HoldState::Refunded);
    assert_eq!(shop.event_types(), ["OrderPlaced", "OrderConfirmed", "OrderCancelled"]);
    assert_eq!(shop.settle(later + HOUR, None).await, Settled::default());
    assert_eq!(shop.payments.calls(Verb::Refund), 2);
}

#[tokio::test]
async fn the_settler_stops_early_when_its_deadline_is_near() {
    let shop = Shop::new();
    let now = OffsetDateTime::now_utc();
    let a = shop.place_at(VISA, "key-deadline-a", now - HOUR).await.unwrap();
    let b = shop.place_at(VISA, "key-deadline-b", now - HOUR).await.unwrap();
    let report = shop.settle(now, Some(SystemTime::now() + Duration::from_secs(1))).await;
    assert_eq!(report, Settled { examined: 0, settled: 0, failed: 0, stopped_early: true });
    for id in [&a.id, &b.id] {
        assert_eq!(shop.stored(id).await.order.status, Status::Pending, "left for the next run");
    }
    assert_eq!(shop.payments.calls(Verb::Void), 0);
    let report = shop.settle(now, Some(SystemTime::now() + Duration::from_secs(60))).await;
    assert_eq!(report, Settled { examined: 2, settled: 2, failed: 0, stopped_early: false });
}

#[tokio::test]
async fn the_settler_carries_on_past_an_order_it_cannot_settle() {
    let shop = Shop::new();
    let now = OffsetDateTime::now_utc();
    let first = shop.place_at(VISA, "key-carry-1", now - HOUR).await.unwrap();
    let second = shop.place_at(VISA, "key-carry-2", now - HOUR).await.unwrap();
    shop.payments.fail_next(Verb::Void, 1);
    let report = shop.settle(now, None).await;
    assert_eq!(report, Settled { examined: 2, settled: 1, failed: 1, stopped_early: false });
    let first_now = shop.stored(&first.id).await;
    assert_eq!(state(&first_now), (Status::Rejected, Some(Reason::TimedOut), PaymentStatus::Authorized));
    assert_eq!(shop.stored(&second.id).await.order.payment_status, PaymentStatus::Voided);
    // The next run, once the rejection has waited its turn, releases the first hold too.
    let report = shop.settle(now + HOUR, None).await;
    assert_eq!(report, Settled { examined: 1, settled: 1, failed: 0, stopped_early: false });
    assert_eq!(shop.stored(&first.id).await.order.payment_status, PaymentStatus::Voided);
    assert_eq!(shop.event_types(), ["OrderPlaced", "OrderPlaced", "OrderRejected", "OrderRejected"]);
}

#[tokio::test]
async fn the_settler_pages_through_every_order_it_owes() {
    let mut shop = Shop::new();
    shop.limit = CheckoutLimit { per_minute: 100 }; // 30 orders in one minute
    let now = OffsetDateTime::now_utc();
    for i in 0..30 {
        shop.place_at(VISA, &format!("key-page-{i}"), now - HOUR).await.unwrap();
    }
    let report = shop.settle(now, None).await;
    assert_eq!(report, Settled { examined: 30, settled: 30, failed: 0, stopped_early: false });
    assert_eq!(shop.payments.effects(Verb::Void), 30);
    assert!(shop.payments.holds().iter().all(|hold| hold.state == HoldState::Voided));
}

#[tokio::test]
async fn lists_own_orders_newest_first_with_a_cursor() {
    let shop = Shop::new();
    let mut ids = Vec::new();
    for i in 0..5 {
        shop.fill_cart();
        ids.push(id_of(&shop.place(VISA, &format!("key-list-{i}")).await.1));
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
    let saga = shop.saga();
    let response = for_each_record(batch, "request-1", |envelope| consumer::handle(&saga, envelope)).await;
    let failed: Vec<String> = response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect();
    // The first record names an order this store never had: it fails too, and is retried.
    assert_eq!(failed, ["5e1a0c2d-0002", "5e1a0c2d-0003"]);
}

#[tokio::test]
async fn the_relay_routes_each_event_and_stops_at_a_failure() {
    let routes = Routes { inventory_queue: "inventory".into(), notification_queue: "notification".into() };
    let publisher = MemoryPublisher::default();
    let stream = || serde_json::from_str(&fixture("outbox-stream.json")).unwrap();
    let response = relay(&publisher, &routes, stream(), None).await;
    assert!(response.batch_item_failures.is_empty());
    let types = |queue: &str| {
        publisher.sent_to(queue).iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(types("inventory"), ["OrderPlaced", "OrderCancelled"]);
    assert_eq!(types("notification"), ["OrderCancelled"]);

    let failing = MemoryPublisher::default();
    failing.failing.store(true, std::sync::atomic::Ordering::SeqCst);
    let response = relay(&failing, &routes, stream(), None).await;
    let failed: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
    assert_eq!(failed, [Some("111000000000000000000001".to_owned())]);
}

#[tokio::test]
async fn the_relay_stops_before_its_deadline_and_resumes_there() {
    let routes = Routes { inventory_queue: "inventory".into(), notification_queue: "notification".into() };
    let publisher = MemoryPublisher::default();
    let stream = || serde_json::from_str(&fixture("outbox-stream.json")).unwrap();
    let too_late = Some(SystemTime::now() + bookish_shared::sqs::DEADLINE_MARGIN / 2);
    let response = relay(&publisher, &routes, stream(), too_late).await;
    let failed: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
    assert_eq!(failed.len(), 1, "the first record not relayed is where the stream resumes");
    assert!(publisher.sent_to("inventory").is_empty() && publisher.sent_to("notification").is_empty());
}

#[tokio::test]
async fn the_settler_releases_a_hold_whose_answer_was_lost_before_a_cancel() {
    let shop = Shop::new();
    let now = OffsetDateTime::now_utc();
    shop.payments.lose_next(Verb::Authorize, 1);
    assert!(shop.place_at(VISA, "key-lost-then-cancelled", now).await.is_err());
    let id = shop.only_order().await.order.id;
    assert_eq!(shop.cancel(&id).await.0, StatusCode::OK);
    assert_eq!(shop.payments.holds()[0].state, HoldState::Held, "the provider made a hold nobody recorded");

    let report = shop.settle(now + 2 * HOUR, None).await;
    assert_eq!((report.settled, report.failed), (1, 0));
    let order = shop.stored(&id).await;
    assert_eq!(state(&order), (Status::Cancelled, None, PaymentStatus::Voided));
    let holds = shop.payments.holds();
    assert_eq!(holds.len(), 1, "asked again under the order's key: the same hold");
    assert_eq!(holds[0].state, HoldState::Voided);
    assert_eq!(shop.settle(now + 3 * HOUR, None).await, Settled::default(), "nothing is owed any more");
}

#[tokio::test]
async fn a_shopper_gets_at_most_the_limit_of_checkouts_a_minute() {
    let shop = Shop::new();
    let limit = CheckoutLimit::default().per_minute;
    let now = OffsetDateTime::now_utc().replace_second(30).unwrap();
    for i in 0..limit {
        shop.place_at(VISA, &format!("key-limit-{i}"), now).await.unwrap();
    }
    // A retry of a placed checkout is a replay, never counted or refused.
    assert!(shop.place_at(VISA, "key-limit-0", now).await.is_ok());
    match shop.place_at(VISA, "key-limit-over", now).await {
        Err(OrderError::TooManyCheckouts { per_minute, retry_after }) => {
            assert_eq!((per_minute, retry_after), (limit, 30))
        }
        other => panic!("expected 429, got {:?}", other.map(|o| o.id)),
    }
    let problem = bookish_shared::Problem::from(OrderError::TooManyCheckouts { per_minute: limit, retry_after: 30 });
    let response = problem.into_response();
    assert_eq!((response.status().as_u16(), &response.headers()["retry-after"]), (429, &"30".parse().unwrap()));
    assert_eq!(shop.payments.calls(Verb::Authorize), limit as usize, "nothing over the limit reached the card");
    assert!(shop.place_at(VISA, "key-limit-next-minute", now + Duration::from_secs(60)).await.is_ok());
}

#[tokio::test]
async fn an_id_that_is_not_an_order_id_is_404_without_a_lookup() {
    let shop = Shop::new();
    for id in ["x".repeat(5000), "not-a-uuid".into(), "01A22B05-B41B-72DD-B679-05A4042EE11C".into()] {
        assert_eq!(shop.cancel(&id).await.0, StatusCode::NOT_FOUND, "{}", &id[..20.min(id.len())]);
        assert_eq!(shop.order(&id).await["status"], 404);
    }
}

/// A cart the shopper changes in another tab right after checkout has read it.
struct OtherTab<'a> {
    cart: &'a MemoryCart,
}

#[async_trait::async_trait]
impl Cart for OtherTab<'_> {
    async fn lines(&self, caller: &Caller) -> Result<Vec<CartLine>, CartUnavailable> {
        let read = self.cart.lines(caller).await?;
        let mut lines = self.cart.lines.lock().unwrap();
        lines.retain(|line| line.book_id != "book-gatsby");
        lines.push(CartLine { book_id: "book-gatsby".into(), quantity: 3 });
        lines.push(CartLine { book_id: "book-added-meanwhile".into(), quantity: 1 });
        Ok(read)
    }

    async fn remove_ordered(&self, caller: &Caller, lines: &[CartLine]) -> Result<(), CartUnavailable> {
        self.cart.remove_ordered(caller, lines).await
    }
}

#[tokio::test]
async fn checkout_takes_out_only_the_lines_it_ordered_at_the_quantities_it_read() {
    let shop = Shop::new();
    let tab = OtherTab { cart: &shop.cart };
    let services = Services { saga: shop.saga(), cart: &tab, catalog: &shop.catalog, limit: CheckoutLimit::default() };
    let response = serve(checkout_request(VISA, "key-other-tab"), |req| {
        routes::handle(&services, &Authenticator::ApiGateway, req)
    })
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        *shop.cart.lines.lock().unwrap(),
        [
            CartLine { book_id: "book-gatsby".into(), quantity: 3 },
            CartLine { book_id: "book-added-meanwhile".into(), quantity: 1 }
        ],
        "1984 x2 was ordered and taken out; the gatsby line changed meanwhile and the new line stay"
    );
}

// ---- The events' contracts (contracts/README.md) ----

/// Every event the order service writes to its outbox along the paths an order can take:
/// placed, confirmed, cancelled and refunded; cancelled while pending; rejected out of
/// stock, declined at checkout, failed at capture and timed out. The relay sends these
/// bodies on byte for byte.
async fn published_events() -> Vec<Value> {
    let mut events = Vec::new();
    let shop = Shop::new();
    let id = id_of(&shop.place(VISA, "key-confirmed").await.1);
    assert!(shop.stock("StockReserved", &id).await.is_empty());
    assert_eq!(shop.cancel(&id).await.0, StatusCode::OK);
    shop.fill_cart();
    let id = id_of(&shop.place(VISA, "key-cancelled-pending").await.1);
    assert_eq!(shop.cancel(&id).await.0, StatusCode::OK);
    shop.fill_cart();
    let id = id_of(&shop.place(VISA, "key-out-of-stock").await.1);
    assert!(shop.stock("StockRejected", &id).await.is_empty());
    shop.fill_cart();
    shop.place(DECLINED, "key-declined").await;
    events.extend(shop.events());

    let shop = Shop::new();
    shop.payments.fail_captures();
    let id = id_of(&shop.place(VISA, "key-capture-fails").await.1);
    assert!(shop.stock("StockReserved", &id).await.is_empty());
    shop.place_at(VISA, "key-timed-out", OffsetDateTime::now_utc() - HOUR).await.unwrap();
    shop.settle(OffsetDateTime::now_utc(), None).await;
    events.extend(shop.events());
    events
}

#[tokio::test]
async fn every_event_the_order_service_publishes_keeps_its_contract() {
    let events = published_events().await;
    for event in &events {
        bookish_contracts::check(event).unwrap_or_else(|e| panic!("{e}\nin {event:#}"));
    }
    let mut seen: Vec<String> = events
        .iter()
        .map(|e| format!("{} {}", e["type"].as_str().unwrap(), e["data"]["order"]["reason"].as_str().unwrap_or("")))
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(
        seen,
        [
            "OrderCancelled ",
            "OrderConfirmed ",
            "OrderPlaced ",
            "OrderRejected OUT_OF_STOCK",
            "OrderRejected PAYMENT_DECLINED",
            "OrderRejected PAYMENT_FAILED",
            "OrderRejected TIMED_OUT"
        ],
        "every type and every rejection is checked"
    );
}

/// A producer that changes an event's shape without a new contract version fails here,
/// in its own tests, before any consumer sees it.
#[tokio::test]
async fn an_order_event_changed_without_a_new_version_breaks_the_contract() {
    let events = published_events().await;
    let placed = events.iter().find(|e| e["type"] == "OrderPlaced").unwrap();
    let changed = |change: &dyn Fn(&mut Value)| {
        let mut event = placed.clone();
        change(&mut event);
        bookish_contracts::check(&event).expect_err("the changed event still passed")
    };
    let renamed = changed(&|e| {
        let line = e["data"]["order"]["lines"][0].as_object_mut().unwrap();
        let book_id = line.remove("bookId").unwrap();
        line.insert("book_id".into(), book_id);
    });
    assert!(renamed.contains("at '/data/order/lines/0'") && renamed.contains("bookId"), "{renamed}");
    let removed = changed(&|e| {
        e["data"].as_object_mut().unwrap().remove("customerId");
    });
    assert!(removed.contains("customerId"), "{removed}");
    let retyped = changed(&|e| e["data"]["order"]["total"]["amount"] = json!("32.48"));
    assert!(retyped.contains("at '/data/order/total/amount'"), "{retyped}");
    let undeclared = changed(&|e| e["data"]["order"]["giftWrap"] = json!(true));
    assert!(undeclared.contains("giftWrap"), "{undeclared}");
}

/// The contracts' examples of what inventory sends, addressed to an order this shop holds.
async fn stock_example(shop: &Shop, kind: &str, key: &str) -> (String, Value) {
    shop.fill_cart();
    let id = id_of(&shop.place(VISA, key).await.1);
    let mut example = bookish_contracts::examples(kind, 1).remove(0);
    assert_eq!(example["data"]["customerId"], SHOPPER, "the example's shopper is this shop's");
    example["data"]["orderId"] = json!(id);
    (id, example)
}

#[tokio::test]
async fn the_stock_events_in_the_contract_are_handled_and_fields_not_read_are_ignored() {
    for (kind, outcome) in consumer::ACCEPTS.iter().map(|(kind, version)| {
        assert_eq!(*version, 1);
        (*kind, if *kind == "StockReserved" { "CONFIRMED" } else { "REJECTED" })
    }) {
        let shop = Shop::new();
        let (id, example) = stock_example(&shop, kind, "key-example").await;
        assert_eq!(shop.deliver(example).await, Vec::<String>::new(), "{kind}");
        assert_eq!(shop.order(&id).await["status"], outcome, "{kind}");

        let (id, mut example) = stock_example(&shop, kind, "key-example-extended").await;
        example["data"]["somethingNew"] = json!({"added": "later"});
        example["traceparent"] = json!("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        assert_eq!(shop.deliver(example).await, Vec::<String>::new(), "{kind} with fields it does not read");
        assert_eq!(shop.order(&id).await["status"], outcome, "{kind}");
    }
}

#[tokio::test]
async fn a_stock_event_in_a_version_it_does_not_read_fails_and_changes_nothing() {
    let shop = Shop::new();
    let (id, mut example) = stock_example(&shop, "StockReserved", "key-v2").await;
    example["version"] = json!(2);
    for _ in 0..3 {
        assert_eq!(shop.deliver(example.clone()).await, ["m1"], "retried, then dead-lettered");
    }
    assert_eq!(shop.order(&id).await["status"], "PENDING");
    assert_eq!(shop.payments.calls(Verb::Capture), 0);
    // A type it does not read, in whatever version, is not its business: handled, ignored.
    example["type"] = json!("StockCounted");
    assert!(shop.deliver(example).await.is_empty());
}
