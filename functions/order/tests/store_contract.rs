//! One behaviour suite for every `OrderStore` adapter: the in-memory one, and the DynamoDB
//! one against the moto server that `make test` starts (ORDERS_TABLE, with its `unsettled`
//! index, provisioned from template.yaml).

mod support;

use std::sync::OnceLock;

use order::order::{PaymentStatus, Status, StoredOrder};
use order::store::{settle_position, DynamoOrderStore, IdempotencyRecord, OrderStore, OutboxEvent, StoreError};
use support::stored_order;

async fn dynamo_store() -> DynamoOrderStore {
    let table = std::env::var("ORDERS_TABLE")
        .expect("ORDERS_TABLE and AWS_ENDPOINT_URL must point at moto: run `make test`, which starts it");
    assert!(std::env::var("AWS_ENDPOINT_URL").is_ok(), "AWS_ENDPOINT_URL must point at moto: run `make test`");
    DynamoOrderStore::new(bookish_shared::dynamo::client(&bookish_shared::aws::config()), table)
}

fn customer() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn order(customer: &str) -> StoredOrder {
    stored_order(customer, "2026-11-27T12:00:00Z")
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

contract!(
    creates_once_per_idempotency_key,
    updates_only_the_version_it_read,
    lists_newest_first_before_a_cursor,
    finds_only_orders_that_need_settling,
    finds_unsettled_orders_only_older_than_the_bound,
    pages_unsettled_orders_oldest_first,
    a_settled_order_leaves_the_unsettled_index,
    counts_checkouts_up_to_the_limit_per_window,
);

async fn creates_once_per_idempotency_key(store: &dyn OrderStore) {
    let who = customer();
    let mut first = order(&who);
    first.order.payment_status = PaymentStatus::Pending;
    first.authorization_id = None;
    store.create(&first, &record(&first, "k1")).await.unwrap();
    assert_eq!(store.get(&who, &first.order.id).await.unwrap(), Some(first.clone()));
    assert_eq!(store.idempotency(&who, "k1").await.unwrap(), Some(record(&first, "k1")));
    let second = order(&who);
    assert!(matches!(store.create(&second, &record(&second, "k1")).await, Err(StoreError::KeyTaken)));
    assert_eq!(store.get(&who, &second.order.id).await.unwrap(), None);
    assert_eq!(store.get(&customer(), &first.order.id).await.unwrap(), None, "another customer's order is not found");
    assert_eq!(store.idempotency(&customer(), "k1").await.unwrap(), None);
}

async fn updates_only_the_version_it_read(store: &dyn OrderStore) {
    let who = customer();
    let current = order(&who);
    store.create(&current, &record(&current, "k")).await.unwrap();
    let mut next = current.clone();
    next.order.status = Status::Confirmed;
    next.order.payment_status = PaymentStatus::Captured;
    next.version = 2;
    store.update(1, &next, Some(&event(2))).await.unwrap();
    let mut stale = current.clone();
    stale.order.status = Status::Cancelled;
    stale.version = 2;
    assert!(matches!(store.update(1, &stale, Some(&event(2))).await, Err(StoreError::Changed)));
    assert_eq!(store.get(&who, &current.order.id).await.unwrap(), Some(next.clone()));
    // A change without an event (a refund recorded) is versioned the same way.
    let mut refunded = next.clone();
    refunded.order.status = Status::Cancelled;
    refunded.order.payment_status = PaymentStatus::Refunded;
    refunded.order.refunded_at = Some("2026-11-27T13:00:00Z".into());
    refunded.version = 3;
    assert!(matches!(store.update(1, &refunded, None).await, Err(StoreError::Changed)));
    store.update(2, &refunded, None).await.unwrap();
    assert_eq!(store.get(&who, &current.order.id).await.unwrap(), Some(refunded));
}

async fn lists_newest_first_before_a_cursor(store: &dyn OrderStore) {
    let who = customer();
    let mut ids = Vec::new();
    for i in 0..4 {
        let order = order(&who);
        store.create(&order, &record(&order, &format!("k{i}"))).await.unwrap();
        ids.push(order.order.id);
    }
    let listed: Vec<String> = store.list(&who, 10, None).await.unwrap().into_iter().map(|o| o.order.id).collect();
    assert_eq!(listed, [ids[3].clone(), ids[2].clone(), ids[1].clone(), ids[0].clone()]);
    let older: Vec<String> =
        store.list(&who, 2, Some(&ids[2])).await.unwrap().into_iter().map(|o| o.order.id).collect();
    assert_eq!(older, [ids[1].clone(), ids[0].clone()]);
    assert!(store.list(&customer(), 10, None).await.unwrap().is_empty());
}

// The unsettled index holds every order of the table, so each case below writes its
// orders in a minute of its own and looks only at them: `at(year, second)`. The year picks
// the case, far in the past (so the orders other tests place now never sort among them);
// the minute is drawn once per run, so a DynamoDB table that kept an earlier run's orders
// (a `make dev` stack's) does not mix them in.

/// Second `second` of this run's minute in `year`.
fn at(year: u32, second: u32) -> String {
    static MINUTE: OnceLock<u32> = OnceLock::new();
    let minute = *MINUTE.get_or_init(|| (uuid::Uuid::new_v4().as_u128() % (12 * 28 * 24 * 60)) as u32);
    let (month, day) = (minute / (28 * 24 * 60) + 1, minute / (24 * 60) % 28 + 1);
    let (hour, min) = (minute / 60 % 24, minute % 60);
    format!("{year}-{month:02}-{day:02}T{hour:02}:{min:02}:{second:02}Z")
}

/// Writes an order last changed at `updated_at` in the given state.
async fn put(store: &dyn OrderStore, updated_at: &str, status: Status, payment: PaymentStatus) -> StoredOrder {
    let mut order = stored_order(&customer(), updated_at);
    order.order.status = status;
    order.order.payment_status = payment;
    store.create(&order, &record(&order, "k")).await.unwrap();
    order
}

/// The ids of the unsettled orders, of those in `mine`, that the store returns.
async fn unsettled_ids(
    store: &dyn OrderStore,
    before: &str,
    after: Option<&str>,
    limit: usize,
    mine: &[&StoredOrder],
) -> Vec<String> {
    let page = store.unsettled(before, after, limit).await.unwrap();
    for order in &page {
        assert!(order.needs_settling(), "{:?} {:?} is settled", order.order.status, order.order.payment_status);
        assert!(order.order.updated_at.as_str() < before, "{} is not older than {before}", order.order.updated_at);
    }
    page.into_iter().map(|o| o.order.id).filter(|id| mine.iter().any(|m| &m.order.id == id)).collect()
}

async fn finds_only_orders_that_need_settling(store: &dyn OrderStore) {
    use PaymentStatus as P;
    use Status as S;
    let owed = [
        put(store, &at(2001, 1), S::Pending, P::Pending).await,
        put(store, &at(2001, 2), S::Pending, P::Authorized).await,
        put(store, &at(2001, 3), S::Rejected, P::Authorized).await,
        put(store, &at(2001, 4), S::Cancelled, P::Authorized).await,
        put(store, &at(2001, 5), S::Cancelled, P::Captured).await,
    ];
    let settled = [
        put(store, &at(2001, 6), S::Confirmed, P::Captured).await,
        put(store, &at(2001, 7), S::Rejected, P::Declined).await,
        put(store, &at(2001, 8), S::Rejected, P::Voided).await,
        put(store, &at(2001, 9), S::Rejected, P::Failed).await,
        put(store, &at(2001, 10), S::Cancelled, P::Voided).await,
        put(store, &at(2001, 11), S::Cancelled, P::Refunded).await,
    ];
    let mine: Vec<&StoredOrder> = owed.iter().chain(&settled).collect();
    let found = unsettled_ids(store, &at(2001, 59), None, 1000, &mine).await;
    let expected: Vec<String> = owed.iter().map(|o| o.order.id.clone()).collect();
    assert_eq!(found, expected);
    // The orders come back whole.
    let page = store.unsettled(&at(2001, 59), None, 1000).await.unwrap();
    assert!(page.contains(&owed[4]));
}

async fn finds_unsettled_orders_only_older_than_the_bound(store: &dyn OrderStore) {
    let older = put(store, &at(2002, 10), Status::Pending, PaymentStatus::Authorized).await;
    let at_bound = put(store, &at(2002, 20), Status::Pending, PaymentStatus::Authorized).await;
    let newer = put(store, &at(2002, 30), Status::Pending, PaymentStatus::Authorized).await;
    let mine = [&older, &at_bound, &newer];
    assert!(unsettled_ids(store, &at(2002, 0), None, 1000, &mine).await.is_empty());
    assert_eq!(unsettled_ids(store, &at(2002, 20), None, 1000, &mine).await, [older.order.id.as_str()]);
    assert_eq!(
        unsettled_ids(store, &at(2002, 21), None, 1000, &mine).await,
        [older.order.id.as_str(), at_bound.order.id.as_str()]
    );
}

async fn pages_unsettled_orders_oldest_first(store: &dyn OrderStore) {
    // Written newest first, two in the same second (ordered by id, which sorts by time).
    let mut orders = Vec::new();
    for second in [40, 30, 20, 10, 10] {
        orders.push(put(store, &at(2003, second), Status::Cancelled, PaymentStatus::Captured).await);
    }
    let mine: Vec<&StoredOrder> = orders.iter().collect();
    let oldest_first: Vec<String> = [3, 4, 2, 1, 0].iter().map(|&i| orders[i].order.id.clone()).collect();
    let before = at(2003, 59);
    // Starting before every order of this case, so pages hold only its orders.
    let start = format!("{}#", at(2003, 0));
    let mut seen = Vec::new();
    let mut after = start.clone();
    loop {
        let page = store.unsettled(&before, Some(&after), 2).await.unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = settle_position(last);
        seen.extend(page.into_iter().map(|o| o.order.id).filter(|id| mine.iter().any(|m| &m.order.id == id)));
    }
    assert_eq!(seen, oldest_first);
    // A page after the last position is empty; the first page is the two oldest.
    assert!(unsettled_ids(store, &before, Some(&after), 2, &mine).await.is_empty());
    assert_eq!(unsettled_ids(store, &before, Some(&start), 2, &mine).await, oldest_first[..2]);
    // Without `after`, this case's orders still come oldest first.
    assert_eq!(unsettled_ids(store, &before, None, 1000, &mine).await, oldest_first);
}

async fn a_settled_order_leaves_the_unsettled_index(store: &dyn OrderStore) {
    let pending = put(store, &at(2004, 1), Status::Pending, PaymentStatus::Authorized).await;
    let cancelled = put(store, &at(2004, 2), Status::Cancelled, PaymentStatus::Captured).await;
    let mine = [&pending, &cancelled];
    let before = at(2004, 59);
    assert_eq!(unsettled_ids(store, &before, None, 1000, &mine).await.len(), 2);

    let mut rejected = pending.clone();
    rejected.order.status = Status::Rejected;
    rejected.order.payment_status = PaymentStatus::Voided;
    rejected.order.updated_at = at(2004, 3);
    rejected.version = 2;
    store.update(1, &rejected, Some(&event(2))).await.unwrap();
    let mut refunded = cancelled.clone();
    refunded.order.payment_status = PaymentStatus::Refunded;
    refunded.order.refunded_at = Some(at(2004, 4));
    refunded.order.updated_at = at(2004, 4);
    refunded.version = 2;
    store.update(1, &refunded, None).await.unwrap();
    assert!(unsettled_ids(store, &before, None, 1000, &mine).await.is_empty());

    // A change that still owes a step moves the order to its new place in the index.
    let mut moved = put(store, &at(2004, 5), Status::Pending, PaymentStatus::Pending).await;
    let mut authorized = moved.clone();
    authorized.order.payment_status = PaymentStatus::Authorized;
    authorized.order.updated_at = at(2004, 30);
    authorized.version = 2;
    store.update(1, &authorized, Some(&event(2))).await.unwrap();
    moved = authorized;
    let mine = [&moved];
    assert!(unsettled_ids(store, &at(2004, 30), None, 1000, &mine).await.is_empty());
    assert_eq!(unsettled_ids(store, &before, None, 1000, &mine).await, [moved.order.id.as_str()]);
}

async fn counts_checkouts_up_to_the_limit_per_window(store: &dyn OrderStore) {
    let (alice, bob) = (customer(), customer());
    for _ in 0..3 {
        assert!(store.take_checkout_slot(&alice, "2026-11-30T06:10", 3).await.unwrap());
    }
    assert!(!store.take_checkout_slot(&alice, "2026-11-30T06:10", 3).await.unwrap(), "the fourth in a minute");
    assert!(!store.take_checkout_slot(&alice, "2026-11-30T06:10", 3).await.unwrap(), "refusals count nothing");
    assert!(store.take_checkout_slot(&alice, "2026-11-30T06:11", 3).await.unwrap(), "a new minute");
    assert!(store.take_checkout_slot(&bob, "2026-11-30T06:10", 3).await.unwrap(), "per shopper");
}
