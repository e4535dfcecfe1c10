//! One behaviour suite for every `OrderStore` adapter: the in-memory one, and the DynamoDB
//! one against the moto server that `make test` starts (ORDERS_TABLE).

use bookish_shared::money::{Currency, Money};
use order::order::{Customer, Order, PaymentStatus, ShippingAddress, Status, StoredOrder};
use order::store::{DynamoOrderStore, IdempotencyRecord, OrderStore, OutboxEvent, StoreError};

async fn dynamo_store() -> DynamoOrderStore {
    let table = std::env::var("ORDERS_TABLE")
        .expect("ORDERS_TABLE and AWS_ENDPOINT_URL must point at moto: run `make test`, which starts it");
    assert!(std::env::var("AWS_ENDPOINT_URL").is_ok(), "AWS_ENDPOINT_URL must point at moto: run `make test`");
    DynamoOrderStore::new(bookish_shared::dynamo::client().await, table)
}

fn customer() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn order(customer: &str) -> StoredOrder {
    StoredOrder {
        order: Order {
            id: uuid::Uuid::now_v7().to_string(),
            status: Status::Pending,
            reason: None,
            lines: vec![],
            total: Money::new(999, Currency::parse("USD").unwrap()),
            shipping_address: ShippingAddress {
                name: "Ada".into(),
                line1: "1 Main St".into(),
                line2: None,
                city: "Springfield".into(),
                postal_code: "12345".into(),
                country: "US".into(),
            },
            phone: None,
            payment_status: PaymentStatus::Authorized,
            created_at: "2026-11-27T12:00:00Z".into(),
            updated_at: "2026-11-27T12:00:00Z".into(),
        },
        customer: Customer {
            sub: customer.into(),
            email: Some("ada@example.com".into()),
            username: Some("ada".into()),
        },
        authorization_id: Some("auth_1".into()),
        correlation_id: "c-1".into(),
        version: 1,
    }
}

fn record(order: &StoredOrder, key: &str) -> IdempotencyRecord {
    IdempotencyRecord { key: key.into(), request_hash: "hash".into(), order_id: order.order.id.clone() }
}

fn event(sequence: u64) -> OutboxEvent {
    OutboxEvent { sequence, envelope: format!(r#"{{"sequence":{sequence}}}"#) }
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test] async fn $name() { super::$name(&order::store::MemoryOrderStore::default()).await })*
        }
        mod dynamodb {
            $(#[tokio::test] async fn $name() { super::$name(&super::dynamo_store().await).await })*
        }
    };
}

contract!(creates_once_per_idempotency_key, updates_only_the_version_it_read, lists_newest_first_before_a_cursor);

async fn creates_once_per_idempotency_key(store: &dyn OrderStore) {
    let who = customer();
    let first = order(&who);
    store.create(&first, &record(&first, "k1"), &event(1)).await.unwrap();
    assert_eq!(store.get(&who, &first.order.id).await.unwrap(), Some(first.clone()));
    assert_eq!(store.idempotency(&who, "k1").await.unwrap(), Some(record(&first, "k1")));
    let second = order(&who);
    assert!(matches!(store.create(&second, &record(&second, "k1"), &event(1)).await, Err(StoreError::KeyTaken)));
    assert_eq!(store.get(&who, &second.order.id).await.unwrap(), None);
    assert_eq!(store.get(&customer(), &first.order.id).await.unwrap(), None, "another customer's order is not found");
    assert_eq!(store.idempotency(&customer(), "k1").await.unwrap(), None);
}

async fn updates_only_the_version_it_read(store: &dyn OrderStore) {
    let who = customer();
    let current = order(&who);
    store.create(&current, &record(&current, "k"), &event(1)).await.unwrap();
    let mut next = current.clone();
    next.order.status = Status::Confirmed;
    next.version = 2;
    store.update(1, &next, &event(2)).await.unwrap();
    let mut stale = current.clone();
    stale.order.status = Status::Cancelled;
    stale.version = 2;
    assert!(matches!(store.update(1, &stale, &event(2)).await, Err(StoreError::Changed)));
    assert_eq!(store.get(&who, &current.order.id).await.unwrap(), Some(next));
}

async fn lists_newest_first_before_a_cursor(store: &dyn OrderStore) {
    let who = customer();
    let mut ids = Vec::new();
    for i in 0..4 {
        let order = order(&who);
        store.create(&order, &record(&order, &format!("k{i}")), &event(1)).await.unwrap();
        ids.push(order.order.id);
    }
    let listed: Vec<String> = store.list(&who, 10, None).await.unwrap().into_iter().map(|o| o.order.id).collect();
    assert_eq!(listed, [ids[3].clone(), ids[2].clone(), ids[1].clone(), ids[0].clone()]);
    let older: Vec<String> =
        store.list(&who, 2, Some(&ids[2])).await.unwrap().into_iter().map(|o| o.order.id).collect();
    assert_eq!(older, [ids[1].clone(), ids[0].clone()]);
    assert!(store.list(&customer(), 10, None).await.unwrap().is_empty());
}
