//! The sent table in DynamoDB: one item per (order, status, channel), pk
//! `SENT#<orderId>#<status>#<channel>`, with `state` (SENDING | SENT), `claimedAt`,
//! `claimId` (whose claim it is), `sentAt` and `messageId` once sent, and `expiresAt`
//! (the table's TTL attribute, 90 days out).
//!
//! A claim is one conditional PutItem; the condition is the whole exactly-once guarantee,
//! so it lives in DynamoDB, never in a read-then-write.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use aws_sdk_dynamodb::Client;
use bookish_shared::dynamo::{n, s, Item};
use time::OffsetDateTime;

use super::{
    timestamp, Claim, ClaimToken, SentKey, SentLog, SentLogError, SentRecord, SentState, RETENTION, STALE_AFTER,
};

pub struct DynamoSentLog {
    client: Client,
    table: String,
}

impl DynamoSentLog {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    fn key(key: &SentKey) -> Item {
        Item::from([("pk".to_owned(), s(key.pk()))])
    }
}

fn unavailable(err: impl std::error::Error) -> SentLogError {
    SentLogError(DisplayErrorContext(&err).to_string())
}

#[async_trait]
impl SentLog for DynamoSentLog {
    async fn claim(&self, key: &SentKey, now: OffsetDateTime) -> Result<Claim, SentLogError> {
        let token = ClaimToken::new();
        let item = Item::from([
            ("pk".to_owned(), s(key.pk())),
            ("state".to_owned(), s(SentState::Sending.as_str())),
            ("claimedAt".to_owned(), s(timestamp(now))),
            ("claimId".to_owned(), s(&token.0)),
            ("expiresAt".to_owned(), n((now + RETENTION).unix_timestamp())),
        ]);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR (#state = :sending AND claimedAt < :stale)")
            // `state` is one of DynamoDB's reserved words.
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":sending", s(SentState::Sending.as_str()))
            .expression_attribute_values(":stale", s(timestamp(now - STALE_AFTER)))
            // Saves a read to learn why the claim was refused.
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let holder = match result {
            Ok(_) => return Ok(Claim::Acquired(token)),
            Err(err) => match err.into_service_error() {
                PutItemError::ConditionalCheckFailedException(refused) => refused.item,
                other => return Err(unavailable(other)),
            },
        };
        let holder = match holder {
            Some(item) => Some(from_item(&item)?),
            None => self.get(key).await?,
        };
        Ok(match holder {
            Some(record) if record.state == SentState::Sent => Claim::AlreadySent,
            // SENDING and fresh; or released between our write and our read: either way
            // another delivery is at work, and a retry will find out how it went.
            _ => Claim::InProgress,
        })
    }

    async fn mark_sent(&self, key: &SentKey, message_id: &str, now: OffsetDateTime) -> Result<(), SentLogError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(key)))
            .update_expression(
                "SET #state = :sent, sentAt = :now, messageId = :message, expiresAt = :expires, \
                 claimedAt = if_not_exists(claimedAt, :now)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":sent", s(SentState::Sent.as_str()))
            .expression_attribute_values(":now", s(timestamp(now)))
            .expression_attribute_values(":message", s(message_id))
            .expression_attribute_values(":expires", n((now + RETENTION).unix_timestamp()))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn release(&self, key: &SentKey, token: &ClaimToken) -> Result<(), SentLogError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(key)))
            .condition_expression("#state = :sending AND claimId = :token")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":sending", s(SentState::Sending.as_str()))
            .expression_attribute_values(":token", s(&token.0))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Not ours any more (taken over, or sent): leave it be.
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn get(&self, key: &SentKey) -> Result<Option<SentRecord>, SentLogError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        output.item.as_ref().map(from_item).transpose()
    }
}

fn from_item(item: &Item) -> Result<SentRecord, SentLogError> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let state = text("state")
        .as_deref()
        .and_then(SentState::parse)
        .ok_or_else(|| SentLogError("sent log item has no valid state".into()))?;
    Ok(SentRecord {
        state,
        claimed_at: text("claimedAt").unwrap_or_default(),
        sent_at: text("sentAt"),
        message_id: text("messageId"),
    })
}
