//! Who is calling. Every function verifies the caller's Cognito token itself (RS256
//! signature against the user pool's JWKS, issuer, audience, expiry), in AWS as locally.
//! API Gateway's JWT authorizer checks the same token first, but a function can also be
//! invoked directly (one service calling another on a shopper's behalf), and an invoked
//! event's request context says whatever its sender wrote: so claims are only ever read
//! from a verified token, never from the event. The JWKS is fetched once per container,
//! on the first request that needs it.

use std::collections::HashMap;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use lambda_http::http::header;
use lambda_http::{Request, RequestExt};
use rustls::pki_types::pem::PemObject;
use serde::Deserialize;
use tokio::sync::OnceCell;

use crate::{config, Problem, ProblemKind};

pub const ADMIN_GROUP: &str = "admin";

/// The verified identity of a caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    /// Cognito's immutable user id (`sub`): the only key user data is stored under.
    pub subject: String,
    pub username: Option<String>,
    /// The account's email address, only when the token says it is verified
    /// (`email_verified`); a token without that claim counts as unverified.
    pub email: Option<String>,
    /// The account's phone number (`phone_number`), only when the token says it is verified
    /// (`phone_number_verified`). The only number the store ever texts.
    pub phone: Option<String>,
    pub groups: Vec<String>,
}

impl Claims {
    pub fn is_member_of(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}

pub enum Authenticator {
    /// Tokens are verified here: what every function runs.
    Jwks(JwksVerifier),
    /// Trusts the JWT authorizer claims in the event's request context. Only for tests and
    /// benchmarks fed sample events: `from_env` never builds it.
    ApiGateway,
}

impl Authenticator {
    /// The user pool's issuer (`AUTH_ISSUER`) and app client (`AUTH_AUDIENCE`); the JWKS is
    /// at `<issuer>/.well-known/jwks.json` unless `AUTH_JWKS_URL` says otherwise (the
    /// local stack: moto serves it elsewhere).
    pub fn from_env() -> Result<Self, config::MissingEnv> {
        let (issuer, audience) = (config::required("AUTH_ISSUER")?, config::required("AUTH_AUDIENCE")?);
        Ok(Self::new(issuer, audience, config::optional("AUTH_JWKS_URL")))
    }

    pub fn new(issuer: String, audience: String, jwks_url: Option<String>) -> Self {
        let url = jwks_url.unwrap_or_else(|| format!("{issuer}/.well-known/jwks.json"));
        Self::Jwks(JwksVerifier::new(issuer, audience, KeySource::Url(url)))
    }

    pub async fn authenticate(&self, req: &Request) -> Result<Claims, Problem> {
        match self {
            Self::ApiGateway => authorizer_claims(req),
            Self::Jwks(verifier) => verifier.verify(bearer_token(req)?).await,
        }
    }

    /// The caller's claims if they belong to `group`: 401 when not signed in, 403 otherwise.
    pub async fn require_group(&self, req: &Request, group: &str) -> Result<Claims, Problem> {
        let claims = self.authenticate(req).await?;
        if claims.is_member_of(group) {
            Ok(claims)
        } else {
            Err(Problem::new(ProblemKind::Forbidden, format!("Only members of the {group} group may do this.")))
        }
    }
}

fn unauthorized() -> Problem {
    Problem::unauthorized("Sign in and send your token as 'Authorization: Bearer <token>'. The token was missing, malformed, expired or not issued for this API.")
}

fn bearer_token(req: &Request) -> Result<&str, Problem> {
    let value = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or_else(unauthorized)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(unauthorized)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(unauthorized());
    }
    Ok(token.trim())
}

/// Claims API Gateway's JWT authorizer put in the request context. HTTP APIs flatten
/// every claim to a string: `cognito:groups` arrives as `[admin shoppers]`.
fn authorizer_claims(req: &Request) -> Result<Claims, Problem> {
    let claims = req
        .request_context_ref()
        .and_then(|ctx| ctx.authorizer())
        .and_then(|authorizer| authorizer.jwt.as_ref())
        .map(|jwt| &jwt.claims)
        .ok_or_else(unauthorized)?;
    claims_from_strings(claims).ok_or_else(unauthorized)
}

