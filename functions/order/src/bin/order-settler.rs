//! Lambda entry point for the settler (an EventBridge schedule): orders that have owed
//! the saga a step for longer than `SETTLE_AFTER_SECONDS` get it (`service::settle`).

use std::time::Duration;

use bookish_shared::{config, sqs, telemetry};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use order::payments::stripe::StripePayments;
use order::service::{self, Saga};
use order::store::DynamoOrderStore;
use time::OffsetDateTime;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(env!("CARGO_PKG_NAME"), env!("CARGO_BIN_NAME"));
    let aws = bookish_shared::aws::config();
    let payments = StripePayments::start(&aws)?;
    let store = DynamoOrderStore::from_env(&aws)?;
    let older_than = Duration::from_secs(config::required("SETTLE_AFTER_SECONDS")?.parse()?);
    let saga = Saga { store: &store, payments };
    let saga = &saga;
    telemetry::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        let deadline = sqs::deadline_of(event.context.deadline);
        let report = service::settle(saga, OffsetDateTime::now_utc(), older_than, deadline).await?;
        tracing::info!(?report, "settler run");
        Ok::<_, Error>(report)
    }))
    .await
}
