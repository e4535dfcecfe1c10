//! Lambda entry point for the cart.

use bookish_shared::auth::Authenticator;
use bookish_shared::catalog_client::LambdaCatalog;
use bookish_shared::{config, dynamo, http, telemetry};
use cart::routes;
use cart::store::DynamoCartStore;
use lambda_http::{service_fn, Error};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(env!("CARGO_PKG_NAME"), env!("CARGO_BIN_NAME"));
    let aws = bookish_shared::aws::config();
    let store = DynamoCartStore::new(dynamo::client(&aws), config::required("CARTS_TABLE")?);
    let catalog = LambdaCatalog::from_env(&aws)?;
    let auth = Authenticator::from_env()?;
    let (store, catalog, auth) = (&store, &catalog, &auth);
    telemetry::run_http(service_fn(move |req| http::serve(req, move |req| routes::handle(store, catalog, auth, req))))
        .await
}
