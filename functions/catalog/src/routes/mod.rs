//! HTTP for the catalog's two Lambdas. `read` serves the public GET routes, `admin`
//! the writes, so each function's IAM role can be exactly what its routes need.

pub mod admin;
pub mod read;
