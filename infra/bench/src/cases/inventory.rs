//! `inventory-api` and `inventory-events` over a `MemoryStockStore` and a `MemoryPublisher`
//! (in AWS, SQS); and `inventory-api`'s stock read over its `DynamoStockStore` and the SDK,
//! against a stub stock table holding the sample book's stock.

use aws_lambda_events::event::sqs::SqsEvent;
use bookish_shared::auth::Authenticator;
use bookish_shared::http;
use bookish_shared::sqs::{self, MemoryPublisher};
use inventory::consumer::{self, Deps};
use inventory::routes;
use inventory::stock::{Available, BookId};
use inventory::store::{DynamoStockStore, MemoryStockStore, StockStore};
use lambda_runtime::LambdaEvent;
use serde_json::json;
use time::OffsetDateTime;

use super::SAMPLE_BOOK;
use crate::fixtures::{fixture, Fixture};
use crate::invocation::Runtime;
use crate::runner::{Case, Meta, Over, Success};
use crate::stub_dynamodb::{self, StubDynamo};

const ORDER_STOCK_QUEUE: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/bookish-OrderStockQueue";
/// The second book of the order-placed event.
const GATSBY: &str = "9f8e7d6c5b4a39281706f5e4d3c2b1a0";

/// A store with `available` copies of each book.
async fn stocked(books: &[(&str, i64)]) -> MemoryStockStore {
    let store = MemoryStockStore::default();
    for (book, available) in books {
        let book = BookId::parse(book).expect("a plausible book id");
        let available = Available::parse(*available).expect("a valid count");
        store.set_available(&book, available, OffsetDateTime::now_utc()).await.expect("memory store");
    }
    store
}

/// A `DynamoStockStore` over a stub stock table that answers GetItem with the sample
/// book's stock item (the store's layout: 12 available, at version 1).
async fn stocked_over_sdk() -> DynamoStockStore {
    let stub = StubDynamo::start();
    let items = vec![json!({
        "pk": { "S": format!("STOCK#{SAMPLE_BOOK}") },
        "bookId": { "S": SAMPLE_BOOK },
        "available": { "N": "12" },
        "version": { "N": "1" },
        "updatedAt": { "S": bookish_shared::events::rfc3339(OffsetDateTime::now_utc()) },
    })];
    stub.answer("GetItem", move |request| stub_dynamodb::get_item(&items, request));
    DynamoStockStore::new(stub.client().await, "bookish-StockTable")
}

/// `inventory-api`: a book's stock, read by anyone and set by admins.
pub struct InventoryApi {
    meta: Meta,
    /// Sent in turn.
    events: Vec<Vec<u8>>,
    sent: usize,
    store: Box<dyn StockStore>,
    over: Over,
    auth: Authenticator,
    runtime: Runtime,
}

impl InventoryApi {
    const FUNCTION: &'static str = "inventory-api";

    async fn new(route: &'static str, events: Vec<Fixture>, over: Over) -> Self {
        let store: Box<dyn StockStore> = match over {
            Over::MemoryPorts => Box::new(stocked(&[(SAMPLE_BOOK, 12)]).await),
            Over::SdkStub => Box::new(stocked_over_sdk().await),
        };
        Self {
            meta: Meta { function: Self::FUNCTION, route, success: Success::Status(200) },
            events: events.iter().map(Fixture::bytes).collect(),
            sent: 0,
            store,
            over,
            auth: Authenticator::ApiGateway,
            runtime: Runtime::new(Self::FUNCTION),
        }
    }

    pub async fn get_stock(over: Over) -> Self {
        Self::new("GET /v1/inventory/{bookId}", vec![fixture!("inventory/get-stock.json")], over).await
    }

    /// Restocks one copy, then takes it back: each a conditional write, and the count stays
    /// put however long the run. (Setting an absolute count needs the stock's ETag.)
    pub async fn set_stock() -> Self {
        let adjust = |by: i64| {
            let mut event = fixture!("inventory/adjust-stock-as-admin.json");
            event.set_body(&serde_json::json!({ "adjust": by }));
            event
        };
        Self::new("PUT /v1/inventory/{bookId}", vec![adjust(1), adjust(-1)], Over::MemoryPorts).await
    }
}

impl Case for InventoryApi {
    fn meta(&self) -> &Meta {
        &self.meta
    }

    async fn next_event(&mut self) -> Vec<u8> {
        self.sent += 1;
        self.events[(self.sent - 1) % self.events.len()].clone()
    }

    fn over(&self) -> Over {
        self.over
    }

    async fn invoke(&self, event: &[u8]) -> Vec<u8> {
        let (store, auth) = (&*self.store, &self.auth);
        self.runtime.http(event, move |req| http::serve(req, move |req| routes::handle(store, auth, req))).await
    }
}

/// `inventory-events`: an OrderPlaced of two books, reserved and announced as
/// StockReserved. Every iteration starts from the same stock and no reservation.
pub struct InventoryEvents {
    meta: Meta,
    event: Vec<u8>,
    store: MemoryStockStore,
    publisher: MemoryPublisher,
    runtime: Runtime,
}

impl InventoryEvents {
    const FUNCTION: &'static str = "inventory-events";
    const STOCK: [(&'static str, i64); 2] = [(SAMPLE_BOOK, 5), (GATSBY, 3)];

    pub async fn order_placed() -> Self {
        Self {
            meta: Meta { function: Self::FUNCTION, route: "SQS OrderPlaced", success: Success::NoBatchItemFailures },
            event: fixture!("inventory/order-placed.json").bytes(),
            store: stocked(&Self::STOCK).await,
            publisher: MemoryPublisher::default(),
            runtime: Runtime::new(Self::FUNCTION),
        }
    }
}

impl Case for InventoryEvents {
    fn meta(&self) -> &Meta {
        &self.meta
    }

    async fn next_event(&mut self) -> Vec<u8> {
        self.store = stocked(&Self::STOCK).await;
        self.publisher.sent.lock().expect("publisher lock").clear();
        self.event.clone()
    }

    async fn invoke(&self, event: &[u8]) -> Vec<u8> {
        let deps = Deps { store: &self.store, publisher: &self.publisher, order_stock_queue_url: ORDER_STOCK_QUEUE };
        let deps = &deps;
        self.runtime
            .invoke(event, |event: LambdaEvent<SqsEvent>| async move {
                let request_id = event.context.request_id;
                sqs::for_each_record(event.payload, &request_id, |envelope| consumer::handle(deps, envelope)).await
            })
            .await
    }

    fn check_effect(&self) -> Result<(), String> {
        let sent = self.publisher.sent.lock().expect("publisher lock");
        match sent.as_slice() {
            [(_, event)] if event["type"] == "StockReserved" => Ok(()),
            other => Err(format!("expected one StockReserved, sent {other:?}")),
        }
    }
}
