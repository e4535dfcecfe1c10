//! DynamoDB plumbing shared by the services' adapters.

use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason};
use std::collections::HashMap;

pub type Item = HashMap<String, AttributeValue>;

/// One SDK client per cold start, on the binary's one `aws::config()`.
pub fn client(config: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    crate::aws_client!(aws_sdk_dynamodb, config)
}

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Which items of a cancelled transaction failed their condition, by position.
pub fn failed_conditions(reasons: &[CancellationReason]) -> Vec<usize> {
    reasons
        .iter()
        .enumerate()
        .filter(|(_, reason)| reason.code() == Some("ConditionalCheckFailed"))
        .map(|(index, _)| index)
        .collect()
}
