//! The inventory's errors, and the one place they become HTTP problems. The event
//! consumer reports any of them as a failed message, which SQS delivers again.

use bookish_shared::sqs::PublishError;
use bookish_shared::{Problem, ProblemKind};

use crate::stock::{Adjustment, Malformed, Precondition, Stock, MAX_AVAILABLE};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("{0}")]
    Invalid(Problem),
    #[error("no book can have id {0}")]
    UnknownBook(String),
    /// An outright count came without the version it was decided on (`If-Match`).
    #[error("setting the stock needs If-Match")]
    PreconditionRequired,
    /// The stock is no longer what the admin read: nothing changed.
    #[error("the stock is at version {}, not as the precondition says", .current.version.get())]
    Stale { precondition: Precondition, current: Stock },
    /// The adjustment would take the count out of range: nothing changed.
    #[error("adjusting {} copies by {} leaves the range", .current.available.get(), .by.get())]
    OutOfRange { by: Adjustment, current: Stock },
    #[error(transparent)]
    Malformed(#[from] Malformed),
    /// The reservation kept changing under this delivery; a later one will settle it.
    #[error("{0}")]
    Busy(String),
    #[error("{0}")]
    Store(String),
    #[error(transparent)]
    Publish(#[from] PublishError),
}

impl From<Problem> for InventoryError {
    fn from(problem: Problem) -> Self {
        Self::Invalid(problem)
    }
}

impl From<StoreError> for InventoryError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Busy(cause) => Self::Busy(cause),
            StoreError::Unavailable(cause) => Self::Store(cause),
        }
    }
}

impl From<InventoryError> for Problem {
    fn from(err: InventoryError) -> Self {
        match err {
            InventoryError::Invalid(problem) => problem,
            InventoryError::UnknownBook(id) => Problem::not_found(format!("There is no book with id '{id}'.")),
            InventoryError::PreconditionRequired => Problem::new(
                ProblemKind::PreconditionRequired,
                "Setting the stock outright needs If-Match: the ETag of GET /v1/inventory/{bookId} (or * for a \
                 book with no stock yet), so that copies reserved meanwhile are not overwritten. To add or take \
                 away copies whatever the count is, send {\"adjust\": n} instead.",
            ),
            InventoryError::Stale { precondition: Precondition::Unstocked, current } => Problem::new(
                ProblemKind::PreconditionFailed,
                format!(
                    "This book already has stock ({} copies, ETag {}); If-Match: * only creates it. GET it again \
                     and send its ETag in If-Match.",
                    current.available.get(),
                    current.version.etag()
                ),
            ),
            InventoryError::Stale { current, .. } => Problem::new(
                ProblemKind::PreconditionFailed,
                format!(
                    "The stock of this book changed since you read it: it is now {} copies (ETag {}). Nothing was \
                     changed; GET it again and send the new ETag in If-Match.",
                    current.available.get(),
                    current.version.etag()
                ),
            ),
            InventoryError::OutOfRange { by, current } => Problem::new(
                ProblemKind::Conflict,
                format!(
                    "There are {} copies of this book in stock (ETag {}); adjusting by {} would leave {}, and stock \
                     runs from 0 to {MAX_AVAILABLE}. Nothing was changed.",
                    current.available.get(),
                    current.version.etag(),
                    by.get(),
                    i64::from(current.available.get()) + i64::from(by.get()),
                ),
            ),
            InventoryError::Busy(_) => Problem::new(
                ProblemKind::Conflict,
                "The stock of this book is changing right now. Please try again in a moment.",
            ),
            InventoryError::Malformed(cause) => Problem::internal(&cause),
            InventoryError::Store(cause) => Problem::internal(&cause),
            InventoryError::Publish(cause) => Problem::internal(&cause),
        }
    }
}
