//! What each trace exporter costs inside a function (infra/bench/trace-export-choice.md):
//! the time `telemetry::init` takes with it, and the time the flush after an invocation
//! takes, for an invocation shaped like a checkout's (an HTTP request span, six AWS SDK
//! operation spans, a Stripe call, two direct invokes).
//!
//!   AWS_XRAY_DAEMON_ADDRESS=127.0.0.1:2000 trace-export 500          # X-Ray daemon, UDP
//!   OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 trace-export 500   # OTLP/HTTP
//!
//! Prints one JSON object: init microseconds and flush percentiles.

use std::time::{Duration, Instant};

use bookish_shared::telemetry;

fn main() {
    let invocations: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(500);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    let started = Instant::now();
    telemetry::init_writing_to("bench", "trace-export", std::io::sink);
    let init = started.elapsed();
    let mut flushes = Vec::with_capacity(invocations);
    let mut invocations_took = Vec::with_capacity(invocations);
    for i in 0..invocations {
        let started = Instant::now();
        runtime.block_on(invocation(i));
        let flush_started = Instant::now();
        telemetry::trace::flush();
        flushes.push(flush_started.elapsed());
        invocations_took.push(started.elapsed());
    }
    let exporter = if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some() {
        "otlp-http"
    } else if std::env::var_os("AWS_XRAY_DAEMON_ADDRESS").is_some() {
        "xray-daemon-udp"
    } else {
        "none"
    };
    println!(
        "{}",
        serde_json::json!({
            "exporter": exporter,
            "invocations": invocations,
            "init_us": init.as_micros(),
            "flush_us": percentiles(&mut flushes),
            "invocation_with_flush_us": percentiles(&mut invocations_took),
        })
    );
}

/// The spans of one checkout request as order-api records them, with no I/O in between.
async fn invocation(i: usize) {
    let invocation =
        tracing::info_span!("Lambda function invocation", "otel.name" = "order-api", "faas.trigger" = "http");
    let _invocation = invocation.enter();
    let request = tracing::info_span!(
        "request",
        "otel.name" = "POST /v1/orders",
        "otel.kind" = "server",
        "order.id" = %format!("order-{i}"),
        "http.response.status_code" = 201
    );
    let _request = request.enter();
    for (service, method) in [
        ("DynamoDB", "GetItem"),
        ("DynamoDB", "UpdateItem"),
        ("Lambda", "Invoke"),
        ("Lambda", "Invoke"),
        ("DynamoDB", "TransactWriteItems"),
        ("DynamoDB", "TransactWriteItems"),
    ] {
        let call = tracing::debug_span!(
            "call",
            "otel.name" = %format!("{service}.{method}"),
            "rpc.service" = service,
            "rpc.method" = method,
            "rpc.system" = "aws-api"
        );
        let _call = call.enter();
        tokio::task::yield_now().await;
    }
    let stripe = tracing::info_span!("stripe", "otel.name" = "Stripe POST /v1/payment_intents", "otel.kind" = "client");
    let _stripe = stripe.enter();
    tokio::task::yield_now().await;
}

fn percentiles(samples: &mut [Duration]) -> serde_json::Value {
    samples.sort();
    let at = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e6;
    serde_json::json!({"p50": at(0.5).round(), "p90": at(0.9).round(), "p99": at(0.99).round(), "max": at(1.0).round()})
}
