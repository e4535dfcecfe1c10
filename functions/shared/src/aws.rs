//! The AWS SDK configuration each function builds once per cold start. Locally
//! `AWS_ENDPOINT_URL` points it at moto.

pub mod counting;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
pub use aws_config::SdkConfig;
use aws_config::{BehaviorVersion, Region};
use aws_runtime::env_config::EnvConfigValue;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_types::os_shim_internal::Env;
use aws_types::sdk_config::SharedCredentialsProvider;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};

/// Amazon Trust Services' roots and the Starfield root that cross-signs them: the
/// certificate of every AWS service endpoint chains to one of these.
pub(crate) const AWS_ROOTS: &[u8] = include_bytes!("../certs/aws-roots.pem");

/// Build it once in `main` and hand it to every client: each client built from its own
/// config would set up its own HTTPS client and TLS (BENCHMARKS.md, init options).
///
/// Credentials, region and endpoints come from the environment only, which is where Lambda
/// puts them (and the local stack, `infra/stack.py`). The SDK's default chains also read the
/// profile files and know web identity, SSO, container and instance metadata, and link an STS
/// client into every binary (~0.27 MB of each zip), for sources a Lambda function never uses.
/// Retries, timeouts, sleep and the identity cache are the clients' own defaults.
///
/// TLS trusts only the roots AWS endpoints use: the default HTTPS client reads and parses the
/// system's whole root store (~150 certificates; on Debian a directory of ~300 files too) on
/// every cold start, which measured as most of a function's init time (BENCHMARKS.md, cold start).
pub fn config() -> SdkConfig {
    let trust = TrustStore::empty().with_pem_certificate(AWS_ROOTS);
    let context = TlsContext::builder().with_trust_store(trust).build().expect("a static trust store is valid");
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https();
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(std::env::var("AWS_REGION").ok().map(Region::new))
        .credentials_provider(SharedCredentialsProvider::new(EnvironmentVariableCredentialsProvider::new()))
        .service_config(EndpointsFromEnv(Env::real()))
        .http_client(https)
        .build()
}

/// Each client's endpoint: `AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL`, else AWS's
/// (locally, Lambda invokes go to `cargo lambda watch` and the rest to moto). The SDK's own
/// lookup, without the profile files.
#[derive(Debug)]
struct EndpointsFromEnv(Env);

impl LoadServiceConfig for EndpointsFromEnv {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        let (value, _source) = EnvConfigValue::new().env(key.env()).service_id(key.service_id()).load(&self.0, None)?;
        Some(value.into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn clients_accept_the_embedded_trust_store() {
        let config = config();
        // The trust store is parsed when a client takes the HTTPS client: a bad PEM panics here.
        let _client = aws_sdk_dynamodb::Client::new(&config);
        let roots = std::str::from_utf8(AWS_ROOTS).unwrap();
        assert_eq!(roots.matches("-----BEGIN CERTIFICATE-----").count(), 5);
    }

    /// The key each generated client asks with (`service_config_key` in its `config.rs`).
    fn endpoint_of(service_id: &str, env: &[(&str, &str)]) -> Option<String> {
        let key = ServiceConfigKey::builder().service_id(service_id).env("AWS_ENDPOINT_URL").profile("endpoint_url");
        EndpointsFromEnv(Env::from_slice(env)).load_config(key.build().unwrap())
    }

    #[test]
    fn a_service_endpoint_overrides_the_global_one() {
        let env = [("AWS_ENDPOINT_URL", "http://moto:5000"), ("AWS_ENDPOINT_URL_LAMBDA", "http://watch:9000")];
        assert_eq!(endpoint_of("Lambda", &env).as_deref(), Some("http://watch:9000"));
        assert_eq!(endpoint_of("DynamoDB", &env).as_deref(), Some("http://moto:5000"));
        assert_eq!(endpoint_of("DynamoDB", &[]), None);
    }
}
