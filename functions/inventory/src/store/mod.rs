//! The port the inventory rules keep stock and reservations through, and its adapters.
//!
//! Each write is one guarded step of a reservation's life, atomic on its own; the rules in
//! `service` decide which step to take and look again when a guard says another delivery
//! got there first.
//!
//! Every change to a book's stock (an admin's set or adjustment, a reservation, a release)
//! bumps its `Version` by one in the same write, so an admin's set conditional on the
//! version read (`If-Match`) cannot overwrite a reservation it never saw.

mod dynamodb;
mod memory;

pub use dynamodb::DynamoStockStore;
pub use memory::MemoryStockStore;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::stock::{Adjustment, Available, BookId, OrderId, Precondition, Reservation, ReservationRequest, Stock};

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

/// The result of an admin's change to a book's stock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StockWrite {
    /// Written: the stock as it is now (its version bumped).
    Written(Stock),
    /// The precondition did not hold: nothing changed. The stock as it is.
    Stale(Stock),
    /// The adjustment would take the count below 0 or past the maximum: nothing changed.
    /// The stock as it is.
    OutOfRange(Stock),
}

#[async_trait]
pub trait StockStore: Send + Sync {
    /// Copies of each book in stock, in the order asked; a book never stocked has none.
    async fn available(&self, books: &[BookId]) -> Result<Vec<Available>, StoreError>;

    /// A book's count and version; a book never stocked has none, at version 0.
    async fn stock(&self, book: &BookId) -> Result<Stock, StoreError>;

    /// Sets a book's count outright, if `precondition` holds (else `Stale`), bumping its
    /// version.
    async fn set_stock(
        &self,
        book: &BookId,
        available: Available,
        precondition: Precondition,
        now: OffsetDateTime,
    ) -> Result<StockWrite, StoreError>;

    /// Adds `by` copies (or takes them away) atomically, whatever the count is, bumping the
    /// version; `OutOfRange` if the count would leave 0..=MAX_AVAILABLE in that direction,
    /// `Stale` if a `precondition` was given and does not hold.
    async fn adjust_stock(
        &self,
        book: &BookId,
        by: Adjustment,
        precondition: Option<Precondition>,
        now: OffsetDateTime,
    ) -> Result<StockWrite, StoreError>;

    /// Gives a book exactly `available` copies whatever it had (read the version, set on
    /// it, again if it moved): for tests, benchmarks and tools stocking a store they own.
    /// The API never does this; an admin's set is conditional on what the admin read.
    async fn set_available(
        &self,
        book: &BookId,
        available: Available,
        now: OffsetDateTime,
    ) -> Result<Stock, StoreError> {
        for _ in 0..100 {
            let current = self.stock(book).await?;
            match self.set_stock(book, available, Precondition::Version(current.version), now).await? {
                StockWrite::Written(stock) => return Ok(stock),
                StockWrite::Stale(_) | StockWrite::OutOfRange(_) => continue,
            }
        }
        Err(StoreError::Busy(format!("the stock of {} kept changing", book.as_str())))
    }

    async fn reservation(&self, order: &OrderId) -> Result<Option<Reservation>, StoreError>;

    /// Takes every line's stock and records the order RESERVED, all or nothing, unless a
    /// decision for the order is already recorded. Stock never goes below zero. Bumps the
    /// version of every stock it takes from.
    async fn reserve(&self, request: &ReservationRequest, now: OffsetDateTime) -> Result<Reserve, StoreError>;

    /// Records a decision that holds no stock (REJECTED, or a CANCELLED tombstone) unless
    /// one is already recorded for the order.
    async fn record(&self, decision: &Reservation) -> Result<Recorded, StoreError>;

    /// Gives back the stock `reservation` holds and marks it RELEASED, if it is still
    /// RESERVED: at most once however often it is asked. Bumps the version of every stock
    /// it gives back to.
    async fn release(&self, reservation: &Reservation, now: OffsetDateTime) -> Result<Release, StoreError>;
}
