//! The inventory's rules, written against the `StockStore` and `Publisher` ports: nothing
//! here knows HTTP, Lambda, SQS or DynamoDB.
//!
//! A reservation's life is a small state machine, recorded under the order id:
//!
//! ```text
//! (none) --OrderPlaced, stock enough--> RESERVED --OrderCancelled/OrderRejected--> RELEASED
//! (none) --OrderPlaced, stock short---> REJECTED
//! (none) --OrderCancelled/Rejected----> CANCELLED (tombstone: a late OrderPlaced takes nothing)
//! ```
//!
//! Every other event leaves it as it is, so a redelivered message changes nothing. Each
//! step is one guarded write; when a guard shows another delivery got there first, the
//! rules read what it recorded and go from there.
//!
//! Outcomes are published after the write. If publishing fails the message fails, SQS
//! delivers it again, and that delivery finds the recorded decision and announces it
//! again under the same event id: the idempotent consumer re-emits, so no outbox is
//! needed here. The order service may therefore see an outcome more than once.

use bookish_shared::events::Envelope;
use bookish_shared::metrics;
use bookish_shared::sqs::{self, Publisher};
use time::OffsetDateTime;

use crate::stock::{
    BookId, OrderId, Precondition, Reservation, ReservationRequest, ReservationStatus, Shortage, StockChange, StockView,
};
use crate::store::{Recorded, Release, Reserve, StockStore, StockWrite};
use crate::InventoryError;

/// How often one delivery looks again after losing a race, before leaving the message to
/// SQS to deliver later.
const ATTEMPTS: usize = 3;

pub async fn stock(store: &dyn StockStore, book_id: &str) -> Result<StockView, InventoryError> {
    let book_id = known_book(book_id)?;
    let stock = store.stock(&book_id).await?;
    Ok(StockView::new(book_id, stock))
}

/// An admin's change to a book's stock. Setting the count outright needs the version the
/// admin read (`If-Match`), so no reservation or other change made since is overwritten;
/// an adjustment is applied to whatever the count is now, and honours a precondition only
/// when one is given.
pub async fn change_stock(
    store: &dyn StockStore,
    book_id: &str,
    change: StockChange,
    precondition: Option<Precondition>,
    now: OffsetDateTime,
) -> Result<StockView, InventoryError> {
    let book_id = known_book(book_id)?;
    let written = match change {
        StockChange::Set(available) => {
            let precondition = precondition.ok_or(InventoryError::PreconditionRequired)?;
            store.set_stock(&book_id, available, precondition, now).await?
        }
        StockChange::Adjust(by) => store.adjust_stock(&book_id, by, precondition, now).await?,
    };
    match written {
        StockWrite::Written(stock) => Ok(StockView::new(book_id, stock)),
        StockWrite::Stale(current) => Err(InventoryError::Stale {
            precondition: precondition.unwrap_or(Precondition::Version(current.version)),
            current,
        }),
        StockWrite::OutOfRange(current) => {
            let StockChange::Adjust(by) = change else { unreachable!("only adjustments can leave the range") };
            Err(InventoryError::OutOfRange { by, current })
        }
    }
}

fn known_book(book_id: &str) -> Result<BookId, InventoryError> {
    BookId::parse(book_id).ok_or_else(|| InventoryError::UnknownBook(book_id.to_owned()))
}

/// Where decisions are announced: the order service's stock queue, under the correlation
/// id of the order event being handled.
pub struct Announcer<'a> {
    pub publisher: &'a dyn Publisher,
    pub queue_url: &'a str,
    pub correlation_id: &'a str,
}

/// What handling one OrderPlaced did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placed {
    Reserved,
    Rejected(Vec<Shortage>),
    /// A decision was already recorded (an earlier delivery, or a cancellation that came
    /// first); it was announced again if it is one the order service waits for.
    AlreadyDecided(ReservationStatus),
}

