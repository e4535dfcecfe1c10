//! The notification rules, written against the `Mailer`, `SmsSender`, `SentLog` and
//! `Directory` ports:
//! an order event becomes at most one email and one SMS per (order, status), whatever
//! the redeliveries.

use std::future::Future;

use bookish_shared::events::Envelope;
use bookish_shared::metrics;
use time::OffsetDateTime;

use crate::directory::{Contacts, Directory, DirectoryError, MemoryDirectory};
use crate::error::{NotificationError, SendError};
use crate::mailer::{Email, Mailer, MemoryMailer};
use crate::order::{EmailAddress, Notice, OrderEventData, PhoneNumber, Status};
use crate::render::{self, Subjects};
use crate::sent_log::{Channel, Claim, MemorySentLog, SentKey, SentLog};
use crate::sms::{MemorySms, SmsSender};

/// The adapters and configuration the rules use, built once per cold start.
pub struct Ports<'a> {
    pub mailer: &'a dyn Mailer,
    pub sms: &'a dyn SmsSender,
    pub sent: &'a dyn SentLog,
    pub directory: &'a dyn Directory,
    pub subjects: &'a Subjects,
}

/// Every port in memory, for tests and benchmarks.
pub struct MemoryPorts {
    pub mailer: MemoryMailer,
    pub sms: MemorySms,
    pub sent: MemorySentLog,
    pub directory: MemoryDirectory,
    pub subjects: Subjects,
}

impl MemoryPorts {
    pub fn new(subjects: Subjects) -> Self {
        Self {
            mailer: MemoryMailer::default(),
            sms: MemorySms::default(),
            sent: MemorySentLog::default(),
            directory: MemoryDirectory::default(),
            subjects,
        }
    }

    pub fn ports(&self) -> Ports<'_> {
        Ports {
            mailer: &self.mailer,
            sms: &self.sms,
            sent: &self.sent,
            directory: &self.directory,
            subjects: &self.subjects,
        }
    }
}

/// What happened on one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Sent now; the provider's message id.
    Sent(String),
    /// An earlier delivery of the event sent it.
    AlreadySent,
    /// No usable address or phone number: nothing to send.
    NoRecipient,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub email: Delivery,
    pub sms: Delivery,
}

/// Handles one event from the notification queue. Events of other types are not ours to
/// act on: `Ok(None)`.
pub async fn on_event(
    ports: &Ports<'_>,
    envelope: Envelope<serde_json::Value>,
    now: OffsetDateTime,
) -> Result<Option<Report>, NotificationError> {
    let Some(status) = Status::from_event_type(&envelope.kind) else {
        tracing::info!(event_type = %envelope.kind, "not an event this service acts on; ignored");
        return Ok(None);
    };
    let data: OrderEventData = serde_path_to_error::deserialize(envelope.data).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "data".to_owned() } else { format!("data.{path}") };
        NotificationError::Malformed(format!("{field}: {}", e.inner()))
    })?;
    let notice = Notice::new(status, data.order).map_err(NotificationError::Malformed)?;
    notify(ports, &notice, now).await.map(Some)
}

/// Sends the notice by email and, when there is a verified phone number, by SMS. Each
/// channel is claimed and recorded on its own, so when one fails the retry redoes only that
/// one.
pub async fn notify(ports: &Ports<'_>, notice: &Notice, now: OffsetDateTime) -> Result<Report, NotificationError> {
    let recipients = recipients(ports, notice).await;
    let email = match recipients.email {
        Err(err) => Err(err.into()),
        Ok(None) => {
            tracing::warn!(order_id = %notice.order_id, "the order has no verified email address: no email sent");
            Ok(Delivery::NoRecipient)
        }
        Ok(Some(to)) => {
            let content = render::email(notice, ports.subjects);
            let email =
                Email { to: to.as_str().to_owned(), subject: content.subject, html: content.html, text: content.text };
            let key = SentKey::new(&notice.order_id, notice.status, Channel::Email);
            deliver(ports.sent, &key, now, ports.mailer.send(&email)).await
        }
    };
    let sms = match recipients.phone {
        Err(err) => Err(err.into()),
        Ok(None) => Ok(Delivery::NoRecipient),
        Ok(Some(phone)) => {
            let text = render::sms(notice);
            let key = SentKey::new(&notice.order_id, notice.status, Channel::Sms);
            deliver(ports.sent, &key, now, ports.sms.send(phone.as_str(), &text)).await
        }
    };
    if matches!(email, Ok(Delivery::Sent(_))) {
        metrics::email_sent();
    }
    if matches!(sms, Ok(Delivery::Sent(_))) {
        metrics::sms_sent();
    }
    match (email, sms) {
        (Ok(email), Ok(sms)) => Ok(Report { email, sms }),
        (Err(err), Ok(_)) | (Ok(_), Err(err)) => Err(err),
        (Err(email), Err(sms)) => {
            tracing::warn!(order_id = %notice.order_id, error = %sms, "the SMS failed too");
            Err(email)
        }
    }
}

