//! The carts table in DynamoDB: one item per shopper, pk `CART#<sub>`, holding a map
//! `lines` of book id to `{quantity, addedAt}`, plus `updatedAt` and `expiresAt` (the
//! table's TTL attribute, pushed 30 days out by every change).
//!
//! Each change is one UpdateItem on one map entry, so concurrent changes to different
//! books never overwrite each other; conditions keep the 50-line limit. Removing the
//! lines an order took is one UpdateItem too, conditioned on the quantity of every line
//! it lists.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::Client;
use bookish_shared::dynamo::{n, s, Item};
use time::OffsetDateTime;

use super::{CartStore, StoreError};
use crate::cart::{ExpectedLine, Quantity, StoredCart, StoredLine, LIFETIME, MAX_LINES};
use bookish_shared::events::rfc3339;

pub struct DynamoCartStore {
    client: Client,
    table: String,
}

/// How often a write that lost a race (the cart appeared or changed shape under it) is
/// tried again before giving up.
const ATTEMPTS: usize = 4;

enum Outcome {
    Done(StoredCart),
    ConditionFailed,
}

impl DynamoCartStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    fn key(owner: &str) -> Item {
        Item::from([("pk".to_owned(), s(format!("CART#{owner}")))])
    }

    /// One conditional UpdateItem on one line (`#book`) that stamps the cart's `updatedAt`
    /// and TTL.
    async fn update(
        &self,
        owner: &str,
        book_id: &str,
        expression: &str,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
        now: OffsetDateTime,
    ) -> Result<Outcome, StoreError> {
        let names: Vec<(String, String)> = if expression.contains("#book") || condition.contains("#book") {
            vec![("#book".to_owned(), book_id.to_owned())]
        } else {
            Vec::new()
        };
        let values = values.into_iter().map(|(name, value)| (name.to_owned(), value)).collect();
        self.update_named(owner, expression, condition, names, values, now).await
    }

    /// One conditional UpdateItem, with its own expression attribute names and values,
    /// that stamps the cart's `updatedAt` and TTL.
    async fn update_named(
        &self,
        owner: &str,
        expression: &str,
        condition: &str,
        names: Vec<(String, String)>,
        values: Vec<(String, AttributeValue)>,
        now: OffsetDateTime,
    ) -> Result<Outcome, StoreError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(owner)))
            .update_expression(format!("{expression} updatedAt = :now, expiresAt = :expires"))
            .condition_expression(condition)
            // `lines` is one of DynamoDB's reserved words.
            .expression_attribute_names("#lines", "lines")
            .expression_attribute_values(":now", s(rfc3339(now)))
            .expression_attribute_values(":expires", n((now + LIFETIME).unix_timestamp()))
            .return_values(ReturnValue::AllNew);
        for (name, attribute) in names {
            request = request.expression_attribute_names(name, attribute);
        }
        for (name, value) in values {
            request = request.expression_attribute_values(name, value);
        }
        match request.send().await {
            Ok(output) => Ok(Outcome::Done(from_item(&output.attributes.unwrap_or_default())?)),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Ok(Outcome::ConditionFailed)
            }
            Err(err) => Err(StoreError::Unavailable(DisplayErrorContext(&err).to_string())),
        }
    }
}

