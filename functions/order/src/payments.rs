//! Payments go through this port. The default provider is a sandbox that behaves like a
//! card processor's test mode; a real processor (Stripe, Adyen, …) plugs in behind the
//! same trait. Every call carries an idempotency key, as real processors accept, so a
//! retried capture or refund never charges or refunds twice.

use async_trait::async_trait;
use bookish_shared::money::Money;
use sha2::{Digest, Sha256};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Authorization {
    Approved { authorization_id: String },
    Declined,
}

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error("the payment token is not one this processor knows")]
    InvalidToken,
    #[error("the payment processor failed: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait PaymentGateway: Send + Sync {
    /// Holds `amount` on the card without taking it.
    async fn authorize(
        &self,
        token: &str,
        amount: &Money,
        idempotency_key: &str,
    ) -> Result<Authorization, PaymentError>;
    /// Takes the held amount.
    async fn capture(&self, authorization_id: &str, idempotency_key: &str) -> Result<(), PaymentError>;
    /// Releases a hold that was never captured.
    async fn void(&self, authorization_id: &str, idempotency_key: &str) -> Result<(), PaymentError>;
    /// Gives a captured amount back.
    async fn refund(&self, authorization_id: &str, idempotency_key: &str) -> Result<(), PaymentError>;
}

/// Test-mode processor: `tok_visa` is approved, `tok_chargeDeclined` is declined, any
/// other token is invalid. Authorization ids derive from the idempotency key, so a retried
/// authorization returns the same id.
pub struct SandboxPayments;

pub const APPROVED_TOKEN: &str = "tok_visa";
pub const DECLINED_TOKEN: &str = "tok_chargeDeclined";

#[async_trait]
impl PaymentGateway for SandboxPayments {
    async fn authorize(
        &self,
        token: &str,
        amount: &Money,
        idempotency_key: &str,
    ) -> Result<Authorization, PaymentError> {
        match token {
            APPROVED_TOKEN => {
                let digest = Sha256::digest(idempotency_key.as_bytes());
                let id: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
                tracing::info!(amount = amount.amount, currency = amount.currency.as_str(), "sandbox: authorized");
                Ok(Authorization::Approved { authorization_id: format!("auth_{id}") })
            }
            DECLINED_TOKEN => Ok(Authorization::Declined),
            _ => Err(PaymentError::InvalidToken),
        }
    }

    async fn capture(&self, authorization_id: &str, _idempotency_key: &str) -> Result<(), PaymentError> {
        tracing::info!(authorization_id, "sandbox: captured");
        Ok(())
    }

    async fn void(&self, authorization_id: &str, _idempotency_key: &str) -> Result<(), PaymentError> {
        tracing::info!(authorization_id, "sandbox: voided");
        Ok(())
    }

    async fn refund(&self, authorization_id: &str, _idempotency_key: &str) -> Result<(), PaymentError> {
        tracing::info!(authorization_id, "sandbox: refunded");
        Ok(())
    }
}
