//! Lambda entry point for the order HTTP API.

use bookish_shared::auth::Authenticator;
use bookish_shared::catalog_client::LambdaCatalog;
use bookish_shared::{http, telemetry};
use lambda_http::{service_fn, Error};
use order::cart_client::LambdaCart;
use order::payments::stripe::StripePayments;
use order::routes;
use order::service::{CheckoutLimit, Saga, Services};
use order::store::DynamoOrderStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(env!("CARGO_PKG_NAME"), env!("CARGO_BIN_NAME"));
    let aws = bookish_shared::aws::config();
    let payments = StripePayments::start(&aws)?;
    let store = DynamoOrderStore::from_env(&aws)?;
    let (cart, catalog) = (LambdaCart::from_env(&aws)?, LambdaCatalog::from_env(&aws)?);
    let auth = Authenticator::from_env()?;
    let limit = CheckoutLimit::from_env()?;
    let services = Services { saga: Saga { store: &store, payments }, cart: &cart, catalog: &catalog, limit };
    let (services, auth) = (&services, &auth);
    telemetry::run_http(service_fn(move |req| http::serve(req, move |req| routes::handle(services, auth, req)))).await
}