/// Where each channel goes, or why it cannot be known yet.
struct Recipients {
    email: Result<Option<EmailAddress>, DirectoryError>,
    phone: Result<Option<PhoneNumber>, DirectoryError>,
}

/// The order's own contacts (recorded from the shopper's token, verified), else the
/// verified ones on the shopper's account: the directory is asked at most once, and only
/// when the order lacks one. A failed lookup fails only the channels that needed it.
async fn recipients(ports: &Ports<'_>, notice: &Notice) -> Recipients {
    let (email, phone) = (notice.email.clone(), notice.phone.clone());
    let username = match &notice.username {
        Some(username) if email.is_none() || phone.is_none() => username,
        _ => return Recipients { email: Ok(email), phone: Ok(phone) },
    };
    let account = ports.directory.contacts(username).await.map(Option::unwrap_or_default);
    let from_account = |pick: fn(&Contacts) -> Option<&String>| {
        account.as_ref().map(|contacts| pick(contacts).cloned()).map_err(Clone::clone)
    };
    Recipients {
        email: match email {
            Some(email) => Ok(Some(email)),
            None => from_account(|c| c.email.as_ref())
                .map(|raw| raw.and_then(|raw| EmailAddress::usable(&raw, &notice.order_id))),
        },
        phone: match phone {
            Some(phone) => Ok(Some(phone)),
            None => from_account(|c| c.phone.as_ref())
                .map(|raw| raw.and_then(|raw| PhoneNumber::usable(&raw, &notice.order_id))),
        },
    }
}

