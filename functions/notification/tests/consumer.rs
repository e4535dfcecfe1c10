//! The notification-events consumer over in-memory ports, fed the sample SQS events in
//! `events/notification/` exactly as Lambda delivers them, redeliveries included.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use notification::consumer::handle_batch;
use notification::render::Subjects;
use notification::service::MemoryPorts;

const ORDER_A: &str = "0193a2b4-6c1e-7f00-9d2a-5b8c3e4f1a01";
const ORDER_B: &str = "0193a2b5-0e4d-7a11-8c3b-2d9e4f5a6b02";

fn event(name: &str) -> SqsEvent {
    let path = format!("{}/../../events/notification/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// One notification service with in-memory adapters.
fn service() -> MemoryPorts {
    MemoryPorts::new(Subjects { confirmed: "Confirmed: {orderId}".into(), ..Subjects::default() })
}

/// Hands the sample event `name` to the consumer; returns the ids of the failed messages.
async fn deliver(service: &MemoryPorts, name: &str) -> Vec<String> {
    failures(handle_batch(&service.ports(), event(name), "request-1", None).await)
}

fn failures(response: SqsBatchResponse) -> Vec<String> {
    response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect()
}

#[tokio::test]
async fn a_confirmation_is_emailed_and_texted() {
    let service = service();
    assert_eq!(deliver(&service, "order-confirmed.json").await, Vec::<String>::new());
    let emails = service.mailer.sent();
    assert_eq!(emails.len(), 1);
    let email = &emails[0];
    assert_eq!(email.to, "shopper@bookish.local");
    assert_eq!(email.subject, format!("Confirmed: {ORDER_A}"));
    for part in [ORDER_A, "Hello Ada Lovelace,", "1984", "The Great Gatsby", "$9.99", "$19.98", "$12.50", "$32.48"] {
        assert!(email.text.contains(part), "text lacks {part}: {}", email.text);
        assert!(email.html.contains(part), "html lacks {part}: {}", email.html);
    }
    assert!(email.text.contains("Status: Confirmed"));
    assert_eq!(
        service.sms.sent(),
        [("+15555550100".to_owned(), format!("Bookish: order {ORDER_A} is confirmed. Total $32.48."))]
    );
}

#[tokio::test]
async fn the_same_batch_twice_sends_once() {
    let service = service();
    for _ in 0..2 {
        assert!(deliver(&service, "order-confirmed.json").await.is_empty());
        // The same event twice in one batch, as SQS's at-least-once delivery allows.
        assert!(deliver(&service, "redelivered-batch.json").await.is_empty());
    }
    assert_eq!(service.mailer.sent().len(), 1);
    assert_eq!(service.sms.sent().len(), 1);
}

#[tokio::test]
async fn each_status_of_an_order_is_its_own_notice() {
    let service = service();
    assert!(deliver(&service, "order-confirmed.json").await.is_empty());
    assert!(deliver(&service, "order-cancelled.json").await.is_empty());
    assert!(deliver(&service, "order-cancelled.json").await.is_empty());
    let subjects: Vec<String> = service.mailer.sent().into_iter().map(|e| e.subject).collect();
    assert_eq!(subjects, [format!("Confirmed: {ORDER_A}"), format!("Your Bookish order {ORDER_A} has been cancelled")]);
    let texts: Vec<String> = service.sms.sent().into_iter().map(|(_, text)| text).collect();
    assert_eq!(texts.len(), 2);
    assert_eq!(texts[1], format!("Bookish: order {ORDER_A} has been cancelled."));
}

#[tokio::test]
async fn a_rejection_says_why_and_has_no_sms_without_a_verified_phone() {
    let service = service();
    assert!(deliver(&service, "order-rejected.json").await.is_empty());
    let emails = service.mailer.sent();
    assert_eq!(emails.len(), 1);
    assert!(emails[0]
        .text
        .contains(&format!("order {ORDER_B} could not be accepted because some books were out of stock.")));
    assert!(service.sms.sent().is_empty());
}

#[tokio::test]
async fn only_malformed_messages_fail_their_batch() {
    let service = service();
    // Bad JSON, and an envelope whose data is not an order; the OrderPlaced event and the
    // order without an email address succeed with nothing to send.
    let failed = deliver(&service, "mixed-batch.json").await;
    assert_eq!(failed, ["11111111-2222-4333-8444-555555555502", "11111111-2222-4333-8444-555555555504"]);
    let emails = service.mailer.sent();
    assert_eq!(emails.len(), 1, "only the rejection is emailed");
    assert!(emails[0].subject.contains(ORDER_B));
    assert!(service.sms.sent().is_empty());
}

#[tokio::test]
async fn a_failed_send_is_retried_and_then_sent_once() {
    let service = service();
    service.mailer.fail(true);
    assert_eq!(deliver(&service, "order-confirmed.json").await, ["2e1424d4-f796-459a-8184-9c92662be6da"]);
    assert!(service.mailer.sent().is_empty());
    // The SMS went out on the first attempt; the retry must not send it again.
    assert_eq!(service.sms.sent().len(), 1);

    service.mailer.fail(false);
    assert!(deliver(&service, "order-confirmed.json").await.is_empty());
    assert!(deliver(&service, "redelivered-batch.json").await.is_empty());
    assert_eq!(service.mailer.sent().len(), 1);
    assert_eq!(service.sms.sent().len(), 1);
}

/// The sample confirmation with its body rewritten by `edit` (order id kept).
fn edited(name: &str, edit: impl Fn(&mut serde_json::Value)) -> SqsEvent {
    let mut event = event(name);
    for record in &mut event.records {
        let mut body: serde_json::Value = serde_json::from_str(record.body.as_deref().unwrap()).unwrap();
        edit(&mut body);
        record.body = Some(body.to_string());
    }
    event
}

#[tokio::test]
async fn a_phone_number_on_the_order_itself_is_never_texted() {
    // Events of orders placed when checkout took a number in its body carry `order.phone`:
    // it could be anyone's, so only the customer's verified number counts.
    let service = service();
    let event = edited("order-confirmed.json", |body| {
        let order = &mut body["data"]["order"];
        order["phone"] = serde_json::json!("+15555550199");
        order["customer"].as_object_mut().unwrap().remove("phone");
    });
    assert!(failures(handle_batch(&service.ports(), event, "request-1", None).await).is_empty());
    assert_eq!(service.mailer.sent().len(), 1);
    assert!(service.sms.sent().is_empty(), "{:?}", service.sms.sent());
}

#[tokio::test]
async fn an_order_without_contacts_uses_the_accounts_verified_ones() {
    let service = service();
    service.directory.add(
        "ada",
        &[
            ("email", "ada@account.example"),
            ("email_verified", "true"),
            ("phone_number", "+15555550123"),
            ("phone_number_verified", "true"),
        ],
    );
    let placed_by = |username: &'static str| {
        edited("order-confirmed.json", move |body| {
            body["data"]["order"]["customer"] = serde_json::json!({"sub": "s", "username": username});
        })
    };
    assert!(failures(handle_batch(&service.ports(), placed_by("ada"), "request-1", None).await).is_empty());
    assert_eq!(service.mailer.sent().iter().map(|e| e.to.clone()).collect::<Vec<_>>(), ["ada@account.example"]);
    assert_eq!(service.sms.sent().iter().map(|(to, _)| to.clone()).collect::<Vec<_>>(), ["+15555550123"]);
    assert_eq!(service.directory.lookups(), 1);

    // Unverified contacts on the account get nothing (another order, so no sent-log hit).
    let service = self::service();
    service.directory.add(
        "eve",
        &[
            ("email", "victim@example.com"),
            ("email_verified", "false"),
            ("phone_number", "+15555550199"),
            ("phone_number_verified", "false"),
        ],
    );
    assert!(failures(handle_batch(&service.ports(), placed_by("eve"), "request-1", None).await).is_empty());
    assert!(service.mailer.sent().is_empty());
    assert!(service.sms.sent().is_empty());
}

// ---- The events' contracts (contracts/README.md) ----

/// Events as one SQS batch, in order.
fn batch_of(events: &[serde_json::Value]) -> SqsEvent {
    let records: Vec<serde_json::Value> = events
        .iter()
        .enumerate()
        .map(|(i, e)| serde_json::json!({"messageId": format!("m{i}"), "body": e.to_string()}))
        .collect();
    serde_json::from_value(serde_json::json!({"Records": records})).unwrap()
}

/// A service whose directory knows every shopper the contracts' examples name, so an
/// example without contacts on the order is emailed too.
fn service_knowing(examples: &[serde_json::Value]) -> MemoryPorts {
    let service = service();
    for example in examples {
        if let Some(username) = example["data"]["order"]["customer"]["username"].as_str() {
            service.directory.add(username, &[("email", "account@bookish.local"), ("email_verified", "true")]);
        }
    }
    service
}

#[tokio::test]
async fn the_order_events_in_the_contract_are_handled_and_fields_not_read_are_ignored() {
    for (kind, version) in notification::consumer::ACCEPTS {
        for mut example in bookish_contracts::examples(kind, *version) {
            for extended in [false, true] {
                if extended {
                    example["data"]["somethingNew"] = serde_json::json!(1);
                    example["data"]["order"]["customer"]["somethingNew"] = serde_json::json!("later");
                }
                let service = service_knowing(std::slice::from_ref(&example));
                let response = handle_batch(&service.ports(), batch_of(&[example.clone()]), "request-1", None).await;
                assert_eq!(failures(response), Vec::<String>::new(), "{kind} v{version} (extended: {extended})");
                let order = example["data"]["order"]["id"].as_str().unwrap();
                let emails = service.mailer.sent();
                assert_eq!(emails.len(), 1, "{kind} v{version}: {example}");
                assert!(emails[0].text.contains(order), "{}", emails[0].text);
            }
        }
    }
}

#[tokio::test]
async fn an_order_event_in_a_version_it_does_not_read_fails_and_sends_nothing() {
    let mut event = bookish_contracts::examples("OrderConfirmed", 1).remove(0);
    event["version"] = serde_json::json!(2);
    let service = service();
    for _ in 0..3 {
        let response = handle_batch(&service.ports(), batch_of(&[event.clone()]), "request-1", None).await;
        assert_eq!(failures(response), ["m0"], "retried, then dead-lettered");
    }
    assert!(service.mailer.sent().is_empty() && service.sms.sent().is_empty());
    // OrderPlaced is not this service's business, whatever its version: handled, ignored.
    let mut placed = bookish_contracts::examples("OrderPlaced", 1).remove(0);
    placed["version"] = serde_json::json!(2);
    assert!(failures(handle_batch(&service.ports(), batch_of(&[placed]), "request-1", None).await).is_empty());
}
