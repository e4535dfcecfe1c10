//! `order-stock-events`: inventory's answers to `OrderPlaced`.

use bookish_shared::events::Envelope;
use bookish_shared::sqs::ConsumerError;
use serde::Deserialize;
use time::OffsetDateTime;

use crate::service::{self, Saga};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StockOutcome {
    order_id: String,
    customer_id: String,
}

/// The events this consumer reads, each with the version it reads (contracts/README.md).
/// Any other version of them is refused, and dead-lettered.
pub const ACCEPTS: &[(&str, u32)] = &[("StockReserved", 1), ("StockRejected", 1)];

pub async fn handle(saga: &Saga<'_>, envelope: Envelope<serde_json::Value>) -> Result<(), ConsumerError> {
    envelope.check_version(ACCEPTS)?;
    let now = OffsetDateTime::now_utc();
    match envelope.kind.as_str() {
        "StockReserved" | "StockRejected" => {
            let outcome: StockOutcome = serde_json::from_value(envelope.data)?;
            let (customer, order) = (&outcome.customer_id, &outcome.order_id);
            if envelope.kind == "StockReserved" {
                service::on_stock_reserved(saga, customer, order, now).await?;
            } else {
                service::on_stock_rejected(saga, customer, order, now).await?;
            }
            Ok(())
        }
        other => {
            tracing::warn!(event_type = other, "ignoring an event this consumer does not handle");
            Ok(())
        }
    }
}
