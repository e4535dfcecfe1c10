//! The cart's errors, and the one place they become HTTP problems.

use bookish_shared::catalog_client::CatalogUnavailable;
use bookish_shared::{Problem, ProblemKind};

use crate::cart::MAX_LINES;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CartError {
    #[error("{0}")]
    Invalid(Problem),
    #[error("no book has id {0}")]
    UnknownBook(String),
    #[error("the cart already holds {MAX_LINES} different books")]
    TooManyLines,
    #[error("the cart would hold prices in {0} and {1}")]
    MixedCurrencies(String, String),
    #[error(transparent)]
    Catalog(#[from] CatalogUnavailable),
    #[error("{0}")]
    Store(String),
}

impl From<Problem> for CartError {
    fn from(problem: Problem) -> Self {
        Self::Invalid(problem)
    }
}

impl From<StoreError> for CartError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::TooManyLines => Self::TooManyLines,
            StoreError::Unavailable(cause) => Self::Store(cause),
        }
    }
}

impl From<CartError> for Problem {
    fn from(err: CartError) -> Self {
        match err {
            CartError::Invalid(problem) => problem,
            CartError::UnknownBook(id) => {
                Problem::not_found(format!("There is no book with id '{id}' in the catalog."))
            }
            CartError::TooManyLines => Problem::new(
                ProblemKind::Conflict,
                format!("Your cart already holds {MAX_LINES} different books; remove one before adding another."),
            ),
            CartError::MixedCurrencies(held, added) => Problem::new(
                ProblemKind::Conflict,
                format!("Your cart is priced in {held} and this book in {added}; one cart holds one currency."),
            ),
            CartError::Catalog(cause) => Problem::internal(&cause),
            CartError::Store(cause) => Problem::internal(&cause),
        }
    }
}
