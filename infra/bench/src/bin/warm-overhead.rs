//! Each Bookish Lambda handler's per-request CPU cost.
//!
//! Every case sends a sample event from `events/` through what the Lambda runtime does per
//! invocation (JSON in, `lambda_http`'s request and response conversion, JSON out) to the
//! handler its function's `main` wires up, and reads the CPU clock of the one thread that
//! runs it all (wall time too). Most cases run over in-memory stores; the `[sdk+stub]`
//! ones run over the function's DynamoDB store and a real SDK client whose endpoint is a
//! stub on loopback answering on its own threads, so the SDK's request building, signing
//! and response parsing count and DynamoDB's latency does not. Log lines and metrics are
//! formatted as in the functions and written to a sink.
//! Prints one JSON line per case on stdout; notes go to stderr.
//!
//! Run it built with the release profile the functions ship with:
//! `cargo build --release -p bookish-bench && target/release/warm-overhead --help`

use std::process::ExitCode;
use std::time::Instant;

use bookish_bench::cases::cart::Cart;
use bookish_bench::cases::catalog::{CatalogAdmin, CatalogRead};
use bookish_bench::cases::inventory::{InventoryApi, InventoryEvents};
use bookish_bench::cases::notification::NotificationEvents;
use bookish_bench::cases::order::{OrderApi, OrderPublisher, OrderStockEvents};
use bookish_bench::runner::{self, Case, Options, Over, USAGE};
use bookish_shared::telemetry;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "--help" || arg == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let options = match Options::parse(args) {
        Ok(options) => options,
        Err(problem) => {
            eprintln!("warm-overhead: {problem}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // The functions' own subscriber and metrics, so each case pays for its log lines'
    // formatting and its metrics (written to a sink by `Runtime::invoke`). Traces are on
    // when AWS_XRAY_DAEMON_ADDRESS is set, as in the functions. With
    // BENCH_WITHOUT_METRICS=1 a no-op recorder takes the global slot first, so the
    // functions' metrics find it taken and stay off: what metrics cost, by difference.
    if std::env::var_os("BENCH_WITHOUT_METRICS").is_some() {
        metrics::set_global_recorder(metrics::NoopRecorder).expect("no recorder yet");
    }
    telemetry::init_writing_to("bench", "warm-overhead", std::io::sink);
    // As in every function's main: one thread, no work stealing.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    let measured = runtime.block_on(run_all(&options));
    if measured == 0 {
        eprintln!("warm-overhead: no case name contains {:?}", options.case.as_deref().unwrap_or(""));
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Runs every selected case in turn; returns how many ran.
async fn run_all(options: &Options) -> usize {
    eprintln!(
        "warm-overhead: {} warm-up + {} measured iterations per case, CPU time of the handling thread",
        options.warmup, options.iterations
    );
    let started = Instant::now();
    let mut bench = Bench { options, measured: 0 };
    bench.run(CatalogRead::get_book(Over::MemoryPorts).await).await;
    bench.run(CatalogRead::list_books(Over::MemoryPorts).await).await;
    bench.run(CatalogRead::search_books().await).await;
    bench.run(CatalogAdmin::create_book().await).await;
    bench.run(CatalogAdmin::replace_book().await).await;
    bench.run(Cart::get_cart(Over::MemoryPorts).await).await;
    bench.run(Cart::set_quantity().await).await;
    bench.run(OrderApi::list_orders().await).await;
    bench.run(OrderApi::get_order(Over::MemoryPorts).await).await;
    bench.run(OrderApi::place_order().await).await;
    bench.run(InventoryApi::get_stock(Over::MemoryPorts).await).await;
    bench.run(InventoryApi::set_stock().await).await;
    bench.run(OrderPublisher::outbox_stream().await).await;
    bench.run(OrderStockEvents::stock_reserved().await).await;
    bench.run(InventoryEvents::order_placed().await).await;
    bench.run(NotificationEvents::order_confirmed().await).await;
    bench.run(CatalogRead::get_book(Over::SdkStub).await).await;
    bench.run(CatalogRead::list_books(Over::SdkStub).await).await;
    bench.run(Cart::get_cart(Over::SdkStub).await).await;
    bench.run(OrderApi::get_order(Over::SdkStub).await).await;
    bench.run(InventoryApi::get_stock(Over::SdkStub).await).await;
    eprintln!("warm-overhead: {} cases in {:.1} s", bench.measured, started.elapsed().as_secs_f64());
    bench.measured
}

struct Bench<'a> {
    options: &'a Options,
    measured: usize,
}

impl Bench<'_> {
    /// Measures the case, if selected, and prints its summary line.
    async fn run(&mut self, mut case: impl Case) {
        if !self.options.selects(&case.name()) {
            return;
        }
        let summary = runner::run(&mut case, self.options).await;
        println!("{}", summary.to_json_line());
        self.measured += 1;
    }
}
