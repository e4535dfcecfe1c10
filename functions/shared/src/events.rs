//! The envelope every integration event travels in, whatever queue carries it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<T> {
    /// Unique per event; a redelivered message carries the same id.
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub version: u32,
    pub occurred_at: String,
    /// Follows an order through every queue and log line.
    pub correlation_id: String,
    pub data: T,
}

impl<T> Envelope<T> {
    /// A version 1 event. Pass a deterministic `event_id` when the same fact may be
    /// published again (a consumer re-emitting its outcome on redelivery).
    pub fn new(event_id: String, kind: &str, correlation_id: &str, data: T, now: OffsetDateTime) -> Self {
        Self {
            event_id,
            kind: kind.to_owned(),
            version: 1,
            occurred_at: rfc3339(now),
            correlation_id: correlation_id.to_owned(),
            data,
        }
    }
}

impl<T> Envelope<T> {
    /// Refuses an event of a type the consumer reads in a version it does not. `accepted`
    /// is what the consumer declares: each type it reads with a version of it (a type may
    /// be listed once per version). A type it does not read passes: the consumer ignores
    /// those itself. The refusal is logged as an error; the message then fails, and once
    /// the queue's retries are spent it waits in the DLQ until the consumer learns the
    /// version (a redrive then delivers it) or an operator drops it.
    pub fn check_version(&self, accepted: &[(&str, u32)]) -> Result<(), UnsupportedVersion> {
        let versions: Vec<u32> = accepted.iter().filter(|(kind, _)| *kind == self.kind).map(|(_, v)| *v).collect();
        if versions.is_empty() || versions.contains(&self.version) {
            return Ok(());
        }
        let refused = UnsupportedVersion { kind: self.kind.clone(), version: self.version, accepted: versions };
        tracing::error!(event_type = %refused.kind, version = refused.version, accepted = ?refused.accepted, "{refused}");
        Err(refused)
    }
}

/// An event of a known type in a version its consumer does not read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} version {version} is not a version this consumer reads (it reads {accepted:?}); dead-lettered once its retries are spent")]
pub struct UnsupportedVersion {
    pub kind: String,
    pub version: u32,
    pub accepted: Vec<u32>,
}

pub fn new_event_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Whole-second UTC timestamps, the one format Bookish writes.
pub fn rfc3339(now: OffsetDateTime) -> String {
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .expect("UTC timestamps always format")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_with_the_documented_field_names() {
        let now = OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap();
        let event = Envelope::new("e-1".into(), "OrderPlaced", "c-1", serde_json::json!({"orderId": "o-1"}), now);
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            serde_json::json!({"eventId": "e-1", "type": "OrderPlaced", "version": 1, "occurredAt": "2026-11-18T11:06:40Z",
                               "correlationId": "c-1", "data": {"orderId": "o-1"}})
        );
    }

    #[test]
    fn a_consumer_refuses_versions_it_does_not_declare_and_passes_types_it_does_not_read() {
        const ACCEPTS: &[(&str, u32)] = &[("OrderPlaced", 1), ("OrderPlaced", 2), ("OrderCancelled", 1)];
        let now = OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap();
        let event = |kind: &str, version: u32| Envelope { version, ..Envelope::new("e".into(), kind, "c", (), now) };
        assert_eq!(event("OrderPlaced", 1).check_version(ACCEPTS), Ok(()));
        assert_eq!(event("OrderPlaced", 2).check_version(ACCEPTS), Ok(()));
        assert_eq!(event("OrderConfirmed", 7).check_version(ACCEPTS), Ok(()), "not this consumer's type");
        let refused = event("OrderCancelled", 2).check_version(ACCEPTS).unwrap_err();
        assert_eq!(refused, UnsupportedVersion { kind: "OrderCancelled".into(), version: 2, accepted: vec![1] });
        assert_eq!(
            refused.to_string(),
            "OrderCancelled version 2 is not a version this consumer reads (it reads [1]); dead-lettered once its retries are spent"
        );
    }
}
