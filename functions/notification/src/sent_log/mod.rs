//! The sent log: the record that makes each (order, status, channel) go out once, however
//! often SQS delivers the event. Its port, and its adapters (DynamoDB, in-memory).
//!
//! The protocol, per notice and channel:
//! 1. `claim`: a conditional write that succeeds only if nothing is recorded yet, or if a
//!    claim is still SENDING but older than [`STALE_AFTER`] (its delivery crashed: a
//!    function runs for at most 10 s, so a claim that old has no live owner).
//! 2. A claim held by a SENT record means skip; a fresh SENDING claim means another
//!    delivery is sending right now, so this one fails and is retried later.
//! 3. Send; then `mark_sent`. If the send fails, `release` removes our claim so the retry
//!    need not wait for it to go stale.
//!
//! The window that remains: a crash after the provider took the message but before
//! `mark_sent` leaves a SENDING claim, and the retry sends again once it is stale (one
//! duplicate, 60 s later). SES and SNS take no idempotency key, so no protocol on our side
//! can close it; it is as small as two consecutive calls.

mod dynamodb;
mod memory;

pub use dynamodb::DynamoSentLog;
pub use memory::MemorySentLog;

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

use crate::order::{OrderId, Status};

/// A SENDING claim older than this belongs to a delivery that died (Lambda timeout 10 s).
pub const STALE_AFTER: Duration = Duration::seconds(60);

/// Records expire (DynamoDB TTL on `expiresAt`) long after SQS could redeliver the event:
/// a queue keeps a message 14 days at most.
pub const RETENTION: Duration = Duration::days(90);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
        }
    }
}

/// What is sent at most once: one channel's message about one status of one order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SentKey {
    pub order_id: OrderId,
    pub status: Status,
    pub channel: Channel,
}

impl SentKey {
    pub fn new(order_id: &OrderId, status: Status, channel: Channel) -> Self {
        Self { order_id: order_id.clone(), status, channel }
    }

    /// `SENT#<orderId>#<status>#<channel>`; order ids hold no `#`, so keys cannot collide.
    pub fn pk(&self) -> String {
        format!("SENT#{}#{}#{}", self.order_id, self.status.as_str(), self.channel.as_str())
    }
}

/// Proof of a claim: releasing it removes only our own, never a later delivery's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimToken(pub String);

impl ClaimToken {
    pub fn new() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }
}

impl Default for ClaimToken {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Ours to send.
    Acquired(ClaimToken),
    /// Sent before: nothing to do.
    AlreadySent,
    /// Another delivery claimed it less than [`STALE_AFTER`] ago.
    InProgress,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SentState {
    Sending,
    Sent,
}

impl SentState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sending => "SENDING",
            Self::Sent => "SENT",
        }
    }

    pub fn parse(state: &str) -> Option<Self> {
        match state {
            "SENDING" => Some(Self::Sending),
            "SENT" => Some(Self::Sent),
            _ => None,
        }
    }
}

/// What the log holds for one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentRecord {
    pub state: SentState,
    pub claimed_at: String,
    pub sent_at: Option<String>,
    /// The provider's id for the message (SES message id, SNS message id).
    pub message_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("the sent log failed: {0}")]
pub struct SentLogError(pub String);

#[async_trait]
pub trait SentLog: Send + Sync {
    /// Claims the right to send, atomically (see the module docs).
    async fn claim(&self, key: &SentKey, now: OffsetDateTime) -> Result<Claim, SentLogError>;

    /// Records that the message went out. Unconditional: even if our claim went stale
    /// and another delivery took it over, the message was sent.
    async fn mark_sent(&self, key: &SentKey, message_id: &str, now: OffsetDateTime) -> Result<(), SentLogError>;

    /// Gives up a claim after a failed send. Does nothing if the claim is no longer ours.
    async fn release(&self, key: &SentKey, token: &ClaimToken) -> Result<(), SentLogError>;

    async fn get(&self, key: &SentKey) -> Result<Option<SentRecord>, SentLogError>;
}

/// Whole-second UTC RFC 3339. Being fixed-width, these compare as strings in time order,
/// which the DynamoDB claim condition (`claimedAt < :stale`) relies on.
pub fn timestamp(now: OffsetDateTime) -> String {
    bookish_shared::events::rfc3339(now.to_offset(time::UtcOffset::UTC))
}
