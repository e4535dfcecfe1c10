//! `order-publisher`: the outbox relay. The orders table's stream delivers each new outbox
//! item; this sends its event to the queues that consume that type. Stream delivery is
//! at least once, so a relayed event may arrive twice: every consumer is idempotent.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use std::time::SystemTime;

use bookish_shared::sqs::{Publisher, DEADLINE_MARGIN};
use bookish_shared::telemetry::trace;
use tracing::Instrument;

/// The outbox item's attribute holding the X-Ray header of the span that wrote it.
pub const TRACE_HEADER_ATTRIBUTE: &str = "traceHeader";

/// Where each order event goes.
pub struct Routes {
    pub inventory_queue: String,
    pub notification_queue: String,
}

impl Routes {
    pub fn destinations(&self, event_type: &str) -> Vec<&str> {
        match event_type {
            "OrderPlaced" => vec![&self.inventory_queue],
            "OrderConfirmed" => vec![&self.notification_queue],
            // Inventory releases what a rejected or cancelled order may hold.
            "OrderRejected" | "OrderCancelled" => vec![&self.inventory_queue, &self.notification_queue],
            _ => vec![],
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Head {
    #[serde(rename = "type")]
    kind: String,
    correlation_id: String,
    #[serde(default)]
    data: HeadData,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct HeadData {
    order_id: Option<String>,
}

/// Relays the batch in order and stops at the first failure, reporting it: Lambda then
/// retries the stream from that record, keeping the order of events. Near `deadline` it
/// stops the same way, before the record it has no time for.
pub async fn relay(
    publisher: &dyn Publisher,
    routes: &Routes,
    event: Event,
    deadline: Option<SystemTime>,
) -> DynamoDbEventResponse {
    let size = event.records.len();
    let response = relay_records(publisher, routes, event, deadline).await;
    bookish_shared::metrics::batch(size, response.batch_item_failures.len());
    response
}

async fn relay_records(
    publisher: &dyn Publisher,
    routes: &Routes,
    event: Event,
    deadline: Option<SystemTime>,
) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    for record in event.records {
        let sequence = record.change.sequence_number.clone().unwrap_or_default();
        if deadline.is_some_and(|d| d.duration_since(SystemTime::now()).unwrap_or_default() < DEADLINE_MARGIN) {
            tracing::warn!(sequence, "stopped for the deadline; the stream resumes here");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(sequence);
            response.batch_item_failures.push(failure);
            return response;
        }
        let body = match record.change.new_image.get("event") {
            Some(serde_dynamo::AttributeValue::S(body)) => body.clone(),
            _ => {
                tracing::warn!(sequence, "stream record is not an outbox event; skipped");
                continue;
            }
        };
        let head: Head = match serde_json::from_str(&body) {
            Ok(head) => head,
            Err(err) => {
                // A malformed outbox item can never succeed: skip it rather than block the stream.
                tracing::error!(sequence, error = %err, "outbox event is not an envelope; skipped");
                continue;
            }
        };
        // One span per record, under the span that wrote the outbox item: the checkout's
        // trace continues through the stream instead of starting again here.
        let span = tracing::info_span!(
            "relay",
            "otel.name" = %format!("relay {}", head.kind),
            "otel.kind" = "consumer",
            "order.id" = head.data.order_id.as_deref().unwrap_or_default(),
            "messaging.wait_ms" = waited_ms(&record.change),
            "otel.status_code" = tracing::field::Empty,
        );
        let writer = match record.change.new_image.get(TRACE_HEADER_ATTRIBUTE) {
            Some(serde_dynamo::AttributeValue::S(header)) => Some(header.as_str()),
            _ => None,
        };
        trace::adopt(&span, writer);
        if let Err(err) = relay_one(publisher, routes, &head, &body).instrument(span.clone()).await {
            span.record("otel.status_code", "error");
            tracing::error!(sequence, correlation_id = head.correlation_id, error = %err, "relay failed; the stream will retry");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(sequence);
            response.batch_item_failures.push(failure);
            return response;
        }
        tracing::info!(sequence, event_type = head.kind, correlation_id = head.correlation_id, "relayed");
    }
    response
}

async fn relay_one(
    publisher: &dyn Publisher,
    routes: &Routes,
    head: &Head,
    body: &str,
) -> Result<(), bookish_shared::sqs::PublishError> {
    for queue in routes.destinations(&head.kind) {
        publisher.publish_json(queue, &head.kind, &head.correlation_id, body.to_owned()).await?;
    }
    Ok(())
}

/// How long the outbox item waited for the stream: from its write (as DynamoDB stamps
/// the record, to the second) until now.
fn waited_ms(change: &aws_lambda_events::event::dynamodb::StreamRecord) -> u64 {
    let now_ms = SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis();
    u64::try_from(now_ms)
        .unwrap_or(0)
        .saturating_sub(change.approximate_creation_date_time.timestamp_millis().max(0) as u64)
}
