//! SQS on both ends: publishing envelopes, and consuming a Lambda batch with partial
//! batch failure reporting (`ReportBatchItemFailures`), so one bad message is retried
//! (and, after the queue's maxReceiveCount, dead-lettered) without its batch.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeNameForSends, MessageSystemAttributeValue};
use serde::Serialize;
use tracing::Instrument;

use crate::events::Envelope;
use crate::telemetry;

pub type ConsumerError = Box<dyn std::error::Error + Send + Sync>;

/// Handles each record of a batch in turn and reports the ones that failed. A body that
/// is not an event envelope fails like any other error. Every log line carries the Lambda
/// `request_id` and, once the envelope is read, its correlation id.
pub async fn for_each_record<F, Fut>(event: SqsEvent, request_id: &str, handle: F) -> SqsBatchResponse
where
    F: Fn(Envelope<serde_json::Value>) -> Fut,
    Fut: Future<Output = Result<(), ConsumerError>>,
{
    for_each_record_until(event, request_id, None, handle).await
}

/// How long before the invocation's deadline a consumer stops, to answer in time.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(1500);

/// `for_each_record`, stopping `DEADLINE_MARGIN` before `deadline` (the Lambda context's):
/// the record being handled then is cut short, and it and every record not reached are
/// reported as failures, so SQS delivers them again instead of the whole batch timing
/// out. Cutting a handler short is safe because every step a consumer takes is recorded
/// and idempotent.
pub async fn for_each_record_until<F, Fut>(
    event: SqsEvent,
    request_id: &str,
    deadline: Option<SystemTime>,
    handle: F,
) -> SqsBatchResponse
where
    F: Fn(Envelope<serde_json::Value>) -> Fut,
    Fut: Future<Output = Result<(), ConsumerError>>,
{
    let mut response = SqsBatchResponse::default();
    let mut out_of_time = false;
    let size = event.records.len();
    for record in event.records {
        let message_id = record.message_id.clone().unwrap_or_default();
        let left =
            deadline.map(|d| d.duration_since(SystemTime::now()).unwrap_or_default().saturating_sub(DEADLINE_MARGIN));
        out_of_time |= left.is_some_and(|left| left.is_zero());
        let result = if out_of_time {
            Err("not reached before the deadline".into())
        } else {
            let handled = handle_one(&record, request_id, &handle);
            match left {
                None => handled.await,
                Some(left) => tokio::time::timeout(left, handled).await.unwrap_or_else(|_| {
                    out_of_time = true;
                    tracing::warn!(request_id, message_id, "cut short by the deadline; will be retried");
                    Err("cut short by the deadline".into())
                }),
            }
        };
        if result.is_err() {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message_id;
            response.batch_item_failures.push(failure);
        }
    }
    if out_of_time {
        tracing::warn!(request_id, left = response.batch_item_failures.len(), "stopped for the deadline");
    }
    crate::metrics::batch(size, response.batch_item_failures.len());
    response
}

async fn handle_one<F, Fut>(record: &SqsMessage, request_id: &str, handle: &F) -> Result<(), ConsumerError>
where
    F: Fn(Envelope<serde_json::Value>) -> Fut,
    Fut: Future<Output = Result<(), ConsumerError>>,
{
    let message_id = record.message_id.as_deref().unwrap_or_default();
    let receive_count = record.attributes.get("ApproximateReceiveCount").cloned().unwrap_or_default();
    let envelope: Envelope<serde_json::Value> = match serde_json::from_str(record.body.as_deref().unwrap_or("")) {
        Err(err) => {
            tracing::error!(request_id, message_id, receive_count, error = %err, "message is not an event envelope");
            return Err(err.into());
        }
        Ok(envelope) => envelope,
    };
    let queue = record.event_source_arn.as_deref().and_then(|arn| arn.rsplit(':').next()).unwrap_or("queue");
    let span = tracing::info_span!(
        "message",
        request_id,
        message_id,
        event_id = %envelope.event_id,
        event_type = %envelope.kind,
        correlation_id = %envelope.correlation_id,
        "otel.name" = %format!("{queue} process {}", envelope.kind),
        "otel.kind" = "consumer",
        "messaging.destination.name" = queue,
        "messaging.wait_ms" = waited_ms(record),
        "order.id" = envelope.data.get("orderId").and_then(|id| id.as_str()).unwrap_or_default(),
        "otel.status_code" = tracing::field::Empty,
    );
    // The span that sent the message is this one's parent: the trace crosses the queue.
    telemetry::trace::adopt(&span, record.attributes.get(TRACE_ATTRIBUTE).map(String::as_str));
    async {
        let result = handle(envelope).await;
        match &result {
            Ok(()) => tracing::info!(receive_count, "handled"),
            Err(err) => {
                tracing::Span::current().record("otel.status_code", "error");
                tracing::warn!(receive_count, error = %err, "failed; will be retried")
            }
        }
        result
    }
    .instrument(span)
    .await
}

