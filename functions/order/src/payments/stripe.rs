//! The Stripe adapter: PaymentIntents with `capture_method=manual`.
//!
//! - authorize: `POST /v1/payment_intents` (confirm=true) with the client's `pm_…` id;
//!   `requires_capture` is a hold.
//! - capture: `POST /v1/payment_intents/{id}/capture`; void: `…/{id}/cancel`;
//!   refund: `POST /v1/refunds` with `payment_intent`.
//!
//! Every request carries an `Idempotency-Key` (Stripe replays the first answer for 24 h).
//! When Stripe refuses a capture or cancel because of the intent's state, the adapter
//! reads the intent and answers from its status, so a step that already happened (or
//! cannot happen) has an outcome instead of a retry loop.
//!
//! The HTTP client is hyper with hyper-rustls, the build the AWS SDK already links (no new
//! TLS stack, no Stripe SDK in the binary); it trusts the system's roots, loaded once on
//! first use. The secret key comes from SSM (`bookish_shared::secrets`), read once.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use bookish_shared::config::Stage;
use bookish_shared::metrics::{self, Dependency};
use bookish_shared::money::Money;
use bookish_shared::secrets::{Secret, SecretSource};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use lambda_http::http::{header, Method, Request};
use serde::Deserialize;
use serde_json::Value;
use tracing::Instrument;

use super::{Authorization, Capture, PaymentError, PaymentGateway, Void};

pub const STRIPE_API: &str = "https://api.stripe.com";
/// Pinned so Stripe's answers keep the shape this adapter reads.
const STRIPE_VERSION: &str = "2024-06-20";
/// Each Stripe call gets this long; the order functions run for 10 s at most.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<bytes::Bytes>>;

pub struct StripePayments {
    api_base: String,
    stage: Stage,
    key: Secret,
    client: OnceLock<Result<HttpsClient, String>>,
}

/// Why a function must not run with this payment configuration.
#[derive(Debug, thiserror::Error)]
#[error("refusing to take payments: {0}")]
pub struct Refused(pub String);

#[derive(Debug)]
pub enum WarmUp {
    /// The key or the TLS roots could not be loaded now; the first payment tries again.
    Unavailable(String),
    Refused(Refused),
}

impl StripePayments {
    /// From `STRIPE_SECRET_KEY_PARAMETER` (an SSM SecureString name) and, locally,
    /// `STRIPE_API_BASE` (localstripe). In `prod` only Stripe's own API is accepted.
    pub fn from_env(
        stage: Stage,
        aws: &bookish_shared::aws::SdkConfig,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let name = bookish_shared::config::required("STRIPE_SECRET_KEY_PARAMETER")?;
        let api_base = bookish_shared::config::optional("STRIPE_API_BASE").unwrap_or_else(|| STRIPE_API.to_owned());
        Ok(Self::new(api_base, stage, SecretSource::Ssm { name, aws: Box::new(aws.clone()) })?)
    }

    pub fn new(api_base: impl Into<String>, stage: Stage, key: SecretSource) -> Result<Self, Refused> {
        let api_base = api_base.into().trim_end_matches('/').to_owned();
        if stage == Stage::Prod && api_base != STRIPE_API {
            return Err(Refused(format!("stage prod talks to {STRIPE_API} only, not {api_base}")));
        }
        Ok(Self { api_base, stage, key: Secret::new(key), client: OnceLock::new() })
    }

