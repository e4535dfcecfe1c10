//! `GET /v1/inventory/{bookId}` (anyone) and `PUT /v1/inventory/{bookId}` (admins): the
//! `inventory-api` Lambda.

use bookish_shared::auth::{Authenticator, ADMIN_GROUP};
use bookish_shared::http::{self, HttpResult};
use bookish_shared::Problem;
use lambda_http::http::{Method, StatusCode};
use lambda_http::Request;
use time::OffsetDateTime;

use crate::service;
use crate::stock::{Available, StockInput};
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
            let available = Available::parse(http::json_body::<StockInput>(&req)?.available)?;
            service::set_stock(store, &book_id, available, OffsetDateTime::now_utc()).await?
        }
        _ => return Err(http::method_not_allowed(&req)),
    };
    Ok(http::json(StatusCode::OK, &stock))
}
