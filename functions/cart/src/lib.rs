//! Cart service: owns the carts table. A signed-in shopper reads and changes their own
//! cart, keyed by the token's `sub` and nothing the client sends.
//!
//! Reads the catalog (titles and prices) through the catalog's read function, never its
//! table. Publishes nothing and consumes nothing.
//!
//! - `cart`: the domain types (`Quantity`, the stored cart, the priced view).
//! - `service`: the rules, written against the `CartStore` and `Catalog` ports.
//! - `store`: the DynamoDB adapter and an in-memory one for tests.
//! - `routes`: HTTP for the `cart` Lambda.

pub mod cart;
pub mod error;
pub mod routes;
pub mod service;
pub mod store;

pub use error::CartError;
