//! The stock table in DynamoDB: one key attribute, `pk`.
//!
//! - stock:       pk `STOCK#<bookId>`, `bookId`, `available` (N, never negative), `version`
//!   (N, +1 on every change; missing on items written before versions, which read as 0),
//!   `updatedAt`.
//! - reservation: pk `RESERVATION#<orderId>`, `orderId`, `customerId`, `status`
//!   (RESERVED | REJECTED | RELEASED | CANCELLED), `lines` [{bookId, quantity}],
//!   `shortages` [{bookId, requested, available}], `at` (when decided), `updatedAt`.
//!
//! Reserving is one TransactWriteItems: every line's `available = available - q` guarded
//! by `available >= q` (a book never stocked has no item, so its guard fails too), plus
//! the reservation put guarded by `attribute_not_exists(pk)`. Either all of it happens or
//! none, and a second delivery of the same order fails on the reservation and reads it.
//! Releasing is the mirror image, guarded by `status = RESERVED`, so it happens once.
//!
//! Every write to a stock item, those two included, does `ADD version 1`. An admin's set is
//! one UpdateItem guarded by the version the admin read (`version = :v`, or for version 0
//! `attribute_not_exists(version)`; for `*`, `attribute_not_exists(pk)`); an adjustment is
//! one UpdateItem that `ADD`s to `available`, guarded by the count staying in range. A
//! failed guard returns the item as it was (ReturnValuesOnConditionCheckFailure), so the
//! answer names the stock that stopped it.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Get, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactGetItem, TransactWriteItem,
    Update,
};
use aws_sdk_dynamodb::Client;
use bookish_shared::dynamo::{failed_conditions, n, s, Item};
use bookish_shared::events::rfc3339;
use time::OffsetDateTime;

use super::{Recorded, Release, Reserve, StockStore, StockWrite, StoreError};
use crate::stock::{
    Adjustment, Available, BookId, Line, OrderId, Precondition, Quantity, Reservation, ReservationRequest,
    ReservationStatus, Shortage, Stock, Version, MAX_AVAILABLE,
};

/// How often a transaction that lost a race to another one touching the same items
/// (`TransactionConflict`: many orders for one popular book) is tried before the message
/// goes back to the queue to be retried later.
const ATTEMPTS: u32 = 5;

pub struct DynamoStockStore {
    client: Client,
    table: String,
}

/// What became of a transaction, by the position of the items whose guard failed.
enum Transaction {
    Done,
    ConditionsFailed(Vec<usize>),
}

/// What became of a guarded UpdateItem on a stock item.
enum Guarded {
    /// Written: the item as it is now.
    Done(Stock),
    /// The guard failed: the item as it was (`None`: there is none).
    Refused(Option<Stock>),
}

/// `DynamoDB` attribute names the stock expressions alias: `status` is a reserved word, and
/// the others are aliased alike so no expression trips over one.
const ALIASES: [(&str, &str); 3] = [("#status", "status"), ("#available", "available"), ("#version", "version")];

