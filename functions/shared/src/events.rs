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
}
