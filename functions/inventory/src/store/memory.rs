//! An in-memory `StockStore` with the same rules as DynamoDB's, for fast tests. One lock
//! makes every write atomic, as a DynamoDB transaction is.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{Recorded, Release, Reserve, StockStore, StoreError};
use crate::stock::{Available, BookId, OrderId, Reservation, ReservationRequest, ReservationStatus};

#[derive(Default)]
pub struct MemoryStockStore {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    stock: HashMap<BookId, u32>,
    reservations: HashMap<OrderId, Reservation>,
}

#[async_trait]
impl StockStore for MemoryStockStore {
    async fn available(&self, books: &[BookId]) -> Result<Vec<Available>, StoreError> {
        let state = self.state.lock().unwrap();
        Ok(books
            .iter()
            .map(|book| state.stock.get(book).and_then(|&n| Available::from_stored(n.into())).unwrap_or_default())
            .collect())
    }

    async fn set_available(&self, book: &BookId, available: Available, _now: OffsetDateTime) -> Result<(), StoreError> {
        self.state.lock().unwrap().stock.insert(book.clone(), available.get());
        Ok(())
    }

    async fn reservation(&self, order: &OrderId) -> Result<Option<Reservation>, StoreError> {
        Ok(self.state.lock().unwrap().reservations.get(order).cloned())
    }

    async fn reserve(&self, request: &ReservationRequest, now: OffsetDateTime) -> Result<Reserve, StoreError> {
        let mut state = self.state.lock().unwrap();
        if let Some(existing) = state.reservations.get(&request.order_id) {
            return Ok(Reserve::AlreadyRecorded(existing.clone()));
        }
        let short =
            request.lines.iter().any(|line| state.stock.get(&line.book_id).copied().unwrap_or(0) < line.quantity.get());
        if short {
            return Ok(Reserve::InsufficientStock);
        }
        for line in &request.lines {
            if let Some(stock) = state.stock.get_mut(&line.book_id) {
                *stock -= line.quantity.get();
            }
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
        let State { stock, reservations } = &mut *state;
        let Some(stored) =
            reservations.get_mut(&reservation.order_id).filter(|r| r.status == ReservationStatus::Reserved)
        else {
            return Ok(Release::NotReserved);
        };
        stored.status = ReservationStatus::Released;
        for line in &stored.lines {
            *stock.entry(line.book_id.clone()).or_default() += line.quantity.get();
        }
        Ok(Release::Released)
    }
}