impl DynamoStockStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    fn stock_key(book: &BookId) -> Item {
        Item::from([("pk".to_owned(), s(format!("STOCK#{}", book.as_str())))])
    }

    fn reservation_key(order: &OrderId) -> Item {
        Item::from([("pk".to_owned(), s(format!("RESERVATION#{}", order.as_str())))])
    }

    fn update(
        &self,
        key: Item,
        expression: &str,
        condition: Option<&str>,
        values: Item,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(expression)
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_values(Some(values));
        for (alias, name) in ALIASES {
            if expression.contains(alias) || condition.is_some_and(|c| c.contains(alias)) {
                update = update.expression_attribute_names(alias, name);
            }
        }
        Ok(TransactWriteItem::builder().update(update.build().map_err(unavailable)?).build())
    }

    /// Runs a transaction, trying again (with jittered backoff) while it only conflicts
    /// with other transactions. Nothing is written when it is cancelled, so a retry is safe.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<Transaction, StoreError> {
        let mut last_conflict = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let result = self.client.transact_write_items().set_transact_items(Some(items.clone())).send().await;
            let Err(err) = result else { return Ok(Transaction::Done) };
            let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = err.as_service_error() else {
                return Err(unavailable(DisplayErrorContext(&err)));
            };
            let reasons = cancelled.cancellation_reasons();
            let failed = failed_conditions(reasons);
            if !failed.is_empty() {
                return Ok(Transaction::ConditionsFailed(failed));
            }
            if !reasons.iter().any(|r| r.code() == Some("TransactionConflict")) {
                return Err(unavailable(DisplayErrorContext(&err)));
            }
            last_conflict = DisplayErrorContext(&err).to_string();
        }
        Err(StoreError::Busy(last_conflict))
    }

    async fn get(&self, key: Item) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(DisplayErrorContext(&e)))?;
        Ok(output.item)
    }

    /// One UpdateItem on a book's stock item, guarded by `condition`; tried again (with
    /// jittered backoff) while a transaction holds the item. `values` holds exactly the
    /// placeholders the expressions use.
    async fn guarded_update(
        &self,
        book: &BookId,
        expression: &str,
        condition: &str,
        values: Item,
    ) -> Result<Guarded, StoreError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::stock_key(book)))
            .update_expression(expression)
            .condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        for (alias, name) in ALIASES {
            if expression.contains(alias) || condition.contains(alias) {
                request = request.expression_attribute_names(alias, name);
            }
        }
        let mut last_conflict = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
            }
            match request.clone().send().await {
                Ok(output) => {
                    let item = output.attributes.ok_or_else(|| corrupt("stock", "item (none came back)"))?;
                    return Ok(Guarded::Done(stock_of(&item)?));
                }
                Err(err) => match err.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                        return Ok(Guarded::Refused(failed.item().map(stock_of).transpose()?));
                    }
                    Some(e) if e.is_transaction_conflict_exception() => {
                        last_conflict = DisplayErrorContext(&err).to_string();
                    }
                    _ => return Err(unavailable(DisplayErrorContext(&err))),
                },
            }
        }
        Err(StoreError::Busy(last_conflict))
    }

    /// The stock items of these (distinct, at most 100) books, in order, read together.
    /// TransactGetItems rather than BatchGetItem: it is authorised as GetItem on each item,
    /// the one read the functions' roles grant.
    async fn stock_items(&self, books: &[BookId]) -> Result<Vec<Option<Item>>, StoreError> {
        if let [book] = books {
            return Ok(vec![self.get(Self::stock_key(book)).await?]);
        }
        let gets = books
            .iter()
            .map(|book| {
                let get = Get::builder().table_name(&self.table).set_key(Some(Self::stock_key(book))).build();
                Ok(TransactGetItem::builder().get(get.map_err(unavailable)?).build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let mut last_conflict = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
            }
            match self.client.transact_get_items().set_transact_items(Some(gets.clone())).send().await {
                Ok(output) => return Ok(output.responses().iter().map(|r| r.item().cloned()).collect()),
                // Cancelled only by writes in flight on the same items: read again.
                Err(err) if err.as_service_error().is_some_and(|e| e.is_transaction_canceled_exception()) => {
                    last_conflict = DisplayErrorContext(&err).to_string();
                }
                Err(err) => return Err(unavailable(DisplayErrorContext(&err))),
            }
        }
        Err(StoreError::Busy(last_conflict))
    }
}

#[async_trait]
impl StockStore for DynamoStockStore {
    async fn available(&self, books: &[BookId]) -> Result<Vec<Available>, StoreError> {
        let mut distinct: Vec<BookId> = books.to_vec();
        distinct.sort();
        distinct.dedup();
        let mut counts = HashMap::new();
        for chunk in distinct.chunks(100) {
            for (book, item) in chunk.iter().zip(self.stock_items(chunk).await?) {
                let available = match item {
                    None => Available::NONE,
                    Some(item) => stock_of(&item)?.available,
                };
                counts.insert(book, available);
            }
        }
        Ok(books.iter().map(|book| counts.get(book).copied().unwrap_or_default()).collect())
    }

    async fn stock(&self, book: &BookId) -> Result<Stock, StoreError> {
        Ok(self.get(Self::stock_key(book)).await?.as_ref().map(stock_of).transpose()?.unwrap_or_default())
    }

    async fn set_stock(
        &self,
        book: &BookId,
        available: Available,
        precondition: Precondition,
        now: OffsetDateTime,
    ) -> Result<StockWrite, StoreError> {
        let (condition, expected) = precondition_expression(precondition);
        let mut values = Item::from([
            (":available".into(), n(available.get())),
            (":book".into(), s(book.as_str())),
            (":now".into(), s(rfc3339(now))),
            (":one".into(), n(1)),
        ]);
        values.extend(expected);
        let expression = "SET #available = :available, bookId = :book, updatedAt = :now ADD #version :one";
        Ok(match self.guarded_update(book, expression, &condition, values).await? {
            Guarded::Done(stock) => StockWrite::Written(stock),
            Guarded::Refused(stored) => StockWrite::Stale(stored.unwrap_or_default()),
        })
    }