/// Claim, send, record: see `sent_log` for the protocol and the window it leaves.
/// `send` is a future, so nothing is sent unless the claim is ours.
async fn deliver(
    log: &dyn SentLog,
    key: &SentKey,
    now: OffsetDateTime,
    send: impl Future<Output = Result<String, SendError>>,
) -> Result<Delivery, NotificationError> {
    let token = match log.claim(key, now).await? {
        Claim::Acquired(token) => token,
        Claim::AlreadySent => {
            tracing::info!(key = key.pk(), "already sent; skipped");
            return Ok(Delivery::AlreadySent);
        }
        Claim::InProgress => return Err(NotificationError::InProgress(key.pk())),
    };
    let message_id = match send.await {
        Ok(message_id) => message_id,
        Err(err) => {
            if let Err(release) = log.release(key, &token).await {
                // The claim goes stale after a minute and the retry takes it over then.
                tracing::warn!(key = key.pk(), error = %release, "could not release the claim");
            }
            return Err(err.into());
        }
    };
    tracing::info!(key = key.pk(), message_id, "sent");
    if let Err(err) = log.mark_sent(key, &message_id, now).await {
        // The message is out. Failing the event would make its retry send it again once
        // the claim is stale; succeeding leaves that risk to a duplicate event only.
        tracing::error!(key = key.pk(), error = %err, "sent, but could not record it");
    }
    Ok(Delivery::Sent(message_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::{EmailAddress, OrderId, PhoneNumber};
    use bookish_shared::money::{Currency, Money};

    fn fakes() -> MemoryPorts {
        MemoryPorts {
            directory: MemoryDirectory::with("ada", &[("email", "ada@account.example"), ("email_verified", "true")]),
            ..MemoryPorts::new(Subjects::default())
        }
    }

    fn notice(phone: Option<&str>) -> Notice {
        Notice {
            order_id: OrderId::parse("o-1").unwrap(),
            status: Status::Confirmed,
            reason: None,
            greeting_name: None,
            lines: vec![],
            total: Money::new(1250, Currency::parse("USD").unwrap()),
            email: Some(EmailAddress::parse("ada@example.com").unwrap()),
            username: Some("ada".into()),
            phone: phone.map(|p| PhoneNumber::parse(p).unwrap()),
        }
    }

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_795_000_000 + seconds).unwrap()
    }

    #[tokio::test]
    async fn a_notice_in_progress_elsewhere_is_retried_not_sent() {
        let fakes = fakes();
        let key = SentKey::new(&OrderId::parse("o-1").unwrap(), Status::Confirmed, Channel::Email);
        assert!(matches!(fakes.sent.claim(&key, at(0)).await.unwrap(), Claim::Acquired(_)));
        let err = notify(&fakes.ports(), &notice(None), at(10)).await.unwrap_err();
        assert!(matches!(err, NotificationError::InProgress(_)), "{err}");
        assert!(fakes.mailer.sent().is_empty());
        // The other delivery died: once its claim is stale, this one sends.
        let report = notify(&fakes.ports(), &notice(None), at(61)).await.unwrap();
        assert!(matches!(report.email, Delivery::Sent(_)));
        assert_eq!(fakes.mailer.sent().len(), 1);
    }

    #[tokio::test]
    async fn a_failed_sms_does_not_resend_the_email() {
        let fakes = fakes();
        fakes.sms.fail(true);
        assert!(notify(&fakes.ports(), &notice(Some("+15555550100")), at(0)).await.is_err());
        fakes.sms.fail(false);
        let report = notify(&fakes.ports(), &notice(Some("+15555550100")), at(1)).await.unwrap();
        assert_eq!(report.email, Delivery::AlreadySent);
        assert!(matches!(report.sms, Delivery::Sent(_)));
        assert_eq!((fakes.mailer.sent().len(), fakes.sms.sent().len()), (1, 1));
    }

    #[tokio::test]
    async fn the_sent_log_records_the_message_id() {
        let fakes = fakes();
        let report = notify(&fakes.ports(), &notice(None), at(0)).await.unwrap();
        assert_eq!(report, Report { email: Delivery::Sent("memory-email-1".into()), sms: Delivery::NoRecipient });
        let key = SentKey::new(&OrderId::parse("o-1").unwrap(), Status::Confirmed, Channel::Email);
        let record = fakes.sent.get(&key).await.unwrap().unwrap();
        assert_eq!(record.message_id.as_deref(), Some("memory-email-1"));
        assert_eq!(record.sent_at.as_deref(), Some("2026-11-18T11:06:40Z"));
    }

    #[tokio::test]
    async fn without_an_address_on_the_order_the_accounts_is_used() {
        let fakes = fakes();
        let mut unaddressed = notice(None);
        unaddressed.email = None;
        fakes.directory.fail(true);
        let err = notify(&fakes.ports(), &unaddressed, at(0)).await.unwrap_err();
        assert!(matches!(err, NotificationError::Directory(_)), "{err}");
        assert!(fakes.mailer.sent().is_empty());
        fakes.directory.fail(false);
        notify(&fakes.ports(), &unaddressed, at(1)).await.unwrap();
        assert_eq!(fakes.mailer.sent().iter().map(|e| e.to.as_str()).collect::<Vec<_>>(), ["ada@account.example"]);

        // The order's own address wins; an unknown user gets no email.
        notify(&fakes.ports(), &Notice { order_id: OrderId::parse("o-2").unwrap(), ..notice(None) }, at(2))
            .await
            .unwrap();
        assert_eq!(fakes.mailer.sent().last().unwrap().to, "ada@example.com");
        let stranger = Notice { order_id: OrderId::parse("o-3").unwrap(), username: Some("bob".into()), ..unaddressed };
        assert_eq!(notify(&fakes.ports(), &stranger, at(3)).await.unwrap().email, Delivery::NoRecipient);
    }

    fn uncontacted(order_id: &str) -> Notice {
        Notice { order_id: OrderId::parse(order_id).unwrap(), email: None, phone: None, ..notice(None) }
    }

    #[tokio::test]
    async fn an_order_without_contacts_gets_the_accounts_verified_ones_in_one_lookup() {
        let fakes = MemoryPorts::new(Subjects::default());
        fakes.directory.add(
            "ada",
            &[
                ("email", "ada@account.example"),
                ("email_verified", "true"),
                ("phone_number", "+15555550123"),
                ("phone_number_verified", "true"),
            ],
        );
        let report = notify(&fakes.ports(), &uncontacted("o-1"), at(0)).await.unwrap();
        assert!(matches!((&report.email, &report.sms), (Delivery::Sent(_), Delivery::Sent(_))), "{report:?}");
        assert_eq!(fakes.directory.lookups(), 1, "one lookup for both channels");
        assert_eq!(fakes.mailer.sent()[0].to, "ada@account.example");
        assert_eq!(fakes.sms.sent()[0].0, "+15555550123");

        // The order's own verified contacts win, and need no lookup.
        let contacted = Notice { order_id: OrderId::parse("o-2").unwrap(), ..notice(Some("+15555550100")) };
        notify(&fakes.ports(), &contacted, at(1)).await.unwrap();
        assert_eq!(fakes.directory.lookups(), 1);
        assert_eq!(fakes.mailer.sent()[1].to, "ada@example.com");
        assert_eq!(fakes.sms.sent()[1].0, "+15555550100");

        // An order with an address but no number: the account's verified number is texted.
        notify(&fakes.ports(), &Notice { order_id: OrderId::parse("o-3").unwrap(), ..notice(None) }, at(2))
            .await
            .unwrap();
        assert_eq!(fakes.directory.lookups(), 2);
        assert_eq!(fakes.mailer.sent()[2].to, "ada@example.com");
        assert_eq!(fakes.sms.sent()[2].0, "+15555550123");
    }

    #[tokio::test]
    async fn unverified_contacts_on_the_account_get_nothing() {
        let fakes = MemoryPorts::new(Subjects::default());
        let unverified = [
            ("email", "victim@example.com"),
            ("email_verified", "false"),
            ("phone_number", "+15555550199"),
            ("phone_number_verified", "false"),
        ];
        fakes.directory.add("ada", &unverified);
        let report = notify(&fakes.ports(), &uncontacted("o-1"), at(0)).await.unwrap();
        assert_eq!(report, Report { email: Delivery::NoRecipient, sms: Delivery::NoRecipient });
        // Never said to be verified is the same as unverified.
        fakes.directory.add("ada", &[("email", "victim@example.com"), ("phone_number", "+15555550199")]);
        let report = notify(&fakes.ports(), &uncontacted("o-2"), at(1)).await.unwrap();
        assert_eq!(report, Report { email: Delivery::NoRecipient, sms: Delivery::NoRecipient });
        // One channel verified, the other not: only the verified one is used.
        fakes.directory.add(
            "ada",
            &[
                ("email", "ada@account.example"),
                ("email_verified", "true"),
                ("phone_number", "+15555550199"),
                ("phone_number_verified", "false"),
            ],
        );
        let report = notify(&fakes.ports(), &uncontacted("o-3"), at(2)).await.unwrap();
        assert!(matches!(report.email, Delivery::Sent(_)));
        assert_eq!(report.sms, Delivery::NoRecipient);
        assert_eq!(fakes.mailer.sent().iter().map(|e| e.to.as_str()).collect::<Vec<_>>(), ["ada@account.example"]);
        assert!(fakes.sms.sent().is_empty());
    }

    #[tokio::test]
    async fn a_failed_lookup_fails_only_the_channels_that_needed_it() {
        let fakes = fakes();
        fakes.directory.add("ada", &[("phone_number", "+15555550123"), ("phone_number_verified", "true")]);
        fakes.directory.fail(true);
        // The order's own address is mailed; the number had to come from the account.
        let err = notify(&fakes.ports(), &notice(None), at(0)).await.unwrap_err();
        assert!(matches!(err, NotificationError::Directory(_)), "{err}");
        assert_eq!(fakes.mailer.sent().len(), 1);
        assert!(fakes.sms.sent().is_empty());
        fakes.directory.fail(false);
        let report = notify(&fakes.ports(), &notice(None), at(1)).await.unwrap();
        assert_eq!(report.email, Delivery::AlreadySent);
        assert!(matches!(report.sms, Delivery::Sent(_)));
        assert_eq!((fakes.mailer.sent().len(), fakes.sms.sent().len()), (1, 1));
    }
}
