//! Inventory service: owns the stock table, the copies of each book in stock and what is
//! reserved for which order. Stock never goes negative.
//!
//! - Serves `GET /v1/inventory/{bookId}` (anyone) and `PUT /v1/inventory/{bookId}`
//!   (admins set the count on the version they read, `If-Match`, or adjust it by a number
//!   of copies) from `inventory-api`. Every change to a book's stock bumps its version,
//!   reservations and releases included, so a count decided on a stale reading is refused
//!   (412) rather than making or losing the copies reserved meanwhile.
//! - Consumes OrderPlaced and OrderCancelled from InventoryQueue in `inventory-events`:
//!   an order's lines are reserved all or none in one transaction, and given back once
//!   when it is cancelled. Each decision is recorded under the order id, so a message
//!   delivered twice changes nothing the second time.
//! - Publishes StockReserved and StockRejected to the order service's OrderStockQueue
//!   (`ORDER_STOCK_QUEUE_URL`), with the correlation id the order event carried.
//!
//! - `stock`: the domain types (`Available`, `Quantity`, `Reservation`, the events).
//! - `service`: the rules, written against the `StockStore` and `Publisher` ports.
//! - `store`: the DynamoDB adapter and an in-memory one for tests.
//! - `routes`: HTTP for `inventory-api`; `consumer`: SQS for `inventory-events`.

pub mod consumer;
pub mod error;
pub mod routes;
pub mod service;
pub mod stock;
pub mod store;

pub use error::InventoryError;
