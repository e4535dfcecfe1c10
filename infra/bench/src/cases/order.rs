//! `order-api`, `order-stock-events` and `order-publisher` over a `MemoryOrderStore`, a
//! `MemoryCart` and a `StaticCatalog` (in AWS, private invokes of `cart` and
//! `catalog-read`), `ApproveAll` payments (in AWS, Stripe: the benchmark measures the
//! handlers, not Stripe's latency) and a `MemoryPublisher` (in AWS, SQS); and `order-api`'s
//! order read over its `DynamoOrderStore` and the SDK, against a stub orders table holding
//! the sample order as the store's own write put it.

use async_trait::async_trait;
use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::sqs::SqsEvent;
use bookish_shared::auth::{Authenticator, Claims};
use bookish_shared::catalog_client::{CatalogBook, StaticCatalog};
use bookish_shared::http;
use bookish_shared::money::{Currency, Money};
use bookish_shared::sqs::{self, MemoryPublisher};
use lambda_runtime::LambdaEvent;
use order::cart_client::{Caller, CartLine, MemoryCart};
use order::order::{CheckoutInput, IdempotencyKey, StoredOrder};
use order::payments::{Authorization, Capture, PaymentError, PaymentGateway, Void};
use order::publisher::{relay, Routes};
use order::service::{self, CheckoutLimit, Saga, Services};
use order::store::{DynamoOrderStore, IdempotencyRecord, MemoryOrderStore, OrderStore};
use order::{consumer, routes};
use time::OffsetDateTime;

use super::{SAMPLE_BOOK, SHOPPER};
use crate::fixtures::{fixture, Fixture};
use crate::invocation::Runtime;
use crate::runner::{Case, Meta, Over, Success};
use crate::stub_dynamodb::{self, StubDynamo};

/// The order the get-order, stock-reserved and outbox-stream events name.
const SAMPLE_ORDER: &str = "019ac6f0-0000-7000-8000-000000000001";
/// Orders in the shopper's history besides the sample one: more than a page of ten.
const HISTORY: usize = 12;
/// The second book in the cart.
const GATSBY: &str = "9f8e7d6c5b4a3928";
const INVENTORY_QUEUE: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/bookish-InventoryQueue";
const NOTIFICATION_QUEUE: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/bookish-NotificationQueue";

/// A payment provider that approves every hold and takes, releases or refunds it at once,
/// without a network call.
struct ApproveAll;

#[async_trait]
impl PaymentGateway for ApproveAll {
    async fn authorize(
        &self,
        _payment_method: &str,
        _amount: &Money,
        order_id: &str,
        _idempotency_key: &str,
    ) -> Result<Authorization, PaymentError> {
        Ok(Authorization::Approved { authorization_id: format!("pi_bench_{order_id}") })
    }

    async fn capture(&self, _authorization_id: &str, _idempotency_key: &str) -> Result<Capture, PaymentError> {
        Ok(Capture::Captured)
    }

    async fn void(&self, _authorization_id: &str, _idempotency_key: &str) -> Result<Void, PaymentError> {
        Ok(Void::Voided)
    }

    async fn refund(&self, _authorization_id: &str, _idempotency_key: &str) -> Result<(), PaymentError> {
        Ok(())
    }
}

/// The books the cart holds, as the catalog prices them.
fn catalog() -> StaticCatalog {
    let usd = Currency::parse("USD").expect("USD is a currency");
    let catalog = StaticCatalog::default();
    *catalog.books.lock().expect("fresh lock") = vec![
        CatalogBook { id: SAMPLE_BOOK.into(), title: "1984".into(), price: Money::new(999, usd.clone()) },
        CatalogBook { id: GATSBY.into(), title: "The Great Gatsby".into(), price: Money::new(1250, usd) },
    ];
    catalog
}

/// Puts two books in the cart, as checkout expects; placing an order empties it.
fn fill(cart: &MemoryCart) {
    *cart.lines.lock().expect("cart lock") =
        vec![CartLine { book_id: SAMPLE_BOOK.into(), quantity: 2 }, CartLine { book_id: GATSBY.into(), quantity: 1 }];
}

