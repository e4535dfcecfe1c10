//! An in-memory `OrderStore` with the same rules as DynamoDB's, for fast tests.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{settle_position, IdempotencyRecord, OrderStore, OutboxEvent, StoreError};
use crate::order::StoredOrder;

#[derive(Default)]
pub struct MemoryOrderStore {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// By (customer, order id); order ids sort by time.
    orders: BTreeMap<(String, String), StoredOrder>,
    keys: BTreeMap<(String, String), IdempotencyRecord>,
    checkouts: BTreeMap<(String, String), u32>,
    outbox: Vec<OutboxEvent>,
}

impl MemoryOrderStore {
    /// Every event written so far, in order: what the stream would relay.
    pub fn outbox(&self) -> Vec<OutboxEvent> {
        self.state.lock().unwrap().outbox.clone()
    }
}

fn key(order: &StoredOrder) -> (String, String) {
    (order.customer.sub.clone(), order.order.id.clone())
}

#[async_trait]
impl OrderStore for MemoryOrderStore {
    async fn get(&self, customer: &str, order_id: &str) -> Result<Option<StoredOrder>, StoreError> {
        Ok(self.state.lock().unwrap().orders.get(&(customer.to_owned(), order_id.to_owned())).cloned())
    }

    async fn list(&self, customer: &str, limit: usize, before: Option<&str>) -> Result<Vec<StoredOrder>, StoreError> {
        let state = self.state.lock().unwrap();
        Ok(state
            .orders
            .iter()
            .rev()
            .filter(|((c, id), _)| c == customer && before.is_none_or(|before| id.as_str() < before))
            .take(limit)
            .map(|(_, order)| order.clone())
            .collect())
    }

    async fn idempotency(&self, customer: &str, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        Ok(self.state.lock().unwrap().keys.get(&(customer.to_owned(), key.to_owned())).cloned())
    }

    async fn create(&self, order: &StoredOrder, record: &IdempotencyRecord) -> Result<(), StoreError> {
        let mut state = self.state.lock().unwrap();
        let record_key = (order.customer.sub.clone(), record.key.clone());
        if state.keys.contains_key(&record_key) {
            return Err(StoreError::KeyTaken);
        }
        state.keys.insert(record_key, record.clone());
        state.orders.insert(key(order), order.clone());
        Ok(())
    }

    async fn update(
        &self,
        expected_version: u64,
        next: &StoredOrder,
        event: Option<&OutboxEvent>,
    ) -> Result<(), StoreError> {
        let mut state = self.state.lock().unwrap();
        match state.orders.get(&key(next)) {
            Some(current) if current.version == expected_version => {}
            _ => return Err(StoreError::Changed),
        }
        state.orders.insert(key(next), next.clone());
        state.outbox.extend(event.cloned());
        Ok(())
    }

    async fn take_checkout_slot(&self, customer: &str, window: &str, limit: u32) -> Result<bool, StoreError> {
        let mut state = self.state.lock().unwrap();
        let count = state.checkouts.entry((customer.to_owned(), window.to_owned())).or_default();
        if *count >= limit {
            return Ok(false);
        }
        *count += 1;
        Ok(true)
    }

    async fn unsettled(
        &self,
        updated_before: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredOrder>, StoreError> {
        let state = self.state.lock().unwrap();
        let mut due: Vec<(String, StoredOrder)> = state
            .orders
            .values()
            .filter(|order| order.needs_settling() && order.order.updated_at.as_str() < updated_before)
            .map(|order| (settle_position(order), order.clone()))
            .filter(|(position, _)| after.is_none_or(|after| position.as_str() > after))
            .collect();
        due.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(due.into_iter().take(limit).map(|(_, order)| order).collect())
    }
}
