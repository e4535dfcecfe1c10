//! Structured JSON logs, one object per line, as CloudWatch Logs Insights likes them; and
//! traces: the same `tracing` spans exported through OpenTelemetry (`trace`).

use tracing::level_filters::LevelFilter;
use tracing::Level;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{filter, Layer};

pub mod trace;

pub use trace::{run, run_http, trace_header};

/// Gives a function its logs, traces and metrics: installs the JSON log subscriber, the
/// OpenTelemetry layer when the environment names a trace exporter (`trace`), and the EMF
/// metrics recorder (`metrics`), which counts the cold start. `service` is the crate
/// (`order`), `function` the binary (`order-api`): pass `env!("CARGO_PKG_NAME")` and
/// `env!("CARGO_BIN_NAME")`. The log level comes from `AWS_LAMBDA_LOG_LEVEL` (set by
/// Lambda's advanced logging controls) or `RUST_LOG`, and defaults to INFO.
pub fn init(service: &'static str, function: &'static str) {
    init_writing_to(service, function, std::io::stdout);
}

/// `init()`, writing the lines to `writer` instead of stdout: the warm-overhead benchmark
/// (`infra/bench`) formats every line as the functions do and throws it away.
pub fn init_writing_to<W>(service: &'static str, function: &'static str, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let level = ["AWS_LAMBDA_LOG_LEVEL", "RUST_LOG"]
        .iter()
        .find_map(|name| std::env::var(name).ok()?.parse::<Level>().ok())
        .unwrap_or(Level::INFO);
    let logs = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .with_writer(writer)
        // The runtime's OpenTelemetry span would replace its request-id span in every line.
        .with_filter(filter::filter_fn(|meta| meta.target() != "lambda_runtime::layers::otel"))
        .with_filter(LevelFilter::from_level(level));
    tracing_subscriber::registry().with(logs).with(trace::layer(service, function)).init();
    crate::metrics::init(service, function);
    crate::aws::counting::name_function(function);
}