/// The SQS system attribute that carries an X-Ray trace header across a queue.
const TRACE_ATTRIBUTE: &str = "AWSTraceHeader";

/// How long the message waited in its queue: from when SQS accepted it until now.
fn waited_ms(record: &SqsMessage) -> u64 {
    let sent_ms = record.attributes.get("SentTimestamp").and_then(|t| t.parse::<u64>().ok());
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
    sent_ms.map_or(0, |sent| now_ms.saturating_sub(sent))
}

/// The deadline of a Lambda invocation (its context's milliseconds since the epoch), or
/// `None` when it is not one Lambda would give: already past as the invocation starts, or
/// further off than Lambda's 15-minute maximum. Emulators send such values (`cargo lambda
/// watch` sends the constant 600,000), and a deadline in 1970 would stop every batch.
pub fn deadline_of(deadline_ms: u64) -> Option<SystemTime> {
    let deadline = UNIX_EPOCH + Duration::from_millis(deadline_ms);
    let left = deadline.duration_since(SystemTime::now()).ok()?;
    (left <= Duration::from_secs(15 * 60)).then_some(deadline)
}

#[derive(Debug, thiserror::Error)]
#[error("could not publish to {queue}: {cause}")]
pub struct PublishError {
    pub queue: String,
    pub cause: String,
}

/// Sends event envelopes to queues.
#[async_trait]
pub trait Publisher: Send + Sync {
    async fn publish_json(
        &self,
        queue_url: &str,
        kind: &str,
        correlation_id: &str,
        body: String,
    ) -> Result<(), PublishError>;
}

pub async fn publish<T: Serialize + Sync>(
    publisher: &dyn Publisher,
    queue_url: &str,
    event: &Envelope<T>,
) -> Result<(), PublishError> {
    let body = serde_json::to_string(event).expect("events always serialize");
    publisher.publish_json(queue_url, &event.kind, &event.correlation_id, body).await
}

pub struct SqsPublisher {
    client: aws_sdk_sqs::Client,
}

impl SqsPublisher {
    pub fn new(aws: &aws_config::SdkConfig) -> Self {
        Self { client: crate::aws_client!(aws_sdk_sqs, aws) }
    }
}

fn attribute(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .expect("string attributes always build")
}

#[async_trait]
impl Publisher for SqsPublisher {
    async fn publish_json(
        &self,
        queue_url: &str,
        kind: &str,
        correlation_id: &str,
        body: String,
    ) -> Result<(), PublishError> {
        let queue = queue_url.rsplit('/').next().unwrap_or(queue_url);
        let span = tracing::info_span!(
            "publish",
            "otel.name" = %format!("{queue} publish {kind}"),
            "otel.kind" = "producer",
            "messaging.destination.name" = queue,
        );
        let mut send = self
            .client
            .send_message()
            .queue_url(queue_url)
            .message_body(body)
            // Attributes let an operator filter a DLQ by type or correlation id without parsing.
            .message_attributes("type", attribute(kind))
            .message_attributes("correlationId", attribute(correlation_id));
        if let Some(header) = span.in_scope(telemetry::trace_header) {
            send = send.message_system_attributes(
                MessageSystemAttributeNameForSends::AwsTraceHeader,
                MessageSystemAttributeValue::builder()
                    .data_type("String")
                    .string_value(header)
                    .build()
                    .expect("string attributes always build"),
            );
        }
        send.send()
            .instrument(span)
            .await
            .map_err(|e| PublishError { queue: queue_url.to_owned(), cause: DisplayErrorContext(&e).to_string() })?;
        Ok(())
    }
}

