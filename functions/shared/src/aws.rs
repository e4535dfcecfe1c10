//! The AWS SDK configuration each function builds once per cold start. Locally
//! `AWS_ENDPOINT_URL` points it at moto.

pub mod counting;

use aws_config::BehaviorVersion;
pub use aws_config::SdkConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};

/// Amazon Trust Services' roots and the Starfield root that cross-signs them: the
/// certificate of every AWS service endpoint chains to one of these.
pub(crate) const AWS_ROOTS: &[u8] = include_bytes!("../certs/aws-roots.pem");

/// Load it once in `main` and hand it to every client: each load reads the profile files
/// and builds a credentials chain and an HTTPS client with its own TLS setup, all in the
/// cold start (BENCHMARKS.md, init options).
///
/// The SDK's defaults but for TLS, which trusts only the roots AWS endpoints use. The
/// default HTTPS client reads and parses the system's whole root store (~150 certificates;
/// on Debian a directory of ~300 files too) on every cold start, which measured as most
/// of a function's init time (BENCHMARKS.md, cold start).
pub async fn config() -> SdkConfig {
    let trust = TrustStore::empty().with_pem_certificate(AWS_ROOTS);
    let context = TlsContext::builder().with_trust_store(trust).build().expect("a static trust store is valid");
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https();
    aws_config::defaults(BehaviorVersion::latest()).http_client(https).load().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn clients_accept_the_embedded_trust_store() {
        let config = config().await;
        // The trust store is parsed when a client takes the HTTPS client: a bad PEM panics here.
        let _client = aws_sdk_dynamodb::Client::new(&config);
        let roots = std::str::from_utf8(AWS_ROOTS).unwrap();
        assert_eq!(roots.matches("-----BEGIN CERTIFICATE-----").count(), 5);
    }
}
