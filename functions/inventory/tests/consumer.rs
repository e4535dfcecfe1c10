//! The `inventory-events` consumer end to end over the in-memory store and publisher, fed
//! the sample Lambda SQS events in `events/inventory/`.

use std::sync::atomic::Ordering;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bookish_shared::sqs::{for_each_record, MemoryPublisher};
use inventory::consumer::{self, Deps};
use inventory::stock::{Available, BookId, OrderId, ReservationStatus};
use inventory::store::{MemoryStockStore, StockStore};
use serde_json::{json, Value};
use time::OffsetDateTime;

const ORDER_STOCK_QUEUE: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/bookish-OrderStockQueue";
const BOOK: &str = "0123456789abcdef";
const GATSBY: &str = "9f8e7d6c5b4a39281706f5e4d3c2b1a0";
const ORDER: &str = "0193a5b2-7c4e-7d10-9f3a-2b6c8d9e0f11";

fn sqs_event(name: &str) -> SqsEvent {
    let path = format!("{}/../../events/inventory/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

#[derive(Default)]
struct Inventory {
    store: MemoryStockStore,
    publisher: MemoryPublisher,
}

impl Inventory {
    async fn stocked(books: &[(&str, i64)]) -> Self {
        let inventory = Self::default();
        for (book, available) in books {
            inventory.set(book, *available).await;
        }
        inventory
    }

    async fn set(&self, book: &str, available: i64) {
        let (book, available) = (BookId::parse(book).unwrap(), Available::parse(available).unwrap());
        self.store.set_available(&book, available, OffsetDateTime::now_utc()).await.unwrap();
    }

    async fn deliver(&self, event: SqsEvent) -> SqsBatchResponse {
        let deps = Deps { store: &self.store, publisher: &self.publisher, order_stock_queue_url: ORDER_STOCK_QUEUE };
        for_each_record(event, "sample-request-id", |envelope| consumer::handle(&deps, envelope)).await
    }

    async fn stock(&self, books: &[&str]) -> Vec<u32> {
        let books: Vec<BookId> = books.iter().map(|b| BookId::parse(b).unwrap()).collect();
        self.store.available(&books).await.unwrap().into_iter().map(Available::get).collect()
    }

    async fn status(&self, order: &str) -> Option<ReservationStatus> {
        self.store.reservation(&OrderId::parse(order).unwrap()).await.unwrap().map(|r| r.status)
    }

    fn announced(&self) -> Vec<Value> {
        self.publisher.sent_to(ORDER_STOCK_QUEUE)
    }
}

fn failed(response: &SqsBatchResponse) -> Vec<&str> {
    response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect()
}

fn message_ids(event: &SqsEvent) -> Vec<String> {
    event.records.iter().map(|r| r.message_id.clone().unwrap()).collect()
}

#[tokio::test]
async fn reserves_an_order_and_announces_it_with_its_correlation_id() {
    let inventory = Inventory::stocked(&[(BOOK, 5), (GATSBY, 1)]).await;
    let response = inventory.deliver(sqs_event("order-placed.json")).await;
    assert!(failed(&response).is_empty());
    assert_eq!(inventory.stock(&[BOOK, GATSBY]).await, [3, 0]);
    assert_eq!(inventory.status(ORDER).await, Some(ReservationStatus::Reserved));
    let announced = inventory.announced();
    assert_eq!(announced.len(), 1);
    let event = &announced[0];
    assert_eq!(event["eventId"], format!("StockReserved-{ORDER}"));
    assert_eq!(event["type"], "StockReserved");
    assert_eq!(event["version"], 1);
    assert_eq!(event["correlationId"], "checkout-7f3a9c");
    assert_eq!(event["data"], json!({"orderId": ORDER, "customerId": "9b1d3c2e-shopper"}));
}

#[tokio::test]
async fn the_same_batch_twice_changes_nothing_and_announces_the_same_event() {
    let inventory = Inventory::stocked(&[(BOOK, 5), (GATSBY, 1)]).await;
    inventory.deliver(sqs_event("order-placed.json")).await;
    let again = inventory.deliver(sqs_event("order-placed.json")).await;
    assert!(failed(&again).is_empty());
    assert_eq!(inventory.stock(&[BOOK, GATSBY]).await, [3, 0]);
    let announced = inventory.announced();
    assert_eq!(announced.len(), 2);
    assert_eq!(announced[0], announced[1], "a re-announcement is the same event, so it can be dropped downstream");
}

#[tokio::test]
async fn rejects_an_order_short_of_stock_and_keeps_rejecting_it() {
    let inventory = Inventory::stocked(&[(BOOK, 1)]).await;
    let response = inventory.deliver(sqs_event("order-placed.json")).await;
    assert!(failed(&response).is_empty());
    assert_eq!(inventory.stock(&[BOOK, GATSBY]).await, [1, 0], "all lines or none");
    let rejected = &inventory.announced()[0];
    assert_eq!(rejected["eventId"], format!("StockRejected-{ORDER}"));
    assert_eq!(rejected["type"], "StockRejected");
    assert_eq!(rejected["correlationId"], "checkout-7f3a9c");
    assert_eq!(
        rejected["data"],
        json!({"orderId": ORDER, "customerId": "9b1d3c2e-shopper", "reason": "OUT_OF_STOCK",
               "shortages": [{"bookId": BOOK, "requested": 2, "available": 1}, {"bookId": GATSBY, "requested": 1, "available": 0}]})
    );
    // Restocking afterwards does not turn a redelivery into a reservation: the decision stands.
    inventory.set(GATSBY, 9).await;
    inventory.deliver(sqs_event("order-placed.json")).await;
    assert_eq!(inventory.stock(&[BOOK, GATSBY]).await, [1, 9]);
    assert_eq!(inventory.announced(), [rejected.clone(), rejected.clone()]);
}

#[tokio::test]
async fn a_cancellation_gives_the_stock_back_exactly_once() {
    let inventory = Inventory::stocked(&[(BOOK, 5), (GATSBY, 1)]).await;
    inventory.deliver(sqs_event("order-placed.json")).await;
    for _ in 0..3 {
        let response = inventory.deliver(sqs_event("order-cancelled.json")).await;
        assert!(failed(&response).is_empty());
        assert_eq!(inventory.stock(&[BOOK, GATSBY]).await, [5, 1]);
    }
    assert_eq!(inventory.status(ORDER).await, Some(ReservationStatus::Released));
    // A late redelivery of the order takes nothing and announces nothing new.
    inventory.deliver(sqs_event("order-placed.json")).await;
    assert_eq!(inventory.stock(&[BOOK, GATSBY]).await, [5, 1]);
    assert_eq!(inventory.announced().len(), 1);
}

#[tokio::test]
async fn an_order_cancelled_before_it_arrives_reserves_nothing() {
    let inventory = Inventory::stocked(&[(BOOK, 5), (GATSBY, 1)]).await;
    assert!(failed(&inventory.deliver(sqs_event("order-cancelled.json")).await).is_empty());
    assert_eq!(inventory.status(ORDER).await, Some(ReservationStatus::Cancelled));
    assert!(failed(&inventory.deliver(sqs_event("order-placed.json")).await).is_empty());
    assert_eq!(inventory.stock(&[BOOK, GATSBY]).await, [5, 1]);
    assert_eq!(inventory.announced(), Vec::<Value>::new());
}

#[tokio::test]
async fn only_the_malformed_messages_of_a_batch_fail() {
    let inventory = Inventory::stocked(&[(BOOK, 5)]).await;
    let batch = sqs_event("order-events-batch.json");
    let ids = message_ids(&batch);
    let response = inventory.deliver(batch).await;
    // 1: not an envelope; 2: an order with a line of 0 copies. The OrderConfirmed (3) is
    // not the inventory's business and succeeds without effect.
    assert_eq!(failed(&response), [ids[1].as_str(), ids[2].as_str()]);
    assert_eq!(inventory.stock(&[BOOK]).await, [4]);
    assert_eq!(inventory.status("0193a5b3-1a2b-7c3d-8e4f-5a6b7c8d9e0f").await, Some(ReservationStatus::Reserved));
    assert_eq!(inventory.status("0193a5b3-9f8e-7d6c-b5a4-938271605f4e").await, None);
    assert_eq!(inventory.status("0193a5b4-0a1b-7c2d-9e3f-4a5b6c7d8e9f").await, Some(ReservationStatus::Cancelled));
    let announced = inventory.announced();
    assert_eq!(announced.len(), 1);
    assert_eq!(announced[0]["type"], "StockReserved");
    assert_eq!(announced[0]["correlationId"], "checkout-81b2c3");
}

#[tokio::test]
async fn a_failed_announcement_is_made_again_on_redelivery() {
    let inventory = Inventory::stocked(&[(BOOK, 5), (GATSBY, 1)]).await;
    inventory.publisher.failing.store(true, Ordering::SeqCst);
    let event = sqs_event("order-placed.json");
    let ids = message_ids(&event);
    assert_eq!(failed(&inventory.deliver(event).await), [ids[0].as_str()]);
    assert_eq!(inventory.stock(&[BOOK, GATSBY]).await, [3, 0], "the reservation is recorded before announcing");
    inventory.publisher.failing.store(false, Ordering::SeqCst);
    assert!(failed(&inventory.deliver(sqs_event("order-placed.json")).await).is_empty());
    assert_eq!(inventory.stock(&[BOOK, GATSBY]).await, [3, 0]);
    let announced = inventory.announced();
    assert_eq!(announced.len(), 1);
    assert_eq!(announced[0]["eventId"], format!("StockReserved-{ORDER}"));
}

/// The sample cancellation, as an `OrderRejected` with `reason`.
fn rejected(reason: &str) -> SqsEvent {
    let mut event = sqs_event("order-cancelled.json");
    for record in &mut event.records {
        let mut body: Value = serde_json::from_str(record.body.as_deref().unwrap()).unwrap();
        body["type"] = json!("OrderRejected");
        body["data"]["order"]["status"] = json!("REJECTED");
        body["data"]["order"]["reason"] = json!(reason);
        record.body = Some(body.to_string());
    }
    event
}

#[tokio::test]
async fn an_order_rejected_after_it_was_placed_gives_its_stock_back_once() {
    let inventory = Inventory::stocked(&[(BOOK, 5), (GATSBY, 1)]).await;
    inventory.deliver(sqs_event("order-placed.json")).await;
    assert_eq!(inventory.stock(&[BOOK, GATSBY]).await, [3, 0]);
    for reason in ["PAYMENT_FAILED", "TIMED_OUT"] {
        assert!(failed(&inventory.deliver(rejected(reason)).await).is_empty());
        assert_eq!(inventory.stock(&[BOOK, GATSBY]).await, [5, 1]);
    }
    assert_eq!(inventory.status(ORDER).await, Some(ReservationStatus::Released));
}

#[tokio::test]
async fn an_order_declined_at_checkout_leaves_no_record() {
    let inventory = Inventory::stocked(&[(BOOK, 5), (GATSBY, 1)]).await;
    assert!(failed(&inventory.deliver(rejected("PAYMENT_DECLINED")).await).is_empty());
    assert_eq!(inventory.status(ORDER).await, None);
    // A rejection that outruns its OrderPlaced leaves a tombstone, as a cancellation does.
    assert!(failed(&inventory.deliver(rejected("TIMED_OUT")).await).is_empty());
    assert!(failed(&inventory.deliver(sqs_event("order-placed.json")).await).is_empty());
    assert_eq!(inventory.stock(&[BOOK, GATSBY]).await, [5, 1]);
}

// ---- The events' contracts (contracts/README.md) ----

/// Events as one SQS batch, in order.
fn batch_of(events: &[Value]) -> SqsEvent {
    let records: Vec<Value> =
        events.iter().enumerate().map(|(i, e)| json!({"messageId": format!("m{i}"), "body": e.to_string()})).collect();
    serde_json::from_value(json!({"Records": records})).unwrap()
}

fn order_placed() -> Value {
    bookish_contracts::examples(consumer::ORDER_PLACED, 1).remove(0)
}

#[tokio::test]
async fn what_the_inventory_announces_keeps_its_contract() {
    let reserves = Inventory::stocked(&[(BOOK, 5), (GATSBY, 1)]).await;
    assert!(failed(&reserves.deliver(batch_of(&[order_placed()])).await).is_empty());
    let rejects = Inventory::stocked(&[(BOOK, 1)]).await;
    assert!(failed(&rejects.deliver(batch_of(&[order_placed()])).await).is_empty());
    let announced = [reserves.announced(), rejects.announced()].concat();
    let types: Vec<&str> = announced.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["StockReserved", "StockRejected"]);
    for event in &announced {
        bookish_contracts::check(event).unwrap_or_else(|e| panic!("{e}\nin {event:#}"));
    }

    // Changing what it announces without a new contract version fails right here.
    let mut renamed = announced[1].clone();
    renamed["data"]["shortages"][0]["wanted"] = renamed["data"]["shortages"][0]["requested"].take();
    renamed["data"]["shortages"][0].as_object_mut().unwrap().remove("requested");
    let refused = bookish_contracts::check(&renamed).unwrap_err();
    assert!(refused.contains("at '/data/shortages/0'") && refused.contains("requested"), "{refused}");
    let mut removed = announced[0].clone();
    removed["data"].as_object_mut().unwrap().remove("customerId");
    assert!(bookish_contracts::check(&removed).unwrap_err().contains("customerId"));
}

#[tokio::test]
async fn the_order_events_in_the_contract_are_handled_and_fields_not_read_are_ignored() {
    for (kind, version) in consumer::ACCEPTS {
        for mut example in bookish_contracts::examples(kind, *version) {
            for extended in [false, true] {
                if extended {
                    example["data"]["somethingNew"] = json!(1);
                    example["data"]["order"]["lines"][0]["somethingNew"] = json!("later");
                }
                let inventory = Inventory::stocked(&[(BOOK, 5), (GATSBY, 1)]).await;
                let events = if *kind == consumer::ORDER_PLACED {
                    vec![example.clone()]
                } else {
                    vec![order_placed(), example.clone()]
                };
                let response = inventory.deliver(batch_of(&events)).await;
                assert!(failed(&response).is_empty(), "{kind} v{version} (extended: {extended})");
                let expected = match (*kind, example["data"]["order"]["reason"].as_str()) {
                    (consumer::ORDER_PLACED, _) | (_, Some("PAYMENT_DECLINED")) => ReservationStatus::Reserved,
                    _ => ReservationStatus::Released,
                };
                let order = example["data"]["order"]["id"].as_str().unwrap();
                assert_eq!(inventory.status(order).await, Some(expected), "{kind} v{version}: {example}");
            }
        }
    }
}

#[tokio::test]
async fn an_order_event_in_a_version_it_does_not_read_fails_and_changes_nothing() {
    let inventory = Inventory::stocked(&[(BOOK, 5), (GATSBY, 1)]).await;
    let mut event = order_placed();
    event["version"] = json!(2);
    for _ in 0..3 {
        assert_eq!(failed(&inventory.deliver(batch_of(&[event.clone()])).await), ["m0"], "retried, then dead-lettered");
    }
    assert_eq!(inventory.status(ORDER).await, None);
    assert_eq!(inventory.stock(&[BOOK, GATSBY]).await, [5, 1]);
    assert!(inventory.announced().is_empty());
}