    /// `from_env`, kept for the life of the process, warming up in the background: the
    /// cold start does not wait for the key, and a key that does not suit the stage stops
    /// the process (Lambda reports the failed init) before any payment is tried.
    /// The stage is `STAGE`'s; a configuration the stage refuses is logged and returned.
    pub fn start(
        aws: &bookish_shared::aws::SdkConfig,
    ) -> Result<&'static Self, Box<dyn std::error::Error + Send + Sync>> {
        let payments = Stage::from_env()
            .map_err(Into::into)
            .and_then(|stage| Self::from_env(stage, aws))
            .inspect_err(|e| tracing::error!(error = %e, "refusing to start"))?;
        let payments: &'static Self = Box::leak(Box::new(payments));
        tokio::spawn(async move {
            match payments.warm_up().await {
                Ok(()) => {}
                Err(WarmUp::Unavailable(err)) => tracing::warn!(error = %err, "Stripe key not read yet"),
                Err(WarmUp::Refused(refused)) => {
                    tracing::error!(error = %refused, "refusing to start");
                    std::process::exit(1);
                }
            }
        });
        Ok(payments)
    }

    /// Reads the key and loads the TLS roots now, so the first payment does not wait for
    /// them, and checks the key suits the stage. Run it in the background at cold start.
    pub async fn warm_up(&self) -> Result<(), WarmUp> {
        let key = self.key.get().await.map_err(|e| WarmUp::Unavailable(e.to_string()))?;
        check_key(self.stage, key).map_err(WarmUp::Refused)?;
        self.client().map(drop).map_err(|e| WarmUp::Unavailable(e.to_owned()))
    }

    fn client(&self) -> Result<&HttpsClient, &str> {
        self.client
            .get_or_init(|| {
                let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
                let https = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_provider_and_native_roots(provider)
                    .map_err(|e| format!("no TLS roots: {e}"))?;
                let https = if self.api_base.starts_with("https://") {
                    https.https_only().enable_http1().build()
                } else {
                    https.https_or_http().enable_http1().build()
                };
                Ok(Client::builder(TokioExecutor::new()).build(https))
            })
            .as_ref()
            .map_err(String::as_str)
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        form: &[(&str, &str)],
        idempotency_key: Option<&str>,
    ) -> Result<Reply, PaymentError> {
        let key = self.key.get().await.map_err(|e| PaymentError::Unavailable(e.to_string()))?;
        check_key(self.stage, key).map_err(|e| PaymentError::Unavailable(e.to_string()))?;
        let client = self.client().map_err(|e| PaymentError::Unavailable(e.to_owned()))?;
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{key}:"));
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.api_base))
            .header(header::AUTHORIZATION, format!("Basic {auth}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("Stripe-Version", STRIPE_VERSION);
        if let Some(idempotency_key) = idempotency_key {
            request = request.header("Idempotency-Key", idempotency_key);
        }
        let request = request.body(Full::from(body)).map_err(|e| PaymentError::Unavailable(e.to_string()))?;
        let span = tracing::info_span!(
            "stripe",
            "otel.name" = %format!("Stripe {} {}", request.method(), stripe_route(path)),
            "otel.kind" = "client",
            "peer.service" = "stripe",
            "url.path" = path,
            "http.response.status_code" = tracing::field::Empty,
            "otel.status_code" = tracing::field::Empty,
        );
        let started = std::time::Instant::now();
        let exchange = async {
            let response = client.request(request).await.map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            let bytes = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
            Ok::<_, String>((status, bytes))
        };
        let (status, bytes) = metrics::timed(Dependency::Stripe, tokio::time::timeout(CALL_TIMEOUT, exchange))
            .instrument(span.clone())
            .await
            .inspect_err(|_| {
                span.record("otel.status_code", "error");
            })
            .map_err(|_| PaymentError::Unavailable(format!("Stripe did not answer {path} within {CALL_TIMEOUT:?}")))?
            .map_err(|e| PaymentError::Unavailable(format!("Stripe {path}: {e}")))?;
        span.record("http.response.status_code", status);
        if status >= 500 {
            span.record("otel.status_code", "error");
        }
        tracing::info!(path, status, elapsed_ms = started.elapsed().as_millis() as u64, "stripe call");
        Reply::parse(status, &bytes)
            .map_err(|e| PaymentError::Unavailable(format!("Stripe {path} answered {status}: {e}")))
    }

    async fn intent_status(&self, id: &str) -> Result<String, PaymentError> {
        match self.call(Method::GET, &format!("/v1/payment_intents/{id}"), &[], None).await? {
            Reply::Ok(intent) => Ok(intent.status().to_owned()),
            Reply::Refused(error) => Err(error.unavailable()),
        }
    }
}

