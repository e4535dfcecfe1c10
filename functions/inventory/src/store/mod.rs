//! The port the inventory rules keep stock and reservations through, and its adapters.
//!
//! Each write is one guarded step of a reservation's life, atomic on its own; the rules in
//! `service` decide which step to take and look again when a guard says another delivery
//! got there first.

mod dynamodb;
mod memory;

pub use dynamodb::DynamoStockStore;
pub use memory::MemoryStockStore;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::stock::{Available, BookId, OrderId, Reservation, ReservationRequest};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Other transactions kept touching the same items; trying again later will do.
    #[error("the stock store is busy: {0}")]
    Busy(String),
    #[error("the stock store failed: {0}")]
    Unavailable(String),
}

/// The result of trying to reserve an order's stock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reserve {
    /// Every line's stock was taken and the reservation recorded, together.
    Reserved(Reservation),
    /// Some line had too little stock: nothing was taken and nothing recorded.
    InsufficientStock,
    /// A decision for this order was already recorded (by an earlier delivery, or a
    /// cancellation that came first): nothing was taken.
    AlreadyRecorded(Reservation),
}

/// The result of recording a decision that takes no stock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    New,
    /// Another decision was recorded first; it stands.
    Existing(Reservation),
}

/// The result of giving a reservation's stock back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    Released,
    /// The reservation is no longer RESERVED (another delivery released it): nothing changed.
    NotReserved,
}

#[async_trait]
pub trait StockStore: Send + Sync {
    /// Copies of each book in stock, in the order asked; a book never stocked has none.
    async fn available(&self, books: &[BookId]) -> Result<Vec<Available>, StoreError>;

    /// Sets a book's stock outright (an admin's count replaces whatever was there).
    async fn set_available(&self, book: &BookId, available: Available, now: OffsetDateTime) -> Result<(), StoreError>;

    async fn reservation(&self, order: &OrderId) -> Result<Option<Reservation>, StoreError>;

    /// Takes every line's stock and records the order RESERVED, all or nothing, unless a
    /// decision for the order is already recorded. Stock never goes below zero.
    async fn reserve(&self, request: &ReservationRequest, now: OffsetDateTime) -> Result<Reserve, StoreError>;

    /// Records a decision that holds no stock (REJECTED, or a CANCELLED tombstone) unless
    /// one is already recorded for the order.
    async fn record(&self, decision: &Reservation) -> Result<Recorded, StoreError>;

    /// Gives back the stock `reservation` holds and marks it RELEASED, if it is still
    /// RESERVED: at most once however often it is asked.
    async fn release(&self, reservation: &Reservation, now: OffsetDateTime) -> Result<Release, StoreError>;
}
