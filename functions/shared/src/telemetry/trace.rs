//! Traces: the functions' `tracing` spans (INFO and above) and the AWS SDK's operation
//! spans, exported through OpenTelemetry with X-Ray trace ids, so that one checkout is one
//! trace across every service.
//!
//! The context travels as an X-Ray trace header (`Root=…;Parent=…;Sampled=…`) where AWS
//! carries one: the `AWSTraceHeader` system attribute of an SQS message (`sqs`), and the
//! outbox item the orders stream delivers (`order::store`). `trace_header` writes it from
//! the current span; `adopt` makes a span the child of one. A direct invoke's event
//! (`invoke`) carries a W3C `traceparent` header instead (`traceparent`,
//! `adopt_traceparent`): lambda_http replaces any `X-Amzn-Trace-Id` in an event with
//! Lambda's own header for the invocation.
//!
//! Export, chosen by the environment at start-up (infra/bench/trace-export-choice.md):
//! - `OTEL_EXPORTER_OTLP_ENDPOINT` set: OTLP/HTTP (protobuf), batched and sent when each
//!   invocation ends. The local stack sets it to its receiver (`infra/otlp_receiver.py`)
//!   and builds the functions with feature `otlp`; release builds for AWS leave it out.
//! - else `AWS_XRAY_DAEMON_ADDRESS` set (Lambda with `Tracing: Active`): X-Ray segment (`xray`)
//!   documents over UDP to the daemon Lambda runs, one datagram as each span ends.
//! - else nothing is exported and no span is built for OpenTelemetry.

use std::collections::HashMap;
use std::fmt::Debug;
use std::future::Future;
use std::sync::OnceLock;
use std::task::{Context as TaskContext, Poll};

use lambda_runtime::layers::{OpenTelemetryFaasTrigger, OpenTelemetryLayer, TracingLayer};
use lambda_runtime::{Diagnostic, IntoFunctionResponse, LambdaEvent, LambdaInvocation, Runtime, Service};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_aws::trace::xray_propagator::{span_context_from_str, span_context_to_string};
use opentelemetry_aws::trace::XrayIdGenerator;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use serde::Deserialize;
use tracing::{Level, Metadata, Subscriber};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{filter, Layer};

/// The W3C Trace Context header a direct invoke's event carries.
pub const TRACEPARENT: &str = "traceparent";

mod xray;

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// The OpenTelemetry layer for `telemetry::init`, or `None` when nothing would export.
pub(super) fn layer<S>(service: &'static str, function: &'static str) -> Option<impl Layer<S>>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let provider = provider_from_env(service, function)?;
    let tracer = provider.tracer(function);
    PROVIDER.set(provider).ok()?;
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        // A span's parent can then still be set after it is entered (`adopt`): the runtime
        // enters its invocation span before the handler sees the event's trace header.
        .with_context_activation(false)
        .with_location(false)
        .with_threads(false)
        .with_target(false)
        .with_level(false)
        .with_tracked_inactivity(false);
    Some(layer.with_filter(filter::filter_fn(exported)))
}

/// Spans at INFO and above, the AWS SDK's per-operation spans (DEBUG, marked by
/// `rpc.system = "aws-api"`), and warnings and errors as span events. Not the runtime's
/// request-id span: the invocation span under it says the same.
fn exported(meta: &Metadata<'_>) -> bool {
    if meta.is_event() {
        return *meta.level() <= Level::WARN;
    }
    if meta.target() == "lambda_runtime::layers::trace" {
        return false;
    }
    *meta.level() <= Level::INFO || meta.fields().field("rpc.system").is_some()
}

fn provider_from_env(service: &'static str, function: &'static str) -> Option<SdkTracerProvider> {
    let resource = Resource::builder_empty()
        .with_service_name(function)
        .with_attribute(KeyValue::new("service.namespace", service))
        .build();
    let provider = SdkTracerProvider::builder()
        .with_resource(resource)
        .with_id_generator(XrayIdGenerator::default())
        // Lambda decides sampling (`Sampled=` in its trace header); a root is always sampled.
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
    if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some() {
        otlp_provider(provider)
    } else if let Ok(daemon) = std::env::var("AWS_XRAY_DAEMON_ADDRESS") {
        let exporter = match xray::XrayDaemonExporter::connect(&daemon) {
            Ok(exporter) => exporter,
            Err(err) => {
                eprintln!("traces off: no UDP socket for the X-Ray daemon at {daemon:?}: {err}");
                return None;
            }
        };
        Some(provider.with_simple_exporter(exporter).build())
    } else {
        None
    }
}

/// OTLP/HTTP (protobuf) to `OTEL_EXPORTER_OTLP_ENDPOINT`: the local stack's receiver.
#[cfg(feature = "otlp")]
fn otlp_provider(provider: opentelemetry_sdk::trace::TracerProviderBuilder) -> Option<SdkTracerProvider> {
    use opentelemetry_sdk::runtime;
    use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;

    let exporter = match opentelemetry_otlp::SpanExporter::builder().with_http().build() {
        Ok(exporter) => exporter,
        Err(err) => {
            eprintln!("traces off: the OTLP exporter cannot be built: {err}");
            return None;
        }
    };
    // The exporter's HTTP client (hyper) needs a Tokio runtime; this processor runs one
    // on its own thread, so the flush after an invocation cannot stall the handler's.
    let processor = BatchSpanProcessor::builder(exporter, runtime::TokioCurrentThread).build();
    Some(provider.with_span_processor(processor).build())
}

