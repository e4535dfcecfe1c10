//! Lambda entry point for the order events on InventoryQueue.

use aws_lambda_events::event::sqs::SqsEvent;
use bookish_shared::sqs::{self, SqsPublisher};
use bookish_shared::{config, dynamo, telemetry};
use inventory::consumer::{self, Deps};
use inventory::store::DynamoStockStore;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(env!("CARGO_PKG_NAME"), env!("CARGO_BIN_NAME"));
    let aws = bookish_shared::aws::config();
    let store = DynamoStockStore::new(dynamo::client(&aws), config::required("STOCK_TABLE")?);
    let publisher = SqsPublisher::new(&aws);
    let queue_url = config::required("ORDER_STOCK_QUEUE_URL")?;
    let deps = Deps { store: &store, publisher: &publisher, order_stock_queue_url: &queue_url };
    let deps = &deps;
    telemetry::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let (request_id, deadline) = (event.context.request_id, sqs::deadline_of(event.context.deadline));
        let response = sqs::for_each_record_until(event.payload, &request_id, deadline, |envelope| {
            consumer::handle(deps, envelope)
        })
        .await;
        Ok::<_, Error>(response)
    }))
    .await
}
