//! How other services read the catalog: through the catalog's own read function, never
//! its table, with a private `GET /v1/books?ids=…` (see `invoke`).

use async_trait::async_trait;
use serde::Deserialize;

use crate::config;
use crate::invoke::{HttpCall, HttpFunction};
use crate::money::Money;

/// What a buyer needs to know of a book: the catalog's current title and price.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CatalogBook {
    pub id: String,
    pub title: String,
    pub price: Money,
}

#[derive(Debug, thiserror::Error)]
#[error("the catalog could not be read: {0}")]
pub struct CatalogUnavailable(pub String);

#[async_trait]
pub trait Catalog: Send + Sync {
    /// The books with these ids (at most 100) that exist; unknown ids are left out.
    async fn lookup(&self, ids: &[String], correlation_id: &str) -> Result<Vec<CatalogBook>, CatalogUnavailable>;
}

pub struct LambdaCatalog {
    function: HttpFunction,
}

impl LambdaCatalog {
    /// `CATALOG_FUNCTION` names the catalog's read function.
    pub fn from_env(aws: &aws_config::SdkConfig) -> Result<Self, config::MissingEnv> {
        Ok(Self { function: HttpFunction::from_env(aws, "CATALOG_FUNCTION")? })
    }
}

#[derive(Deserialize)]
struct Page {
    items: Vec<CatalogBook>,
}

#[async_trait]
impl Catalog for LambdaCatalog {
    async fn lookup(&self, ids: &[String], correlation_id: &str) -> Result<Vec<CatalogBook>, CatalogUnavailable> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let response = self
            .function
            .call(lookup_call(ids, correlation_id))
            .await
            .map_err(|e| CatalogUnavailable(e.to_string()))?;
        if response.status != 200 {
            return Err(CatalogUnavailable(format!("the catalog answered {}: {}", response.status, response.body)));
        }
        let page: Page = serde_json::from_str(&response.body).map_err(|e| CatalogUnavailable(e.to_string()))?;
        Ok(page.items)
    }
}

/// `GET /v1/books?ids=…`: the one request other services make of the catalog.
fn lookup_call(ids: &[String], correlation_id: &str) -> HttpCall {
    HttpCall::get("/v1/books", correlation_id).query("ids", &ids.join(","))
}

/// A fixed catalog for tests of the services that read it.
#[derive(Default)]
pub struct StaticCatalog {
    pub books: std::sync::Mutex<Vec<CatalogBook>>,
}

#[async_trait]
impl Catalog for StaticCatalog {
    async fn lookup(&self, ids: &[String], _correlation_id: &str) -> Result<Vec<CatalogBook>, CatalogUnavailable> {
        let books = self.books.lock().unwrap();
        Ok(books.iter().filter(|b| ids.contains(&b.id)).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The catalog's tests replay this record of the request (`functions/catalog/tests/api.rs`).
    #[test]
    fn a_lookup_sends_the_request_the_catalog_tests_replay() {
        let path = format!("{}/../../events/catalog/lookup-books-by-ids.json", env!("CARGO_MANIFEST_DIR"));
        let recorded: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let ids = ["0123456789abcdef".to_owned(), "fedcba9876543210".to_owned()];
        assert_eq!(
            lookup_call(&ids, "checkout-7f3a9c").event(),
            recorded,
            "update {path} and the catalog's tests together"
        );
    }
}
