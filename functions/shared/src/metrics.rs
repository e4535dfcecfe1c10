//! CloudWatch metrics in the Embedded Metric Format: each invocation's metrics are JSON
//! lines on stdout beside the logs, and CloudWatch Logs turns them into metrics in the
//! `Bookish` namespace. No API call, no agent, nothing on the request path but a counter.
//!
//! Every metric has the dimensions `service` and `function` (the binary name, so alarms
//! and dashboards can name it); a few add one (`route` and `statusClass`, `dependency`,
//! `reason`, `currency`). Ids are never dimensions: the `requestId` property ties a line
//! to its logs. This module is the one place that names metrics, units and dimensions;
//! the templates' alarms and the platform's dashboard and `tests/test_metrics.py` rely on them.
//!
//! `telemetry::init` calls `init` once at start-up, and `telemetry::run`/`run_http` add
//! `FlushLayer`, which writes what an invocation recorded when it ends.
//! Recording without `init` (unit tests) goes nowhere.

use std::fmt::Debug;
use std::future::Future;
use std::io::Write;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::future::Inspect;
use futures_util::FutureExt;
use lambda_http::lambda_runtime::LambdaInvocation;
use lambda_http::tower::{Layer, Service};
use metrics::{counter, describe_counter, describe_histogram, histogram, Unit};
use metrics_cloudwatch_embedded::Collector;

use crate::money::Money;

pub const NAMESPACE: &str = "Bookish";

// Technical metrics.
pub const COLD_START: &str = "ColdStart";
pub const REQUESTS: &str = "Requests";
pub const REQUEST_LATENCY: &str = "RequestLatency";
pub const BATCH_SIZE: &str = "BatchSize";
pub const BATCH_FAILURES: &str = "BatchFailures";
pub const DEPENDENCY_LATENCY: &str = "DependencyLatency";
// Business metrics, each counted once, when the write that makes it true succeeds.
pub const ORDERS_PLACED: &str = "OrdersPlaced";
pub const ORDERS_CONFIRMED: &str = "OrdersConfirmed";
pub const ORDERS_REJECTED: &str = "OrdersRejected";
pub const ORDERS_CANCELLED: &str = "OrdersCancelled";
pub const REVENUE: &str = "Revenue";
pub const STOCK_RESERVED: &str = "StockReserved";
pub const STOCK_REJECTED: &str = "StockRejected";
pub const EMAILS_SENT: &str = "EmailsSent";
pub const SMS_SENT: &str = "SmsSent";

static COLLECTOR: OnceLock<&'static Collector> = OnceLock::new();

/// Starts recording this function's metrics, with its service and binary name as the
/// dimensions of each, and counts the cold start. Metrics are not worth failing a
/// function for: if they cannot start, it says so and runs without them.
pub fn init(service: &'static str, function: &'static str) {
    let installed = metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(NAMESPACE)
        .with_dimension("service", service)
        .with_dimension("function", function)
        .init();
    match installed {
        Ok(collector) => {
            let _ = COLLECTOR.set(collector);
            describe();
            counter!(COLD_START).increment(1);
        }
        Err(err) => tracing::error!(error = %err, "metrics are off"),
    }
}

/// Units by name. Revenue has none: it is an amount of minor units, and EMF's default
/// unit is `None`.
fn describe() {
    for name in [COLD_START, REQUESTS, BATCH_FAILURES, ORDERS_PLACED, ORDERS_CONFIRMED, ORDERS_REJECTED]
        .into_iter()
        .chain([ORDERS_CANCELLED, STOCK_RESERVED, STOCK_REJECTED, EMAILS_SENT, SMS_SENT])
    {
        describe_counter!(name, Unit::Count, "");
    }
    describe_histogram!(BATCH_SIZE, Unit::Count, "");
    describe_histogram!(REQUEST_LATENCY, Unit::Milliseconds, "");
    describe_histogram!(DEPENDENCY_LATENCY, Unit::Milliseconds, "");
}

/// Writes everything recorded since the last call as EMF lines to `out`, in one write so
/// the lines of concurrent processes sharing a log never interleave.
pub fn flush_to(mut out: impl Write) -> std::io::Result<()> {
    let Some(collector) = COLLECTOR.get() else { return Ok(()) };
    let mut lines = Vec::with_capacity(2048);
    collector.flush(&mut lines)?;
    out.write_all(&lines)
}

