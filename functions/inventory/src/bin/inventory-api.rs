//! Lambda entry point for the inventory's HTTP routes.

use bookish_shared::auth::Authenticator;
use bookish_shared::{config, dynamo, http, telemetry};
use inventory::routes;
use inventory::store::DynamoStockStore;
use lambda_http::{service_fn, Error};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(env!("CARGO_PKG_NAME"), env!("CARGO_BIN_NAME"));
    let store = DynamoStockStore::new(dynamo::client(&bookish_shared::aws::config()), config::required("STOCK_TABLE")?);
    let auth = Authenticator::from_env()?;
    let (store, auth) = (&store, &auth);
    telemetry::run_http(service_fn(move |req| http::serve(req, move |req| routes::handle(store, auth, req)))).await
}
