//! Structured JSON logs, one object per line, as CloudWatch Logs Insights likes them.

use tracing::Level;
use tracing_subscriber::fmt::MakeWriter;

/// Installs the JSON subscriber. The level comes from `AWS_LAMBDA_LOG_LEVEL` (set by
/// Lambda's advanced logging controls) or `RUST_LOG`, and defaults to INFO.
pub fn init() {
    init_writing_to(std::io::stdout);
}

/// `init()`, writing the lines to `writer` instead of stdout: the warm-overhead benchmark
/// (`infra/bench`) formats every line as the functions do and throws it away.
pub fn init_writing_to<W>(writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let level = ["AWS_LAMBDA_LOG_LEVEL", "RUST_LOG"]
        .iter()
        .find_map(|name| std::env::var(name).ok()?.parse::<Level>().ok())
        .unwrap_or(Level::INFO);
    tracing_subscriber::fmt()
        .json()
        .with_max_level(level)
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .with_writer(writer)
        .init();
}
