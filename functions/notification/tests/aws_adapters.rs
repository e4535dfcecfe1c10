//! The SES v2, SNS and Cognito adapters, and the whole consumer on real adapters, against
//! the moto server that `make test` starts (AWS_ENDPOINT_URL, SENT_TABLE, SENDER_EMAIL,
//! USER_POOL_ID from template.yaml). What moto "sent" is read back from its
//! `GET /moto-api/data.json`.

use std::io::{Read, Write};
use std::net::TcpStream;

use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_cognitoidentityprovider::types::{AttributeType, MessageActionType};
use bookish_shared::aws::SdkConfig;
use notification::consumer::handle_batch;
use notification::directory::{CognitoDirectory, Contacts, Directory};
use notification::mailer::{Email, Mailer, SesMailer};
use notification::render::Subjects;
use notification::sent_log::DynamoSentLog;
use notification::service::Ports;
use notification::sms::{SmsSender, SnsSms};
use serde_json::Value;

fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL must point at moto: run `make test`, which starts it")
}

fn sender() -> String {
    std::env::var("SENDER_EMAIL").expect("SENDER_EMAIL must be set: run `make test`")
}

/// The functions' own configuration, so the adapters are tested as they run.
fn aws() -> SdkConfig {
    endpoint();
    bookish_shared::aws::config()
}

/// SES refuses to send from an unknown identity. `make test` creates the sender's; doing it
/// here too keeps this test runnable on its own (moto accepts a repeat).
async fn mailer(aws: &SdkConfig) -> SesMailer {
    let client = aws_sdk_sesv2::Client::new(aws);
    if let Err(err) = client.create_email_identity().email_identity(sender()).send().await {
        let exists = err.as_service_error().is_some_and(|e| e.is_already_exists_exception());
        assert!(exists, "{}", aws_sdk_sesv2::error::DisplayErrorContext(&err));
    }
    SesMailer::new(client, sender())
}

/// moto's record of everything it holds, by a plain HTTP/1.0 GET (no client dependency).
fn moto_data() -> Value {
    let endpoint = endpoint();
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(host).unwrap_or_else(|e| panic!("moto at {host}: {e}"));
    write!(stream, "GET /moto-api/data.json HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.") && head.contains(" 200 "), "{head}");
    serde_json::from_str(body).unwrap()
}

fn sent_emails(to: &str) -> Vec<Value> {
    let data = moto_data();
    let messages = data["ses"]["Message"].as_array().cloned().unwrap_or_default();
    messages
        .into_iter()
        .filter(|m| m["destinations"]["ToAddresses"].as_array().is_some_and(|a| a.contains(&to.into())))
        .collect()
}

fn sent_texts(containing: &str) -> Vec<Value> {
    let data = moto_data();
    let texts = data["sns"]["SMS"].as_array().cloned().unwrap_or_default();
    texts.into_iter().filter(|m| m["message"].as_str().is_some_and(|t| t.contains(containing))).collect()
}

fn user_pool_id() -> String {
    std::env::var("USER_POOL_ID").expect("USER_POOL_ID must name the user pool: run `make test`")
}

fn unique() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[tokio::test]
async fn ses_mailer_sends_from_the_sender_identity() {
    let aws = aws();
    let mailer = mailer(&aws).await;
    let to = format!("shopper-{}@bookish.example", unique());
    let email = Email {
        to: to.clone(),
        subject: "Your Bookish order o-1 is confirmed".into(),
        html: "<p>Hello &amp; welcome</p>".into(),
        text: "Hello & welcome".into(),
    };
    let message_id = mailer.send(&email).await.unwrap();
    let sent = sent_emails(&to);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["id"], message_id.as_str());
    assert_eq!(sent[0]["source"], sender().as_str());
    assert_eq!(sent[0]["subject"], "Your Bookish order o-1 is confirmed");
    // moto keeps only the HTML body when there are both.
    assert_eq!(sent[0]["body"], "<p>Hello &amp; welcome</p>");
}

#[tokio::test]
async fn ses_mailer_reports_a_refusal() {
    let aws = aws();
    let mailer = SesMailer::new(aws_sdk_sesv2::Client::new(&aws), format!("nobody-{}@unverified.example", unique()));
    let email = Email { to: "a@bookish.example".into(), subject: "s".into(), html: "h".into(), text: "t".into() };
    let err = mailer.send(&email).await.unwrap_err();
    assert_eq!(err.channel, "email");
}