fn claims_from_strings(claims: &HashMap<String, String>) -> Option<Claims> {
    let subject = claims.get("sub").filter(|s| !s.is_empty())?.clone();
    let groups = claims
        .get("cognito:groups")
        .map(|raw| {
            raw.trim_matches(|c| c == '[' || c == ']')
                .split([' ', ','])
                .map(|g| g.trim_matches('"'))
                .filter(|g| !g.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let verified = |flag: &str| claims.get(flag).is_some_and(|value| value == "true");
    Some(Claims {
        subject,
        username: claims.get("cognito:username").or_else(|| claims.get("username")).cloned(),
        email: claims.get("email").filter(|_| verified("email_verified")).cloned(),
        phone: claims.get("phone_number").filter(|_| verified("phone_number_verified")).cloned(),
        groups,
    })
}

/// Whether a `*_verified` claim says yes: Cognito writes a boolean, and API Gateway (or an
/// older token) may carry it as the string `"true"`. Anything else, or no claim, is no.
fn is_verified(flag: Option<&serde_json::Value>) -> bool {
    match flag {
        Some(serde_json::Value::Bool(verified)) => *verified,
        Some(serde_json::Value::String(text)) => text == "true",
        _ => false,
    }
}

pub enum KeySource {
    Url(String),
    Static(JwkSet),
}

/// Verifies Cognito-issued RS256 tokens the way API Gateway's JWT authorizer does:
/// signature by a key of the pool's JWKS, issuer, expiry, and audience (`aud` on ID
/// tokens, `client_id` on access tokens).
pub struct JwksVerifier {
    issuer: String,
    audience: String,
    source: KeySource,
    keys: OnceCell<JwkSet>,
}

#[derive(Deserialize)]
struct TokenClaims {
    sub: String,
    aud: Option<String>,
    client_id: Option<String>,
    token_use: Option<String>,
    #[serde(rename = "cognito:groups", default)]
    groups: Vec<String>,
    #[serde(rename = "cognito:username")]
    cognito_username: Option<String>,
    username: Option<String>,
    email: Option<String>,
    email_verified: Option<serde_json::Value>,
    phone_number: Option<String>,
    phone_number_verified: Option<serde_json::Value>,
}

impl JwksVerifier {
    pub fn new(issuer: String, audience: String, source: KeySource) -> Self {
        Self { issuer, audience, source, keys: OnceCell::new() }
    }

    pub async fn verify(&self, token: &str) -> Result<Claims, Problem> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| unauthorized())?;
        let keys = self.keys().await?;
        let jwk = header.kid.as_deref().and_then(|kid| keys.find(kid)).ok_or_else(unauthorized)?;
        let key = DecodingKey::from_jwk(jwk).map_err(|_| unauthorized())?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 5;
        // Checked below: Cognito access tokens carry `client_id`, not `aud`.
        validation.validate_aud = false;
        let claims = jsonwebtoken::decode::<TokenClaims>(token, &key, &validation).map_err(|_| unauthorized())?.claims;
        let audience = match claims.token_use.as_deref() {
            Some("access") => claims.client_id.as_deref(),
            Some("id") | None => claims.aud.as_deref(),
            Some(_) => None,
        };
        if audience != Some(self.audience.as_str()) || claims.sub.is_empty() {
            return Err(unauthorized());
        }
        Ok(Claims {
            subject: claims.sub,
            username: claims.cognito_username.or(claims.username),
            email: claims.email.filter(|_| is_verified(claims.email_verified.as_ref())),
            phone: claims.phone_number.filter(|_| is_verified(claims.phone_number_verified.as_ref())),
            groups: claims.groups,
        })
    }

    async fn keys(&self) -> Result<&JwkSet, Problem> {
        self.keys
            .get_or_try_init(|| async {
                match &self.source {
                    KeySource::Static(keys) => Ok(keys.clone()),
                    KeySource::Url(url) => fetch_jwks(url).await.map_err(|err| Problem::internal(&err)),
                }
            })
            .await
    }
}

async fn fetch_jwks(url: &str) -> Result<JwkSet, Box<dyn std::error::Error + Send + Sync>> {
    use http_body_util::{BodyExt, Empty};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    // Cognito's certificate chains to Amazon's roots, the ones the SDK clients trust.
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(crate::aws::AWS_ROOTS) {
        roots.add(cert?)?;
    }
    let tls =
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http().enable_http1().build();
    let client = Client::builder(TokioExecutor::new()).build::<_, Empty<bytes::Bytes>>(https);
    let response = client.get(url.parse()?).await?;
    if !response.status().is_success() {
        return Err(format!("JWKS at {url} answered {}", response.status()).into());
    }
    let body = response.into_body().collect().await?.to_bytes();
    Ok(serde_json::from_slice(&body)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};
    use lambda_http::aws_lambda_events::apigw::{
        ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription, ApiGatewayV2httpRequestContext,
    };
    use lambda_http::request::RequestContext;
    use lambda_http::Body;
    use serde_json::json;

    const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_test";
    const CLIENT: &str = "client-123";
    // A throwaway key pair made for these tests only.
    const PRIVATE_PEM: &str = include_str!("../tests/fixtures/test-key.pem");
    const JWKS: &str = include_str!("../tests/fixtures/test-jwks.json");
    const OTHER_PRIVATE_PEM: &str = include_str!("../tests/fixtures/other-key.pem");

    fn verifier() -> JwksVerifier {
        JwksVerifier::new(ISSUER.into(), CLIENT.into(), KeySource::Static(serde_json::from_str(JWKS).unwrap()))
    }

    fn now() -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
    }

    fn sign(claims: serde_json::Value, pem: &str) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("test-key".into());
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap()).unwrap()
    }

    fn id_token_claims() -> serde_json::Value {
        json!({"sub": "user-1", "iss": ISSUER, "aud": CLIENT, "token_use": "id", "exp": now() + 600,
               "cognito:username": "ada", "cognito:groups": ["admin"]})
    }

    fn with_claim(key: &str, value: serde_json::Value) -> serde_json::Value {
        let mut claims = id_token_claims();
        claims[key] = value;
        claims
    }

    #[tokio::test]
    async fn accepts_a_valid_id_token() {
        let claims = verifier().verify(&sign(id_token_claims(), PRIVATE_PEM)).await.unwrap();
        assert_eq!(claims.subject, "user-1");
        assert_eq!(claims.username.as_deref(), Some("ada"));
        assert!(claims.is_member_of(ADMIN_GROUP));
    }

    #[tokio::test]
    async fn accepts_a_valid_access_token() {
        let token = sign(
            json!({"sub": "user-2", "iss": ISSUER, "client_id": CLIENT, "token_use": "access", "exp": now() + 600, "username": "bob"}),
            PRIVATE_PEM,
        );
        let claims = verifier().verify(&token).await.unwrap();
        assert_eq!(claims.subject, "user-2");
        assert!(claims.groups.is_empty());
    }

    #[tokio::test]
    async fn keeps_only_verified_contacts() {
        let contacts = |extra: serde_json::Value| async move {
            let mut claims = id_token_claims();
            for (key, value) in extra.as_object().unwrap() {
                claims[key] = value.clone();
            }
            let claims = verifier().verify(&sign(claims, PRIVATE_PEM)).await.unwrap();
            (claims.email, claims.phone)
        };
        let (email, phone) = (Some("ada@example.com".to_owned()), Some("+15555550100".to_owned()));
        // Verified, as a boolean or as the string API Gateway flattens it to.
        let verified = json!({"email": "ada@example.com", "email_verified": true,
                              "phone_number": "+15555550100", "phone_number_verified": true});
        assert_eq!(contacts(verified).await, (email.clone(), phone.clone()));
        let as_strings = json!({"email": "ada@example.com", "email_verified": "true",
                                "phone_number": "+15555550100", "phone_number_verified": "true"});
        assert_eq!(contacts(as_strings).await, (email.clone(), phone.clone()));
        // Unverified, or not said to be verified: dropped.
        let unverified = json!({"email": "ada@example.com", "email_verified": false,
                                "phone_number": "+15555550100", "phone_number_verified": "false"});
        assert_eq!(contacts(unverified).await, (None, None));
        let unsaid = json!({"email": "ada@example.com", "phone_number": "+15555550100"});
        assert_eq!(contacts(unsaid).await, (None, None));
        let odd = json!({"email": "ada@example.com", "email_verified": 1,
                         "phone_number": "+15555550100", "phone_number_verified": "TRUE"});
        assert_eq!(contacts(odd).await, (None, None));
        // Each on its own.
        let email_only = json!({"email": "ada@example.com", "email_verified": "true",
                                "phone_number": "+15555550100", "phone_number_verified": false});
        assert_eq!(contacts(email_only).await, (email, None));
    }

    #[tokio::test]
    async fn refuses_wrong_signature_expiry_issuer_or_audience() {
        let bad = [
            ("forged", sign(id_token_claims(), OTHER_PRIVATE_PEM)),
            ("expired", sign(with_claim("exp", json!(now() - 600)), PRIVATE_PEM)),
            ("issuer", sign(with_claim("iss", json!("https://evil.example")), PRIVATE_PEM)),
            ("audience", sign(with_claim("aud", json!("another-client")), PRIVATE_PEM)),
            ("access token posing with aud", sign(with_claim("token_use", json!("access")), PRIVATE_PEM)),
            ("garbage", "not.a.token".to_owned()),
        ];
        for (name, token) in bad {
            let err = verifier().verify(&token).await.unwrap_err();
            assert_eq!(err.status(), 401, "{name} was accepted");
        }
    }

    #[tokio::test]
    async fn refuses_a_missing_or_non_bearer_authorization_header() {
        let auth = Authenticator::Jwks(verifier());
        for value in [None, Some("Basic abc"), Some("Bearer "), Some("Bearer")] {
            let mut req = Request::new(Body::Empty);
            if let Some(value) = value {
                req.headers_mut().insert(header::AUTHORIZATION, value.parse().unwrap());
            }
            assert_eq!(auth.authenticate(&req).await.unwrap_err().status(), 401, "{value:?}");
        }
    }

    fn request_with_authorizer_claims(claims: &[(&str, &str)], token: Option<&str>) -> Request {
        let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
        jwt.claims = claims.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut authorizer = ApiGatewayRequestAuthorizer::default();
        authorizer.jwt = Some(jwt);
        let mut ctx = ApiGatewayV2httpRequestContext::default();
        ctx.authorizer = Some(authorizer);
        let mut req = Request::new(Body::Empty).with_request_context(RequestContext::ApiGatewayV2(ctx));
        if let Some(token) = token {
            req.headers_mut().insert(header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
        }
        req
    }

    #[tokio::test]
    async fn forged_authorizer_claims_are_never_read() {
        // A direct invoke can carry any request context: without a token it is nobody.
        let auth = Authenticator::Jwks(verifier());
        let forged = [("sub", "victim"), ("cognito:groups", "[admin]")];
        let req = request_with_authorizer_claims(&forged, None);
        assert_eq!(auth.authenticate(&req).await.unwrap_err().status(), 401);
        // With a real token, the token says who it is, whatever the context claims.
        let token = sign(with_claim("cognito:groups", json!([])), PRIVATE_PEM);
        let req = request_with_authorizer_claims(&forged, Some(&token));
        let claims = auth.authenticate(&req).await.unwrap();
        assert_eq!((claims.subject.as_str(), claims.is_member_of(ADMIN_GROUP)), ("user-1", false));
        assert_eq!(auth.require_group(&req, ADMIN_GROUP).await.unwrap_err().status(), 403);
    }

    #[test]
    fn the_jwks_is_the_issuers_unless_configured() {
        let jwks_url = |auth: Authenticator| match auth {
            Authenticator::Jwks(JwksVerifier { source: KeySource::Url(url), .. }) => url,
            _ => panic!("every function verifies tokens"),
        };
        let issuer = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_pool";
        let deployed = Authenticator::new(issuer.into(), "client".into(), None);
        assert_eq!(jwks_url(deployed), format!("{issuer}/.well-known/jwks.json"));
        let local = Authenticator::new(issuer.into(), "client".into(), Some("http://127.0.0.1:5051/p/jwks".into()));
        assert_eq!(jwks_url(local), "http://127.0.0.1:5051/p/jwks");
    }

    #[tokio::test]
    async fn sample_events_reads_the_authorizer_claims() {
        let req = request_with_authorizer_claims(&[("sub", "user-3"), ("cognito:groups", "[shoppers admin]")], None);
        let claims = Authenticator::ApiGateway.require_group(&req, ADMIN_GROUP).await.unwrap();
        assert_eq!(claims.subject, "user-3");
        assert_eq!(claims.groups, ["shoppers", "admin"]);
    }

    #[tokio::test]
    async fn sample_events_keep_only_verified_contacts() {
        let contacts = |claims: &[(&str, &str)]| {
            let claims = authorizer_claims(&request_with_authorizer_claims(claims, None)).unwrap();
            (claims.email, claims.phone)
        };
        let (email, phone) = (Some("ada@example.com".to_owned()), Some("+15555550100".to_owned()));
        let base = [("sub", "user-5"), ("email", "ada@example.com"), ("phone_number", "+15555550100")];
        let with = |flags: &[(&'static str, &'static str)]| [&base[..], flags].concat();
        assert_eq!(contacts(&with(&[("email_verified", "true"), ("phone_number_verified", "true")])), (email, phone));
        assert_eq!(contacts(&with(&[("email_verified", "false"), ("phone_number_verified", "false")])), (None, None));
        assert_eq!(contacts(&base), (None, None));
    }

    #[tokio::test]
    async fn sample_events_a_non_member_is_forbidden() {
        let req = request_with_authorizer_claims(&[("sub", "user-4")], None);
        assert_eq!(Authenticator::ApiGateway.require_group(&req, ADMIN_GROUP).await.unwrap_err().status(), 403);
    }

    #[tokio::test]
    async fn sample_events_a_token_without_authorizer_claims_is_never_trusted() {
        // Even a well-signed admin token is ignored when API Gateway did not vouch for it.
        let token = sign(id_token_claims(), PRIVATE_PEM);
        let mut req = Request::new(Body::Empty);
        req.headers_mut().insert(header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
        assert_eq!(Authenticator::ApiGateway.authenticate(&req).await.unwrap_err().status(), 401);
    }
}
