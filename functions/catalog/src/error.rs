//! The catalog's errors, and the one place they become HTTP problems.

use bookish_shared::{Problem, ProblemKind};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{0}")]
    Invalid(Problem),
    #[error("no book has id {0}")]
    NotFound(String),
    #[error("a book with ISBN {0} already exists")]
    DuplicateIsbn(String),
    #[error("the book's current ETag is {0}")]
    PreconditionFailed(String),
    #[error("the book changed while this request was updating it")]
    Changed,
    #[error("{0}")]
    Store(String),
}

impl From<Problem> for CatalogError {
    fn from(problem: Problem) -> Self {
        Self::Invalid(problem)
    }
}

impl From<StoreError> for CatalogError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Changed => Self::Changed,
            StoreError::DuplicateIsbn(isbn) => Self::DuplicateIsbn(isbn),
            StoreError::Unavailable(cause) => Self::Store(cause),
        }
    }
}

impl From<CatalogError> for Problem {
    fn from(err: CatalogError) -> Self {
        match err {
            CatalogError::Invalid(problem) => problem,
            CatalogError::NotFound(id) => Problem::not_found(format!("There is no book with id '{id}'.")),
            CatalogError::DuplicateIsbn(isbn) => Problem::new(
                ProblemKind::Conflict,
                format!("A book with ISBN {isbn} is already in the catalog; update that book instead."),
            ),
            CatalogError::PreconditionFailed(etag) => Problem::new(
                ProblemKind::PreconditionFailed,
                format!("The book has changed since you read it (its ETag is now {etag}). Read it again and retry."),
            ),
            CatalogError::Changed => Problem::new(
                ProblemKind::Conflict,
                "The book was changed by someone else while your request was being made. Read it again and retry.",
            ),
            CatalogError::Store(cause) => Problem::internal(&cause),
        }
    }
}
