//! Calling another service's HTTP function privately: a direct Lambda Invoke carrying the
//! same API Gateway (payload 2.0) event a public request would, so the call needs IAM
//! `lambda:InvokeFunction` instead of a public hop, and runs the callee's real routes.
//! Locally, `cargo lambda watch` serves the same Invoke API, reached by setting
//! `AWS_ENDPOINT_URL_LAMBDA` to its address.

use std::collections::BTreeMap;

use aws_sdk_lambda::error::DisplayErrorContext;
use aws_sdk_lambda::primitives::Blob;
use serde::Deserialize;
use serde_json::{json, Value};

use tracing::Instrument;

use crate::config;
use crate::telemetry::{self, trace::TRACEPARENT};

/// A request to another function, built like API Gateway would build it.
pub struct HttpCall {
    method: &'static str,
    path: String,
    route_key: String,
    query: BTreeMap<String, String>,
    headers: BTreeMap<String, String>,
    body: Option<String>,
}

impl HttpCall {
    pub fn new(method: &'static str, path: impl Into<String>, route_key_path: &str, correlation_id: &str) -> Self {
        let headers = BTreeMap::from([
            ("accept".to_owned(), "application/json".to_owned()),
            ("x-correlation-id".to_owned(), correlation_id.to_owned()),
        ]);
        Self {
            method,
            path: path.into(),
            route_key: format!("{method} {route_key_path}"),
            query: BTreeMap::new(),
            headers,
            body: None,
        }
    }

    pub fn get(path: &str, correlation_id: &str) -> Self {
        Self::new("GET", path, path, correlation_id)
    }

    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.insert(name.to_owned(), value.to_owned());
        self
    }

    /// A JSON request body.
    pub fn json_body(mut self, body: &Value) -> Self {
        self.headers.insert("content-type".to_owned(), "application/json".to_owned());
        self.body = Some(body.to_string());
        self
    }

    /// Calls on behalf of a signed-in user by forwarding their own token: the callee
    /// verifies it, exactly as for the user's own request. No identity travels any other
    /// way: an invoked function never reads claims from the event.
    pub fn on_behalf_of(mut self, authorization: &str) -> Self {
        self.headers.insert("authorization".to_owned(), authorization.to_owned());
        self
    }

    /// The API Gateway event this call hands the callee. The callers' tests record it in
    /// `events/`, and the callees' tests replay that record against their routes.
    pub fn event(&self) -> Value {
        let raw_query: Vec<String> =
            self.query.iter().map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v))).collect();
        let context = json!({
            "routeKey": self.route_key,
            "stage": "$default",
            "requestId": self.headers["x-correlation-id"],
            "http": {"method": self.method, "path": self.path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bookish-internal"}
        });
        let mut event = json!({
            "version": "2.0",
            "routeKey": self.route_key,
            "rawPath": self.path,
            "rawQueryString": raw_query.join("&"),
            "headers": self.headers,
            "requestContext": context,
            "isBase64Encoded": false
        });
        if !self.query.is_empty() {
            event["queryStringParameters"] = json!(self.query);
        }
        if let Some(body) = &self.body {
            event["body"] = json!(body);
        }
        event
    }
}

pub struct HttpResponse {
    pub status: u16,
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
#[error("calling {function} failed: {cause}")]
pub struct InvokeError {
    pub function: String,
    pub cause: String,
}

/// Another service's HTTP function, by name.
pub struct HttpFunction {
    client: aws_sdk_lambda::Client,
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InvokeResponse {
    status_code: u16,
    #[serde(default)]
    body: String,
}

impl HttpFunction {
    /// The function named by the environment variable `variable`.
    pub fn from_env(aws: &aws_config::SdkConfig, variable: &'static str) -> Result<Self, config::MissingEnv> {
        Ok(Self { client: crate::aws_client!(aws_sdk_lambda, aws), name: config::required(variable)? })
    }

    pub async fn call(&self, mut call: HttpCall) -> Result<HttpResponse, InvokeError> {
        let error = |cause: String| InvokeError { function: self.name.clone(), cause };
        let span = tracing::info_span!(
            "invoke",
            "otel.name" = %call.route_key,
            "otel.kind" = "client",
            "faas.invoked_name" = %self.name,
            "http.response.status_code" = tracing::field::Empty,
        );
        // The callee's request span becomes this span's child, as API Gateway's would be.
        if let Some(header) = span.in_scope(telemetry::trace::traceparent) {
            call.headers.insert(TRACEPARENT.to_owned(), header);
        }
        let output = self
            .client
            .invoke()
            .function_name(&self.name)
            .payload(Blob::new(call.event().to_string()))
            .send()
            .instrument(span.clone())
            .await
            .map_err(|e| error(DisplayErrorContext(&e).to_string()))?;
        if let Some(function_error) = output.function_error() {
            return Err(error(function_error.to_owned()));
        }
        let payload = output.payload().map(|p| p.as_ref()).unwrap_or_default();
        let response: InvokeResponse = serde_json::from_slice(payload).map_err(|e| error(e.to_string()))?;
        span.record("http.response.status_code", response.status_code);
        Ok(HttpResponse { status: response.status_code, body: response.body })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_an_api_gateway_event_that_lambda_http_reads() {
        let call = HttpCall::get("/v1/books", "corr-1").query("ids", "a,b c").on_behalf_of("Bearer t");
        let request = lambda_http::request::from_str(&call.event().to_string()).unwrap();
        use lambda_http::RequestExt;
        assert_eq!(request.query_string_parameters_ref().unwrap().first("ids"), Some("a,b c"));
        assert_eq!(request.headers()["authorization"], "Bearer t");
        let authorizer = request.request_context_ref().unwrap().authorizer();
        assert!(authorizer.is_none_or(|a| a.jwt.is_none()), "no claims travel in the event");
    }
}
