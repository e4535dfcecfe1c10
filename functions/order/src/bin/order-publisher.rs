//! Lambda entry point for the outbox relay (DynamoDB stream of the orders table).

use aws_lambda_events::event::dynamodb::Event;
use bookish_shared::sqs::SqsPublisher;
use bookish_shared::{config, sqs, telemetry};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use order::publisher::{relay, Routes};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(env!("CARGO_PKG_NAME"), env!("CARGO_BIN_NAME"));
    let publisher = SqsPublisher::new(&bookish_shared::aws::config());
    let routes = Routes {
        inventory_queue: config::required("INVENTORY_QUEUE_URL")?,
        notification_queue: config::required("NOTIFICATION_QUEUE_URL")?,
    };
    let (publisher, routes) = (&publisher, &routes);
    telemetry::run(service_fn(move |event: LambdaEvent<Event>| async move {
        let deadline = sqs::deadline_of(event.context.deadline);
        Ok::<_, Error>(relay(publisher, routes, event.payload, deadline).await)
    }))
    .await
}
