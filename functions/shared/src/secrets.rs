//! Secrets (API keys) live in SSM Parameter Store as SecureStrings, never in the template
//! or a plain environment variable. A function reads each one once per container, on
//! first use or in the background during init, so no cold start waits for it.

use aws_sdk_ssm::error::DisplayErrorContext;
use tokio::sync::OnceCell;

#[derive(Clone, Debug, thiserror::Error)]
#[error("secret {name} could not be read: {reason}")]
pub struct SecretUnavailable {
    pub name: String,
    pub reason: String,
}

/// Where a secret comes from.
pub enum SecretSource {
    /// A SecureString parameter, read (decrypted) with `ssm:GetParameter`.
    Ssm { name: String, aws: Box<aws_config::SdkConfig> },
    /// A value given in code: tests only.
    Value(String),
}

/// One secret, read at most once per container.
pub struct Secret {
    source: SecretSource,
    value: OnceCell<String>,
}

impl Secret {
    pub fn new(source: SecretSource) -> Self {
        Self { source, value: OnceCell::new() }
    }

    /// The secret's value. A failed read is not cached: the next call tries again.
    pub async fn get(&self) -> Result<&str, SecretUnavailable> {
        self.value
            .get_or_try_init(|| async {
                match &self.source {
                    SecretSource::Value(value) => Ok(value.clone()),
                    SecretSource::Ssm { name, aws } => read_parameter(name, aws).await,
                }
            })
            .await
            .map(String::as_str)
    }
}

async fn read_parameter(name: &str, aws: &aws_config::SdkConfig) -> Result<String, SecretUnavailable> {
    let unavailable = |reason: String| SecretUnavailable { name: name.to_owned(), reason };
    let client = crate::aws_client!(aws_sdk_ssm, aws);
    let output = client
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| unavailable(DisplayErrorContext(&e).to_string()))?;
    output
        .parameter
        .and_then(|p| p.value)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| unavailable("the parameter has no value".into()))
}