    async fn adjust_stock(
        &self,
        book: &BookId,
        by: Adjustment,
        precondition: Option<Precondition>,
        now: OffsetDateTime,
    ) -> Result<StockWrite, StoreError> {
        let delta = i64::from(by.get());
        // ADD counts a missing `available` as 0; the guard keeps the result in range.
        let (mut condition, bound) = if delta < 0 {
            ("#available >= :least".to_owned(), (":least".to_owned(), n(-delta)))
        } else {
            (
                "(attribute_not_exists(#available) OR #available <= :most)".to_owned(),
                (":most".to_owned(), n(MAX_AVAILABLE - delta)),
            )
        };
        let mut values = Item::from([
            (":by".into(), n(delta)),
            (":book".into(), s(book.as_str())),
            (":now".into(), s(rfc3339(now))),
            (":one".into(), n(1)),
            bound,
        ]);
        if let Some(precondition) = precondition {
            let (guard, expected) = precondition_expression(precondition);
            condition = format!("{condition} AND {guard}");
            values.extend(expected);
        }
        let expression = "SET bookId = :book, updatedAt = :now ADD #available :by, #version :one";
        Ok(match self.guarded_update(book, expression, &condition, values).await? {
            Guarded::Done(stock) => StockWrite::Written(stock),
            // The item that failed the guard says which part failed.
            Guarded::Refused(stored) if precondition.is_some_and(|p| !p.holds(stored)) => {
                StockWrite::Stale(stored.unwrap_or_default())
            }
            Guarded::Refused(stored) => StockWrite::OutOfRange(stored.unwrap_or_default()),
        })
    }

    async fn reservation(&self, order: &OrderId) -> Result<Option<Reservation>, StoreError> {
        self.get(Self::reservation_key(order)).await?.as_ref().map(from_item).transpose()
    }

    async fn reserve(&self, request: &ReservationRequest, now: OffsetDateTime) -> Result<Reserve, StoreError> {
        let at = rfc3339(now);
        let mut items = request
            .lines
            .iter()
            .map(|line| {
                self.update(
                    Self::stock_key(&line.book_id),
                    "SET #available = #available - :quantity, updatedAt = :now ADD #version :one",
                    Some("#available >= :quantity"),
                    Item::from([
                        (":quantity".into(), n(line.quantity.get())),
                        (":now".into(), s(&at)),
                        (":one".into(), n(1)),
                    ]),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let reservation = Reservation::reserved(request, now);
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&reservation)))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(unavailable)?;
        items.push(TransactWriteItem::builder().put(put).build());
        let reservation_index = request.lines.len();
        match self.transact(items).await? {
            Transaction::Done => Ok(Reserve::Reserved(reservation)),
            // The recorded decision wins over short stock: that stock may be short
            // precisely because this order took it on an earlier delivery.
            Transaction::ConditionsFailed(failed) if failed.contains(&reservation_index) => {
                let existing = self.reservation(&request.order_id).await?;
                existing.map(Reserve::AlreadyRecorded).ok_or_else(|| corrupt("reservation", "item (it vanished)"))
            }
            Transaction::ConditionsFailed(_) => Ok(Reserve::InsufficientStock),
        }
    }

    async fn record(&self, decision: &Reservation) -> Result<Recorded, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(decision)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(Recorded::New),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                let existing = self.reservation(&decision.order_id).await?;
                existing.map(Recorded::Existing).ok_or_else(|| corrupt("reservation", "item (it vanished)"))
            }
            Err(err) => Err(unavailable(DisplayErrorContext(&err))),
        }
    }

    async fn release(&self, reservation: &Reservation, now: OffsetDateTime) -> Result<Release, StoreError> {
        let at = s(rfc3339(now));
        let mut items = vec![self.update(
            Self::reservation_key(&reservation.order_id),
            "SET #status = :released, updatedAt = :now",
            Some("#status = :reserved"),
            Item::from([
                (":released".into(), s(ReservationStatus::Released.as_str())),
                (":reserved".into(), s(ReservationStatus::Reserved.as_str())),
                (":now".into(), at.clone()),
            ]),
        )?];
        for line in &reservation.lines {
            // ADD rather than `available + q`: it cannot fail, even on an item an
            // operator deleted while the stock was held.
            items.push(self.update(
                Self::stock_key(&line.book_id),
                "SET updatedAt = :now, bookId = :book ADD #available :quantity, #version :one",
                None,
                Item::from([
                    (":quantity".into(), n(line.quantity.get())),
                    (":book".into(), s(line.book_id.as_str())),
                    (":now".into(), at.clone()),
                    (":one".into(), n(1)),
                ]),
            )?);
        }
        match self.transact(items).await? {
            Transaction::Done => Ok(Release::Released),
            Transaction::ConditionsFailed(_) => Ok(Release::NotReserved),
        }
    }
}

