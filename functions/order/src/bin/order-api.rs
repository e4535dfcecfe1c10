//! Lambda entry point for the order HTTP API.

use bookish_shared::auth::Authenticator;
use bookish_shared::catalog_client::LambdaCatalog;
use bookish_shared::{config, dynamo, http, telemetry};
use lambda_http::{service_fn, Error};
use order::cart_client::LambdaCart;
use order::payments::SandboxPayments;
use order::routes;
use order::service::Services;
use order::store::DynamoOrderStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let store = DynamoOrderStore::new(dynamo::client().await, config::required("ORDERS_TABLE")?);
    let (cart, catalog) = (LambdaCart::from_env().await?, LambdaCatalog::from_env().await?);
    let auth = Authenticator::from_env()?;
    let services = Services { store: &store, cart: &cart, catalog: &catalog, payments: &SandboxPayments };
    let (services, auth) = (&services, &auth);
    lambda_http::run(service_fn(move |req| http::serve(req, move |req| routes::handle(services, auth, req)))).await
}
