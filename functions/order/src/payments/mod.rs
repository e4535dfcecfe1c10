//! Payments go through this port; `stripe` is the adapter that runs in every deployed and
//! local function (locally against localstripe). Money moves in two steps, as card
//! processors do: a hold at checkout (`authorize`), taken when the stock is reserved
//! (`capture`), released (`void`) or given back (`refund`) when the order is not
//! fulfilled. Every call carries an idempotency key derived from the order id and the
//! step, so a redelivered message never charges or refunds twice.

pub mod stripe;

use async_trait::async_trait;
use bookish_shared::money::Money;

/// What the card issuer said to a hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Authorization {
    Approved {
        authorization_id: String,
    },
    /// Declined, or the payment method is unusable (unknown, expired, needs 3-D Secure).
    Declined {
        reason: String,
    },
}

/// What came of taking a held amount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Capture {
    Captured,
    /// The hold cannot be taken (expired, cancelled, declined at capture): no money moved.
    Failed {
        reason: String,
    },
}

/// What came of releasing a hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Void {
    Voided,
    /// The hold was captured meanwhile: the money must be refunded instead.
    AlreadyCaptured,
}

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// The provider could not be reached or answered with an error of its own: retry.
    #[error("the payment provider failed: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait PaymentGateway: Send + Sync {
    /// Holds `amount` on the payment method for the order, without taking it.
    async fn authorize(
        &self,
        payment_method: &str,
        amount: &Money,
        order_id: &str,
        idempotency_key: &str,
    ) -> Result<Authorization, PaymentError>;
    /// Takes the held amount.
    async fn capture(&self, authorization_id: &str, idempotency_key: &str) -> Result<Capture, PaymentError>;
    /// Releases a hold that was never captured.
    async fn void(&self, authorization_id: &str, idempotency_key: &str) -> Result<Void, PaymentError>;
    /// Gives a captured amount back in full.
    async fn refund(&self, authorization_id: &str, idempotency_key: &str) -> Result<(), PaymentError>;
}

/// The idempotency key of one payment step of one order: the same on every retry and
/// redelivery of that step, different for every other.
pub fn step_key(step: &str, order_id: &str) -> String {
    format!("bookish-{step}-{order_id}")
}
