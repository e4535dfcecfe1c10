//! Lambda entry point for the admin-only catalog writes.

use bookish_shared::auth::Authenticator;
use bookish_shared::{config, dynamo, http, telemetry};
use catalog::routes::admin;
use catalog::store::DynamoBookStore;
use lambda_http::{service_fn, Error};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(env!("CARGO_PKG_NAME"), env!("CARGO_BIN_NAME"));
    let store = DynamoBookStore::new(dynamo::client(&bookish_shared::aws::config()), config::required("BOOKS_TABLE")?);
    let auth = Authenticator::from_env()?;
    let (store, auth) = (&store, &auth);
    telemetry::run_http(service_fn(move |req| http::serve(req, move |req| admin::handle(store, auth, req)))).await
}
