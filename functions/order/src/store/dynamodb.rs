//! The orders table in DynamoDB. Items of one shopper share pk `CUSTOMER#<sub>`:
//! - order:        sk `ORDER#<orderId>` (ids are UUIDv7, so sk order is time order)
//! - idempotency:  sk `IDEMPOTENCY#<key>` {requestHash, orderId, expiresAt}
//! - outbox event: sk `EVENT#<orderId>#<version>` {event (envelope JSON), traceHeader?, expiresAt}
//!   (`traceHeader`: the X-Ray header of the span that wrote it, so the relay continues the trace)
//! - rate counter: sk `CHECKOUTS#<minute>` {checkouts, expiresAt}
//!
//! An order that owes the saga a step (`StoredOrder::needs_settling`) also carries
//! `settlePk` = `UNSETTLED` and `settleSk` = `<updatedAt>#<orderId>`: the sparse GSI
//! `unsettled` holds exactly those orders, so the settler queries them without a scan.
//! Every write replaces the whole item, so an order leaves the index when it is settled.
//!
//! The table's stream carries each new outbox item to `order-publisher`.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use bookish_shared::dynamo::{failed_conditions, n, s, Item};
use time::OffsetDateTime;

pub use crate::publisher::TRACE_HEADER_ATTRIBUTE;

use super::{settle_position, IdempotencyRecord, OrderStore, OutboxEvent, StoreError};
use crate::order::StoredOrder;

/// Idempotency records and relayed events are kept a week, then DynamoDB's TTL removes them.
const RETENTION: time::Duration = time::Duration::days(7);
const UNSETTLED_INDEX: &str = "unsettled";
const UNSETTLED: &str = "UNSETTLED";

pub struct DynamoOrderStore {
    client: Client,
    table: String,
}

impl DynamoOrderStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// The table `ORDERS_TABLE` names.
    pub fn from_env(aws: &bookish_shared::aws::SdkConfig) -> Result<Self, bookish_shared::config::MissingEnv> {
        let table = bookish_shared::config::required("ORDERS_TABLE")?;
        Ok(Self::new(bookish_shared::dynamo::client(aws), table))
    }

    fn key(customer: &str, sk: String) -> Item {
        Item::from([("pk".to_owned(), s(format!("CUSTOMER#{customer}"))), ("sk".to_owned(), s(sk))])
    }

    fn expires_at() -> aws_sdk_dynamodb::types::AttributeValue {
        n((OffsetDateTime::now_utc() + RETENTION).unix_timestamp())
    }

    fn order_item(order: &StoredOrder) -> Result<Item, StoreError> {
        let mut item: Item = serde_dynamo::to_item(order).map_err(unavailable)?;
        item.extend(Self::key(&order.customer.sub, format!("ORDER#{}", order.order.id)));
        if order.needs_settling() {
            item.insert("settlePk".to_owned(), s(UNSETTLED));
            item.insert("settleSk".to_owned(), s(settle_position(order)));
        }
        Ok(item)
    }

    fn put(&self, item: Item, condition: &str, version: Option<u64>) -> Result<TransactWriteItem, StoreError> {
        let mut put = Put::builder().table_name(&self.table).set_item(Some(item)).condition_expression(condition);
        if let Some(version) = version {
            put = put.expression_attribute_values(":version", n(version));
        }
        Ok(TransactWriteItem::builder().put(put.build().map_err(unavailable)?).build())
    }

    fn put_event(&self, order: &StoredOrder, event: &OutboxEvent) -> Result<TransactWriteItem, StoreError> {
        let mut item = Self::key(&order.customer.sub, format!("EVENT#{}#{:010}", order.order.id, event.sequence));
        item.insert("event".to_owned(), s(&event.envelope));
        if let Some(header) = bookish_shared::telemetry::trace_header() {
            item.insert(TRACE_HEADER_ATTRIBUTE.to_owned(), s(&header));
        }
        item.insert("expiresAt".to_owned(), Self::expires_at());
        self.put(item, "attribute_not_exists(pk)", None)
    }

    async fn transact(&self, items: Vec<TransactWriteItem>, first_guard: StoreError) -> Result<(), StoreError> {
        let Err(err) = self.client.transact_write_items().set_transact_items(Some(items)).send().await else {
            return Ok(());
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = err.as_service_error() {
            if failed_conditions(cancelled.cancellation_reasons()).contains(&0) {
                return Err(first_guard);
            }
        }
        Err(StoreError::Unavailable(DisplayErrorContext(&err).to_string()))
    }
}

fn unavailable(err: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(err.to_string())
}

