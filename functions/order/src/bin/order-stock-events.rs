//! Lambda entry point for inventory's outcomes (SQS: OrderStockQueue).

use aws_lambda_events::event::sqs::SqsEvent;
use bookish_shared::{sqs, telemetry};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use order::consumer;
use order::payments::stripe::StripePayments;
use order::service::Saga;
use order::store::DynamoOrderStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(env!("CARGO_PKG_NAME"), env!("CARGO_BIN_NAME"));
    let aws = bookish_shared::aws::config();
    let payments = StripePayments::start(&aws)?;
    let store = DynamoOrderStore::from_env(&aws)?;
    let saga = Saga { store: &store, payments };
    let saga = &saga;
    telemetry::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
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
