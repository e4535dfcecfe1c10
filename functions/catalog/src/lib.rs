//! Catalog service: owns the books table. Anyone may list, search and read books;
//! members of the `admin` group create, replace and delete them.
//!
//! Publishes nothing and consumes nothing yet. Other services read books only through
//! this service's API, never its table.
//!
//! - `book`: the domain types, parsed from input so an invalid book cannot exist.
//! - `service`: the rules, written against the `store::BookStore` port.
//! - `store`: the DynamoDB adapter and an in-memory one for tests.
//! - `routes`: HTTP for the two Lambdas, `catalog-read` and `catalog-admin`.

pub mod book;
pub mod error;
pub mod routes;
pub mod service;
pub mod store;

pub use error::CatalogError;