/// OrderPlaced: reserve every line or none, record the decision, announce it.
pub async fn place(
    store: &dyn StockStore,
    announcer: &Announcer<'_>,
    request: &ReservationRequest,
    now: OffsetDateTime,
) -> Result<Placed, InventoryError> {
    for _ in 0..ATTEMPTS {
        let (decision, placed) = match store.reserve(request, now).await? {
            Reserve::Reserved(reservation) => (reservation, Placed::Reserved),
            Reserve::AlreadyRecorded(existing) => {
                let status = existing.status;
                (existing, Placed::AlreadyDecided(status))
            }
            Reserve::InsufficientStock => {
                let shortages = shortages(store, request).await?;
                if shortages.is_empty() {
                    continue; // restocked (or released) since the attempt: try again
                }
                let rejection = Reservation::rejected(request, shortages.clone(), now);
                match store.record(&rejection).await? {
                    Recorded::New => (rejection, Placed::Rejected(shortages)),
                    Recorded::Existing(existing) => {
                        let status = existing.status;
                        (existing, Placed::AlreadyDecided(status))
                    }
                }
            }
        };
        // Counted once the decision is recorded: a redelivery finds it already decided.
        match placed {
            Placed::Reserved => metrics::stock_reserved(),
            Placed::Rejected(_) => metrics::stock_rejected(),
            Placed::AlreadyDecided(_) => {}
        }
        announce(announcer, &decision, now).await?;
        return Ok(placed);
    }
    Err(InventoryError::Busy(format!("stock for order {} kept changing", request.order_id.as_str())))
}

/// The lines the stock cannot cover right now, with what there is.
async fn shortages(store: &dyn StockStore, request: &ReservationRequest) -> Result<Vec<Shortage>, InventoryError> {
    let books: Vec<BookId> = request.lines.iter().map(|line| line.book_id.clone()).collect();
    let available = store.available(&books).await?;
    Ok(request
        .lines
        .iter()
        .zip(available)
        .filter(|(line, available)| !available.covers(line.quantity))
        .map(|(line, available)| Shortage {
            book_id: line.book_id.clone(),
            requested: line.quantity.get(),
            available: available.get(),
        })
        .collect())
}

/// Tells the order service a decision. Every announcement of one decision is the same
/// event: same id, same time.
async fn announce(
    announcer: &Announcer<'_>,
    decision: &Reservation,
    now: OffsetDateTime,
) -> Result<(), InventoryError> {
    let Some(outcome) = decision.outcome() else { return Ok(()) };
    let mut event = Envelope::new(outcome.event_id(), outcome.kind(), announcer.correlation_id, &outcome, now);
    event.occurred_at.clone_from(&decision.at);
    sqs::publish(announcer.publisher, announcer.queue_url, &event).await?;
    Ok(())
}

/// What handling one OrderCancelled did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cancelled {
    /// The reserved stock went back on the shelf.
    Released,
    /// Nothing was recorded yet: a tombstone now keeps a late OrderPlaced from reserving.
    Tombstoned,
    /// Nothing is held (rejected, or already released or cancelled): nothing changed.
    NothingHeld(ReservationStatus),
}

/// OrderCancelled: give back what the order holds, exactly once.
pub async fn cancel(
    store: &dyn StockStore,
    order_id: &OrderId,
    customer_id: &str,
    now: OffsetDateTime,
) -> Result<Cancelled, InventoryError> {
    for _ in 0..ATTEMPTS {
        match store.reservation(order_id).await? {
            None => match store.record(&Reservation::cancelled(order_id.clone(), customer_id, now)).await? {
                Recorded::New => return Ok(Cancelled::Tombstoned),
                Recorded::Existing(_) => continue, // reserved or rejected meanwhile: look again
            },
            Some(reservation) if reservation.status == ReservationStatus::Reserved => {
                match store.release(&reservation, now).await? {
                    Release::Released => return Ok(Cancelled::Released),
                    Release::NotReserved => continue, // another delivery released it: look again
                }
            }
            Some(settled) => return Ok(Cancelled::NothingHeld(settled.status)),
        }
    }
    Err(InventoryError::Busy(format!("the reservation of order {} kept changing", order_id.as_str())))
}
