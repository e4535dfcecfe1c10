//! One behaviour suite for every `StockStore` adapter: the in-memory one, and the DynamoDB
//! one against the moto server that `make test` starts (STOCK_TABLE, provisioned from
//! template.yaml). That moto serves DynamoDB requests one at a time (infra/moto_server.py),
//! so racing tasks below interleave their calls in any order, as in DynamoDB, and each
//! transaction is isolated, which moto alone does not do.

use std::sync::Arc;

use inventory::stock::{
    Adjustment, Available, BookId, Line, OrderId, Precondition, Quantity, Reservation, ReservationRequest,
    ReservationStatus, Shortage, Stock, Version,
};
use inventory::store::{DynamoStockStore, Recorded, Release, Reserve, StockStore, StockWrite, StoreError};
use time::OffsetDateTime;

async fn dynamo_store() -> DynamoStockStore {
    let table = std::env::var("STOCK_TABLE")
        .expect("STOCK_TABLE and AWS_ENDPOINT_URL must point at moto: run `make test`, which starts it");
    assert!(std::env::var("AWS_ENDPOINT_URL").is_ok(), "AWS_ENDPOINT_URL must point at moto: run `make test`");
    DynamoStockStore::new(bookish_shared::dynamo::client(&bookish_shared::aws::config()), table)
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
    every_change_bumps_the_version,
    a_set_on_a_stale_version_changes_nothing,
    adjustments_never_take_stock_out_of_range,
    racing_reservations_adjustments_and_sets_make_and_lose_no_copy,
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

async fn set(store: &dyn StockStore, book: &BookId, available: i64) -> Stock {
    store.set_available(book, Available::parse(available).unwrap(), at(0)).await.unwrap()
}

fn stocked(available: i64, version: u64) -> Stock {
    Stock { available: Available::parse(available).unwrap(), version: Version::new(version) }
}

fn on(version: u64) -> Precondition {
    Precondition::Version(Version::new(version))
}

async fn set_on(store: &dyn StockStore, book: &BookId, available: i64, precondition: Precondition) -> StockWrite {
    store.set_stock(book, Available::parse(available).unwrap(), precondition, at(0)).await.unwrap()
}

async fn adjust(store: &dyn StockStore, book: &BookId, by: i64, precondition: Option<Precondition>) -> StockWrite {
    store.adjust_stock(book, Adjustment::parse(by).unwrap(), precondition, at(0)).await.unwrap()
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

/// Sets, adjustments, reservations and releases each bump the version by one; nothing else
/// (a refused write, a decision that holds no stock) does.
async fn every_change_bumps_the_version(store: Arc<dyn StockStore>) {
    let a = book();
    assert_eq!(store.stock(&a).await.unwrap(), Stock::default());
    assert_eq!(set_on(&*store, &a, 5, Precondition::Unstocked).await, StockWrite::Written(stocked(5, 1)));
    assert_eq!(store.stock(&a).await.unwrap(), stocked(5, 1));
    assert_eq!(set_on(&*store, &a, 6, on(1)).await, StockWrite::Written(stocked(6, 2)));
    assert_eq!(adjust(&*store, &a, 3, None).await, StockWrite::Written(stocked(9, 3)));
    assert_eq!(adjust(&*store, &a, -2, None).await, StockWrite::Written(stocked(7, 4)));

    let order = request(&[(&a, 2)]);
    let Reserve::Reserved(reservation) = store.reserve(&order, at(1)).await.unwrap() else { panic!("reserved") };
    assert_eq!(store.stock(&a).await.unwrap(), stocked(5, 5));
    assert_eq!(store.reserve(&request(&[(&a, 6)]), at(2)).await.unwrap(), Reserve::InsufficientStock);
    assert_eq!(store.reserve(&order, at(2)).await.unwrap(), Reserve::AlreadyRecorded(reservation.clone()));
    let shortage = Shortage { book_id: a.clone(), requested: 6, available: 5 };
    store.record(&Reservation::rejected(&request(&[(&a, 6)]), vec![shortage], at(2))).await.unwrap();
    assert_eq!(store.stock(&a).await.unwrap(), stocked(5, 5), "nothing taken, nothing bumped");

    assert_eq!(store.release(&reservation, at(3)).await.unwrap(), Release::Released);
    assert_eq!(store.stock(&a).await.unwrap(), stocked(7, 6));
    assert_eq!(store.release(&reservation, at(4)).await.unwrap(), Release::NotReserved);
    assert_eq!(store.stock(&a).await.unwrap(), stocked(7, 6));
    assert_eq!(set(&*store, &a, 7).await, stocked(7, 7), "the same count is still a change");

    // A book never stocked is at version 0, and that is a version to set on.
    let b = book();
    assert_eq!(set_on(&*store, &b, 2, on(0)).await, StockWrite::Written(stocked(2, 1)));
    assert_eq!(store.stock(&b).await.unwrap(), stocked(2, 1));
}

/// An admin's set on what they read fails, changing nothing, once anything changed since.
async fn a_set_on_a_stale_version_changes_nothing(store: Arc<dyn StockStore>) {
    let a = book();
    assert_eq!(set_on(&*store, &a, 5, Precondition::Unstocked).await, StockWrite::Written(stocked(5, 1)));
    for precondition in [Precondition::Unstocked, on(0), on(2), on(u64::from(u32::MAX) + 1)] {
        assert_eq!(set_on(&*store, &a, 9, precondition).await, StockWrite::Stale(stocked(5, 1)), "{precondition:?}");
    }
    // The admin read version 1; a reservation came in between.
    let Reserve::Reserved(_) = store.reserve(&request(&[(&a, 1)]), at(1)).await.unwrap() else { panic!("reserved") };
    assert_eq!(set_on(&*store, &a, 9, on(1)).await, StockWrite::Stale(stocked(4, 2)));
    assert_eq!(adjust(&*store, &a, 1, Some(on(1))).await, StockWrite::Stale(stocked(4, 2)));
    assert_eq!(adjust(&*store, &a, 1, Some(Precondition::Unstocked)).await, StockWrite::Stale(stocked(4, 2)));
    assert_eq!(store.stock(&a).await.unwrap(), stocked(4, 2));
    // Read again, set again.
    assert_eq!(set_on(&*store, &a, 9, on(2)).await, StockWrite::Written(stocked(9, 3)));
    assert_eq!(adjust(&*store, &a, 1, Some(on(3))).await, StockWrite::Written(stocked(10, 4)));
    assert_eq!(store.stock(&a).await.unwrap(), stocked(10, 4));
}

/// Adjustments add and take away whatever the count is, but never below 0 nor past the
/// maximum; one that would changes nothing (and creates no stock).
async fn adjustments_never_take_stock_out_of_range(store: Arc<dyn StockStore>) {
    let a = book();
    assert_eq!(adjust(&*store, &a, -1, None).await, StockWrite::OutOfRange(Stock::default()));
    assert_eq!(adjust(&*store, &a, 3, None).await, StockWrite::Written(stocked(3, 1)));
    assert_eq!(adjust(&*store, &a, -4, None).await, StockWrite::OutOfRange(stocked(3, 1)));
    assert_eq!(adjust(&*store, &a, -3, None).await, StockWrite::Written(stocked(0, 2)));
    assert_eq!(adjust(&*store, &a, 1_000_000, None).await, StockWrite::Written(stocked(1_000_000, 3)));
    assert_eq!(adjust(&*store, &a, 1, None).await, StockWrite::OutOfRange(stocked(1_000_000, 3)));
    assert_eq!(adjust(&*store, &a, -1_000_000, None).await, StockWrite::Written(stocked(0, 4)));
    // With a precondition too: a stale one is reported first.
    assert_eq!(adjust(&*store, &a, -1, Some(on(4))).await, StockWrite::OutOfRange(stocked(0, 4)));
    assert_eq!(adjust(&*store, &a, -1, Some(on(3))).await, StockWrite::Stale(stocked(0, 4)));
    assert_eq!(store.stock(&a).await.unwrap(), stocked(0, 4));

    let never = book();
    assert_eq!(adjust(&*store, &never, -1, None).await, StockWrite::OutOfRange(Stock::default()));
    assert_eq!(store.stock(&never).await.unwrap(), Stock::default());
    assert_eq!(set_on(&*store, &never, 1, Precondition::Unstocked).await, StockWrite::Written(stocked(1, 1)));
}

async fn pause(ms: u32) {
    tokio::time::sleep(std::time::Duration::from_millis(ms.into())).await;
}

/// What one racing admin's set did: the count it read, the count it set on that reading,
/// and the stock its write left.
struct Counted {
    read: u32,
    intended: u32,
    written: Stock,
}

/// Shoppers reserve, admins adjust, and other admins count the shelf and set what they
/// counted plus what they found (on the ETag they read, reading again after every 412),
/// all at once. No copy is made or lost: the stock ends at exactly the initial count plus
/// every adjustment and every set's change over what it read, less every copy reserved,
/// and its version counts every change. A blind set (no version guard) fails this: it
/// overwrites whatever happened between its read and its write.
async fn racing_reservations_adjustments_and_sets_make_and_lose_no_copy(store: Arc<dyn StockStore>) {
    let a = book();
    let initial = set(&*store, &a, 20).await;

    let reservations: Vec<_> = (0..16u32)
        .map(|i| {
            let (store, order) = (store.clone(), request(&[(&a, 1 + i % 2)]));
            tokio::spawn(async move {
                pause(i).await; // spread over the admins' reads and writes
                loop {
                    match store.reserve(&order, at(1)).await {
                        Err(StoreError::Busy(_)) => continue,
                        Ok(Reserve::Reserved(r)) => return r.lines[0].quantity.get(),
                        Ok(Reserve::InsufficientStock) => return 0,
                        other => panic!("unexpected {other:?}"),
                    }
                }
            })
        })
        .collect();

    let adjustments: Vec<_> = [5i64, -3, 4, -2, 7, -6]
        .into_iter()
        .enumerate()
        .map(|(j, by)| {
            let (store, book) = (store.clone(), a.clone());
            tokio::spawn(async move {
                pause(2 * j as u32 + 1).await;
                let by_adjustment = Adjustment::parse(by).unwrap();
                loop {
                    match store.adjust_stock(&book, by_adjustment, None, at(1)).await {
                        Err(StoreError::Busy(_)) => continue,
                        Ok(StockWrite::Written(_)) => return by,
                        Ok(StockWrite::OutOfRange(_)) => return 0,
                        other => panic!("unexpected {other:?}"),
                    }
                }
            })
        })
        .collect();

    let sets: Vec<_> = [3i64, -2, 6, -1]
        .into_iter()
        .map(|found| {
            let (store, book) = (store.clone(), a.clone());
            tokio::spawn(async move {
                loop {
                    let seen = store.stock(&book).await.unwrap();
                    // Counting the shelf takes a moment, in which anything may happen.
                    pause(3).await;
                    let intended = (i64::from(seen.available.get()) + found).max(0);
                    let available = Available::parse(intended).unwrap();
                    match store.set_stock(&book, available, Precondition::Version(seen.version), at(1)).await {
                        Err(StoreError::Busy(_)) | Ok(StockWrite::Stale(_)) => continue, // 412: read again
                        Ok(StockWrite::Written(written)) => {
                            return Counted { read: seen.available.get(), intended: available.get(), written };
                        }
                        other => panic!("unexpected {other:?}"),
                    }
                }
            })
        })
        .collect();

    let mut reserved = Vec::new();
    for reservation in reservations {
        reserved.push(reservation.await.unwrap());
    }
    let mut adjusted = Vec::new();
    for adjustment in adjustments {
        adjusted.push(adjustment.await.unwrap());
    }
    let mut counted = Vec::new();
    for set in sets {
        counted.push(set.await.unwrap());
    }

    let set_changes: i64 = counted.iter().map(|c| i64::from(c.intended) - i64::from(c.read)).sum();
    let taken: i64 = reserved.iter().map(|&q| i64::from(q)).sum();
    let expected = 20 + adjusted.iter().sum::<i64>() + set_changes - taken;
    let last = store.stock(&a).await.unwrap();
    assert_eq!(
        i64::from(last.available.get()),
        expected,
        "reserved {reserved:?}, adjusted {adjusted:?}, sets (read, intended) {:?}",
        counted.iter().map(|c| (c.read, c.intended)).collect::<Vec<_>>()
    );
    let changes = reserved.iter().filter(|&&q| q > 0).count() + adjusted.iter().filter(|&&d| d != 0).count() + 4;
    assert_eq!(last.version.get(), initial.version.get() + changes as u64, "one version per change");
    for c in &counted {
        assert_eq!(c.written.available.get(), c.intended);
    }
    // If a set was the last change of all, the stock is what it meant it to be.
    if let Some(c) = counted.iter().find(|c| c.written.version == last.version) {
        assert_eq!(last.available.get(), c.intended);
    }
}
