//! The Stripe adapter, two ways:
//! - `recorded`: against Stripe's own answers (`tests/fixtures/stripe/<status>_<name>.json`),
//!   served by a tiny HTTP/1.1 server on loopback that also records what the adapter sent.
//!   They cover what localstripe does not emulate: declines as Stripe sends them, state
//!   errors, idempotency errors, rate limits, outages.
//! - `localstripe`: against the localstripe that `make test` starts (`STRIPE_API_BASE`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use bookish_shared::config::Stage;
use bookish_shared::money::{Currency, Money};
use bookish_shared::secrets::SecretSource;
use order::payments::stripe::StripePayments;
use order::payments::{Authorization, Capture, PaymentError, PaymentGateway, Void};

/// The test key both halves use (localstripe takes any `sk_` key).
const KEY: &str = "sk_test_bookish";

fn usd(amount: i64) -> Money {
    Money::new(amount, Currency::parse("USD").unwrap())
}

fn basic_auth() -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:")))
}

mod recorded {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    /// What the stub answers one connection with.
    enum Canned {
        Answer {
            status: u16,
            body: String,
        },
        /// Reads the request, then never answers.
        Stall,
    }

    /// A recorded Stripe answer: the HTTP status is the file name's prefix.
    fn fixture(name: &str) -> Canned {
        let path = format!("{}/tests/fixtures/stripe/{name}.json", env!("CARGO_MANIFEST_DIR"));
        let body = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = name.split('_').next().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("status of {name}"));
        Canned::Answer { status, body }
    }

    /// One request as the stub received it.
    #[derive(Clone, Debug)]
    struct Seen {
        method: String,
        path: String,
        /// By lower-case name.
        headers: HashMap<String, String>,
        body: String,
    }

    impl Seen {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers.get(name).map(String::as_str)
        }

        fn form(&self) -> Vec<(String, String)> {
            form_urlencoded::parse(self.body.as_bytes()).into_owned().collect()
        }
    }

    /// An HTTP/1.1 server on 127.0.0.1 answering each connection with the next canned
    /// answer (`Connection: close`), then 500 to anything more.
    struct Stub {
        base: String,
        seen: Arc<Mutex<Vec<Seen>>>,
        server: tokio::task::JoinHandle<()>,
    }

    impl Drop for Stub {
        fn drop(&mut self) {
            self.server.abort();
        }
    }

    impl Stub {
        async fn serve(answers: Vec<Canned>) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
            let record = Arc::clone(&seen);
            let server = tokio::spawn(async move {
                let mut answers = answers.into_iter();
                loop {
                    let (mut socket, _) = listener.accept().await.unwrap();
                    let Some(request) = read_request(&mut socket).await else { continue };
                    record.lock().unwrap().push(request);
                    match answers.next() {
                        Some(Canned::Answer { status, body }) => answer(&mut socket, status, &body).await,
                        Some(Canned::Stall) => {
                            tokio::spawn(async move {
                                tokio::time::sleep(Duration::from_secs(60)).await;
                                drop(socket);
                            });
                        }
                        None => answer(&mut socket, 500, r#"{"error":{"message":"unexpected request"}}"#).await,
                    }
                }
            });
            Self { base, seen, server }
        }

        fn stripe(&self) -> StripePayments {
            StripePayments::new(&self.base, Stage::Dev, SecretSource::Value(KEY.into())).unwrap()
        }

        fn seen(&self) -> Vec<Seen> {
            self.seen.lock().unwrap().clone()
        }

        /// The requests as `METHOD path`.
        fn calls(&self) -> Vec<String> {
            self.seen().iter().map(|s| format!("{} {}", s.method, s.path)).collect()
        }
    }

    async fn read_request(socket: &mut TcpStream) -> Option<Seen> {
        let mut bytes = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
                break end;
            }
            let n = socket.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            bytes.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8(bytes[..head_end].to_vec()).ok()?;
        let mut lines = head.split("\r\n");
        let mut start = lines.next()?.split(' ');
        let (method, path) = (start.next()?.to_owned(), start.next()?.to_owned());
        let headers: HashMap<String, String> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        let length: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
        let mut body = bytes[head_end + 4..].to_vec();
        while body.len() < length {
            let n = socket.read(&mut chunk).await.ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        Some(Seen { method, path, headers, body: String::from_utf8_lossy(&body).into_owned() })
    }

    async fn answer(socket: &mut TcpStream, status: u16, body: &str) {
        let response = format!(
            "HTTP/1.1 {status} Stub\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Request-Id: req_stub\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = socket.write_all(response.as_bytes()).await;
        let _ = socket.shutdown().await;
    }

    async fn authorize(stub: &Stub, payment_method: &str) -> Result<Authorization, PaymentError> {
        stub.stripe().authorize(payment_method, &usd(2599), "abc", "bookish-authorize-abc").await
    }

    fn declined(result: Result<Authorization, PaymentError>) -> String {
        match result {
            Ok(Authorization::Declined { reason }) => reason,
            other => panic!("expected a decline, got {other:?}"),
        }
    }

    fn unavailable<T: std::fmt::Debug>(result: Result<T, PaymentError>) -> String {
        match result {
            Err(PaymentError::Unavailable(reason)) => reason,
            other => panic!("expected the provider to be unavailable, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_approved_hold_is_a_manual_capture_payment_intent() {
        let stub = Stub::serve(vec![fixture("200_requires_capture")]).await;
        let approved = authorize(&stub, "pm_card_visa").await.unwrap();
        assert_eq!(approved, Authorization::Approved { authorization_id: "pi_3QfixAAAA".into() });
        let seen = stub.seen();
        assert_eq!(stub.calls(), ["POST /v1/payment_intents"]);
        let request = &seen[0];
        let mut form = request.form();
        form.sort();
        let expected: Vec<(String, String)> = [
            ("amount", "2599"),
            ("capture_method", "manual"),
            ("confirm", "true"),
            ("currency", "usd"),
            ("metadata[order_id]", "abc"),
            ("payment_method", "pm_card_visa"),
            ("payment_method_types[]", "card"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(form, expected, "nothing localstripe would refuse (description, return_url, ...)");
        assert_eq!(request.header("idempotency-key"), Some("bookish-authorize-abc"));
        assert_eq!(request.header("authorization"), Some(basic_auth().as_str()));
        assert_eq!(request.header("stripe-version"), Some("2024-06-20"));
        assert_eq!(request.header("content-type"), Some("application/x-www-form-urlencoded"));
    }

    #[tokio::test]
    async fn a_card_declined_with_402_is_a_decline() {
        let stub = Stub::serve(vec![fixture("402_card_declined"), fixture("402_insufficient_funds")]).await;
        assert!(declined(authorize(&stub, "pm_card_chargeDeclined").await).contains("generic_decline"));
        assert!(
            declined(authorize(&stub, "pm_card_chargeDeclinedInsufficientFunds").await).contains("insufficient_funds")
        );
        assert_eq!(stub.calls().len(), 2, "a decline is an answer: nothing is retried or read");
    }

    #[tokio::test]
    async fn an_unknown_payment_method_is_a_decline() {
        let stub = Stub::serve(vec![fixture("400_no_such_payment_method")]).await;
        assert!(declined(authorize(&stub, "pm_nonsense").await).contains("resource_missing"));
    }

    #[tokio::test]
    async fn a_hold_that_needs_3d_secure_is_a_decline() {
        let stub = Stub::serve(vec![fixture("200_requires_action")]).await;
        assert!(declined(authorize(&stub, "pm_card_authenticationRequired").await).contains("requires_action"));
    }

    #[tokio::test]
    async fn refusals_that_are_not_about_the_card_are_the_provider_failing() {
        // A bad key, an outage, a rate limit, a reused key and requests Stripe refuses for
        // our own mistakes are not the shopper's card: retry (and alert), never decline.
        for name in [
            "401_invalid_key",
            "401_missing_key",
            "500_api_error",
            "429_rate_limit",
            "400_idempotency_params",
            "400_idempotency_endpoint",
            "400_amount_zero",
            "400_return_url_required",
        ] {
            let stub = Stub::serve(vec![fixture(name)]).await;
            let reason = unavailable(authorize(&stub, "pm_card_visa").await);
            assert!(!reason.is_empty(), "{name}");
            assert_eq!(stub.calls(), ["POST /v1/payment_intents"], "{name}");
        }
    }

    #[tokio::test]
    async fn a_capture_takes_the_hold() {
        let stub = Stub::serve(vec![fixture("200_succeeded")]).await;
        assert_eq!(stub.stripe().capture("pi_3QfixAAAA", "bookish-capture-abc").await.unwrap(), Capture::Captured);
        let seen = stub.seen();
        assert_eq!(stub.calls(), ["POST /v1/payment_intents/pi_3QfixAAAA/capture"]);
        assert_eq!(seen[0].header("idempotency-key"), Some("bookish-capture-abc"));
        assert_eq!(seen[0].header("authorization"), Some(basic_auth().as_str()));
        assert_eq!(seen[0].body, "");
    }

    #[tokio::test]
    async fn capturing_a_captured_intent_reads_it_and_is_captured() {
        let stub = Stub::serve(vec![fixture("400_capture_already_captured"), fixture("200_succeeded")]).await;
        assert_eq!(stub.stripe().capture("pi_3QfixAAAA", "bookish-capture-abc").await.unwrap(), Capture::Captured);
        assert_eq!(
            stub.calls(),
            ["POST /v1/payment_intents/pi_3QfixAAAA/capture", "GET /v1/payment_intents/pi_3QfixAAAA"]
        );
        let read = &stub.seen()[1];
        assert_eq!(read.header("idempotency-key"), None, "a read needs no key");
        assert_eq!(read.header("authorization"), Some(basic_auth().as_str()));
    }

    #[tokio::test]
    async fn capturing_a_canceled_or_expired_intent_fails() {
        for name in ["400_capture_canceled", "400_capture_auth_expired"] {
            let stub = Stub::serve(vec![fixture(name), fixture("200_canceled")]).await;
            match stub.stripe().capture("pi_3QfixAAAA", "bookish-capture-abc").await {
                Ok(Capture::Failed { reason }) => assert!(reason.contains("canceled"), "{name}: {reason}"),
                other => panic!("{name}: expected a failed capture, got {other:?}"),
            }
            assert_eq!(stub.calls().len(), 2, "{name}");
        }
    }

    #[tokio::test]
    async fn a_capture_refused_while_the_hold_stands_is_retried_not_failed() {
        // The intent still awaits capture: the refusal (here a reused key) says nothing of
        // the hold, so the step is tried again later rather than the order rejected.
        let stub = Stub::serve(vec![fixture("400_idempotency_endpoint"), fixture("200_requires_capture")]).await;
        unavailable(stub.stripe().capture("pi_3QfixAAAA", "bookish-capture-abc").await);
        assert_eq!(stub.calls().len(), 2);
    }

    #[tokio::test]
    async fn an_outage_at_capture_is_retried_without_reading_the_intent() {
        let stub = Stub::serve(vec![fixture("500_api_error")]).await;
        unavailable(stub.stripe().capture("pi_3QfixAAAA", "bookish-capture-abc").await);
        assert_eq!(stub.calls(), ["POST /v1/payment_intents/pi_3QfixAAAA/capture"]);
        // An intent Stripe does not know cannot be captured, nor read: retried, then alerted on.
        let stub =
            Stub::serve(vec![fixture("404_no_such_payment_intent"), fixture("404_no_such_payment_intent")]).await;
        unavailable(stub.stripe().capture("pi_nope", "bookish-capture-abc").await);
        assert_eq!(stub.calls(), ["POST /v1/payment_intents/pi_nope/capture", "GET /v1/payment_intents/pi_nope"]);
    }

    #[tokio::test]
    async fn a_void_releases_the_hold() {
        let stub = Stub::serve(vec![fixture("200_canceled")]).await;
        assert_eq!(stub.stripe().void("pi_3QfixAAAA", "bookish-void-abc").await.unwrap(), Void::Voided);
        assert_eq!(stub.calls(), ["POST /v1/payment_intents/pi_3QfixAAAA/cancel"]);
        let seen = stub.seen();
        assert_eq!(seen[0].header("idempotency-key"), Some("bookish-void-abc"));
        assert_eq!(seen[0].body, "", "no cancellation_reason: localstripe refuses it");
    }

    #[tokio::test]
    async fn voiding_a_canceled_intent_is_voided() {
        let stub = Stub::serve(vec![fixture("400_cancel_canceled"), fixture("200_canceled")]).await;
        assert_eq!(stub.stripe().void("pi_3QfixAAAA", "bookish-void-abc").await.unwrap(), Void::Voided);
        assert_eq!(
            stub.calls(),
            ["POST /v1/payment_intents/pi_3QfixAAAA/cancel", "GET /v1/payment_intents/pi_3QfixAAAA"]
        );
    }

    #[tokio::test]
    async fn voiding_a_captured_intent_says_so() {
        let stub = Stub::serve(vec![fixture("400_cancel_succeeded"), fixture("200_succeeded")]).await;
        assert_eq!(stub.stripe().void("pi_3QfixAAAA", "bookish-void-abc").await.unwrap(), Void::AlreadyCaptured);
        assert_eq!(stub.calls().len(), 2);
    }

    #[tokio::test]
    async fn a_refund_gives_the_payment_intent_back() {
        let stub = Stub::serve(vec![fixture("200_refund")]).await;
        stub.stripe().refund("pi_3QfixAAAA", "bookish-refund-abc").await.unwrap();
        assert_eq!(stub.calls(), ["POST /v1/refunds"]);
        let seen = stub.seen();
        assert_eq!(seen[0].form(), [("payment_intent".to_owned(), "pi_3QfixAAAA".to_owned())], "no reason");
        assert_eq!(seen[0].header("idempotency-key"), Some("bookish-refund-abc"));
    }

    #[tokio::test]
    async fn refunding_a_refunded_charge_is_done() {
        let stub = Stub::serve(vec![fixture("400_charge_already_refunded")]).await;
        stub.stripe().refund("pi_3QfixAAAA", "bookish-refund-abc").await.unwrap();
    }

    #[tokio::test]
    async fn a_refund_under_a_reused_key_is_the_provider_failing() {
        let stub = Stub::serve(vec![fixture("400_idempotency_params")]).await;
        assert!(unavailable(stub.stripe().refund("pi_3QfixAAAA", "bookish-refund-abc").await).contains("idempotency"));
    }

    #[tokio::test]
    async fn a_stalled_stripe_is_unavailable_after_the_call_timeout() {
        let stub = Stub::serve(vec![Canned::Stall]).await;
        let started = Instant::now();
        let reason = unavailable(authorize(&stub, "pm_card_visa").await);
        let waited = started.elapsed();
        assert!(reason.contains("did not answer"), "{reason}");
        assert!((Duration::from_millis(4500)..Duration::from_secs(8)).contains(&waited), "gave up after {waited:?}");
        assert_eq!(stub.calls().len(), 1);
    }

    #[tokio::test]
    async fn an_unreachable_stripe_is_unavailable() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let stripe =
            StripePayments::new(format!("http://127.0.0.1:{port}"), Stage::Dev, SecretSource::Value(KEY.into()))
                .unwrap();
        unavailable(stripe.authorize("pm_card_visa", &usd(2599), "abc", "k").await);
    }

    #[tokio::test]
    async fn a_live_key_is_refused_before_anything_is_sent() {
        let stub = Stub::serve(vec![fixture("200_requires_capture")]).await;
        let stripe = StripePayments::new(&stub.base, Stage::Dev, SecretSource::Value("sk_live_x".into())).unwrap();
        unavailable(stripe.authorize("pm_card_visa", &usd(2599), "abc", "k").await);
        assert!(stub.calls().is_empty());
    }
}

mod localstripe {
    use bytes::Bytes;
    use http_body_util::{BodyExt, Empty};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    use lambda_http::http::{header, Request};
    use serde_json::Value;

    use super::*;

    fn base() -> String {
        std::env::var("STRIPE_API_BASE")
            .expect("STRIPE_API_BASE must point at localstripe: run `make test`, which starts it")
            .trim_end_matches('/')
            .to_owned()
    }

    fn stripe() -> StripePayments {
        StripePayments::new(base(), Stage::Dev, SecretSource::Value(KEY.into())).unwrap()
    }

    /// A GET of localstripe's API, outside the adapter: what it holds.
    async fn get(path: &str) -> Value {
        let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
        let request = Request::get(format!("{}{path}", base()))
            .header(header::AUTHORIZATION, basic_auth())
            .body(Empty::new())
            .unwrap();
        let response = client.request(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert!(status.is_success(), "GET {path}: {status} {}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).unwrap()
    }

    /// A fresh order id, and the keys of its steps.
    fn order_id() -> String {
        uuid::Uuid::new_v4().to_string()
    }

    fn key(step: &str, order_id: &str) -> String {
        order::payments::step_key(step, order_id)
    }

    async fn hold(stripe: &StripePayments, order_id: &str) -> String {
        match stripe.authorize("pm_card_visa", &usd(2599), order_id, &key("authorize", order_id)).await {
            Ok(Authorization::Approved { authorization_id }) => authorization_id,
            other => panic!("pm_card_visa was not approved: {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_hold_is_captured_once_and_refunded_once() {
        let (stripe, id) = (stripe(), order_id());
        let intent = hold(&stripe, &id).await;
        let held = get(&format!("/v1/payment_intents/{intent}")).await;
        assert_eq!(held["status"], "requires_capture");
        assert_eq!((held["amount"].as_i64(), held["currency"].as_str()), (Some(2599), Some("usd")));
        assert_eq!(held["capture_method"], "manual");
        assert_eq!(held["metadata"]["order_id"], id.as_str());

        assert_eq!(stripe.capture(&intent, &key("capture", &id)).await.unwrap(), Capture::Captured);
        // localstripe refuses a second capture; the adapter reads the intent instead.
        assert_eq!(stripe.capture(&intent, &key("capture", &id)).await.unwrap(), Capture::Captured);
        assert_eq!(stripe.void(&intent, &key("void", &id)).await.unwrap(), Void::AlreadyCaptured);
        stripe.refund(&intent, &key("refund", &id)).await.unwrap();
        let refunds = get(&format!("/v1/refunds?payment_intent={intent}")).await;
        let refunds = refunds["data"].as_array().unwrap();
        assert_eq!(refunds.len(), 1);
        assert_eq!(refunds[0]["amount"], 2599);
    }

    #[tokio::test]
    async fn a_hold_is_voided_and_voiding_again_is_voided() {
        let (stripe, id) = (stripe(), order_id());
        let intent = hold(&stripe, &id).await;
        assert_eq!(stripe.void(&intent, &key("void", &id)).await.unwrap(), Void::Voided);
        assert_eq!(stripe.void(&intent, &key("void", &id)).await.unwrap(), Void::Voided);
        assert_eq!(get(&format!("/v1/payment_intents/{intent}")).await["status"], "canceled");
    }

    #[tokio::test]
    async fn declined_test_cards_are_declines() {
        let stripe = stripe();
        // localstripe answers 404 to pm_card_chargeDeclined and 402 to pm_card_chargeCustomerFail.
        for method in ["pm_card_chargeDeclined", "pm_card_chargeCustomerFail"] {
            let id = order_id();
            match stripe.authorize(method, &usd(2599), &id, &key("authorize", &id)).await {
                Ok(Authorization::Declined { .. }) => {}
                other => panic!("{method}: expected a decline, got {other:?}"),
            }
        }
    }
}
