//! How other services read the catalog: through the catalog's own read function, never
//! its table. The call is a direct Lambda Invoke of `catalog-read` with the same API
//! Gateway event a public `GET /v1/books?ids=…` would produce, so it stays private
//! (IAM `lambda:InvokeFunction`, no public hop) and exercises the catalog's real code.
//! Locally, `cargo lambda watch` serves the same Invoke API, reached by setting
//! `AWS_ENDPOINT_URL_LAMBDA` to its address.

use async_trait::async_trait;
use aws_sdk_lambda::error::DisplayErrorContext;
use aws_sdk_lambda::primitives::Blob;
use serde::Deserialize;
use serde_json::json;

use crate::config;
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
    client: aws_sdk_lambda::Client,
    function: String,
}

impl LambdaCatalog {
    /// `CATALOG_FUNCTION` names the catalog's read function.
    pub async fn from_env() -> Result<Self, config::MissingEnv> {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Ok(Self { client: aws_sdk_lambda::Client::new(&config), function: config::required("CATALOG_FUNCTION")? })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InvokeResponse {
    status_code: u16,
    #[serde(default)]
    body: String,
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
        let ids = ids.join(",");
        let event = json!({
            "version": "2.0",
            "routeKey": "GET /v1/books",
            "rawPath": "/v1/books",
            "rawQueryString": format!("ids={}", percent_encode(&ids)),
            "queryStringParameters": {"ids": ids},
            "headers": {"accept": "application/json", "x-correlation-id": correlation_id},
            "requestContext": {
                "routeKey": "GET /v1/books",
                "stage": "$default",
                "requestId": correlation_id,
                "http": {"method": "GET", "path": "/v1/books", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bookish"}
            },
            "isBase64Encoded": false
        });
        let output = self
            .client
            .invoke()
            .function_name(&self.function)
            .payload(Blob::new(event.to_string()))
            .send()
            .await
            .map_err(|e| CatalogUnavailable(DisplayErrorContext(&e).to_string()))?;
        if let Some(error) = output.function_error() {
            return Err(CatalogUnavailable(format!("{} failed: {error}", self.function)));
        }
        let payload = output.payload().map(|p| p.as_ref()).unwrap_or_default();
        let response: InvokeResponse =
            serde_json::from_slice(payload).map_err(|e| CatalogUnavailable(e.to_string()))?;
        if response.status_code != 200 {
            return Err(CatalogUnavailable(format!(
                "{} answered {}: {}",
                self.function, response.status_code, response.body
            )));
        }
        let page: Page = serde_json::from_str(&response.body).map_err(|e| CatalogUnavailable(e.to_string()))?;
        Ok(page.items)
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b',' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
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