/// A live key in `dev` or a test key in `prod` is a misconfiguration, not a payment to try.
pub fn check_key(stage: Stage, key: &str) -> Result<(), Refused> {
    let live = key.starts_with("sk_live_") || key.starts_with("rk_live_");
    let test = key.starts_with("sk_test_") || key.starts_with("rk_test_");
    match stage {
        Stage::Prod if !live => Err(Refused("stage prod needs a live Stripe key (sk_live_…/rk_live_…)".into())),
        Stage::Dev if !test => Err(Refused("stage dev takes a Stripe test key (sk_test_…/rk_test_…) only".into())),
        _ => Ok(()),
    }
}

/// A Stripe answer: the object, or the error Stripe gave for a request it refused
/// (400, 402, 404). Anything else (401, 409, 429, 5xx) is the provider being unavailable.
enum Reply {
    Ok(Value),
    Refused(StripeError),
}

#[derive(Debug, Default, Deserialize)]
struct StripeError {
    /// The HTTP status Stripe answered with (402 is a decline).
    #[serde(skip)]
    status: u16,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    decline_code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    param: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: StripeError,
}

impl Reply {
    fn parse(status: u16, body: &[u8]) -> Result<Self, String> {
        match status {
            200..=299 => serde_json::from_slice(body).map(Reply::Ok).map_err(|e| e.to_string()),
            400 | 402 | 404 => {
                let mut error = serde_json::from_slice::<ErrorBody>(body).map_err(|e| e.to_string())?.error;
                error.status = status;
                Ok(Reply::Refused(error))
            }
            _ => Err(String::from_utf8_lossy(body).chars().take(300).collect()),
        }
    }
}

impl StripeError {
    fn describe(&self) -> String {
        let code = self.decline_code.as_deref().or(self.code.as_deref()).unwrap_or(&self.kind);
        match &self.message {
            Some(message) => format!("{code}: {message}"),
            None => code.to_owned(),
        }
    }

    /// 402 is Stripe's status for a declined card, whatever the error's type.
    fn is_decline(&self) -> bool {
        self.status == 402 || self.kind == "card_error"
    }

    /// Stripe answers 400 `resource_missing` (param `payment_method`); localstripe a bare 404.
    fn is_unknown_payment_method(&self) -> bool {
        let missing = self.code.as_deref() == Some("resource_missing") || self.status == 404;
        missing && self.param.as_deref().is_none_or(|p| p.starts_with("payment_method"))
    }

    fn unavailable(&self) -> PaymentError {
        PaymentError::Unavailable(format!("Stripe refused the request: {}", self.describe()))
    }
}

trait Intent {
    fn status(&self) -> &str;
}

impl Intent for Value {
    fn status(&self) -> &str {
        self["status"].as_str().unwrap_or("")
    }
}

#[async_trait]
impl PaymentGateway for StripePayments {
    async fn authorize(
        &self,
        payment_method: &str,
        amount: &Money,
        order_id: &str,
        idempotency_key: &str,
    ) -> Result<Authorization, PaymentError> {
        let (amount_text, currency) = (amount.amount.to_string(), amount.currency.as_str().to_ascii_lowercase());
        let form = [
            ("amount", amount_text.as_str()),
            ("currency", currency.as_str()),
            ("capture_method", "manual"),
            ("confirm", "true"),
            ("payment_method", payment_method),
            // Cards only: confirming server-side needs no return URL for redirects.
            ("payment_method_types[]", "card"),
            ("metadata[order_id]", order_id),
        ];
        match self.call(Method::POST, "/v1/payment_intents", &form, Some(idempotency_key)).await? {
            Reply::Ok(intent) => match (intent.status(), intent["id"].as_str()) {
                ("requires_capture", Some(id)) => Ok(Authorization::Approved { authorization_id: id.to_owned() }),
                (status, _) => Ok(Authorization::Declined { reason: format!("payment intent is {status}") }),
            },
            // 402: the card was declined. An unknown payment method cannot pay either.
            Reply::Refused(error) if error.is_decline() || error.is_unknown_payment_method() => {
                Ok(Authorization::Declined { reason: error.describe() })
            }
            Reply::Refused(error) => Err(error.unavailable()),
        }
    }

