//! One module per service: each function's handler wired as its `main` wires it, over the
//! in-memory adapters its crate's tests use, with the seeded state and sample event of
//! each route or queue it serves.
//!
//! State never grows across iterations: write cases put it back before every invocation
//! (untimed), so the last iteration costs what the first did.

pub mod cart;
pub mod catalog;
pub mod inventory;
pub mod notification;
pub mod order;

/// The shopper the sample events are signed in as (their JWT `sub`).
pub const SHOPPER: &str = "9b1d3c2e-shopper";
/// The book most sample events name.
pub const SAMPLE_BOOK: &str = "0123456789abcdef";
