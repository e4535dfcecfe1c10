//! `GET /v1/books` and `GET /v1/books/{id}` (public, cacheable).

use bookish_shared::http::{self, HttpResult};
use lambda_http::http::{Method, StatusCode};
use lambda_http::Request;
use sha2::{Digest, Sha256};

use crate::service::{self, BooksQuery};
use crate::store::BookStore;

/// Catalog data may be a minute stale in shared caches; writes are rare.
const CACHE_CONTROL: &str = "public, max-age=60";

pub async fn handle(store: &dyn BookStore, req: Request) -> HttpResult {
    if !http::is(&req, Method::GET) {
        return Err(http::method_not_allowed(&req));
    }
    match http::path_param(&req, "id") {
        None => list(store, &req).await,
        Some(id) => get(store, &req, &id).await,
    }
}

async fn list(store: &dyn BookStore, req: &Request) -> HttpResult {
    let page = match BooksQuery::parse(|name| http::query_param(req, name))? {
        BooksQuery::List(query) => service::list_books(store, &query).await?,
        BooksQuery::Lookup(ids) => service::lookup_books(store, &ids).await?,
    };
    let response = http::json(StatusCode::OK, &page);
    let digest = Sha256::digest(response.body().as_ref());
    let etag = http::etag(hex(&digest[..16]));
    Ok(http::cacheable(req, &etag, CACHE_CONTROL, || response))
}

async fn get(store: &dyn BookStore, req: &Request, id: &str) -> HttpResult {
    let book = service::get_book(store, id).await?;
    Ok(http::cacheable(req, &book.etag(), CACHE_CONTROL, || http::json(StatusCode::OK, &book)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
