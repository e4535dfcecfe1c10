//! One behaviour suite for every `StockStore` adapter: the in-memory one, and the DynamoDB
//! one against the moto server that `make test` starts (STOCK_TABLE, provisioned from
//! template.yaml). That moto serves DynamoDB requests one at a time (infra/moto_server.py),
//! so racing tasks below interleave their calls in any order, as in DynamoDB, and each
//! transaction is isolated, which moto alone does not do.

use std::sync::Arc;

use inventory::stock::{
    Available, BookId, Line, OrderId, Quantity, Reservation, ReservationRequest, ReservationStatus, Shortage,
};
use inventory::store::{DynamoStockStore, Recorded, Release, Reserve, StockStore, StoreError};
use time::OffsetDateTime;

async fn dynamo_store() -> DynamoStockStore {
    let table = std::env::var("STOCK_TABLE")
        .expect("STOCK_TABLE and AWS_ENDPOINT_URL must point at moto: run `make test`, which starts it");
    assert!(std::env::var("AWS_ENDPOINT_URL").is_ok(), "AWS_ENDPOINT_URL must point at moto: run `make test`");
    DynamoStockStore::new(bookish_shared::dynamo::client().await, table)
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $name() { super::$name(std::sync::Arc::new(inventory::store::MemoryStockStore::default())).await })*
        }
        mod dynamodb {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $name() { super::$name(std::sync::Arc::new(super::dynamo_store().await)).await })*
        }
    };
}

contract!(
    unknown_books_have_no_stock_and_admins_set_it,
    reserves_every_line_or_none,
    a_book_never_stocked_cannot_be_reserved,
    a_redelivered_reservation_changes_nothing,
    the_first_decision_recorded_stands,
    a_cancellation_before_the_order_leaves_a_tombstone,
    releases_exactly_once,
    concurrent_orders_never_oversell_the_last_copies,
    concurrent_releases_give_stock_back_once,
);

/// A fresh id, so tests sharing one table never see each other's items.
fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn book() -> BookId {
    BookId::parse(&unique()).unwrap()
}

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_795_000_000 + seconds).unwrap()
}

fn request(lines: &[(&BookId, u32)]) -> ReservationRequest {
    ReservationRequest {
        order_id: OrderId::parse(&uuid::Uuid::now_v7().to_string()).unwrap(),
        customer_id: "sub-shopper".into(),
        lines: lines
            .iter()
            .map(|(book, quantity)| Line {
                book_id: (*book).clone(),
                quantity: Quantity::parse((*quantity).into()).unwrap(),
            })
            .collect(),
    }
}

async fn stock(store: &dyn StockStore, books: &[&BookId]) -> Vec<u32> {
    let books: Vec<BookId> = books.iter().map(|b| (*b).clone()).collect();
    store.available(&books).await.unwrap().into_iter().map(Available::get).collect()
}

async fn set(store: &dyn StockStore, book: &BookId, available: i64) {
    store.set_available(book, Available::parse(available).unwrap(), at(0)).await.unwrap();
}

async fn unknown_books_have_no_stock_and_admins_set_it(store: Arc<dyn StockStore>) {
    let (a, b) = (book(), book());
    assert_eq!(stock(&*store, &[&a]).await, [0]);
    set(&*store, &a, 5).await;
    assert_eq!(stock(&*store, &[&a, &b, &a]).await, [5, 0, 5]);
    set(&*store, &a, 0).await;
    set(&*store, &b, 1_000_000).await;
    assert_eq!(stock(&*store, &[&a, &b]).await, [0, 1_000_000]);
    assert_eq!(store.available(&[]).await.unwrap(), []);
}

async fn reserves_every_line_or_none(store: Arc<dyn StockStore>) {
    let (a, b) = (book(), book());
    set(&*store, &a, 3).await;
    set(&*store, &b, 1).await;
    let too_much = request(&[(&a, 2), (&b, 2)]);
    assert_eq!(store.reserve(&too_much, at(1)).await.unwrap(), Reserve::InsufficientStock);
    assert_eq!(stock(&*store, &[&a, &b]).await, [3, 1], "a failed reservation takes nothing");
    assert_eq!(store.reservation(&too_much.order_id).await.unwrap(), None);

    let fits = request(&[(&a, 2), (&b, 1)]);
    let Reserve::Reserved(reservation) = store.reserve(&fits, at(2)).await.unwrap() else { panic!("reserved") };
    assert_eq!(reservation, Reservation::reserved(&fits, at(2)));
    assert_eq!(stock(&*store, &[&a, &b]).await, [1, 0]);
    assert_eq!(store.reservation(&fits.order_id).await.unwrap(), Some(reservation));
}

async fn a_book_never_stocked_cannot_be_reserved(store: Arc<dyn StockStore>) {
    let (stocked, never) = (book(), book());
    set(&*store, &stocked, 2).await;
    let order = request(&[(&stocked, 1), (&never, 1)]);
    assert_eq!(store.reserve(&order, at(1)).await.unwrap(), Reserve::InsufficientStock);
    assert_eq!(stock(&*store, &[&stocked, &never]).await, [2, 0]);
}

