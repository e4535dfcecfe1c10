//! RFC 9457 problem details: the one error shape every Bookish API returns.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

pub const CONTENT_TYPE: &str = "application/problem+json";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    Validation,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PreconditionFailed,
    PreconditionRequired,
    PayloadTooLarge,
    UnsupportedMediaType,
    UnprocessableContent,
    Internal,
    /// A provider the request depends on is down: the same request may succeed later.
    ServiceUnavailable,
    /// The caller went over a rate limit; `Problem::retry_after` says when to come back.
    TooManyRequests,
}

impl ProblemKind {
    pub fn status(self) -> StatusCode {
        match self {
            Self::Validation => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict => StatusCode::CONFLICT,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::UnprocessableContent => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    fn slug(self) -> &'static str {
        match self {
            Self::Validation => "validation-error",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not-found",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::Conflict => "conflict",
            Self::PreconditionFailed => "precondition-failed",
            Self::PreconditionRequired => "precondition-required",
            Self::PayloadTooLarge => "payload-too-large",
            Self::UnsupportedMediaType => "unsupported-media-type",
            Self::UnprocessableContent => "unprocessable-content",
            Self::Internal => "internal-error",
            Self::ServiceUnavailable => "service-unavailable",
            Self::TooManyRequests => "too-many-requests",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::Validation => "Your request is not valid",
            Self::Unauthorized => "You need to sign in",
            Self::Forbidden => "You are not allowed to do this",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::Conflict => "Conflict",
            Self::PreconditionFailed => "The resource has changed",
            Self::PreconditionRequired => "The request must be conditional",
            Self::PayloadTooLarge => "The request body is too large",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::UnprocessableContent => "The request cannot be processed",
            Self::Internal => "Something went wrong on our side",
            Self::ServiceUnavailable => "A service we depend on is not answering",
            Self::TooManyRequests => "Too many requests",
        }
    }
}

/// A problem to report to the client. `detail` is written for a person; `field` names the
/// offending input (dotted path such as `price.amount`) on validation errors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    pub detail: String,
    pub field: Option<String>,
    /// Seconds after which the request may succeed (the `Retry-After` header).
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn new(kind: ProblemKind, detail: impl Into<String>) -> Self {
        Self { kind, detail: detail.into(), field: None, retry_after: None }
    }

    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { field: Some(field.into()), ..Self::new(ProblemKind::Validation, detail) }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(ProblemKind::NotFound, detail)
    }

    /// 429: over a rate limit; come back after `seconds`.
    pub fn too_many_requests(detail: impl Into<String>, seconds: u64) -> Self {
        Self { retry_after: Some(seconds), ..Self::new(ProblemKind::TooManyRequests, detail) }
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(ProblemKind::Unauthorized, detail)
    }

    /// The cause is logged here; the client only learns that it was our fault.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(ProblemKind::Internal, "The request failed unexpectedly. Please try again later.")
    }

    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    pub fn into_response(self) -> Response<Body> {
        let body = serde_json::to_string(&self).expect("a problem always serializes");
        let mut response = Response::new(Body::Text(body));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        if self.kind == ProblemKind::Unauthorized {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl Serialize for Problem {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("type", &format!("urn:bookish:problem:{}", self.kind.slug()))?;
        map.serialize_entry("title", self.kind.title())?;
        map.serialize_entry("status", &self.status().as_u16())?;
        map.serialize_entry("detail", &self.detail)?;
        if let Some(field) = &self.field {
            map.serialize_entry("field", field)?;
        }
        map.end()
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.detail, self.status())
    }
}

impl std::error::Error for Problem {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_problem_json_with_field() {
        let response = Problem::invalid("price.amount", "The price cannot be negative.").into_response();
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
        let Body::Text(body) = response.body() else { panic!("text body") };
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["type"], "urn:bookish:problem:validation-error");
        assert_eq!(json["status"], 400);
        assert_eq!(json["field"], "price.amount");
        assert_eq!(json["detail"], "The price cannot be negative.");
    }

    #[test]
    fn too_many_requests_says_when_to_retry() {
        let response = Problem::too_many_requests("slow down", 17).into_response();
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()[header::RETRY_AFTER], "17");
        assert_eq!(response.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
    }

    #[test]
    fn unauthorized_asks_for_a_bearer_token() {
        let response = Problem::unauthorized("no token").into_response();
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
        let Body::Text(body) = response.body() else { panic!("text body") };
        assert!(!body.contains("field"));
    }
}