async fn backoff(attempt: u32) {
    // Full jitter, so transactions that collided do not collide again in step.
    let ceiling_ms = 25u64 << attempt.min(5);
    let jitter_ms = (uuid::Uuid::new_v4().as_u128() % u128::from(ceiling_ms)) as u64;
    tokio::time::sleep(std::time::Duration::from_millis(jitter_ms + 5)).await;
}

fn unavailable(err: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(err.to_string())
}

fn corrupt(what: &str, attribute: &str) -> StoreError {
    StoreError::Unavailable(format!("{what} item has no valid {attribute}"))
}

/// The condition that checks an admin's precondition, and the value it names (if any).
fn precondition_expression(precondition: Precondition) -> (String, Option<(String, AttributeValue)>) {
    match precondition {
        Precondition::Unstocked => ("attribute_not_exists(pk)".into(), None),
        // Never stocked, or stocked before versions: no version attribute.
        Precondition::Version(version) if version == Version::NONE => ("attribute_not_exists(#version)".into(), None),
        Precondition::Version(version) => ("#version = :expected".into(), Some((":expected".into(), n(version.get())))),
    }
}

/// A stock item's count and version (0 when it has none).
fn stock_of(item: &Item) -> Result<Stock, StoreError> {
    let available =
        number(item, "available").and_then(Available::from_stored).ok_or_else(|| corrupt("stock", "available"))?;
    let version = match item.get("version") {
        None => Version::NONE,
        Some(_) => number(item, "version").and_then(Version::from_stored).ok_or_else(|| corrupt("stock", "version"))?,
    };
    Ok(Stock { available, version })
}

fn to_item(reservation: &Reservation) -> Item {
    let list = |entries: Vec<Item>| AttributeValue::L(entries.into_iter().map(AttributeValue::M).collect());
    let lines = reservation
        .lines
        .iter()
        .map(|line| {
            Item::from([("bookId".into(), s(line.book_id.as_str())), ("quantity".into(), n(line.quantity.get()))])
        })
        .collect();
    let shortages = reservation
        .shortages
        .iter()
        .map(|shortage| {
            Item::from([
                ("bookId".into(), s(shortage.book_id.as_str())),
                ("requested".into(), n(shortage.requested)),
                ("available".into(), n(shortage.available)),
            ])
        })
        .collect();
    let mut item = DynamoStockStore::reservation_key(&reservation.order_id);
    item.extend([
        ("orderId".into(), s(reservation.order_id.as_str())),
        ("customerId".into(), s(&reservation.customer_id)),
        ("status".into(), s(reservation.status.as_str())),
        ("lines".into(), list(lines)),
        ("shortages".into(), list(shortages)),
        ("at".into(), s(&reservation.at)),
        ("updatedAt".into(), s(&reservation.at)),
    ]);
    item
}

fn from_item(item: &Item) -> Result<Reservation, StoreError> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).ok_or_else(|| corrupt("reservation", name));
    let entries = |name: &str| -> Result<Vec<&Item>, StoreError> {
        match item.get(name) {
            None => Ok(Vec::new()),
            Some(AttributeValue::L(list)) => {
                list.iter().map(|v| v.as_m().map_err(|_| corrupt("reservation", name))).collect()
            }
            Some(_) => Err(corrupt("reservation", name)),
        }
    };
    let book = |entry: &Item| {
        entry
            .get("bookId")
            .and_then(|v| v.as_s().ok())
            .and_then(|id| BookId::parse(id))
            .ok_or_else(|| corrupt("reservation", "bookId"))
    };
    let count = |entry: &Item, name: &str| {
        number(entry, name).and_then(|v| u32::try_from(v).ok()).ok_or_else(|| corrupt("reservation", name))
    };
    let lines = entries("lines")?
        .into_iter()
        .map(|entry| {
            let quantity = number(entry, "quantity")
                .and_then(Quantity::parse)
                .ok_or_else(|| corrupt("reservation", "quantity"))?;
            Ok(Line { book_id: book(entry)?, quantity })
        })
        .collect::<Result<_, StoreError>>()?;
    let shortages = entries("shortages")?
        .into_iter()
        .map(|entry| {
            Ok(Shortage {
                book_id: book(entry)?,
                requested: count(entry, "requested")?,
                available: count(entry, "available")?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(Reservation {
        order_id: OrderId::parse(text("orderId")?).ok_or_else(|| corrupt("reservation", "orderId"))?,
        customer_id: text("customerId")?.clone(),
        status: ReservationStatus::parse(text("status")?).ok_or_else(|| corrupt("reservation", "status"))?,
        lines,
        shortages,
        at: text("at")?.clone(),
    })
}

fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
}
