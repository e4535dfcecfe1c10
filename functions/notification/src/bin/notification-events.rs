//! Lambda entry point for NotificationQueue: emails and texts shoppers about their orders.

use aws_lambda_events::event::sqs::SqsEvent;
use bookish_shared::{aws_client, config, sqs, telemetry};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use notification::consumer;
use notification::directory::CognitoDirectory;
use notification::mailer::SesMailer;
use notification::render::Subjects;
use notification::sent_log::DynamoSentLog;
use notification::service::Ports;
use notification::sms::SnsSms;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(env!("CARGO_PKG_NAME"), env!("CARGO_BIN_NAME"));
    // One SDK configuration for the four clients. Locally AWS_ENDPOINT_URL points it at moto.
    let aws = bookish_shared::aws::config();
    let sent = DynamoSentLog::new(aws_client!(aws_sdk_dynamodb, &aws), config::required("SENT_TABLE")?);
    let mailer = SesMailer::new(aws_client!(aws_sdk_sesv2, &aws), config::required("SENDER_EMAIL")?);
    let sms = SnsSms::new(aws_client!(aws_sdk_sns, &aws));
    let directory =
        CognitoDirectory::new(aws_client!(aws_sdk_cognitoidentityprovider, &aws), config::required("USER_POOL_ID")?);
    let subjects = Subjects::from_env();
    let ports = Ports { mailer: &mailer, sms: &sms, sent: &sent, directory: &directory, subjects: &subjects };
    let ports = &ports;
    telemetry::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let deadline = sqs::deadline_of(event.context.deadline);
        Ok::<_, Error>(consumer::handle_batch(ports, event.payload, &event.context.request_id, deadline).await)
    }))
    .await
}
