//! The `inventory-events` consumer: order events from InventoryQueue, handed to the rules.
//! A message fails (and SQS delivers it again, then dead-letters it) when it is not an
//! order event the inventory can read, or when the store or the queue fails.

use bookish_shared::events::Envelope;
use bookish_shared::sqs::{ConsumerError, Publisher};
use time::OffsetDateTime;

use crate::service::{self, Announcer};
use crate::stock::{Malformed, OrderEvent};
use crate::store::StockStore;
use crate::InventoryError;

pub const ORDER_PLACED: &str = "OrderPlaced";
pub const ORDER_CANCELLED: &str = "OrderCancelled";
/// Rejected after it was placed (payment failed at capture, or not settled in time): its
/// stock is released exactly as a cancelled order's.
pub const ORDER_REJECTED: &str = "OrderRejected";
/// The order events the inventory reads, each with the version it reads
/// (contracts/README.md). Any other version of them is refused, and dead-lettered.
pub const ACCEPTS: &[(&str, u32)] = &[(ORDER_PLACED, 1), (ORDER_CANCELLED, 1), (ORDER_REJECTED, 1)];

/// What the consumer works with, built once per cold start.
pub struct Deps<'a> {
    pub store: &'a dyn StockStore,
    pub publisher: &'a dyn Publisher,
    /// Where StockReserved and StockRejected go (ORDER_STOCK_QUEUE_URL).
    pub order_stock_queue_url: &'a str,
}

/// Handles one message of a batch.
pub async fn handle(deps: &Deps<'_>, envelope: Envelope<serde_json::Value>) -> Result<(), ConsumerError> {
    envelope.check_version(ACCEPTS)?;
    dispatch(deps, envelope, OffsetDateTime::now_utc()).await.map_err(Into::into)
}

async fn dispatch(
    deps: &Deps<'_>,
    envelope: Envelope<serde_json::Value>,
    now: OffsetDateTime,
) -> Result<(), InventoryError> {
    let kind = envelope.kind.as_str();
    if !ACCEPTS.iter().any(|(accepted, _)| *accepted == kind) {
        // Not ours to act on; failing it would only send it round to the DLQ.
        tracing::info!("ignoring an event the inventory does not handle");
        return Ok(());
    }
    let event: OrderEvent = serde_json::from_value(envelope.data)
        .map_err(|e| Malformed(format!("data does not describe an order: {e}")))?;
    if kind == ORDER_PLACED {
        let request = event.reservation_request()?;
        let announcer = Announcer {
            publisher: deps.publisher,
            queue_url: deps.order_stock_queue_url,
            correlation_id: &envelope.correlation_id,
        };
        let placed = service::place(deps.store, &announcer, &request, now).await?;
        tracing::info!(order_id = request.order_id.as_str(), outcome = ?placed, "order placed");
    } else if kind == ORDER_REJECTED && event.order.was_never_placed() {
        tracing::info!("declined at checkout: never placed, nothing to release");
    } else {
        let order_id = event.order_id()?;
        let cancelled = service::cancel(deps.store, &order_id, &event.customer_id, now).await?;
        tracing::info!(order_id = order_id.as_str(), outcome = ?cancelled, "order cancelled");
    }
    Ok(())
}
