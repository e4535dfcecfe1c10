//! The port the order rules store orders through, and its adapters.
//!
//! Every change to an order is written together with the event announcing it (the
//! outbox), so an order change and its event exist both or neither.

mod dynamodb;
mod memory;

pub use dynamodb::DynamoOrderStore;
pub use memory::MemoryOrderStore;

use async_trait::async_trait;

use crate::order::StoredOrder;

/// Which order a checkout's `Idempotency-Key` placed, and for which request body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub key: String,
    pub request_hash: String,
    pub order_id: String,
}

/// An integration event to publish, as stored beside the order change it announces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxEvent {
    /// The order version this event announces: unique per order.
    pub sequence: u64,
    /// The event envelope as JSON.
    pub envelope: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another request placed an order with this idempotency key first.
    #[error("the idempotency key is already used")]
    KeyTaken,
    /// The order changed since it was read.
    #[error("the order changed since it was read")]
    Changed,
    #[error("the order store failed: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait OrderStore: Send + Sync {
    async fn get(&self, customer: &str, order_id: &str) -> Result<Option<StoredOrder>, StoreError>;

    /// Up to `limit` of the customer's orders, newest first, placed before `before` (an order id).
    async fn list(&self, customer: &str, limit: usize, before: Option<&str>) -> Result<Vec<StoredOrder>, StoreError>;

    async fn idempotency(&self, customer: &str, key: &str) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// Writes a new order and its idempotency record, atomically.
    async fn create(&self, order: &StoredOrder, record: &IdempotencyRecord) -> Result<(), StoreError>;

    /// Replaces the order if it is still at `expected_version`, with its event if any,
    /// atomically.
    async fn update(
        &self,
        expected_version: u64,
        next: &StoredOrder,
        event: Option<&OutboxEvent>,
    ) -> Result<(), StoreError>;

    /// Counts one checkout of `customer` in `window` (a calendar minute), unless `limit`
    /// are counted there already: then it counts nothing and answers false.
    async fn take_checkout_slot(&self, customer: &str, window: &str, limit: u32) -> Result<bool, StoreError>;

    /// Up to `limit` orders that need settling (`StoredOrder::needs_settling`) and were
    /// last changed before `updated_before` (RFC 3339), oldest first, after the position
    /// `after` (`settle_position` of the last order of the previous page).
    async fn unsettled(
        &self,
        updated_before: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredOrder>, StoreError>;
}

/// Where an order stands in the settler's index: by last change, then id.
pub fn settle_position(order: &StoredOrder) -> String {
    format!("{}#{}", order.order.updated_at, order.order.id)
}