#[async_trait]
impl OrderStore for DynamoOrderStore {
    async fn get(&self, customer: &str, order_id: &str) -> Result<Option<StoredOrder>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(customer, format!("ORDER#{order_id}"))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(DisplayErrorContext(&e)))?;
        output.item.map(|item| serde_dynamo::from_item(item).map_err(unavailable)).transpose()
    }

    async fn list(&self, customer: &str, limit: usize, before: Option<&str>) -> Result<Vec<StoredOrder>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":pk", s(format!("CUSTOMER#{customer}")))
            .scan_index_forward(false);
        let mut query = match before {
            None => query
                .key_condition_expression("pk = :pk AND begins_with(sk, :orders)")
                .expression_attribute_values(":orders", s("ORDER#")),
            // Strictly older than the cursor: "ORDER#" sorts before every order key.
            Some(before) => query
                .key_condition_expression("pk = :pk AND sk BETWEEN :first AND :before")
                .expression_attribute_values(":first", s("ORDER#"))
                .expression_attribute_values(":before", s(format!("ORDER#{before}"))),
        };
        let mut orders = Vec::with_capacity(limit);
        loop {
            let output = query
                .clone()
                .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(|e| unavailable(DisplayErrorContext(&e)))?;
            for item in output.items.unwrap_or_default() {
                let order: StoredOrder = serde_dynamo::from_item(item).map_err(unavailable)?;
                if before != Some(order.order.id.as_str()) {
                    orders.push(order);
                }
            }
            match output.last_evaluated_key {
                Some(key) if orders.len() < limit => query = query.set_exclusive_start_key(Some(key)),
                _ => break,
            }
        }
        orders.truncate(limit);
        Ok(orders)
    }

    async fn idempotency(&self, customer: &str, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(customer, format!("IDEMPOTENCY#{key}"))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(DisplayErrorContext(&e)))?;
        let Some(item) = output.item else { return Ok(None) };
        let text = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .ok_or_else(|| unavailable(format!("idempotency record has no {name}")))
        };
        Ok(Some(IdempotencyRecord {
            key: key.to_owned(),
            request_hash: text("requestHash")?,
            order_id: text("orderId")?,
        }))
    }

    async fn create(&self, order: &StoredOrder, record: &IdempotencyRecord) -> Result<(), StoreError> {
        let mut idempotency = Self::key(&order.customer.sub, format!("IDEMPOTENCY#{}", record.key));
        idempotency.insert("requestHash".to_owned(), s(&record.request_hash));
        idempotency.insert("orderId".to_owned(), s(&record.order_id));
        idempotency.insert("expiresAt".to_owned(), Self::expires_at());
        let items = vec![
            self.put(idempotency, "attribute_not_exists(pk)", None)?,
            self.put(Self::order_item(order)?, "attribute_not_exists(pk)", None)?,
        ];
        self.transact(items, StoreError::KeyTaken).await
    }

    async fn update(
        &self,
        expected_version: u64,
        next: &StoredOrder,
        event: Option<&OutboxEvent>,
    ) -> Result<(), StoreError> {
        let mut items = vec![self.put(Self::order_item(next)?, "version = :version", Some(expected_version))?];
        if let Some(event) = event {
            items.push(self.put_event(next, event)?);
        }
        self.transact(items, StoreError::Changed).await
    }

    async fn take_checkout_slot(&self, customer: &str, window: &str, limit: u32) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(customer, format!("CHECKOUTS#{window}"))))
            .update_expression("ADD checkouts :one SET expiresAt = :expires")
            .condition_expression("attribute_not_exists(checkouts) OR checkouts < :limit")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(limit))
            // Kept a day past its minute: long enough for nothing, short enough to cost nothing.
            .expression_attribute_values(
                ":expires",
                n((OffsetDateTime::now_utc() + time::Duration::days(1)).unix_timestamp()),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(err) => Err(unavailable(DisplayErrorContext(&err))),
        }
    }

    async fn unsettled(
        &self,
        updated_before: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredOrder>, StoreError> {
        // Positions are `<updatedAt>#<id>`: every one last changed before `updated_before`
        // sorts below it. BETWEEN is inclusive, so `after` itself is dropped below.
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(UNSETTLED_INDEX)
            .expression_attribute_values(":pk", s(UNSETTLED))
            .expression_attribute_values(":to", s(updated_before));
        let query = match after {
            None => query.key_condition_expression("settlePk = :pk AND settleSk < :to"),
            Some(after) => query
                .key_condition_expression("settlePk = :pk AND settleSk BETWEEN :from AND :to")
                .expression_attribute_values(":from", s(after)),
        };
        let output = query
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| unavailable(DisplayErrorContext(&e)))?;
        let mut orders = Vec::with_capacity(limit);
        for item in output.items.unwrap_or_default() {
            let order: StoredOrder = serde_dynamo::from_item(item).map_err(unavailable)?;
            if after != Some(settle_position(&order).as_str()) && orders.len() < limit {
                orders.push(order);
            }
        }
        Ok(orders)
    }
}