fn flush_after_invocation<T>(_: &T) {
    if let Err(err) = flush_to(std::io::stdout().lock()) {
        tracing::warn!(error = %err, "could not write the metrics");
    }
}

/// One HTTP request: counted and timed by route and status class, and in total.
pub fn request(route: &str, status: u16, latency: Duration) {
    let ms = millis(latency);
    counter!(REQUESTS).increment(1);
    histogram!(REQUEST_LATENCY).record(ms);
    let class = status_class(status);
    counter!(REQUESTS, "route" => route.to_owned(), "statusClass" => class).increment(1);
    histogram!(REQUEST_LATENCY, "route" => route.to_owned(), "statusClass" => class).record(ms);
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// One batch of a queue or stream consumer, and how many of its records it reported failed.
pub fn batch(size: usize, failures: usize) {
    histogram!(BATCH_SIZE).record(size as f64);
    counter!(BATCH_FAILURES).increment(failures as u64);
}

/// A service outside Bookish whose latency is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dependency {
    Stripe,
    Ses,
    Sns,
}

impl Dependency {
    pub fn as_str(self) -> &'static str {
        match self {
            Dependency::Stripe => "stripe",
            Dependency::Ses => "ses",
            Dependency::Sns => "sns",
        }
    }
}

/// Awaits a call to `dependency` and records how long it took, whatever it answered.
pub async fn timed<F: Future>(dependency: Dependency, call: F) -> F::Output {
    let started = Instant::now();
    let output = call.await;
    histogram!(DEPENDENCY_LATENCY, "dependency" => dependency.as_str()).record(millis(started.elapsed()));
    output
}

pub fn order_placed() {
    counter!(ORDERS_PLACED).increment(1);
}

/// A confirmed order; its captured total counts as revenue.
pub fn order_confirmed(total: &Money) {
    counter!(ORDERS_CONFIRMED).increment(1);
    let amount = u64::try_from(total.amount).unwrap_or_default();
    counter!(REVENUE, "currency" => total.currency.as_str().to_owned()).increment(amount);
}

/// `reason` as the order API spells it: `OUT_OF_STOCK`, `PAYMENT_DECLINED`, ...
pub fn order_rejected(reason: &str) {
    counter!(ORDERS_REJECTED, "reason" => reason.to_owned()).increment(1);
}

pub fn order_cancelled() {
    counter!(ORDERS_CANCELLED).increment(1);
}

pub fn stock_reserved() {
    counter!(STOCK_RESERVED).increment(1);
}

pub fn stock_rejected() {
    counter!(STOCK_REJECTED).increment(1);
}

pub fn email_sent() {
    counter!(EMAILS_SENT).increment(1);
}

pub fn sms_sent() {
    counter!(SMS_SENT).increment(1);
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Runtime middleware: tags the invocation's metrics with its request id, and writes
/// them when it ends. (The crate's own Lambda layer would turn on every optional event
/// type of `lambda_http`, so each HTTP API event would first be parsed as a REST API one.)
#[derive(Clone, Copy, Debug, Default)]
pub struct FlushLayer;

impl<S> Layer<S> for FlushLayer {
    type Service = Flush<S>;

    fn layer(&self, inner: S) -> Flush<S> {
        Flush { inner }
    }
}

#[derive(Clone, Debug)]
pub struct Flush<S> {
    inner: S,
}

impl<S> Service<LambdaInvocation> for Flush<S>
where
    S: Service<LambdaInvocation>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Inspect<S::Future, fn(&Result<S::Response, S::Error>)>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, invocation: LambdaInvocation) -> Self::Future {
        if let Some(collector) = COLLECTOR.get() {
            collector.set_property("requestId", invocation.context.request_id.clone());
        }
        self.inner.call(invocation).inspect(flush_after_invocation::<Result<S::Response, S::Error>>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes() {
        assert_eq!(
            [200, 201, 304, 404, 429, 500, 503].map(status_class),
            ["2xx", "2xx", "3xx", "4xx", "4xx", "5xx", "5xx"]
        );
    }
}
