//! One behaviour suite for every `CartStore` adapter: the in-memory one, and the DynamoDB
//! one against the moto server that `make test` starts (CARTS_TABLE, provisioned from
//! template.yaml).

use std::sync::Arc;

use cart::cart::{ExpectedLine, Quantity, MAX_LINES};
use cart::store::{CartStore, DynamoCartStore, StoreError};
use time::OffsetDateTime;

async fn dynamo_store() -> DynamoCartStore {
    let table = std::env::var("CARTS_TABLE")
        .expect("CARTS_TABLE and AWS_ENDPOINT_URL must point at moto: run `make test`, which starts it");
    assert!(std::env::var("AWS_ENDPOINT_URL").is_ok(), "AWS_ENDPOINT_URL must point at moto: run `make test`");
    DynamoCartStore::new(bookish_shared::dynamo::client(&bookish_shared::aws::config()), table)
}

fn owner() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn qty(n: i64) -> Quantity {
    Quantity::parse(n).unwrap()
}

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_795_000_000 + seconds).unwrap()
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test] async fn $name() { super::$name(std::sync::Arc::new(cart::store::MemoryCartStore::default())).await })*
        }
        mod dynamodb {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $name() { super::$name(std::sync::Arc::new(super::dynamo_store().await)).await })*
        }
    };
}

contract!(
    keeps_lines_in_the_order_they_were_added,
    removes_lines_and_clears,
    holds_at_most_fifty_books,
    concurrent_changes_to_different_books_all_land,
    carts_belong_to_one_owner,
    removes_only_lines_that_still_hold_their_quantity,
    removing_every_line_deletes_the_cart,
    removes_from_a_full_cart_of_the_longest_ids,
    lines_changed_or_added_during_a_removal_survive,
);

async fn keeps_lines_in_the_order_they_were_added(store: Arc<dyn CartStore>) {
    let owner = owner();
    assert_eq!(store.get(&owner).await.unwrap(), None);
    store.set_line(&owner, "book-b", qty(1), at(0)).await.unwrap();
    store.set_line(&owner, "book-a", qty(2), at(1)).await.unwrap();
    let cart = store.set_line(&owner, "book-b", qty(5), at(2)).await.unwrap();
    let lines: Vec<(&str, u32)> = cart.lines.iter().map(|l| (l.book_id.as_str(), l.quantity.get())).collect();
    assert_eq!(lines, [("book-b", 5), ("book-a", 2)]);
    assert_eq!(cart.updated_at, "2026-11-18T11:06:42Z");
    assert_eq!(store.get(&owner).await.unwrap(), Some(cart));
}

async fn removes_lines_and_clears(store: Arc<dyn CartStore>) {
    let owner = owner();
    assert_eq!(store.remove_line(&owner, "book-a", at(0)).await.unwrap(), None);
    store.set_line(&owner, "book-a", qty(1), at(0)).await.unwrap();
    store.set_line(&owner, "book-b", qty(1), at(1)).await.unwrap();
    let cart = store.remove_line(&owner, "book-a", at(2)).await.unwrap().unwrap();
    assert_eq!(cart.book_ids().collect::<Vec<_>>(), ["book-b"]);
    let unchanged = store.remove_line(&owner, "not-there", at(3)).await.unwrap().unwrap();
    assert_eq!(unchanged.book_ids().collect::<Vec<_>>(), ["book-b"]);
    store.clear(&owner).await.unwrap();
    assert_eq!(store.get(&owner).await.unwrap(), None);
    store.clear(&owner).await.unwrap();
}

async fn holds_at_most_fifty_books(store: Arc<dyn CartStore>) {
    let owner = owner();
    for i in 0..MAX_LINES {
        store.set_line(&owner, &format!("book-{i:02}"), qty(1), at(i as i64)).await.unwrap();
    }
    assert!(matches!(store.set_line(&owner, "one-too-many", qty(1), at(100)).await, Err(StoreError::TooManyLines)));
    let cart = store.set_line(&owner, "book-07", qty(3), at(101)).await.unwrap();
    assert_eq!(cart.lines.len(), MAX_LINES);
    assert_eq!(cart.lines[7].quantity.get(), 3);
}

async fn concurrent_changes_to_different_books_all_land(store: Arc<dyn CartStore>) {
    let owner = owner();
    let writes = (0..20).map(|i| {
        let (store, owner) = (store.clone(), owner.clone());
        tokio::spawn(async move { store.set_line(&owner, &format!("book-{i:02}"), qty(i + 1), at(i)).await })
    });
    for write in writes.collect::<Vec<_>>() {
        write.await.unwrap().unwrap();
    }
    let cart = store.get(&owner).await.unwrap().unwrap();
    let mut ids: Vec<&str> = cart.book_ids().collect();
    ids.sort();
    assert_eq!(ids, (0..20).map(|i| format!("book-{i:02}")).collect::<Vec<_>>());
}

async fn carts_belong_to_one_owner(store: Arc<dyn CartStore>) {
    let (alice, bob) = (owner(), owner());
    store.set_line(&alice, "book-a", qty(1), at(0)).await.unwrap();
    assert_eq!(store.get(&bob).await.unwrap(), None);
    store.clear(&bob).await.unwrap();
    assert!(store.get(&alice).await.unwrap().is_some());
}

fn expected(lines: &[(&str, i64)]) -> Vec<ExpectedLine> {
    lines.iter().map(|(id, n)| ExpectedLine { book_id: (*id).to_owned(), quantity: qty(*n) }).collect()
}

