//! Carts: what the store keeps (book ids and quantities) and what a shopper sees (the same
//! lines priced from the catalog).

use bookish_shared::money::Money;
use bookish_shared::Problem;
use serde::{Deserialize, Serialize};

/// Distinct books one cart may hold.
pub const MAX_LINES: usize = 50;
/// The longest book id (the catalog issues 32 hex digits; see `is_plausible_book_id`).
pub const MAX_BOOK_ID_CHARS: usize = 64;
pub const MAX_QUANTITY: i64 = 99;
/// Carts untouched this long are deleted by DynamoDB's TTL.
pub const LIFETIME: time::Duration = time::Duration::days(30);

/// How many copies of a book: 1 to 99.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity(u32);

impl Quantity {
    pub fn parse(quantity: i64) -> Result<Self, Problem> {
        if (1..=MAX_QUANTITY).contains(&quantity) {
            Ok(Self(quantity as u32))
        } else {
            Err(Problem::invalid(
                "quantity",
                format!("quantity must be a whole number from 1 to {MAX_QUANTITY}; to remove a book, delete its line."),
            ))
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// The body of `PUT /v1/cart/items/{bookId}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuantityInput {
    pub quantity: i64,
}

/// A book id as a path names it. Ids the catalog could never have issued are simply
/// not found.
pub fn is_plausible_book_id(id: &str) -> bool {
    (1..=MAX_BOOK_ID_CHARS).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The optional body of `DELETE /v1/cart`: the lines an order took, each to be removed
/// only while it still holds the quantity that was ordered.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemovalInput {
    pub lines: Vec<RemovalLineInput>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RemovalLineInput {
    pub book_id: String,
    pub quantity: i64,
}

/// A line as someone saw it: removed only if it still holds exactly this quantity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedLine {
    pub book_id: String,
    pub quantity: Quantity,
}

impl RemovalInput {
    /// At most `MAX_LINES` lines, each book once, quantities 1 to 99, ids of at most 64
    /// characters. Lines naming a book id the catalog could never have issued are left out:
    /// no cart holds them.
    pub fn parse(self) -> Result<Vec<ExpectedLine>, Problem> {
        if self.lines.len() > MAX_LINES {
            return Err(Problem::invalid(
                "lines",
                format!("A cart holds at most {MAX_LINES} lines; list at most that many."),
            ));
        }
        let mut expected: Vec<ExpectedLine> = Vec::with_capacity(self.lines.len());
        let mut seen: Vec<&str> = Vec::with_capacity(self.lines.len());
        for (i, line) in self.lines.iter().enumerate() {
            let field = format!("lines.{i}.bookId");
            if line.book_id.is_empty() || line.book_id.chars().count() > MAX_BOOK_ID_CHARS {
                return Err(Problem::invalid(
                    field,
                    format!("bookId is a book id of 1 to {MAX_BOOK_ID_CHARS} characters."),
                ));
            }
            if seen.contains(&line.book_id.as_str()) {
                return Err(Problem::invalid(field, format!("Book '{}' is listed twice.", line.book_id)));
            }
            seen.push(&line.book_id);
            let quantity = Quantity::parse(line.quantity)
                .map_err(|p| Problem { field: Some(format!("lines.{i}.quantity")), ..p })?;
            if is_plausible_book_id(&line.book_id) {
                expected.push(ExpectedLine { book_id: line.book_id.clone(), quantity });
            }
        }
        Ok(expected)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredLine {
    pub book_id: String,
    pub quantity: Quantity,
    pub added_at: String,
}

/// A cart as stored: lines in the order they were added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCart {
    pub lines: Vec<StoredLine>,
    pub updated_at: String,
}

impl StoredCart {
    pub fn book_ids(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().map(|line| line.book_id.as_str())
    }
}

#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CartLineView {
    pub book_id: String,
    pub title: String,
    pub unit_price: Money,
    pub quantity: u32,
    pub line_total: Money,
}

/// The cart as `GET /v1/cart` shows it, priced from the catalog now.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CartView {
    pub items: Vec<CartLineView>,
    pub subtotal: Money,
    pub item_count: u32,
    pub updated_at: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_run_from_one_to_ninety_nine() {
        assert_eq!(Quantity::parse(1).unwrap().get(), 1);
        assert_eq!(Quantity::parse(99).unwrap().get(), 99);
        for bad in [0, -1, 100, i64::MAX, i64::MIN] {
            assert_eq!(Quantity::parse(bad).unwrap_err().field.as_deref(), Some("quantity"));
        }
    }

    #[test]
    fn book_ids_are_short_and_plain() {
        assert!(is_plausible_book_id("3f1c0a9e8b7d4c2a9e8b7d4c2a9e8b7d"));
        for bad in ["", "a/b", "a b", &"x".repeat(65), "é"] {
            assert!(!is_plausible_book_id(bad), "{bad}");
        }
    }
}
