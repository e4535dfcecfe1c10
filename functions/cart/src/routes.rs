//! `GET /v1/cart`, `DELETE /v1/cart`, `PUT` and `DELETE /v1/cart/items/{bookId}`: the
//! signed-in shopper's own cart.
//!
//! `DELETE /v1/cart` with no body empties the cart; with a body
//! `{"lines": [{"bookId": "…", "quantity": n}, …]}` (checkout sends what it ordered) it
//! removes only the listed lines that still hold exactly that quantity.

use bookish_shared::auth::Authenticator;
use bookish_shared::catalog_client::Catalog;
use bookish_shared::http::{self, HttpResult, RequestIds};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request};
use time::OffsetDateTime;

use crate::cart::{Quantity, QuantityInput, RemovalInput};
use crate::service::{self, Caller};
use crate::store::CartStore;

pub async fn handle(store: &dyn CartStore, catalog: &dyn Catalog, auth: &Authenticator, req: Request) -> HttpResult {
    let claims = auth.authenticate(&req).await?;
    let ids = RequestIds::of(&req);
    let caller = Caller { owner: &claims.subject, correlation_id: &ids.correlation_id };
    let now = OffsetDateTime::now_utc();
    let cart = match (req.method().clone(), http::path_param(&req, "bookId")) {
        (Method::GET, None) => service::view(store, catalog, &caller).await?,
        (Method::DELETE, None) if has_body(&req) => {
            let lines = http::json_body::<RemovalInput>(&req)?.parse()?;
            service::remove_ordered(store, &caller, &lines, now).await?;
            return Ok(http::no_content());
        }
        (Method::DELETE, None) => {
            service::clear(store, &caller).await?;
            return Ok(http::no_content());
        }
        (Method::PUT, Some(book_id)) => {
            let quantity = Quantity::parse(http::json_body::<QuantityInput>(&req)?.quantity)?;
            service::set_quantity(store, catalog, &caller, &book_id, quantity, now).await?
        }
        (Method::DELETE, Some(book_id)) => service::remove(store, catalog, &caller, &book_id, now).await?,
        _ => return Err(http::method_not_allowed(&req)),
    };
    Ok(http::json(StatusCode::OK, &cart))
}

/// Whether the request carries a body other than whitespace.
fn has_body(req: &Request) -> bool {
    let bytes: &[u8] = match req.body() {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => b"",
    };
    !bytes.iter().all(u8::is_ascii_whitespace)
}
