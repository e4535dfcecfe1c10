//! Order service: owns the orders table. A signed-in shopper checks out their cart, lists
//! and reads their own orders, and cancels them.
//!
//! - Reads the cart (through the `cart` function) and prices from the catalog (through
//!   `catalog-read`), never their tables.
//! - Publishes `OrderPlaced`, `OrderConfirmed`, `OrderRejected` and `OrderCancelled`
//!   through a transactional outbox: each event is written in the same DynamoDB
//!   transaction as the order change, and `order-publisher` relays it from the table's
//!   stream to the inventory and notification queues.
//! - Consumes `StockReserved` and `StockRejected` from inventory (`order-stock-events`).
//!
//! Modules: `order` (domain and lifecycle), `payments` (the payment port and its Stripe adapter),
//! `cart_client`, `service` (the rules), `store` (DynamoDB and in-memory adapters),
//! `routes` (HTTP), `consumer` (stock outcomes), `publisher` (the outbox relay).

pub mod cart_client;
pub mod consumer;
pub mod error;
pub mod order;
pub mod payments;
pub mod publisher;
pub mod routes;
pub mod service;
pub mod store;

pub use error::OrderError;
