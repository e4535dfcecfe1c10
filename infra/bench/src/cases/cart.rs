//! `cart` over a `MemoryCartStore` and a `StaticCatalog` (in AWS, a private invoke of
//! `catalog-read`), with the shopper's cart holding three books; and its cart read over its
//! `DynamoCartStore` and the SDK, against a stub carts table holding that cart (the
//! catalog stays static: the stub is DynamoDB's only).

use bookish_shared::auth::Authenticator;
use bookish_shared::catalog_client::{CatalogBook, StaticCatalog};
use bookish_shared::http;
use bookish_shared::money::{Currency, Money};
use cart::cart::Quantity;
use cart::routes;
use cart::store::{CartStore, DynamoCartStore, MemoryCartStore};
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::{SAMPLE_BOOK, SHOPPER};
use crate::fixtures::{fixture, Fixture};
use crate::invocation::Runtime;
use crate::runner::{Case, Meta, Over, Success};
use crate::stub_dynamodb::{self, StubDynamo};

/// Id, title, price in cents and quantity of each line of the shopper's cart.
const LINES: [(&str, &str, i64, i64); 3] = [
    (SAMPLE_BOOK, "1984", 999, 2),
    ("9f8e7d6c5b4a3928", "The Great Gatsby", 1250, 1),
    ("00000000b00c0005", "War and Peace", 1899, 1),
];

/// When each line was added: a second apart, in `LINES` order.
fn added_at(start: OffsetDateTime, line: usize) -> OffsetDateTime {
    start + time::Duration::seconds(i64::try_from(line).expect("three lines"))
}

/// The shopper's cart item as the carts table holds it (`DynamoCartStore`'s layout).
fn cart_item(start: OffsetDateTime) -> Value {
    let rfc3339 = bookish_shared::events::rfc3339;
    let lines: Map<String, Value> = LINES
        .iter()
        .enumerate()
        .map(|(n, (id, _, _, quantity))| {
            let added = rfc3339(added_at(start, n));
            let line = json!({ "M": { "quantity": { "N": quantity.to_string() }, "addedAt": { "S": added } } });
            ((*id).to_owned(), line)
        })
        .collect();
    let updated = added_at(start, LINES.len() - 1);
    json!({
        "pk": { "S": format!("CART#{SHOPPER}") },
        "lines": { "M": lines },
        "updatedAt": { "S": rfc3339(updated) },
        "expiresAt": { "N": (updated + cart::cart::LIFETIME).unix_timestamp().to_string() },
    })
}

/// A `DynamoCartStore` over a stub carts table that answers GetItem with the shopper's cart.
async fn cart_over_sdk(start: OffsetDateTime) -> DynamoCartStore {
    let stub = StubDynamo::start();
    let items = vec![cart_item(start)];
    stub.answer("GetItem", move |request| stub_dynamodb::get_item(&items, request));
    DynamoCartStore::new(stub.client().await, "bookish-CartsTable")
}

/// `cart`: the signed-in shopper's cart.
pub struct Cart {
    meta: Meta,
    event: Vec<u8>,
    store: Box<dyn CartStore>,
    over: Over,
    catalog: StaticCatalog,
    auth: Authenticator,
    runtime: Runtime,
}

impl Cart {
    const FUNCTION: &'static str = "cart";

    async fn new(route: &'static str, event: Fixture, over: Over) -> Self {
        let usd = Currency::parse("USD").expect("USD is a currency");
        let catalog = StaticCatalog::default();
        let memory = MemoryCartStore::default();
        let start = OffsetDateTime::now_utc();
        for (n, (id, title, cents, quantity)) in LINES.into_iter().enumerate() {
            let price = Money::new(cents, usd.clone());
            catalog.books.lock().expect("fresh lock").push(CatalogBook { id: id.into(), title: title.into(), price });
            let quantity = Quantity::parse(quantity).expect("a valid quantity");
            let at = added_at(start, n);
            memory.set_line(SHOPPER, id, quantity, at).await.expect("the memory store takes three lines");
        }
        let store: Box<dyn CartStore> = match over {
            Over::MemoryPorts => Box::new(memory),
            Over::SdkStub => Box::new(cart_over_sdk(start).await),
        };
        Self {
            meta: Meta { function: Self::FUNCTION, route, success: Success::Status(200) },
            event: event.bytes(),
            store,
            over,
            catalog,
            auth: Authenticator::ApiGateway,
            runtime: Runtime::new(Self::FUNCTION),
        }
    }

    pub async fn get_cart(over: Over) -> Self {
        Self::new("GET /v1/cart", fixture!("cart/get-cart.json"), over).await
    }

    /// Sets the sample book's quantity to 2, as it already is: still a full read, write
    /// and re-pricing, and the cart stays the same size.
    pub async fn set_quantity() -> Self {
        Self::new("PUT /v1/cart/items/{bookId}", fixture!("cart/set-quantity.json"), Over::MemoryPorts).await
    }
}

impl Case for Cart {
    fn meta(&self) -> &Meta {
        &self.meta
    }

    async fn next_event(&mut self) -> Vec<u8> {
        self.event.clone()
    }

    fn over(&self) -> Over {
        self.over
    }

    async fn invoke(&self, event: &[u8]) -> Vec<u8> {
        let (store, catalog, auth) = (&*self.store, &self.catalog, &self.auth);
        self.runtime
            .http(event, move |req| http::serve(req, move |req| routes::handle(store, catalog, auth, req)))
            .await
    }
}
