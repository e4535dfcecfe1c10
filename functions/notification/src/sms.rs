//! The port text messages go out through, with its SNS adapter and an in-memory one for tests.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use aws_sdk_sns::error::DisplayErrorContext;
use aws_sdk_sns::types::MessageAttributeValue;
use bookish_shared::metrics::{self, Dependency};

use crate::error::SendError;

#[async_trait]
pub trait SmsSender: Send + Sync {
    /// Sends one text to an E.164 number; returns the provider's message id.
    async fn send(&self, phone: &str, text: &str) -> Result<String, SendError>;
}

fn failed(cause: impl Into<String>) -> SendError {
    SendError { channel: "SMS", cause: cause.into() }
}

/// SNS `Publish` straight to a phone number (no topic).
pub struct SnsSms {
    client: aws_sdk_sns::Client,
}

impl SnsSms {
    pub fn new(client: aws_sdk_sns::Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl SmsSender for SnsSms {
    async fn send(&self, phone: &str, text: &str) -> Result<String, SendError> {
        // Order updates are transactional: SNS routes them for reliability, not lowest cost.
        let sms_type = MessageAttributeValue::builder()
            .data_type("String")
            .string_value("Transactional")
            .build()
            .map_err(|e| failed(e.to_string()))?;
        let call = self
            .client
            .publish()
            .phone_number(phone)
            .message(text)
            .message_attributes("AWS.SNS.SMS.SMSType", sms_type)
            .send();
        let output =
            metrics::timed(Dependency::Sns, call).await.map_err(|e| failed(DisplayErrorContext(&e).to_string()))?;
        Ok(output.message_id().unwrap_or_default().to_owned())
    }
}

/// Keeps what would have been sent, for tests: `(phone, text)` pairs.
#[derive(Default)]
pub struct MemorySms {
    pub sent: Mutex<Vec<(String, String)>>,
    /// When set, every send fails, to test what happens then.
    pub failing: AtomicBool,
}

impl MemorySms {
    pub fn sent(&self) -> Vec<(String, String)> {
        self.sent.lock().unwrap().clone()
    }

    pub fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

#[async_trait]
impl SmsSender for MemorySms {
    async fn send(&self, phone: &str, text: &str) -> Result<String, SendError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(failed("failing on purpose"));
        }
        let mut sent = self.sent.lock().unwrap();
        sent.push((phone.to_owned(), text.to_owned()));
        Ok(format!("memory-sms-{}", sent.len()))
    }
}
