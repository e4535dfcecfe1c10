//! `cart` over a `MemoryCartStore` and a `StaticCatalog` (in AWS, a private invoke of
//! `catalog-read`), with the shopper's cart holding three books.

use bookish_shared::auth::Authenticator;
use bookish_shared::catalog_client::{CatalogBook, StaticCatalog};
use bookish_shared::http;
use bookish_shared::money::{Currency, Money};
use cart::cart::Quantity;
use cart::routes;
use cart::store::{CartStore, MemoryCartStore};
use time::OffsetDateTime;

use super::{SAMPLE_BOOK, SHOPPER};
use crate::fixtures::{fixture, Fixture};
use crate::invocation::Runtime;
use crate::runner::{Case, Meta, Success};

/// Id, title, price in cents and quantity of each line of the shopper's cart.
const LINES: [(&str, &str, i64, i64); 3] = [
    (SAMPLE_BOOK, "1984", 999, 2),
    ("9f8e7d6c5b4a3928", "The Great Gatsby", 1250, 1),
    ("00000000b00c0005", "War and Peace", 1899, 1),
];

/// `cart`: the signed-in shopper's cart.
pub struct Cart {
    meta: Meta,
    event: Vec<u8>,
    store: MemoryCartStore,
    catalog: StaticCatalog,
    auth: Authenticator,
    runtime: Runtime,
}

impl Cart {
    const FUNCTION: &'static str = "cart";

    async fn new(route: &'static str, event: Fixture) -> Self {
        let usd = Currency::parse("USD").expect("USD is a currency");
        let catalog = StaticCatalog::default();
        let store = MemoryCartStore::default();
        let now = OffsetDateTime::now_utc();
        for (id, title, cents, quantity) in LINES {
            let price = Money::new(cents, usd.clone());
            catalog.books.lock().expect("fresh lock").push(CatalogBook { id: id.into(), title: title.into(), price });
            let quantity = Quantity::parse(quantity).expect("a valid quantity");
            store.set_line(SHOPPER, id, quantity, now).await.expect("the memory store takes three lines");
        }
        Self {
            meta: Meta { function: Self::FUNCTION, route, success: Success::Status(200) },
            event: event.bytes(),
            store,
            catalog,
            auth: Authenticator::ApiGateway,
            runtime: Runtime::new(Self::FUNCTION),
        }
    }

    pub async fn get_cart() -> Self {
        Self::new("GET /v1/cart", fixture!("cart/get-cart.json")).await
    }

    /// Sets the sample book's quantity to 2, as it already is: still a full read, write
    /// and re-pricing, and the cart stays the same size.
    pub async fn set_quantity() -> Self {
        Self::new("PUT /v1/cart/items/{bookId}", fixture!("cart/set-quantity.json")).await
    }
}

impl Case for Cart {
    fn meta(&self) -> &Meta {
        &self.meta
    }

    async fn next_event(&mut self) -> Vec<u8> {
        self.event.clone()
    }

    async fn invoke(&self, event: &[u8]) -> Vec<u8> {
        let (store, catalog, auth) = (&self.store, &self.catalog, &self.auth);
        self.runtime
            .http(event, move |req| http::serve(req, move |req| routes::handle(store, catalog, auth, req)))
            .await
    }
}