#[cfg(not(feature = "otlp"))]
fn otlp_provider(_: opentelemetry_sdk::trace::TracerProviderBuilder) -> Option<SdkTracerProvider> {
    eprintln!("traces off: OTEL_EXPORTER_OTLP_ENDPOINT is set, but this build has no OTLP exporter (feature otlp)");
    None
}

/// Sends what the invocation recorded before Lambda may freeze the process. The runtime
/// layer calls it after each invocation.
pub fn flush() {
    if let Some(provider) = PROVIDER.get() {
        if let Err(err) = provider.force_flush() {
            tracing::warn!(error = %err, "could not export the invocation's spans");
        }
    }
}

/// `lambda_runtime::run`, with a span per invocation exported and flushed at its end, and
/// the invocation's metrics written.
pub async fn run<F, A, R, B, S, D, E>(handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Service<LambdaEvent<A>, Response = R>,
    F::Future: Future<Output = Result<R, F::Error>>,
    F::Error: Into<Diagnostic> + Debug,
    A: for<'de> Deserialize<'de>,
    R: IntoFunctionResponse<B, S>,
    B: serde::Serialize,
    S: futures_util::Stream<Item = Result<D, E>> + Unpin + Send + 'static,
    D: Into<bytes::Bytes> + Send,
    E: Into<lambda_runtime::Error> + Send + Debug,
{
    let trigger = OpenTelemetryFaasTrigger::PubSub;
    Runtime::new(handler)
        .layer(AdoptLambdaTraceLayer)
        .layer(OpenTelemetryLayer::new(flush).with_trigger(trigger))
        .layer(TracingLayer::new())
        .layer(crate::metrics::FlushLayer)
        .run()
        .await
}

/// `lambda_http::run`, with a span per invocation exported and flushed at its end, and
/// the invocation's metrics written.
pub async fn run_http<'a, R, S, E>(handler: S) -> Result<(), lambda_runtime::Error>
where
    S: Service<lambda_http::Request, Response = R, Error = E>,
    S::Future: Send + 'a,
    R: lambda_http::IntoResponse,
    E: Debug + Into<Diagnostic>,
{
    Runtime::new(lambda_http::Adapter::from(handler))
        .layer(AdoptLambdaTraceLayer)
        .layer(OpenTelemetryLayer::new(flush).with_trigger(OpenTelemetryFaasTrigger::Http))
        .layer(TracingLayer::new())
        .layer(crate::metrics::FlushLayer)
        .run()
        .await
}

/// Parents the invocation span on Lambda's own trace context (`Lambda-Runtime-Trace-Id`,
/// the function's segment when tracing is active), so X-Ray shows our spans under it.
struct AdoptLambdaTraceLayer;

impl<S> lambda_runtime::tower::Layer<S> for AdoptLambdaTraceLayer {
    type Service = AdoptLambdaTrace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AdoptLambdaTrace(inner)
    }
}

struct AdoptLambdaTrace<S>(S);

impl<S: Service<LambdaInvocation>> Service<LambdaInvocation> for AdoptLambdaTrace<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, invocation: LambdaInvocation) -> Self::Future {
        adopt(&tracing::Span::current(), invocation.context.xray_trace_id.as_deref());
        self.0.call(invocation)
    }
}

/// Makes `span` the child of the span a trace header names. Returns whether it did: a
/// missing or unreadable header, or one without a parent span, leaves `span` as it was.
/// Call it before `span` has children.
pub fn adopt(span: &tracing::Span, header: Option<&str>) -> bool {
    let Some(parent) = header.and_then(span_context_from_str).filter(|parent| parent.is_valid()) else {
        return false;
    };
    span.set_parent(Context::new().with_remote_span_context(parent)).is_ok()
}

/// Makes `span` the child of the span a W3C `traceparent` header names; as `adopt`.
pub fn adopt_traceparent(span: &tracing::Span, header: Option<&str>) -> bool {
    let Some(header) = header else { return false };
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), header.to_owned())]);
    let parent = TraceContextPropagator::new().extract(&carrier);
    parent.span().span_context().is_valid() && span.set_parent(parent).is_ok()
}

/// The current span as a W3C `traceparent` header; `None` when traces are off.
pub fn traceparent() -> Option<String> {
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&tracing::Span::current().context(), &mut carrier);
    carrier.remove(TRACEPARENT)
}

/// The current span as an X-Ray trace header, for the next hop; `None` when traces are off.
pub fn trace_header() -> Option<String> {
    let context = tracing::Span::current().context();
    let span = context.span();
    let span_context = span.span_context();
    span_context.is_valid().then(|| span_context_to_string(span_context)).flatten()
}