    async fn capture(&self, authorization_id: &str, idempotency_key: &str) -> Result<Capture, PaymentError> {
        let path = format!("/v1/payment_intents/{authorization_id}/capture");
        match self.call(Method::POST, &path, &[], Some(idempotency_key)).await? {
            Reply::Ok(intent) if intent.status() == "succeeded" => Ok(Capture::Captured),
            Reply::Ok(intent) => Ok(Capture::Failed { reason: format!("payment intent is {}", intent.status()) }),
            Reply::Refused(error) => match self.intent_status(authorization_id).await?.as_str() {
                "succeeded" => Ok(Capture::Captured),
                "requires_capture" if !error.is_decline() => Err(error.unavailable()),
                status => Ok(Capture::Failed { reason: format!("{} (payment intent is {status})", error.describe()) }),
            },
        }
    }

    async fn void(&self, authorization_id: &str, idempotency_key: &str) -> Result<Void, PaymentError> {
        let path = format!("/v1/payment_intents/{authorization_id}/cancel");
        match self.call(Method::POST, &path, &[], Some(idempotency_key)).await? {
            Reply::Ok(_) => Ok(Void::Voided),
            Reply::Refused(error) => match self.intent_status(authorization_id).await?.as_str() {
                "canceled" => Ok(Void::Voided),
                "succeeded" => Ok(Void::AlreadyCaptured),
                _ => Err(error.unavailable()),
            },
        }
    }

    async fn refund(&self, authorization_id: &str, idempotency_key: &str) -> Result<(), PaymentError> {
        let form = [("payment_intent", authorization_id)];
        match self.call(Method::POST, "/v1/refunds", &form, Some(idempotency_key)).await? {
            Reply::Ok(_) => Ok(()),
            Reply::Refused(error) if error.code.as_deref() == Some("charge_already_refunded") => Ok(()),
            Reply::Refused(error) => Err(error.unavailable()),
        }
    }
}

/// A Stripe path with its object ids taken out (`/v1/payment_intents/{id}/capture`), so
/// span names group alike calls.
fn stripe_route(path: &str) -> String {
    path.split('/')
        .map(|part| if part.contains('_') && part != "payment_intents" { "{id}" } else { part })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_names_leave_object_ids_out() {
        assert_eq!(stripe_route("/v1/payment_intents/pi_3Qx9/capture"), "/v1/payment_intents/{id}/capture");
        assert_eq!(stripe_route("/v1/payment_intents"), "/v1/payment_intents");
        assert_eq!(stripe_route("/v1/refunds"), "/v1/refunds");
    }

    #[test]
    fn keys_must_suit_the_stage() {
        assert!(check_key(Stage::Dev, "sk_test_abc").is_ok());
        assert!(check_key(Stage::Prod, "sk_live_abc").is_ok());
        assert!(check_key(Stage::Prod, "rk_live_abc").is_ok());
        for key in ["sk_test_abc", "rk_test_abc", "pk_live_abc", "", "sandbox"] {
            assert!(check_key(Stage::Prod, key).is_err(), "{key} in prod");
        }
        assert!(check_key(Stage::Dev, "sk_live_abc").is_err());
    }

    #[test]
    fn prod_talks_to_stripe_only() {
        let key = || SecretSource::Value("sk_live_x".into());
        assert!(StripePayments::new("http://127.0.0.1:8420", Stage::Prod, key()).is_err());
        assert!(StripePayments::new(STRIPE_API, Stage::Prod, key()).is_ok());
        assert!(StripePayments::new("http://127.0.0.1:8420", Stage::Dev, key()).is_ok());
    }
}
