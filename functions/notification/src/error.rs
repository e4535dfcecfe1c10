//! The notification service's errors. Any of them fails the one message it happened on
//! (a batch item failure): SQS redelivers it, and after the queue's maxReceiveCount it
//! lands in NotificationDLQ, whose alarm tells an operator.

use crate::directory::DirectoryError;
use crate::sent_log::SentLogError;

#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    /// The event cannot be read. Retrying will not help; the DLQ keeps it for a person.
    #[error("the event is malformed: {0}")]
    Malformed(String),
    /// Another delivery of the same event claimed this notice moments ago and may be
    /// sending it right now: try again once its claim is settled or stale.
    #[error("{0} is being sent by another delivery")]
    InProgress(String),
    #[error(transparent)]
    Send(#[from] SendError),
    #[error(transparent)]
    SentLog(#[from] SentLogError),
    #[error(transparent)]
    Directory(#[from] DirectoryError),
}

/// A channel (SES, SNS) refused or failed to take a message.
#[derive(Debug, thiserror::Error)]
#[error("could not send the {channel}: {cause}")]
pub struct SendError {
    pub channel: &'static str,
    pub cause: String,
}
