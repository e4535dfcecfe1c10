//! SQS in: each event of a NotificationQueue batch to the rules, with failures reported
//! per message (`ReportBatchItemFailures`), so one bad message does not hold up its batch.

use std::time::SystemTime;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bookish_shared::events::Envelope;
use bookish_shared::sqs::{self, ConsumerError};
use time::OffsetDateTime;

use crate::service::{self, Ports};

/// One batch, stopping before `deadline` (see `sqs::for_each_record_until`).
pub async fn handle_batch(
    ports: &Ports<'_>,
    event: SqsEvent,
    request_id: &str,
    deadline: Option<SystemTime>,
) -> SqsBatchResponse {
    sqs::for_each_record_until(event, request_id, deadline, |envelope| handle(ports, envelope)).await
}

/// The order events this service reads, each with the version it reads
/// (contracts/README.md). Any other version of them is refused, and dead-lettered.
pub const ACCEPTS: &[(&str, u32)] = &[("OrderConfirmed", 1), ("OrderRejected", 1), ("OrderCancelled", 1)];

pub async fn handle(ports: &Ports<'_>, envelope: Envelope<serde_json::Value>) -> Result<(), ConsumerError> {
    envelope.check_version(ACCEPTS)?;
    if let Some(report) = service::on_event(ports, envelope, OffsetDateTime::now_utc()).await? {
        tracing::info!(email = ?report.email, sms = ?report.sms, "notified");
    }
    Ok(())
}