/// Places an order through the rules, as `POST /v1/orders` does (setup, untimed).
async fn place(store: &MemoryOrderStore, key: &str) -> StoredOrder {
    let (cart, catalog) = (MemoryCart::default(), catalog());
    fill(&cart);
    let services = Services {
        saga: Saga { store, payments: &ApproveAll },
        cart: &cart,
        catalog: &catalog,
        limit: CheckoutLimit { per_minute: u32::MAX },
    };
    let claims = Claims {
        subject: SHOPPER.into(),
        username: Some(SHOPPER.into()),
        email: Some("shopper@bookish.local".into()),
        phone: None,
        groups: Vec::new(),
    };
    let caller = Caller { claims, authorization: None, correlation_id: "sample-correlation-id".into() };
    let key = IdempotencyKey::parse(Some(key)).expect("a valid key");
    let input: CheckoutInput = fixture!("order/place-order.json").body();
    let placed = service::place_order(&services, &caller, &key, input, OffsetDateTime::now_utc())
        .await
        .unwrap_or_else(|err| panic!("the sample checkout fails: {err}"));
    store.get(SHOPPER, &placed.order.id).await.expect("memory store").expect("the order just placed")
}

/// The sample order, pending and authorized as checkout leaves it, under the id the
/// sample events name.
struct SampleOrder {
    order: StoredOrder,
}

impl SampleOrder {
    async fn new() -> Self {
        let store = MemoryOrderStore::default();
        let mut order = place(&store, "sample-order").await;
        order.order.id = SAMPLE_ORDER.into();
        Self { order }
    }

    /// Writes the order with its idempotency record (its `OrderPlaced` is not needed).
    async fn write_to(&self, store: &dyn OrderStore) {
        let record = IdempotencyRecord {
            key: "sample-order".into(),
            request_hash: String::new(),
            order_id: SAMPLE_ORDER.into(),
        };
        store.create(&self.order, &record).await.expect("a new order in the store");
    }

    /// A `DynamoOrderStore` over a stub orders table holding the order and its
    /// idempotency record, as the store's own transaction put them; the stub answers GetItem.
    async fn over_sdk(&self) -> DynamoOrderStore {
        let stub = StubDynamo::start();
        let written = stub.record_puts();
        let store = DynamoOrderStore::new(stub.client().await, "bookish-OrdersTable");
        self.write_to(&store).await;
        let items = std::mem::take(&mut *written.lock().expect("recorded lock"));
        stub.answer("GetItem", move |request| stub_dynamodb::get_item(&items, request));
        store
    }
}

/// `order-api`: the shopper's orders, and checkout.
pub struct OrderApi {
    meta: Meta,
    event: Fixture,
    /// Checkouts so far, when this case places orders: each iteration then gets a new
    /// `Idempotency-Key`, a full cart and an empty store.
    checkouts: Option<u64>,
    store: MemoryOrderStore,
    /// When set, the handler reads through it instead of `store`.
    dynamo: Option<DynamoOrderStore>,
    cart: MemoryCart,
    catalog: StaticCatalog,
    auth: Authenticator,
    runtime: Runtime,
}

impl OrderApi {
    const FUNCTION: &'static str = "order-api";

    fn new(route: &'static str, success: Success, event: Fixture, checkouts: Option<u64>) -> Self {
        Self {
            meta: Meta { function: Self::FUNCTION, route, success },
            event,
            checkouts,
            store: MemoryOrderStore::default(),
            dynamo: None,
            cart: MemoryCart::default(),
            catalog: catalog(),
            auth: Authenticator::ApiGateway,
            runtime: Runtime::new(Self::FUNCTION),
        }
    }

    /// A store holding the shopper's history and the sample order.
    async fn with_history(self) -> Self {
        for n in 0..HISTORY {
            place(&self.store, &format!("history-{n}")).await;
        }
        SampleOrder::new().await.write_to(&self.store).await;
        self
    }

    /// The first page of ten, of thirteen orders.
    pub async fn list_orders() -> Self {
        Self::new("GET /v1/orders?limit=10", Success::Status(200), fixture!("order/list-orders.json"), None)
            .with_history()
            .await
    }

    pub async fn get_order(over: Over) -> Self {
        let case = Self::new("GET /v1/orders/{id}", Success::Status(200), fixture!("order/get-order.json"), None);
        match over {
            Over::MemoryPorts => case.with_history().await,
            Over::SdkStub => Self { dynamo: Some(SampleOrder::new().await.over_sdk().await), ..case },
        }
    }

    /// A card checkout of a two-book cart: priced, authorized, written with its event.
    pub async fn place_order() -> Self {
        Self::new("POST /v1/orders", Success::Status(201), fixture!("order/place-order.json"), Some(0))
    }
}

impl Case for OrderApi {
    fn meta(&self) -> &Meta {
        &self.meta
    }

    async fn next_event(&mut self) -> Vec<u8> {
        if let Some(checkouts) = &mut self.checkouts {
            *checkouts += 1;
            self.store = MemoryOrderStore::default();
            fill(&self.cart);
            self.event.set_header("idempotency-key", &format!("5f0c7a9e-0000-4000-8000-{checkouts:012}"));
        }
        self.event.bytes()
    }