fn held(cart: &cart::cart::StoredCart) -> Vec<(&str, u32)> {
    cart.lines.iter().map(|l| (l.book_id.as_str(), l.quantity.get())).collect()
}

async fn removes_only_lines_that_still_hold_their_quantity(store: Arc<dyn CartStore>) {
    let owner = owner();
    store.set_line(&owner, "book-a", qty(1), at(0)).await.unwrap();
    store.set_line(&owner, "book-b", qty(2), at(1)).await.unwrap();
    store.set_line(&owner, "book-c", qty(3), at(2)).await.unwrap();
    // Checkout read a1 b2 c3; then b changed and d arrived.
    store.set_line(&owner, "book-b", qty(5), at(3)).await.unwrap();
    store.set_line(&owner, "book-d", qty(1), at(4)).await.unwrap();
    let ordered = expected(&[("book-a", 1), ("book-b", 2), ("book-c", 3), ("not-there", 1)]);
    store.remove_lines(&owner, &ordered, at(5)).await.unwrap();
    let cart = store.get(&owner).await.unwrap().unwrap();
    assert_eq!(held(&cart), [("book-b", 5), ("book-d", 1)]);
    assert_eq!(cart.updated_at, "2026-11-18T11:06:45Z");
    // Again (a retried checkout): nothing holds its ordered quantity any more.
    store.remove_lines(&owner, &ordered, at(6)).await.unwrap();
    assert_eq!(store.get(&owner).await.unwrap(), Some(cart.clone()));
    store.remove_lines(&owner, &[], at(7)).await.unwrap();
    assert_eq!(store.get(&owner).await.unwrap(), Some(cart));
}

async fn removing_every_line_deletes_the_cart(store: Arc<dyn CartStore>) {
    let owner = owner();
    store.remove_lines(&owner, &expected(&[("book-a", 1)]), at(0)).await.unwrap();
    assert_eq!(store.get(&owner).await.unwrap(), None);
    store.set_line(&owner, "book-a", qty(1), at(1)).await.unwrap();
    store.set_line(&owner, "book-b", qty(2), at(2)).await.unwrap();
    store.remove_lines(&owner, &expected(&[("book-b", 2), ("book-a", 1)]), at(3)).await.unwrap();
    assert_eq!(store.get(&owner).await.unwrap(), None);
    // An emptied cart fills again like a new one.
    let cart = store.set_line(&owner, "book-c", qty(1), at(4)).await.unwrap();
    assert_eq!(held(&cart), [("book-c", 1)]);
}

async fn removes_from_a_full_cart_of_the_longest_ids(store: Arc<dyn CartStore>) {
    let owner = owner();
    // The longest ids there are and a full cart: the one conditional write is as long as it gets
    // (under 4 KB of condition expression, well under 300 operators).
    let id = |i: usize| format!("{i:02}{}", "x".repeat(62));
    for i in 0..MAX_LINES {
        store.set_line(&owner, &id(i), qty(1 + (i % 99) as i64), at(i as i64)).await.unwrap();
    }
    // Half are ordered at their quantity, half at another: only the first half goes.
    let ordered: Vec<ExpectedLine> = (0..MAX_LINES)
        .map(|i| ExpectedLine { book_id: id(i), quantity: qty(1 + (i % 99) as i64 + if i % 2 == 0 { 0 } else { 1 }) })
        .collect();
    store.remove_lines(&owner, &ordered, at(100)).await.unwrap();
    let cart = store.get(&owner).await.unwrap().unwrap();
    let left: Vec<String> = cart.book_ids().map(str::to_owned).collect();
    assert_eq!(left, (0..MAX_LINES).filter(|i| i % 2 == 1).map(id).collect::<Vec<_>>());
}

async fn lines_changed_or_added_during_a_removal_survive(store: Arc<dyn CartStore>) {
    let owner = owner();
    for i in 0..10 {
        store.set_line(&owner, &format!("ordered-{i}"), qty(1), at(i)).await.unwrap();
    }
    let ordered: Vec<ExpectedLine> =
        (0..10).map(|i| ExpectedLine { book_id: format!("ordered-{i}"), quantity: qty(1) }).collect();
    // While checkout removes what it ordered, another tab adds ten books and changes one line.
    let removal = {
        let (store, owner) = (store.clone(), owner.clone());
        tokio::spawn(async move { store.remove_lines(&owner, &ordered, at(50)).await })
    };
    let writes: Vec<_> = (0..11)
        .map(|i| {
            let (store, owner) = (store.clone(), owner.clone());
            tokio::spawn(async move {
                match i {
                    10 => store.set_line(&owner, "ordered-3", qty(7), at(60)).await,
                    i => store.set_line(&owner, &format!("new-{i}"), qty(2), at(20 + i)).await,
                }
            })
        })
        .collect();
    removal.await.unwrap().unwrap();
    for write in writes {
        write.await.unwrap().unwrap();
    }
    let cart = store.get(&owner).await.unwrap().unwrap();
    let mut left: Vec<(&str, u32)> = held(&cart);
    left.sort();
    let mut expected: Vec<(String, u32)> = (0..10).map(|i| (format!("new-{i}"), 2)).collect();
    expected.push(("ordered-3".into(), 7));
    expected.sort();
    assert_eq!(left, expected.iter().map(|(id, n)| (id.as_str(), *n)).collect::<Vec<_>>());
}
