//! `GET /v1/cart`, `DELETE /v1/cart`, `PUT` and `DELETE /v1/cart/items/{bookId}`: the
//! signed-in shopper's own cart.

use bookish_shared::auth::Authenticator;
use bookish_shared::catalog_client::Catalog;
use bookish_shared::http::{self, HttpResult, RequestIds};
use lambda_http::http::{Method, StatusCode};
use lambda_http::Request;
use time::OffsetDateTime;

use crate::cart::{Quantity, QuantityInput};
use crate::service::{self, Caller};
use crate::store::CartStore;

pub async fn handle(store: &dyn CartStore, catalog: &dyn Catalog, auth: &Authenticator, req: Request) -> HttpResult {
    let claims = auth.authenticate(&req).await?;
    let ids = RequestIds::of(&req);
    let caller = Caller { owner: &claims.subject, correlation_id: &ids.correlation_id };
    let now = OffsetDateTime::now_utc();
    let cart = match (req.method().clone(), http::path_param(&req, "bookId")) {
        (Method::GET, None) => service::view(store, catalog, &caller).await?,
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