    fn over(&self) -> Over {
        if self.dynamo.is_some() {
            Over::SdkStub
        } else {
            Over::MemoryPorts
        }
    }

    async fn invoke(&self, event: &[u8]) -> Vec<u8> {
        let store: &dyn OrderStore = match &self.dynamo {
            Some(dynamo) => dynamo,
            None => &self.store,
        };
        let saga = Saga { store, payments: &ApproveAll };
        let services =
            Services { saga, cart: &self.cart, catalog: &self.catalog, limit: CheckoutLimit { per_minute: u32::MAX } };
        let (services, auth) = (&services, &self.auth);
        self.runtime.http(event, move |req| http::serve(req, move |req| routes::handle(services, auth, req))).await
    }
}

/// `order-stock-events`: inventory reserved the sample order's stock, so its payment is
/// captured and it is confirmed. Every iteration starts from the pending order.
pub struct OrderStockEvents {
    meta: Meta,
    event: Vec<u8>,
    pending: SampleOrder,
    store: MemoryOrderStore,
    runtime: Runtime,
}

impl OrderStockEvents {
    const FUNCTION: &'static str = "order-stock-events";

    pub async fn stock_reserved() -> Self {
        Self {
            meta: Meta { function: Self::FUNCTION, route: "SQS StockReserved", success: Success::NoBatchItemFailures },
            event: fixture!("order/stock-reserved.json").bytes(),
            pending: SampleOrder::new().await,
            store: MemoryOrderStore::default(),
            runtime: Runtime::new(Self::FUNCTION),
        }
    }
}

impl Case for OrderStockEvents {
    fn meta(&self) -> &Meta {
        &self.meta
    }

    async fn next_event(&mut self) -> Vec<u8> {
        self.store = MemoryOrderStore::default();
        self.pending.write_to(&self.store).await;
        self.event.clone()
    }

    async fn invoke(&self, event: &[u8]) -> Vec<u8> {
        let saga = Saga { store: &self.store, payments: &ApproveAll };
        let saga = &saga;
        self.runtime
            .invoke(event, |event: LambdaEvent<SqsEvent>| async move {
                sqs::for_each_record(event.payload, &event.context.request_id, |envelope| {
                    consumer::handle(saga, envelope)
                })
                .await
            })
            .await
    }

    fn check_effect(&self) -> Result<(), String> {
        let confirmed = self.store.outbox().last().is_some_and(|event| event.envelope.contains("\"OrderConfirmed\""));
        confirmed.then_some(()).ok_or_else(|| "the order was not confirmed".to_owned())
    }
}

/// `order-publisher`: relays a stream batch of two outbox events (OrderPlaced to the
/// inventory queue, OrderCancelled to both queues).
pub struct OrderPublisher {
    meta: Meta,
    event: Vec<u8>,
    publisher: MemoryPublisher,
    routes: Routes,
    runtime: Runtime,
}

impl OrderPublisher {
    const FUNCTION: &'static str = "order-publisher";
    /// The messages the sample batch makes.
    const MESSAGES: usize = 3;

    pub async fn outbox_stream() -> Self {
        Self {
            meta: Meta {
                function: Self::FUNCTION,
                route: "DynamoDB stream OrderPlaced+OrderCancelled",
                success: Success::NoBatchItemFailures,
            },
            event: fixture!("order/outbox-stream.json").bytes(),
            publisher: MemoryPublisher::default(),
            routes: Routes { inventory_queue: INVENTORY_QUEUE.into(), notification_queue: NOTIFICATION_QUEUE.into() },
            runtime: Runtime::new(Self::FUNCTION),
        }
    }
}

impl Case for OrderPublisher {
    fn meta(&self) -> &Meta {
        &self.meta
    }

    async fn next_event(&mut self) -> Vec<u8> {
        // The memory publisher keeps what it sent; forget it so it does not grow.
        self.publisher.sent.lock().expect("publisher lock").clear();
        self.event.clone()
    }

    async fn invoke(&self, event: &[u8]) -> Vec<u8> {
        let (publisher, routes) = (&self.publisher, &self.routes);
        self.runtime.invoke(event, |event: LambdaEvent<Event>| relay(publisher, routes, event.payload, None)).await
    }

    fn check_effect(&self) -> Result<(), String> {
        let sent = self.publisher.sent.lock().expect("publisher lock").len();
        (sent == Self::MESSAGES).then_some(()).ok_or_else(|| format!("{sent} messages relayed, not {}", Self::MESSAGES))
    }
}
