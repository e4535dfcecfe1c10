//! What the Lambda runtime does around a handler on every invocation, minus the two HTTP
//! round trips to the Runtime API (`GET .../invocation/next` and `POST .../response`).
//!
//! From `lambda_runtime` 1.5 (`runtime.rs`, `layers/api_response.rs`, `layers/trace.rs`,
//! `deserializer.rs`, `requests.rs`): the `Context` is built from the `/next` response's
//! headers, `_X_AMZN_TRACE_ID` is set, an info span named after the invocation is entered,
//! the event body is deserialized with `serde_path_to_error`, the handler runs, and its
//! answer is serialized with `serde_json::to_vec`; Bookish's metrics layer then writes the
//! invocation's metrics (`bookish_shared::metrics`). HTTP functions add `lambda_http`'s
//! `Adapter`, the very type `lambda_http::run` wraps a handler in: it turns the event into
//! an `http::Request` carrying the Lambda context, and the handler's `Response` into the
//! API Gateway response (`LambdaResponse::from_response`).
//!
//! Left out: the runtime client's HTTP I/O, and `catch_unwind` around the handler.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use lambda_http::http::{HeaderMap, HeaderValue};
use lambda_http::request::LambdaRequest;
use lambda_http::tower::{Service, ServiceExt};
use lambda_http::{Adapter, Body, Request, Response};
use lambda_runtime::layers::trace::request_span;
use lambda_runtime::{Config, Context, LambdaEvent};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::Instrument;

const REQUEST_ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";
const TRACE_ID: &str = "Root=1-6747a1c0-3f1c0a9e8b7d4c2a9e8b7d4c;Parent=5e4d3c2b1a098765;Sampled=0";

/// One function's runtime: its configuration and the headers Lambda sends with each event.
pub struct Runtime {
    config: Arc<Config>,
    next_headers: HeaderMap,
}

impl Runtime {
    /// The runtime of the function (binary) `function`, as Lambda configures it.
    pub fn new(function: &str) -> Self {
        let config = Config {
            function_name: function.to_owned(),
            memory: 128,
            version: "$LATEST".to_owned(),
            log_stream: "2026/11/27/[$LATEST]0123456789abcdef0123456789abcdef".to_owned(),
            log_group: format!("/aws/lambda/{function}"),
        };
        let arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{function}");
        let mut next_headers = HeaderMap::new();
        for (name, value) in [
            ("lambda-runtime-aws-request-id", REQUEST_ID),
            ("lambda-runtime-deadline-ms", "1795780810000"),
            ("lambda-runtime-invoked-function-arn", &arn),
            ("lambda-runtime-trace-id", TRACE_ID),
        ] {
            next_headers.insert(name, HeaderValue::from_str(value).expect("the runtime headers are valid"));
        }
        Self { config: Arc::new(config), next_headers }
    }

    /// One invocation of a function started with `lambda_http::run(service_fn(handler))`:
    /// API Gateway HTTP API event JSON in, the API Gateway response's JSON out.
    pub async fn http<F, Fut>(&self, event: &[u8], handler: F) -> Vec<u8>
    where
        F: FnMut(Request) -> Fut,
        Fut: Future<Output = Result<Response<Body>, Infallible>> + Send,
    {
        let mut adapter = Adapter::from(lambda_http::service_fn(handler));
        self.invoke(event, |event: LambdaEvent<LambdaRequest>| async move {
            let Ok(ready) = ServiceExt::<LambdaEvent<LambdaRequest>>::ready(&mut adapter).await;
            let Ok(response) = ready.call(event).await;
            response
        })
        .await
    }

    /// One invocation of a function started with `lambda_runtime::run(service_fn(handler))`:
    /// event JSON in, the handler's answer as JSON out.
    pub async fn invoke<T, R, F, Fut>(&self, event: &[u8], handler: F) -> Vec<u8>
    where
        T: DeserializeOwned,
        R: Serialize,
        F: FnOnce(LambdaEvent<T>) -> Fut,
        Fut: Future<Output = R>,
    {
        let context = Context::new(REQUEST_ID, self.config.clone(), &self.next_headers)
            .expect("the runtime headers make a context");
        if let Some(trace_id) = &context.xray_trace_id {
            std::env::set_var("_X_AMZN_TRACE_ID", trace_id);
        }
        let span = request_span(&context);
        async move {
            let response = handler(decode(event, context)).await;
            // As `metrics::FlushLayer` does when an invocation ends.
            bookish_shared::metrics::flush_to(std::io::sink()).expect("a sink takes anything");
            serde_json::to_vec(&response).expect("Lambda responses serialize")
        }
        .instrument(span)
        .await
    }
}

/// The event as the handler receives it. The runtime would report a bad event to Lambda;
/// here it is a broken fixture.
fn decode<T: DeserializeOwned>(event: &[u8], context: Context) -> LambdaEvent<T> {
    let mut json = serde_json::Deserializer::from_slice(event);
    match serde_path_to_error::deserialize(&mut json) {
        Ok(payload) => LambdaEvent::new(payload, context),
        Err(err) => panic!("the event does not fit the function's event type: {err}"),
    }
}