/// Records what would have been sent, for tests.
#[derive(Default)]
pub struct MemoryPublisher {
    pub sent: Mutex<Vec<(String, serde_json::Value)>>,
    /// When set, every publish fails, to test what happens then.
    pub failing: std::sync::atomic::AtomicBool,
}

impl MemoryPublisher {
    /// The event bodies sent to one queue, in order.
    pub fn sent_to(&self, queue_url: &str) -> Vec<serde_json::Value> {
        self.sent.lock().unwrap().iter().filter(|(q, _)| q == queue_url).map(|(_, body)| body.clone()).collect()
    }
}

#[async_trait]
impl Publisher for MemoryPublisher {
    async fn publish_json(
        &self,
        queue_url: &str,
        _kind: &str,
        _correlation_id: &str,
        body: String,
    ) -> Result<(), PublishError> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(PublishError { queue: queue_url.to_owned(), cause: "failing on purpose".into() });
        }
        let body = serde_json::from_str(&body).expect("published bodies are JSON");
        self.sent.lock().unwrap().push((queue_url.to_owned(), body));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, body: &str) -> SqsMessage {
        let mut message = SqsMessage::default();
        message.message_id = Some(id.into());
        message.body = Some(body.into());
        message
    }

    #[tokio::test]
    async fn reports_only_the_records_that_failed() {
        let mut event = SqsEvent::default();
        let ok = r#"{"eventId":"e1","type":"Good","version":1,"occurredAt":"t","correlationId":"c","data":{}}"#;
        let bad = r#"{"eventId":"e2","type":"Bad","version":1,"occurredAt":"t","correlationId":"c","data":{}}"#;
        event.records = vec![message("m1", ok), message("m2", "not json"), message("m3", bad), message("m4", ok)];
        let response = for_each_record(event, "request-1", |envelope| async move {
            if envelope.kind == "Bad" {
                Err("refused".into())
            } else {
                Ok(())
            }
        })
        .await;
        let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        assert_eq!(failed, ["m2", "m3"]);
    }

    fn batch(kinds: &[&str]) -> SqsEvent {
        let mut event = SqsEvent::default();
        event.records = kinds
            .iter()
            .enumerate()
            .map(|(i, kind)| {
                let body = format!(r#"{{"eventId":"e{i}","type":"{kind}","version":1,"occurredAt":"t","correlationId":"c","data":{{}}}}"#);
                message(&format!("m{i}"), &body)
            })
            .collect();
        event
    }

    fn failed(response: &SqsBatchResponse) -> Vec<&str> {
        response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect()
    }

    #[tokio::test]
    async fn a_batch_past_its_deadline_is_handed_back_untouched() {
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let deadline = SystemTime::now() + DEADLINE_MARGIN / 2;
        let response = for_each_record_until(batch(&["Fast", "Fast"]), "r", Some(deadline), |_| async {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        })
        .await;
        assert_eq!(failed(&response), ["m0", "m1"]);
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_slow_record_is_cut_short_and_the_rest_reported_unreached() {
        let deadline = SystemTime::now() + DEADLINE_MARGIN + Duration::from_millis(300);
        let response =
            for_each_record_until(batch(&["Fast", "Slow", "Fast"]), "r", Some(deadline), |envelope| async move {
                if envelope.kind == "Slow" {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
                Ok(())
            })
            .await;
        assert_eq!(failed(&response), ["m1", "m2"], "the first was handled; the rest go back to the queue");
    }

    #[test]
    fn only_a_plausible_deadline_counts() {
        let ms = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let soon = SystemTime::now() + Duration::from_secs(10);
        assert!(deadline_of(ms(soon)).is_some());
        assert_eq!(deadline_of(600_000), None, "cargo lambda watch's constant");
        assert_eq!(deadline_of(ms(SystemTime::now() + Duration::from_secs(3600))), None);
    }
}
