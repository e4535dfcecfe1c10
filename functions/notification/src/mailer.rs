//! The port emails go out through, with its SES v2 adapter and an in-memory one for tests.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use aws_sdk_sesv2::error::DisplayErrorContext;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use bookish_shared::metrics::{self, Dependency};

use crate::error::SendError;

/// An email ready to go: one recipient, a subject, and the same message as HTML and text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub html: String,
    pub text: String,
}

#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one email; returns the provider's message id.
    async fn send(&self, email: &Email) -> Result<String, SendError>;
}

fn failed(cause: impl Into<String>) -> SendError {
    SendError { channel: "email", cause: cause.into() }
}

/// SES v2 `SendEmail` with simple content, from the configured sender identity.
pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    from: String,
}

impl SesMailer {
    /// `from` must be an identity verified in SES (template parameter `SenderEmail`).
    pub fn new(client: aws_sdk_sesv2::Client, from: impl Into<String>) -> Self {
        Self { client, from: from.into() }
    }
}

fn utf8(data: &str) -> Result<Content, SendError> {
    Content::builder().data(data).charset("UTF-8").build().map_err(|e| failed(e.to_string()))
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, email: &Email) -> Result<String, SendError> {
        let body = Body::builder().html(utf8(&email.html)?).text(utf8(&email.text)?).build();
        let message = Message::builder().subject(utf8(&email.subject)?).body(body).build();
        let call = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&email.to).build())
            .content(EmailContent::builder().simple(message).build())
            .send();
        let output =
            metrics::timed(Dependency::Ses, call).await.map_err(|e| failed(DisplayErrorContext(&e).to_string()))?;
        Ok(output.message_id().unwrap_or_default().to_owned())
    }
}

/// Keeps what would have been sent, for tests.
#[derive(Default)]
pub struct MemoryMailer {
    pub sent: Mutex<Vec<Email>>,
    /// When set, every send fails, to test what happens then.
    pub failing: AtomicBool,
}

impl MemoryMailer {
    pub fn sent(&self) -> Vec<Email> {
        self.sent.lock().unwrap().clone()
    }

    pub fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

#[async_trait]
impl Mailer for MemoryMailer {
    async fn send(&self, email: &Email) -> Result<String, SendError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(failed("failing on purpose"));
        }
        let mut sent = self.sent.lock().unwrap();
        sent.push(email.clone());
        Ok(format!("memory-email-{}", sent.len()))
    }
}