async fn a_redelivered_reservation_changes_nothing(store: Arc<dyn StockStore>) {
    let a = book();
    set(&*store, &a, 2).await;
    let order = request(&[(&a, 2)]);
    let Reserve::Reserved(first) = store.reserve(&order, at(1)).await.unwrap() else { panic!("reserved") };
    // The stock is now short precisely because this order took it: the recorded decision wins.
    assert_eq!(store.reserve(&order, at(5)).await.unwrap(), Reserve::AlreadyRecorded(first.clone()));
    set(&*store, &a, 10).await;
    assert_eq!(store.reserve(&order, at(6)).await.unwrap(), Reserve::AlreadyRecorded(first));
    assert_eq!(stock(&*store, &[&a]).await, [10]);
}

async fn the_first_decision_recorded_stands(store: Arc<dyn StockStore>) {
    let a = book();
    let order = request(&[(&a, 3)]);
    let shortage = Shortage { book_id: a.clone(), requested: 3, available: 0 };
    let rejected = Reservation::rejected(&order, vec![shortage], at(1));
    assert_eq!(store.record(&rejected).await.unwrap(), Recorded::New);
    assert_eq!(store.reservation(&order.order_id).await.unwrap(), Some(rejected.clone()));
    let tombstone = Reservation::cancelled(order.order_id.clone(), "sub-shopper", at(2));
    assert_eq!(store.record(&tombstone).await.unwrap(), Recorded::Existing(rejected.clone()));
    set(&*store, &a, 5).await;
    assert_eq!(store.reserve(&order, at(3)).await.unwrap(), Reserve::AlreadyRecorded(rejected));
    assert_eq!(stock(&*store, &[&a]).await, [5]);
}

async fn a_cancellation_before_the_order_leaves_a_tombstone(store: Arc<dyn StockStore>) {
    let a = book();
    set(&*store, &a, 4).await;
    let order = request(&[(&a, 1)]);
    let tombstone = Reservation::cancelled(order.order_id.clone(), "sub-shopper", at(1));
    assert_eq!(store.record(&tombstone).await.unwrap(), Recorded::New);
    assert_eq!(store.reserve(&order, at(2)).await.unwrap(), Reserve::AlreadyRecorded(tombstone.clone()));
    assert_eq!(stock(&*store, &[&a]).await, [4]);
    assert_eq!(store.release(&tombstone, at(3)).await.unwrap(), Release::NotReserved);
    assert_eq!(stock(&*store, &[&a]).await, [4]);
}

async fn releases_exactly_once(store: Arc<dyn StockStore>) {
    let (a, b) = (book(), book());
    set(&*store, &a, 5).await;
    set(&*store, &b, 1).await;
    let order = request(&[(&a, 2), (&b, 1)]);
    let Reserve::Reserved(reservation) = store.reserve(&order, at(1)).await.unwrap() else { panic!("reserved") };
    assert_eq!(stock(&*store, &[&a, &b]).await, [3, 0]);
    assert_eq!(store.release(&reservation, at(2)).await.unwrap(), Release::Released);
    assert_eq!(stock(&*store, &[&a, &b]).await, [5, 1]);
    // A second delivery holding the reservation as it was read before the release.
    assert_eq!(store.release(&reservation, at(3)).await.unwrap(), Release::NotReserved);
    assert_eq!(stock(&*store, &[&a, &b]).await, [5, 1]);
    let released = store.reservation(&order.order_id).await.unwrap().unwrap();
    assert_eq!(
        (released.status, released.lines, released.at),
        (ReservationStatus::Released, reservation.lines, reservation.at)
    );
    assert!(
        matches!(store.reserve(&order, at(4)).await.unwrap(), Reserve::AlreadyRecorded(r) if r.status == ReservationStatus::Released)
    );
}

/// Ten shoppers race for the last three copies: three get one each, seven get none, and
/// the stock ends at zero, never below.
async fn concurrent_orders_never_oversell_the_last_copies(store: Arc<dyn StockStore>) {
    let a = book();
    set(&*store, &a, 3).await;
    let attempts = (0..10).map(|_| {
        let (store, order) = (store.clone(), request(&[(&a, 1)]));
        tokio::spawn(async move {
            loop {
                match store.reserve(&order, at(1)).await {
                    // Busy only means DynamoDB kept reporting conflicts: nothing was written.
                    Err(StoreError::Busy(_)) => continue,
                    result => return result.unwrap(),
                }
            }
        })
    });
    let mut reserved = 0;
    for attempt in attempts.collect::<Vec<_>>() {
        match attempt.await.unwrap() {
            Reserve::Reserved(_) => reserved += 1,
            Reserve::InsufficientStock => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(reserved, 3);
    assert_eq!(stock(&*store, &[&a]).await, [0]);
}

async fn concurrent_releases_give_stock_back_once(store: Arc<dyn StockStore>) {
    let a = book();
    set(&*store, &a, 4).await;
    let order = request(&[(&a, 4)]);
    let Reserve::Reserved(reservation) = store.reserve(&order, at(1)).await.unwrap() else { panic!("reserved") };
    let releases = (0..5).map(|_| {
        let (store, reservation) = (store.clone(), reservation.clone());
        tokio::spawn(async move {
            loop {
                match store.release(&reservation, at(2)).await {
                    Err(StoreError::Busy(_)) => continue,
                    result => return result.unwrap(),
                }
            }
        })
    });
    let mut released = 0;
    for release in releases.collect::<Vec<_>>() {
        if release.await.unwrap() == Release::Released {
            released += 1;
        }
    }
    assert_eq!(released, 1);
    assert_eq!(stock(&*store, &[&a]).await, [4]);
}
