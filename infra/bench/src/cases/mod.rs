//! One module per service: each function's handler wired as its `main` wires it, over the
//! in-memory adapters its crate's tests use, with the seeded state and sample event of
//! each route or queue it serves.
//!
//! State never grows across iterations: write cases put it back before every invocation
//! (untimed), so the last iteration costs what the first did.

pub mod cart;
pub mod catalog;
pub mod inventory;
pub mod notification;
pub mod order;

/// The shopper the sample events are signed in as (their JWT `sub`).
pub const SHOPPER: &str = "9b1d3c2e-shopper";
/// The book most sample events name.
pub const SAMPLE_BOOK: &str = "0123456789abcdef";

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::cart::Cart;
    use super::catalog::CatalogRead;
    use super::inventory::InventoryApi;
    use super::order::OrderApi;
    use crate::runner::{Case, Over};

    /// The response a case's next invocation gives, as JSON.
    async fn answer(mut case: impl Case) -> Value {
        let event = case.next_event().await;
        let response = case.invoke(&event).await;
        case.meta().success.check(&response).unwrap_or_else(|problem| panic!("{}: {problem}", case.name()));
        serde_json::from_slice(&response).expect("JSON")
    }

    /// The stub's canned replies hold what the in-memory stores do, so a route answers the
    /// same through the SDK as over memory: the SDK cases measure the same work plus the SDK's.
    #[tokio::test]
    async fn the_sdk_cases_answer_as_the_in_memory_ones() {
        let pairs = [
            (
                answer(CatalogRead::get_book(Over::MemoryPorts).await).await,
                answer(CatalogRead::get_book(Over::SdkStub).await).await,
            ),
            (
                answer(CatalogRead::list_books(Over::MemoryPorts).await).await,
                answer(CatalogRead::list_books(Over::SdkStub).await).await,
            ),
            (answer(Cart::get_cart(Over::MemoryPorts).await).await, answer(Cart::get_cart(Over::SdkStub).await).await),
            (
                answer(OrderApi::get_order(Over::MemoryPorts).await).await,
                answer(OrderApi::get_order(Over::SdkStub).await).await,
            ),
            (
                answer(InventoryApi::get_stock(Over::MemoryPorts).await).await,
                answer(InventoryApi::get_stock(Over::SdkStub).await).await,
            ),
        ];
        for (memory, sdk) in pairs {
            assert_eq!(memory["body"], sdk["body"]);
        }
    }
}
