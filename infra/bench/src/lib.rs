//! Bookish benchmarks, the Rust half of `make bench`.
//!
//! - `hello-world` (binary): the smallest honest Lambda function, the cold-start floor.
//! - `warm-overhead` (binary): each handler's per-request CPU cost beyond its store round
//!   trips. Every case sends one sample event from `events/` through what the Lambda
//!   runtime does per invocation (`invocation`), to the handler a function's `main` wires
//!   up, over the in-memory adapters its crate already has (`cases`), and times the whole
//!   path (`runner`, `stats`) in CPU time of the thread it runs on. Some routes also run
//!   over their DynamoDB adapter and a real SDK client, against a stub DynamoDB on
//!   loopback (`stub_dynamodb`), so the SDK's own work is measured too.

pub mod cases;
pub mod fixtures;
pub mod invocation;
pub mod runner;
pub mod stats;
pub mod stub_dynamodb;
