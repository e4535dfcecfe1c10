//! `GET /v1/inventory/{bookId}` (anyone) and `PUT /v1/inventory/{bookId}` (admins): the
//! `inventory-api` Lambda. Both answer `{bookId, available, version}` with
//! `ETag: "<version>"`; a `PUT` sets the count (`{"available": n}`, with `If-Match`) or
//! adjusts it (`{"adjust": d}`).

use bookish_shared::auth::{Authenticator, ADMIN_GROUP};
use bookish_shared::http::{self, HttpResult};
use bookish_shared::Problem;
use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::Request;
use time::OffsetDateTime;

use crate::service;
use crate::stock::{Precondition, StockInput};
use crate::store::StockStore;

pub async fn handle(store: &dyn StockStore, auth: &Authenticator, req: Request) -> HttpResult {
    // The router only sends paths with a book id here.
    let Some(book_id) = http::path_param(&req, "bookId") else {
        return Err(Problem::not_found("Name a book: /v1/inventory/{bookId}."));
    };
    let stock = match req.method().clone() {
        Method::GET => service::stock(store, &book_id).await?,
        Method::PUT => {
            auth.require_group(&req, ADMIN_GROUP).await?;
            let change = http::json_body::<StockInput>(&req)?.change()?;
            let precondition = if_match(&req)?;
            service::change_stock(store, &book_id, change, precondition, OffsetDateTime::now_utc()).await?
        }
        _ => return Err(http::method_not_allowed(&req)),
    };
    let mut response = http::json(StatusCode::OK, &stock);
    let etag = HeaderValue::from_str(&stock.version.etag()).expect("digits in quotes are a header value");
    response.headers_mut().insert(header::ETAG, etag);
    Ok(response)
}

/// The request's `If-Match`, if it sent one: `*` or one ETag as `GET` gives it.
fn if_match(req: &Request) -> Result<Option<Precondition>, Problem> {
    let values: Vec<&HeaderValue> = req.headers().get_all(header::IF_MATCH).iter().collect();
    let value = match values.as_slice() {
        [] => return Ok(None),
        [value] => value.to_str().ok(),
        _ => None,
    };
    value.and_then(Precondition::parse).map(Some).ok_or_else(|| {
        Problem::invalid(
            "If-Match",
            "If-Match must be one ETag exactly as GET /v1/inventory/{bookId} gave it (e.g. \"3\"), or * for a book \
             with no stock yet.",
        )
    })
}
