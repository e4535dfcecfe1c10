//! An in-memory `StockStore` with the same rules as DynamoDB's, for fast tests. One lock
//! makes every write atomic, as a DynamoDB transaction is.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{Recorded, Release, Reserve, StockStore, StockWrite, StoreError};
use crate::stock::{
    Adjustment, Available, BookId, OrderId, Precondition, Reservation, ReservationRequest, ReservationStatus, Stock,
};

#[derive(Default)]
pub struct MemoryStockStore {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// A book is here once its stock was first written (as an item is in DynamoDB).
    stock: HashMap<BookId, Stock>,
    reservations: HashMap<OrderId, Reservation>,
}

impl State {
    /// Writes a book's count and bumps its version, as every change does.
    fn write(&mut self, book: &BookId, available: Available) -> Stock {
        let stock = self.stock.entry(book.clone()).or_default();
        *stock = Stock { available, version: stock.version.next() };
        *stock
    }
}

#[async_trait]
impl StockStore for MemoryStockStore {
    async fn available(&self, books: &[BookId]) -> Result<Vec<Available>, StoreError> {
        let state = self.state.lock().unwrap();
        Ok(books.iter().map(|book| state.stock.get(book).map(|s| s.available).unwrap_or_default()).collect())
    }

    async fn stock(&self, book: &BookId) -> Result<Stock, StoreError> {
        Ok(self.state.lock().unwrap().stock.get(book).copied().unwrap_or_default())
    }

    async fn set_stock(
        &self,
        book: &BookId,
        available: Available,
        precondition: Precondition,
        _now: OffsetDateTime,
    ) -> Result<StockWrite, StoreError> {
        let mut state = self.state.lock().unwrap();
        let stored = state.stock.get(book).copied();
        if !precondition.holds(stored) {
            return Ok(StockWrite::Stale(stored.unwrap_or_default()));
        }
        Ok(StockWrite::Written(state.write(book, available)))
    }

    async fn adjust_stock(
        &self,
        book: &BookId,
        by: Adjustment,
        precondition: Option<Precondition>,
        _now: OffsetDateTime,
    ) -> Result<StockWrite, StoreError> {
        let mut state = self.state.lock().unwrap();
        let stored = state.stock.get(book).copied();
        let current = stored.unwrap_or_default();
        if precondition.is_some_and(|p| !p.holds(stored)) {
            return Ok(StockWrite::Stale(current));
        }
        match by.apply(current.available) {
            Some(available) => Ok(StockWrite::Written(state.write(book, available))),
            None => Ok(StockWrite::OutOfRange(current)),
        }
    }

    async fn reservation(&self, order: &OrderId) -> Result<Option<Reservation>, StoreError> {
        Ok(self.state.lock().unwrap().reservations.get(order).cloned())
    }

    async fn reserve(&self, request: &ReservationRequest, now: OffsetDateTime) -> Result<Reserve, StoreError> {
        let mut state = self.state.lock().unwrap();
        if let Some(existing) = state.reservations.get(&request.order_id) {
            return Ok(Reserve::AlreadyRecorded(existing.clone()));
        }
        let short = request
            .lines
            .iter()
            .any(|line| !state.stock.get(&line.book_id).is_some_and(|stock| stock.available.covers(line.quantity)));
        if short {
            return Ok(Reserve::InsufficientStock);
        }
        for line in &request.lines {
            let available = state.stock[&line.book_id].available.get() - line.quantity.get();
            state.write(&line.book_id, Available::from_stored(available.into()).expect("never negative"));
        }
        let reservation = Reservation::reserved(request, now);
        state.reservations.insert(request.order_id.clone(), reservation.clone());
        Ok(Reserve::Reserved(reservation))
    }

    async fn record(&self, decision: &Reservation) -> Result<Recorded, StoreError> {
        let mut state = self.state.lock().unwrap();
        if let Some(existing) = state.reservations.get(&decision.order_id) {
            return Ok(Recorded::Existing(existing.clone()));
        }
        state.reservations.insert(decision.order_id.clone(), decision.clone());
        Ok(Recorded::New)
    }

    async fn release(&self, reservation: &Reservation, _now: OffsetDateTime) -> Result<Release, StoreError> {
        let mut state = self.state.lock().unwrap();
        let Some(stored) =
            state.reservations.get_mut(&reservation.order_id).filter(|r| r.status == ReservationStatus::Reserved)
        else {
            return Ok(Release::NotReserved);
        };
        stored.status = ReservationStatus::Released;
        let lines = stored.lines.clone();
        for line in &lines {
            // Like DynamoDB's ADD: a book whose stock item was deleted meanwhile gets one.
            let available = state.stock.get(&line.book_id).map_or(0, |s| s.available.get()) + line.quantity.get();
            state.write(&line.book_id, Available::from_stored(available.into()).expect("never negative"));
        }
        Ok(Release::Released)
    }
}