#[tokio::test]
async fn sns_sms_texts_a_phone_number() {
    let aws = aws();
    let sms = SnsSms::new(aws_sdk_sns::Client::new(&aws));
    let text = format!("Bookish: order {} is confirmed. Total $12.50.", unique());
    let message_id = sms.send("+15555550100", &text).await.unwrap();
    let sent = sent_texts(&text);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["phone_number"], "+15555550100");
    assert_eq!(sent[0]["message_id"], message_id.as_str());
}

#[tokio::test]
async fn cognito_directory_reads_the_verified_contacts_on_an_account() {
    let aws = aws();
    let client = aws_sdk_cognitoidentityprovider::Client::new(&aws);
    let directory = CognitoDirectory::new(client.clone(), user_pool_id());
    let create = |username: String, attributes: Vec<(&'static str, String)>| {
        let client = client.clone();
        async move {
            let attributes = attributes
                .into_iter()
                .map(|(name, value)| AttributeType::builder().name(name).value(value).build().unwrap())
                .collect::<Vec<_>>();
            client
                .admin_create_user()
                .user_pool_id(user_pool_id())
                .username(&username)
                .set_user_attributes(Some(attributes))
                .message_action(MessageActionType::Suppress)
                .send()
                .await
                .unwrap();
            username
        }
    };
    let (email, phone) = (format!("shopper-{}@bookish.example", unique()), "+15555550123".to_owned());
    let verified = create(
        email.clone(),
        vec![
            ("email", email.clone()),
            ("email_verified", "true".into()),
            ("phone_number", phone.clone()),
            ("phone_number_verified", "true".into()),
        ],
    )
    .await;
    let contacts = directory.contacts(&verified).await.unwrap().unwrap();
    assert_eq!(contacts, Contacts { email: Some(email), phone: Some(phone.clone()) });

    let other = format!("shopper-{}@bookish.example", unique());
    let unverified = create(
        other.clone(),
        vec![
            ("email", other.clone()),
            ("email_verified", "false".into()),
            ("phone_number", phone),
            ("phone_number_verified", "false".into()),
        ],
    )
    .await;
    assert_eq!(directory.contacts(&unverified).await.unwrap(), Some(Contacts::default()));

    assert_eq!(directory.contacts(&format!("nobody-{}@bookish.example", unique())).await.unwrap(), None);
    let elsewhere = CognitoDirectory::new(client, "us-east-1_NoSuchPool".into());
    assert!(elsewhere.contacts(&verified).await.is_err(), "an unknown pool is an error to retry, not a missing user");
}

#[tokio::test]
async fn redeliveries_send_one_email_and_one_sms_through_aws() {
    let table = std::env::var("SENT_TABLE").expect("SENT_TABLE must name the sent table: run `make test`");
    let aws = aws();
    let mailer = mailer(&aws).await;
    let sms = SnsSms::new(aws_sdk_sns::Client::new(&aws));
    let sent = DynamoSentLog::new(aws_sdk_dynamodb::Client::new(&aws), table);
    let subjects = Subjects::default();
    let directory = CognitoDirectory::new(aws_sdk_cognitoidentityprovider::Client::new(&aws), user_pool_id());
    let ports = Ports { mailer: &mailer, sms: &sms, sent: &sent, directory: &directory, subjects: &subjects };

    // The sample event, for an order (and shopper) this moto has never seen.
    let (order_id, to) = (unique(), format!("shopper-{}@bookish.example", unique()));
    let path = format!("{}/../../events/notification/redelivered-batch.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replace("0193a2b4-6c1e-7f00-9d2a-5b8c3e4f1a01", &order_id).replace("shopper@bookish.local", &to);
    let event: SqsEvent = serde_json::from_str(&text).unwrap();

    for _ in 0..2 {
        let response = handle_batch(&ports, event.clone(), "request-1", None).await;
        assert!(response.batch_item_failures.is_empty(), "{:?}", response.batch_item_failures);
    }
    let emails = sent_emails(&to);
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert_eq!(emails[0]["subject"], format!("Your Bookish order {order_id} is confirmed").as_str());
    let html = emails[0]["body"].as_str().unwrap();
    assert!(html.contains(&order_id) && html.contains("The Great Gatsby") && html.contains("$32.48"), "{html}");
    assert_eq!(sent_texts(&order_id).len(), 1);
}
