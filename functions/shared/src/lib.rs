//! What every Bookish service shares: problem+json errors, authentication, configuration,
//! telemetry (logs and metrics), HTTP plumbing and DynamoDB helpers. Services share code,
//! never tables.

pub mod auth;
pub mod aws;
#[cfg(feature = "catalog-client")]
pub mod catalog_client;
pub mod config;
pub mod cursor;
pub mod dynamo;
pub mod events;
pub mod http;
#[cfg(feature = "catalog-client")]
pub mod invoke;
pub mod metrics;
pub mod money;
pub mod problem;
#[cfg(feature = "secrets")]
pub mod secrets;
#[cfg(feature = "sqs")]
pub mod sqs;
pub mod telemetry;
pub mod text;

pub use problem::{Problem, ProblemKind};
