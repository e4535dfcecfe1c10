//! The inventory's errors, and the one place they become HTTP problems. The event
//! consumer reports any of them as a failed message, which SQS delivers again.

use bookish_shared::sqs::PublishError;
use bookish_shared::{Problem, ProblemKind};

use crate::stock::Malformed;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("{0}")]
    Invalid(Problem),
    #[error("no book can have id {0}")]
    UnknownBook(String),
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
