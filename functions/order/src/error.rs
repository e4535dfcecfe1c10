//! The order service's errors, and the one place they become HTTP problems.

use bookish_shared::catalog_client::CatalogUnavailable;
use bookish_shared::{Problem, ProblemKind};

use crate::cart_client::CartUnavailable;
use crate::order::Status;
use crate::payments::PaymentError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("{0}")]
    Invalid(Problem),
    #[error("no order {0}")]
    NotFound(String),
    #[error("the cart is empty")]
    EmptyCart,
    #[error("book {0} is no longer in the catalog")]
    BookGone(String),
    #[error("the idempotency key was used for a different request")]
    KeyReused,
    #[error("a {0:?} order cannot be cancelled")]
    CannotCancel(Status),
    #[error("the cart holds prices in more than one currency")]
    MixedCurrencies,
    #[error("the order kept changing while it was being updated")]
    Contended,
    #[error("more than {per_minute} checkouts this minute")]
    TooManyCheckouts { per_minute: u32, retry_after: u64 },
    #[error(transparent)]
    Payment(#[from] PaymentError),
    #[error(transparent)]
    Cart(#[from] CartUnavailable),
    #[error(transparent)]
    Catalog(#[from] CatalogUnavailable),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<Problem> for OrderError {
    fn from(problem: Problem) -> Self {
        Self::Invalid(problem)
    }
}

impl From<OrderError> for Problem {
    fn from(err: OrderError) -> Self {
        match err {
            OrderError::Invalid(problem) => problem,
            OrderError::NotFound(id) => Problem::not_found(format!("You have no order with id '{id}'.")),
            OrderError::EmptyCart => Problem::new(ProblemKind::Conflict, "Your cart is empty: add books before checking out."),
            OrderError::BookGone(id) => Problem::new(
                ProblemKind::Conflict,
                format!("Book '{id}' in your cart is no longer sold; remove it from your cart and check out again."),
            ),
            OrderError::KeyReused => Problem::new(
                ProblemKind::UnprocessableContent,
                "This Idempotency-Key was already used for a different checkout request. Use a new key for a new order.",
            ),
            OrderError::CannotCancel(status) => Problem::new(
                ProblemKind::Conflict,
                format!("This order is {status:?} and can no longer be cancelled; only pending or confirmed orders can."),
            ),
            OrderError::TooManyCheckouts { per_minute, retry_after } => Problem::too_many_requests(
                format!("You can place at most {per_minute} orders a minute. Try again in {retry_after} seconds."),
                retry_after,
            ),
            OrderError::MixedCurrencies => {
                Problem::new(ProblemKind::Conflict, "Your cart holds books priced in different currencies; one order takes one currency.")
            }
            OrderError::Payment(PaymentError::Unavailable(cause)) => {
                tracing::error!(error = %cause, "payment provider unavailable");
                Problem::new(
                    ProblemKind::ServiceUnavailable,
                    "The payment provider is not answering. Your order is recorded: retry with the same Idempotency-Key to finish it.",
                )
            }
            other @ (OrderError::Contended
            | OrderError::Cart(_)
            | OrderError::Catalog(_)
            | OrderError::Store(_)) => Problem::internal(&other),
        }
    }
}
