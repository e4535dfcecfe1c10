//! Lambda entry point for inventory's outcomes (SQS: OrderStockQueue).

use aws_lambda_events::event::sqs::SqsEvent;
use bookish_shared::{metrics, sqs, telemetry};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use order::consumer;
use order::payments::stripe::StripePayments;
use order::service::Saga;
use order::store::DynamoOrderStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init();
    metrics::init(env!("CARGO_PKG_NAME"), env!("CARGO_BIN_NAME"));
    let payments = StripePayments::start()?;
    let store = DynamoOrderStore::from_env().await?;
    let saga = Saga { store: &store, payments };
    let saga = &saga;
    metrics::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(
            sqs::for_each_record_until(
                event.payload,
                &event.context.request_id,
                sqs::deadline_of(event.context.deadline),
                |envelope| consumer::handle(saga, envelope),
            )
            .await,
        )
    }))
    .await
}
