//! `notification-events` over in-memory ports (in AWS: SES v2, SNS, DynamoDB and Cognito).

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::LambdaEvent;
use notification::consumer;
use notification::render::Subjects;
use notification::sent_log::MemorySentLog;
use notification::service::MemoryPorts;

use crate::fixtures::fixture;
use crate::invocation::Runtime;
use crate::runner::{Case, Meta, Success};

/// `notification-events`: an OrderConfirmed, emailed and texted to the shopper. Every
/// iteration starts with nothing sent, so it is a first delivery, not a no-op redelivery.
pub struct NotificationEvents {
    meta: Meta,
    event: Vec<u8>,
    service: MemoryPorts,
    runtime: Runtime,
}

impl NotificationEvents {
    const FUNCTION: &'static str = "notification-events";

    pub async fn order_confirmed() -> Self {
        Self {
            meta: Meta { function: Self::FUNCTION, route: "SQS OrderConfirmed", success: Success::NoBatchItemFailures },
            event: fixture!("notification/order-confirmed.json").bytes(),
            service: MemoryPorts::new(Subjects::from_env()),
            runtime: Runtime::new(Self::FUNCTION),
        }
    }
}

impl Case for NotificationEvents {
    fn meta(&self) -> &Meta {
        &self.meta
    }

    async fn next_event(&mut self) -> Vec<u8> {
        self.service.mailer.sent.lock().expect("mailer lock").clear();
        self.service.sms.sent.lock().expect("sms lock").clear();
        self.service.sent = MemorySentLog::default();
        self.event.clone()
    }

    async fn invoke(&self, event: &[u8]) -> Vec<u8> {
        let ports = &self.service.ports();
        self.runtime
            .invoke(event, |event: LambdaEvent<SqsEvent>| async move {
                consumer::handle_batch(ports, event.payload, &event.context.request_id, None).await
            })
            .await
    }

    fn check_effect(&self) -> Result<(), String> {
        let emails = self.service.mailer.sent.lock().expect("mailer lock").len();
        let texts = self.service.sms.sent.lock().expect("sms lock").len();
        match (emails, texts) {
            (1, 1) => Ok(()),
            _ => Err(format!("expected one email and one text, sent {emails} and {texts}")),
        }
    }
}
