//! `POST /v1/orders`, `GET /v1/orders`, `GET /v1/orders/{id}` and
//! `POST /v1/orders/{id}/cancel`: the signed-in shopper's own orders.

use bookish_shared::auth::Authenticator;
use bookish_shared::cursor;
use bookish_shared::http::{self, HttpResult, RequestIds};
use bookish_shared::Problem;
use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::Request;
use serde::Serialize;
use time::OffsetDateTime;

use crate::cart_client::Caller;
use crate::order::{CheckoutInput, IdempotencyKey, Order};
use crate::service::{self, Services};
use crate::OrderError;

const DEFAULT_PAGE_SIZE: usize = 20;
const MAX_PAGE_SIZE: usize = 100;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OrderPage {
    items: Vec<Order>,
    next_cursor: Option<String>,
}

pub async fn handle(services: &Services<'_>, auth: &Authenticator, req: Request) -> HttpResult {
    let claims = auth.authenticate(&req).await?;
    let customer = claims.subject.clone();
    let now = OffsetDateTime::now_utc();
    let id = http::path_param(&req, "id");
    let cancel = req.uri().path().ends_with("/cancel");
    match (req.method().clone(), id) {
        (Method::POST, None) => {
            let key = IdempotencyKey::parse(req.headers().get("idempotency-key").and_then(|v| v.to_str().ok()))?;
            let input = http::json_body::<CheckoutInput>(&req)?;
            let caller = Caller {
                claims,
                authorization: req
                    .headers()
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
                correlation_id: RequestIds::of(&req).correlation_id,
            };
            let placed = service::place_order(services, &caller, &key, input, now).await?;
            http::record_order_id(&placed.order.id);
            let mut response = http::json(StatusCode::CREATED, &placed.order);
            if let Ok(location) = HeaderValue::from_str(&format!("/v1/orders/{}", placed.order.id)) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            if placed.replayed {
                response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
            }
            Ok(response)
        }
        (Method::GET, None) => {
            let limit = match http::query_param(&req, "limit") {
                None => DEFAULT_PAGE_SIZE,
                Some(raw) => raw.parse().ok().filter(|n| (1..=MAX_PAGE_SIZE).contains(n)).ok_or_else(|| {
                    Problem::invalid(
                        "limit",
                        format!("limit must be a whole number from 1 to {MAX_PAGE_SIZE}; got '{raw}'."),
                    )
                })?,
            };
            let scope = format!("orders|{customer}");
            let before = http::query_param(&req, "cursor").map(|c| cursor::decode(&scope, &c)).transpose()?;
            let mut items = service::list_orders(services.saga.store, &customer, limit + 1, before.as_deref()).await?;
            let next_cursor = (items.len() > limit).then(|| {
                items.truncate(limit);
                cursor::encode(&scope, &items[limit - 1].id)
            });
            Ok(http::json(StatusCode::OK, &OrderPage { items, next_cursor }))
        }
        (Method::GET, Some(id)) if !cancel => {
            let id = order_id(id)?;
            http::record_order_id(&id);
            Ok(http::json(StatusCode::OK, &service::get_order(services.saga.store, &customer, &id).await?))
        }
        (Method::POST, Some(id)) if cancel => {
            let id = order_id(id)?;
            http::record_order_id(&id);
            Ok(http::json(StatusCode::OK, &service::cancel_order(&services.saga, &customer, &id, now).await?))
        }
        _ => Err(http::method_not_allowed(&req)),
    }
}

/// Order ids are UUIDs: anything else names no order (and never reaches the table, whose
/// keys it could overflow).
fn order_id(id: String) -> Result<String, OrderError> {
    match uuid::Uuid::try_parse(&id) {
        Ok(uuid) if uuid.hyphenated().to_string() == id => Ok(id),
        _ => Err(OrderError::NotFound(id.chars().take(64).collect())),
    }
}
