//! An in-memory `SentLog` with the same rules as DynamoDB's, for fast tests.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{timestamp, Claim, ClaimToken, SentKey, SentLog, SentLogError, SentRecord, SentState, STALE_AFTER};

#[derive(Default)]
pub struct MemorySentLog {
    records: Mutex<HashMap<String, (SentRecord, ClaimToken)>>,
}

#[async_trait]
impl SentLog for MemorySentLog {
    async fn claim(&self, key: &SentKey, now: OffsetDateTime) -> Result<Claim, SentLogError> {
        let mut records = self.records.lock().unwrap();
        match records.get(&key.pk()) {
            Some((record, _)) if record.state == SentState::Sent => return Ok(Claim::AlreadySent),
            Some((record, _)) if record.claimed_at >= timestamp(now - STALE_AFTER) => return Ok(Claim::InProgress),
            _ => {}
        }
        let token = ClaimToken::new();
        let record =
            SentRecord { state: SentState::Sending, claimed_at: timestamp(now), sent_at: None, message_id: None };
        records.insert(key.pk(), (record, token.clone()));
        Ok(Claim::Acquired(token))
    }

    async fn mark_sent(&self, key: &SentKey, message_id: &str, now: OffsetDateTime) -> Result<(), SentLogError> {
        let mut records = self.records.lock().unwrap();
        let (record, _) = records.entry(key.pk()).or_insert_with(|| {
            let claimed =
                SentRecord { state: SentState::Sending, claimed_at: timestamp(now), sent_at: None, message_id: None };
            (claimed, ClaimToken::new())
        });
        record.state = SentState::Sent;
        record.sent_at = Some(timestamp(now));
        record.message_id = Some(message_id.to_owned());
        Ok(())
    }

    async fn release(&self, key: &SentKey, token: &ClaimToken) -> Result<(), SentLogError> {
        let mut records = self.records.lock().unwrap();
        let ours =
            records.get(&key.pk()).is_some_and(|(record, held)| record.state == SentState::Sending && held == token);
        if ours {
            records.remove(&key.pk());
        }
        Ok(())
    }

    async fn get(&self, key: &SentKey) -> Result<Option<SentRecord>, SentLogError> {
        Ok(self.records.lock().unwrap().get(&key.pk()).map(|(record, _)| record.clone()))
    }
}
