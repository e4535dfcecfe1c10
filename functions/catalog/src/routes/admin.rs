//! `POST /v1/books`, `PUT /v1/books/{id}` and `DELETE /v1/books/{id}`: admins only.

use bookish_shared::auth::{Authenticator, ADMIN_GROUP};
use bookish_shared::http::{self, HttpResult};
use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use time::OffsetDateTime;

use crate::book::{Book, BookInput};
use crate::service;
use crate::store::BookStore;

pub async fn handle(store: &dyn BookStore, auth: &Authenticator, req: Request) -> HttpResult {
    auth.require_group(&req, ADMIN_GROUP).await?;
    let now = OffsetDateTime::now_utc();
    match (req.method().clone(), http::path_param(&req, "id")) {
        (Method::POST, None) => {
            let draft = http::json_body::<BookInput>(&req)?.parse(now.year())?;
            let book = service::create_book(store, draft, now).await?;
            let mut response = with_etag(http::json(StatusCode::CREATED, &book), &book);
            if let Ok(location) = HeaderValue::from_str(&format!("/v1/books/{}", book.id)) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            Ok(response)
        }
        (Method::PUT, Some(id)) => {
            let draft = http::json_body::<BookInput>(&req)?.parse(now.year())?;
            let book = service::replace_book(store, &id, draft, |etag| http::if_match(&req, etag), now).await?;
            Ok(with_etag(http::json(StatusCode::OK, &book), &book))
        }
        (Method::DELETE, Some(id)) => {
            service::delete_book(store, &id, |etag| http::if_match(&req, etag)).await?;
            Ok(http::no_content())
        }
        _ => Err(http::method_not_allowed(&req)),
    }
}

fn with_etag(mut response: Response<Body>, book: &Book) -> Response<Body> {
    if let Ok(etag) = HeaderValue::from_str(&book.etag()) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}
