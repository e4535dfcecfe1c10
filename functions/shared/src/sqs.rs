//! SQS on both ends: publishing envelopes, and consuming a Lambda batch with partial
//! batch failure reporting (`ReportBatchItemFailures`), so one bad message is retried
//! (and, after the queue's maxReceiveCount, dead-lettered) without its batch.

use std::future::Future;
use std::sync::Mutex;

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::MessageAttributeValue;
use serde::Serialize;
use tracing::Instrument;

use crate::events::Envelope;

pub type ConsumerError = Box<dyn std::error::Error + Send + Sync>;

/// Handles each record of a batch in turn and reports the ones that failed. A body that
/// is not an event envelope fails like any other error. Every log line carries the Lambda
/// `request_id` and, once the envelope is read, its correlation id.
pub async fn for_each_record<F, Fut>(event: SqsEvent, request_id: &str, handle: F) -> SqsBatchResponse
where
    F: Fn(Envelope<serde_json::Value>) -> Fut,
    Fut: Future<Output = Result<(), ConsumerError>>,
{
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let message_id = record.message_id.clone().unwrap_or_default();
        let receive_count = record.attributes.get("ApproximateReceiveCount").cloned().unwrap_or_default();
        let envelope: Result<Envelope<serde_json::Value>, _> =
            serde_json::from_str(record.body.as_deref().unwrap_or(""));
        let result = match envelope {
            Err(err) => {
                tracing::error!(request_id, message_id, receive_count, error = %err, "message is not an event envelope");
                Err(err.into())
            }
            Ok(envelope) => {
                let span = tracing::info_span!(
                    "message",
                    request_id,
                    message_id,
                    event_id = %envelope.event_id,
                    event_type = %envelope.kind,
                    correlation_id = %envelope.correlation_id,
                );
                async {
                    let result = handle(envelope).await;
                    match &result {
                        Ok(()) => tracing::info!(receive_count, "handled"),
                        Err(err) => tracing::warn!(receive_count, error = %err, "failed; will be retried"),
                    }
                    result
                }
                .instrument(span)
                .await
            }
        };
        if result.is_err() {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message_id;
            response.batch_item_failures.push(failure);
        }
    }
    response
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
    pub async fn from_env() -> Self {
        let config = crate::aws::config().await;
        Self { client: aws_sdk_sqs::Client::new(&config) }
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
        self.client
            .send_message()
            .queue_url(queue_url)
            .message_body(body)
            // Attributes let an operator filter a DLQ by type or correlation id without parsing.
            .message_attributes("type", attribute(kind))
            .message_attributes("correlationId", attribute(correlation_id))
            .send()
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
    use aws_lambda_events::event::sqs::SqsMessage;

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
}
