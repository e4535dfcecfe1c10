//! The cold-start floor: the smallest honest Lambda function in Rust.
//!
//! Every Bookish function's cold start is compared with this one: the same runtime crate
//! and tokio flavour, but no AWS SDK clients, no configuration and no log subscriber to
//! set up, and a tiny answer. What a Bookish function takes beyond it is its own init.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde::Serialize;
use serde_json::Value;

/// An API Gateway HTTP API (payload v2) response.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Reply {
    status_code: u16,
    body: &'static str,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_event: LambdaEvent<Value>| async {
        Ok::<_, Error>(Reply { status_code: 200, body: "hello" })
    }))
    .await
}