#[async_trait]
impl CartStore for DynamoCartStore {
    async fn get(&self, owner: &str) -> Result<Option<StoredCart>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(owner)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(DisplayErrorContext(&e).to_string()))?;
        output.item.as_ref().map(from_item).transpose()
    }

    async fn set_line(
        &self,
        owner: &str,
        book_id: &str,
        quantity: Quantity,
        now: OffsetDateTime,
    ) -> Result<StoredCart, StoreError> {
        let line = AttributeValue::M(Item::from([
            ("quantity".to_owned(), n(quantity.get())),
            ("addedAt".to_owned(), s(rfc3339(now))),
        ]));
        for _ in 0..ATTEMPTS {
            // The book is already in the cart: change its quantity, keep its place.
            let changed = self
                .update(
                    owner,
                    book_id,
                    "SET #lines.#book.quantity = :quantity,",
                    "attribute_exists(#lines.#book)",
                    vec![(":quantity", n(quantity.get()))],
                    now,
                )
                .await?;
            if let Outcome::Done(cart) = changed {
                return Ok(cart);
            }
            // A new line in an existing cart, while there is room.
            let added = self
                .update(
                    owner,
                    book_id,
                    "SET #lines.#book = :line,",
                    "attribute_exists(#lines) AND attribute_not_exists(#lines.#book) AND size(#lines) < :max",
                    vec![(":line", line.clone()), (":max", n(MAX_LINES))],
                    now,
                )
                .await?;
            if let Outcome::Done(cart) = added {
                return Ok(cart);
            }
            match self.get(owner).await? {
                Some(cart) if cart.lines.len() >= MAX_LINES && !cart.book_ids().any(|id| id == book_id) => {
                    return Err(StoreError::TooManyLines);
                }
                Some(_) => continue, // changed under us: try again
                None => {
                    // No cart yet: create it with this line, unless another request just did.
                    let created = self
                        .update(
                            owner,
                            book_id,
                            "SET #lines = :lines,",
                            "attribute_not_exists(pk)",
                            vec![(":lines", AttributeValue::M(Item::from([(book_id.to_owned(), line.clone())])))],
                            now,
                        )
                        .await?;
                    if let Outcome::Done(cart) = created {
                        return Ok(cart);
                    }
                }
            }
        }
        Err(StoreError::Unavailable(format!("the cart kept changing during {ATTEMPTS} attempts")))
    }

    async fn remove_line(
        &self,
        owner: &str,
        book_id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<StoredCart>, StoreError> {
        match self.update(owner, book_id, "REMOVE #lines.#book SET", "attribute_exists(pk)", vec![], now).await? {
            Outcome::Done(cart) => Ok(Some(cart)),
            Outcome::ConditionFailed => Ok(None),
        }
    }

    async fn remove_lines(&self, owner: &str, lines: &[ExpectedLine], now: OffsetDateTime) -> Result<(), StoreError> {
        if lines.is_empty() {
            return Ok(());
        }
        for _ in 0..ATTEMPTS {
            let Some(cart) = self.get(owner).await? else { return Ok(()) };
            let holds = |expected: &ExpectedLine| {
                cart.lines.iter().any(|line| line.book_id == expected.book_id && line.quantity == expected.quantity)
            };
            // Remove the lines that hold their quantity, in one UpdateItem whose condition is
            // this very reading of every listed line: each removed line still holds its
            // quantity, each kept one still does not. Then the write is exactly "remove what
            // holds its quantity now", or it fails and we read again.
            let (mut removals, mut conditions, mut names, mut values) = (vec![], vec![], vec![], vec![]);
            for (i, expected) in lines.iter().enumerate() {
                let (name, value) = (format!("#b{i}"), format!(":q{i}"));
                if holds(expected) {
                    removals.push(format!("#lines.{name}"));
                    conditions.push(format!("#lines.{name}.quantity = {value}"));
                } else {
                    conditions
                        .push(format!("(attribute_not_exists(#lines.{name}) OR #lines.{name}.quantity <> {value})"));
                }
                names.push((name, expected.book_id.clone()));
                values.push((value, n(expected.quantity.get())));
            }
            if removals.is_empty() {
                return Ok(());
            }
            let expression = format!("REMOVE {} SET", removals.join(", "));
            match self.update_named(owner, &expression, &conditions.join(" AND "), names, values, now).await? {
                Outcome::Done(cart) => return self.delete_if_empty(owner, &cart).await,
                Outcome::ConditionFailed => continue, // a listed line changed under us: read again
            }
        }
        // Still racing: settle for one conditional UpdateItem per line, each exact on its own.
        let mut last = None;
        for expected in lines {
            let outcome = self
                .update(
                    owner,
                    &expected.book_id,
                    "REMOVE #lines.#book SET",
                    "#lines.#book.quantity = :quantity",
                    vec![(":quantity", n(expected.quantity.get()))],
                    now,
                )
                .await?;
            if let Outcome::Done(cart) = outcome {
                last = Some(cart);
            }
        }
        match last {
            Some(cart) => self.delete_if_empty(owner, &cart).await,
            None => Ok(()),
        }
    }

    async fn clear(&self, owner: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(owner)))
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(DisplayErrorContext(&e).to_string()))?;
        Ok(())
    }
}

impl DynamoCartStore {
    /// Deletes a cart whose last line was just removed (as `clear` would), unless a line
    /// arrived in the meantime.
    async fn delete_if_empty(&self, owner: &str, cart: &StoredCart) -> Result<(), StoreError> {
        if !cart.lines.is_empty() {
            return Ok(());
        }
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(owner)))
            .condition_expression("size(#lines) = :zero")
            .expression_attribute_names("#lines", "lines")
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if matches!(err.as_service_error(), Some(DeleteItemError::ConditionalCheckFailedException(_))) => {
                Ok(())
            }
            Err(err) => Err(StoreError::Unavailable(DisplayErrorContext(&err).to_string())),
        }
    }
}

fn from_item(item: &Item) -> Result<StoredCart, StoreError> {
    let corrupt = |what: &str| StoreError::Unavailable(format!("cart item has no valid {what}"));
    let text = |value: Option<&AttributeValue>, what: &str| {
        value.and_then(|v| v.as_s().ok()).cloned().ok_or_else(|| corrupt(what))
    };
    let mut lines = Vec::new();
    if let Some(AttributeValue::M(map)) = item.get("lines") {
        for (book_id, line) in map {
            let line = line.as_m().map_err(|_| corrupt("line"))?;
            let quantity = line
                .get("quantity")
                .and_then(|q| q.as_n().ok())
                .and_then(|q| q.parse::<i64>().ok())
                .ok_or_else(|| corrupt("quantity"))?;
            lines.push(StoredLine {
                book_id: book_id.clone(),
                quantity: Quantity::parse(quantity).map_err(|_| corrupt("quantity"))?,
                added_at: text(line.get("addedAt"), "addedAt")?,
            });
        }
    }
    lines.sort_by(|a, b| (&a.added_at, &a.book_id).cmp(&(&b.added_at, &b.book_id)));
    Ok(StoredCart { lines, updated_at: text(item.get("updatedAt"), "updatedAt")? })
}
