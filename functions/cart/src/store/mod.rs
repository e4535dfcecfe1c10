//! The port the cart rules store carts through, and its adapters.

mod dynamodb;
mod memory;

pub use dynamodb::DynamoCartStore;
pub use memory::MemoryCartStore;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::cart::{ExpectedLine, Quantity, StoredCart};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the cart is full")]
    TooManyLines,
    #[error("the cart store failed: {0}")]
    Unavailable(String),
}

/// Every change is atomic on its own line, so two tabs changing different books at once
/// both land: no read-modify-write of the whole cart.
#[async_trait]
pub trait CartStore: Send + Sync {
    async fn get(&self, owner: &str) -> Result<Option<StoredCart>, StoreError>;

    /// Sets a line's quantity, adding the line if needed (unless the cart is full).
    async fn set_line(
        &self,
        owner: &str,
        book_id: &str,
        quantity: Quantity,
        now: OffsetDateTime,
    ) -> Result<StoredCart, StoreError>;

    /// Removes a line if it is there; returns what is left.
    async fn remove_line(
        &self,
        owner: &str,
        book_id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<StoredCart>, StoreError>;

    /// Removes each listed line that still holds exactly its listed quantity; a line whose
    /// quantity changed, and any line not listed, stays. Lines not in the cart are ignored.
    /// If this leaves the cart with no lines, the cart is deleted as by `clear`. (Checkout
    /// removes what it ordered this way, so a line added or changed meanwhile survives.)
    async fn remove_lines(&self, owner: &str, lines: &[ExpectedLine], now: OffsetDateTime) -> Result<(), StoreError>;

    async fn clear(&self, owner: &str) -> Result<(), StoreError>;
}
