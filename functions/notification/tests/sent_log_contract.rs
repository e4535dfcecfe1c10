//! One behaviour suite for every `SentLog` adapter: the in-memory one, and the DynamoDB one
//! against the moto server that `make test` starts (SENT_TABLE, provisioned from
//! template.yaml).

use std::sync::Arc;

use notification::order::{OrderId, Status};
use notification::sent_log::{Channel, Claim, DynamoSentLog, SentKey, SentLog, SentState};
use time::OffsetDateTime;

async fn dynamo_log() -> DynamoSentLog {
    let table = std::env::var("SENT_TABLE")
        .expect("SENT_TABLE and AWS_ENDPOINT_URL must point at moto: run `make test`, which starts it");
    assert!(std::env::var("AWS_ENDPOINT_URL").is_ok(), "AWS_ENDPOINT_URL must point at moto: run `make test`");
    DynamoSentLog::new(bookish_shared::dynamo::client(&bookish_shared::aws::config()), table)
}

fn key(status: Status, channel: Channel) -> SentKey {
    SentKey::new(&OrderId::parse(&uuid::Uuid::new_v4().to_string()).unwrap(), status, channel)
}

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_795_000_000 + seconds).unwrap()
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test] async fn $name() { super::$name(std::sync::Arc::new(notification::sent_log::MemorySentLog::default())).await })*
        }
        mod dynamodb {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $name() { super::$name(std::sync::Arc::new(super::dynamo_log().await)).await })*
        }
    };
}

contract!(
    claims_once_then_refuses_while_sending,
    a_stale_claim_can_be_taken_over,
    sent_is_never_claimed_again,
    release_frees_only_our_own_claim,
    keys_are_independent,
    concurrent_claims_have_one_winner,
);

async fn claims_once_then_refuses_while_sending(log: Arc<dyn SentLog>) {
    let key = key(Status::Confirmed, Channel::Email);
    assert_eq!(log.get(&key).await.unwrap(), None);
    assert!(matches!(log.claim(&key, at(0)).await.unwrap(), Claim::Acquired(_)));
    assert_eq!(log.claim(&key, at(1)).await.unwrap(), Claim::InProgress);
    let record = log.get(&key).await.unwrap().unwrap();
    assert_eq!((record.state, record.claimed_at.as_str()), (SentState::Sending, "2026-11-18T11:06:40Z"));
    log.mark_sent(&key, "msg-1", at(2)).await.unwrap();
    let record = log.get(&key).await.unwrap().unwrap();
    assert_eq!(record.state, SentState::Sent);
    assert_eq!(record.message_id.as_deref(), Some("msg-1"));
    assert_eq!(record.sent_at.as_deref(), Some("2026-11-18T11:06:42Z"));
    assert_eq!(log.claim(&key, at(3)).await.unwrap(), Claim::AlreadySent);
}

async fn a_stale_claim_can_be_taken_over(log: Arc<dyn SentLog>) {
    let key = key(Status::Rejected, Channel::Sms);
    let Claim::Acquired(crashed) = log.claim(&key, at(0)).await.unwrap() else { panic!("first claim") };
    // Exactly 60 s old is still fresh; older is a crashed delivery's.
    assert_eq!(log.claim(&key, at(60)).await.unwrap(), Claim::InProgress);
    let Claim::Acquired(retry) = log.claim(&key, at(61)).await.unwrap() else { panic!("stale claim taken over") };
    assert_ne!(crashed, retry);
    assert_eq!(log.claim(&key, at(62)).await.unwrap(), Claim::InProgress);
    assert_eq!(log.get(&key).await.unwrap().unwrap().claimed_at, "2026-11-18T11:07:41Z");
}

async fn sent_is_never_claimed_again(log: Arc<dyn SentLog>) {
    let key = key(Status::Cancelled, Channel::Email);
    let Claim::Acquired(token) = log.claim(&key, at(0)).await.unwrap() else { panic!("first claim") };
    log.mark_sent(&key, "msg-1", at(1)).await.unwrap();
    for later in [2, 61, 3600, 30 * 86_400] {
        assert_eq!(log.claim(&key, at(later)).await.unwrap(), Claim::AlreadySent, "{later} s later");
    }
    // A late release from the sender changes nothing either.
    log.release(&key, &token).await.unwrap();
    assert_eq!(log.claim(&key, at(100)).await.unwrap(), Claim::AlreadySent);
}

async fn release_frees_only_our_own_claim(log: Arc<dyn SentLog>) {
    let key = key(Status::Confirmed, Channel::Sms);
    let Claim::Acquired(first) = log.claim(&key, at(0)).await.unwrap() else { panic!("first claim") };
    log.release(&key, &first).await.unwrap();
    assert_eq!(log.get(&key).await.unwrap(), None);
    let Claim::Acquired(second) = log.claim(&key, at(1)).await.unwrap() else { panic!("claim after release") };
    // The first holder's token no longer releases anything.
    log.release(&key, &first).await.unwrap();
    assert_eq!(log.claim(&key, at(2)).await.unwrap(), Claim::InProgress);
    log.release(&key, &second).await.unwrap();
    assert!(matches!(log.claim(&key, at(3)).await.unwrap(), Claim::Acquired(_)));
}

async fn keys_are_independent(log: Arc<dyn SentLog>) {
    let email = key(Status::Confirmed, Channel::Email);
    let sms = SentKey { channel: Channel::Sms, ..email.clone() };
    let cancelled = SentKey { status: Status::Cancelled, ..email.clone() };
    assert_eq!(email.pk(), format!("SENT#{}#CONFIRMED#email", email.order_id));
    assert!(matches!(log.claim(&email, at(0)).await.unwrap(), Claim::Acquired(_)));
    log.mark_sent(&email, "msg-1", at(0)).await.unwrap();
    assert!(matches!(log.claim(&sms, at(0)).await.unwrap(), Claim::Acquired(_)));
    assert!(matches!(log.claim(&cancelled, at(0)).await.unwrap(), Claim::Acquired(_)));
}

async fn concurrent_claims_have_one_winner(log: Arc<dyn SentLog>) {
    let key = key(Status::Confirmed, Channel::Email);
    let claims = (0..8).map(|_| {
        let (log, key) = (log.clone(), key.clone());
        tokio::spawn(async move { log.claim(&key, at(0)).await.unwrap() })
    });
    let mut won = 0;
    for claim in claims.collect::<Vec<_>>() {
        match claim.await.unwrap() {
            Claim::Acquired(_) => won += 1,
            other => assert_eq!(other, Claim::InProgress),
        }
    }
    assert_eq!(won, 1);
}
