//! Lambda entry point for inventory's outcomes (SQS: OrderStockQueue).

use aws_lambda_events::event::sqs::SqsEvent;
use bookish_shared::catalog_client::StaticCatalog;
use bookish_shared::{config, dynamo, sqs, telemetry};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use order::cart_client::MemoryCart;
use order::consumer;
use order::payments::SandboxPayments;
use order::service::Services;
use order::store::DynamoOrderStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let store = DynamoOrderStore::new(dynamo::client().await, config::required("ORDERS_TABLE")?);
    // Stock outcomes never touch the cart or the catalog.
    let (cart, catalog) = (MemoryCart::default(), StaticCatalog::default());
    let services = Services { store: &store, cart: &cart, catalog: &catalog, payments: &SandboxPayments };
    let services = &services;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(
            sqs::for_each_record(event.payload, &event.context.request_id, |envelope| {
                consumer::handle(services, envelope)
            })
            .await,
        )
    }))
    .await
}
