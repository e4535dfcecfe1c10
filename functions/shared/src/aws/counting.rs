//! Bench mode: every AWS call counted, so `make bench` prices a checkout from what it did
//! rather than from a model (infra/bench/cost.py). Off unless `BOOKISH_COUNT_AWS_CALLS=1`
//! (the bench's stack sets it); off, no interceptor is registered at all.
//!
//! Each attempt logs one line, `"message":"aws call"`, with the service and operation, the
//! request and response body sizes, and for DynamoDB the read and write units the response
//! reports: DynamoDB requests are sent with `"ReturnConsumedCapacity":"TOTAL"` added.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextMut, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::{Intercept, SharedInterceptor};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use serde_json::{Map, Value};
use std::sync::OnceLock;

/// The variable that turns counting on.
pub const ENV: &str = "BOOKISH_COUNT_AWS_CALLS";

/// The DynamoDB operations that take `ReturnConsumedCapacity` (the others reject it).
const REPORTS_CAPACITY: &[&str] = &[
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactGetItems",
    "TransactWriteItems",
    "ExecuteStatement",
    "BatchExecuteStatement",
    "ExecuteTransaction",
];

/// Reads, whose units a bare `CapacityUnits` counts (writes otherwise).
const READS: &[&str] = &["GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"];

static FUNCTION: OnceLock<&'static str> = OnceLock::new();

/// The binary making the calls, named in every line (telemetry::init sets it).
pub(crate) fn name_function(function: &'static str) {
    let _ = FUNCTION.set(function);
}

/// The interceptor to register on every SDK client, when counting is on.
pub fn call_counter() -> Option<SharedInterceptor> {
    (std::env::var(ENV).as_deref() == Ok("1")).then(|| SharedInterceptor::new(CallCounter))
}

/// An SDK client of `config` (`&SdkConfig`) that counts its calls when the bench asks:
/// `bookish_shared::aws_client!(aws_sdk_dynamodb, &config)`.
#[macro_export]
macro_rules! aws_client {
    ($sdk:ident, $config:expr) => {{
        let mut builder = $sdk::config::Builder::from($config);
        if let Some(counter) = $crate::aws::counting::call_counter() {
            builder.push_interceptor(counter);
        }
        $sdk::Client::from_conf(builder.build())
    }};
}

#[derive(Debug)]
struct CallCounter;

/// The request body's size as the code built it (before `ReturnConsumedCapacity`).
#[derive(Debug, Clone, Copy)]
struct RequestBytes(usize);

impl Storable for RequestBytes {
    type Storer = StoreReplace<Self>;
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let asks_capacity =
            cfg.load::<Metadata>().is_some_and(|m| m.service() == "DynamoDB" && REPORTS_CAPACITY.contains(&m.name()));
        let request = context.request_mut();
        let built = request.body().bytes().map_or(0, <[u8]>::len);
        cfg.interceptor_state().store_put(RequestBytes(built));
        if asks_capacity {
            if let Some(body) = request.body().bytes().and_then(asking_capacity) {
                request.headers_mut().insert("content-length", body.len().to_string());
                *request.body_mut() = SdkBody::from(body);
            }
        }
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = cfg.load::<Metadata>().map_or(("?", "?"), |m| (m.service(), m.name()));
        let request_bytes = cfg.load::<RequestBytes>().map_or(0, |b| b.0);
        let response = context.response();
        let body = response.and_then(|r| r.body().bytes()).unwrap_or_default();
        let units = if service == "DynamoDB" { consumed(operation, body) } else { Units::default() };
        tracing::info!(
            function = FUNCTION.get().copied().unwrap_or("?"),
            service,
            operation,
            status = response.map(|r| r.status().as_u16()),
            request_bytes,
            response_bytes = body.len(),
            read_units = units.read,
            write_units = units.write,
            "aws call"
        );
        Ok(())
    }
}

/// The JSON request body with `"ReturnConsumedCapacity":"TOTAL"`, unless it asks already.
fn asking_capacity(body: &[u8]) -> Option<Vec<u8>> {
    let mut request: Map<String, Value> = serde_json::from_slice(body).ok()?;
    if request.contains_key("ReturnConsumedCapacity") {
        return None;
    }
    request.insert("ReturnConsumedCapacity".into(), "TOTAL".into());
    serde_json::to_vec(&request).ok()
}

#[derive(Debug, Default, PartialEq)]
struct Units {
    read: f64,
    write: f64,
}

/// The units a DynamoDB response reports: one `ConsumedCapacity` or, for batches and
/// transactions, one per table. `CapacityUnits` alone counts as the operation's kind.
fn consumed(operation: &str, body: &[u8]) -> Units {
    let Ok(response) = serde_json::from_slice::<Value>(body) else { return Units::default() };
    let tables = match response.get("ConsumedCapacity") {
        Some(Value::Array(tables)) => tables.iter().collect(),
        Some(table) => vec![table],
        None => vec![],
    };
    let mut units = Units::default();
    for table in tables {
        let field = |name: &str| table.get(name).and_then(Value::as_f64);
        match (field("ReadCapacityUnits"), field("WriteCapacityUnits"), field("CapacityUnits")) {
            (None, None, Some(total)) if READS.contains(&operation) => units.read += total,
            (None, None, Some(total)) => units.write += total,
            (read, write, _) => {
                units.read += read.unwrap_or(0.0);
                units.write += write.unwrap_or(0.0);
            }
        }
    }
    units
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asks_for_the_total_once() {
        let asked = asking_capacity(br#"{"TableName":"t","Key":{"pk":{"S":"a"}}}"#).unwrap();
        let asked: Value = serde_json::from_slice(&asked).unwrap();
        assert_eq!(asked["ReturnConsumedCapacity"], "TOTAL");
        assert_eq!(asked["Key"]["pk"]["S"], "a");
        assert_eq!(asking_capacity(br#"{"ReturnConsumedCapacity":"INDEXES"}"#), None);
        assert_eq!(asking_capacity(b""), None);
    }

    #[test]
    fn reads_units_of_one_table_and_of_many() {
        let single = br#"{"ConsumedCapacity":{"TableName":"t","CapacityUnits":1.5,"ReadCapacityUnits":1.5}}"#;
        assert_eq!(consumed("GetItem", single), Units { read: 1.5, write: 0.0 });
        let many = br#"{"ConsumedCapacity":[{"TableName":"a","WriteCapacityUnits":4.0,"CapacityUnits":4.0},
                                           {"TableName":"b","WriteCapacityUnits":2.0,"CapacityUnits":2.0}]}"#;
        assert_eq!(consumed("TransactWriteItems", many), Units { read: 0.0, write: 6.0 });
    }

    #[test]
    fn a_bare_total_counts_as_the_operations_kind() {
        let bare = br#"{"ConsumedCapacity":{"TableName":"t","CapacityUnits":1.0}}"#;
        assert_eq!(consumed("Query", bare), Units { read: 1.0, write: 0.0 });
        assert_eq!(consumed("PutItem", bare), Units { read: 0.0, write: 1.0 });
        assert_eq!(consumed("PutItem", b"{}"), Units::default());
        assert_eq!(consumed("PutItem", b"not json"), Units::default());
    }

    #[test]
    fn nothing_is_registered_unless_the_bench_asks() {
        // No test sets the variable: counting is off in every test process.
        assert!(std::env::var(ENV).is_err());
        assert!(call_counter().is_none());
    }
}
