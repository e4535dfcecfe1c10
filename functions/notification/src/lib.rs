//! Notification service: tells shoppers by email (SES v2) and, when their account has a
//! verified phone number, by SMS (SNS) that their order was confirmed, rejected or
//! cancelled. Only verified contacts are ever written to: the order's (recorded from the
//! shopper's token when it said they were verified), else the account's (`directory`).
//!
//! Owns the sent table (`SentTable`), which makes each (order, status) produce exactly
//! one email and at most one SMS however often SQS delivers the event. Consumes
//! OrderConfirmed, OrderRejected and OrderCancelled from `NotificationQueue` (published
//! by the order service's outbox relay). Publishes nothing.
//!
//! - `order`: what the events carry, parsed into a `Notice`.
//! - `render`: the email (subjects from configuration, HTML and text bodies) and the SMS.
//! - `service`: the rules, written against the `Mailer`, `SmsSender` and `SentLog` ports.
//! - `mailer`, `sms`, `sent_log`, `directory`: the ports and their adapters (SES v2, SNS,
//!   DynamoDB, Cognito) beside in-memory ones for tests.
//! - `consumer`: SQS batches in, partial batch failures out, for `notification-events`.

pub mod consumer;
pub mod directory;
pub mod error;
pub mod mailer;
pub mod order;
pub mod render;
pub mod sent_log;
pub mod service;
pub mod sms;

pub use error::NotificationError;
