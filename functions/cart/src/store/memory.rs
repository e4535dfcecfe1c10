//! An in-memory `CartStore` with the same rules as DynamoDB's, for fast tests.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{CartStore, StoreError};
use crate::cart::{ExpectedLine, Quantity, StoredCart, StoredLine, MAX_LINES};
use bookish_shared::events::rfc3339;

#[derive(Default)]
pub struct MemoryCartStore {
    carts: Mutex<HashMap<String, StoredCart>>,
}

#[async_trait]
impl CartStore for MemoryCartStore {
    async fn get(&self, owner: &str) -> Result<Option<StoredCart>, StoreError> {
        Ok(self.carts.lock().unwrap().get(owner).cloned())
    }

    async fn set_line(
        &self,
        owner: &str,
        book_id: &str,
        quantity: Quantity,
        now: OffsetDateTime,
    ) -> Result<StoredCart, StoreError> {
        let mut carts = self.carts.lock().unwrap();
        let now = rfc3339(now);
        let cart =
            carts.entry(owner.to_owned()).or_insert_with(|| StoredCart { lines: Vec::new(), updated_at: now.clone() });
        let full = cart.lines.len() >= MAX_LINES;
        match cart.lines.iter_mut().find(|line| line.book_id == book_id) {
            Some(line) => line.quantity = quantity,
            None if full => return Err(StoreError::TooManyLines),
            None => cart.lines.push(StoredLine { book_id: book_id.to_owned(), quantity, added_at: now.clone() }),
        }
        cart.updated_at = now;
        Ok(cart.clone())
    }

    async fn remove_line(
        &self,
        owner: &str,
        book_id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<StoredCart>, StoreError> {
        let mut carts = self.carts.lock().unwrap();
        Ok(carts.get_mut(owner).map(|cart| {
            cart.lines.retain(|line| line.book_id != book_id);
            cart.updated_at = rfc3339(now);
            cart.clone()
        }))
    }

    async fn remove_lines(&self, owner: &str, lines: &[ExpectedLine], now: OffsetDateTime) -> Result<(), StoreError> {
        let mut carts = self.carts.lock().unwrap();
        let Some(cart) = carts.get_mut(owner) else { return Ok(()) };
        let before = cart.lines.len();
        cart.lines.retain(|line| {
            !lines.iter().any(|expected| expected.book_id == line.book_id && expected.quantity == line.quantity)
        });
        if cart.lines.len() < before {
            cart.updated_at = rfc3339(now);
            if cart.lines.is_empty() {
                carts.remove(owner);
            }
        }
        Ok(())
    }

    async fn clear(&self, owner: &str) -> Result<(), StoreError> {
        self.carts.lock().unwrap().remove(owner);
        Ok(())
    }
}
