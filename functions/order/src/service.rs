//! The order rules, written against ports: the store (with its outbox), the cart, the
//! catalog and the payment gateway.

use std::collections::HashMap;

use bookish_shared::catalog_client::Catalog;
use bookish_shared::events::{new_event_id, rfc3339, Envelope};
use bookish_shared::money::Money;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::cart_client::{Caller, Cart};
use crate::order::{
    CheckoutInput, Customer, EventOrder, IdempotencyKey, Line, Order, OrderEventData, PaymentStatus, Reason, Status,
    StoredOrder,
};
use crate::payments::{Authorization, PaymentGateway};
use crate::store::{IdempotencyRecord, OrderStore, OutboxEvent, StoreError};
use crate::OrderError;

/// How often a change that lost a race with another change is re-evaluated.
const ATTEMPTS: usize = 3;

pub struct Services<'a> {
    pub store: &'a dyn OrderStore,
    pub cart: &'a dyn Cart,
    pub catalog: &'a dyn Catalog,
    pub payments: &'a dyn PaymentGateway,
}

/// The outcome of a checkout: the order, and whether an earlier identical request placed it.
pub struct Placed {
    pub order: Order,
    pub replayed: bool,
}

/// Checks out the caller's cart: prices it from the catalog, authorizes the payment, and
/// writes the order with its `OrderPlaced` (or, if the card is declined, `OrderRejected`)
/// event in one transaction.
pub async fn place_order(
    services: &Services<'_>,
    caller: &Caller,
    key: &IdempotencyKey,
    input: CheckoutInput,
    now: OffsetDateTime,
) -> Result<Placed, OrderError> {
    let customer = &caller.claims.subject;
    let request_hash = hex(&Sha256::digest(serde_json::to_vec(&input).expect("inputs serialize")));
    if let Some(placed) = replay(services.store, customer, key, &request_hash).await? {
        return Ok(placed);
    }
    let checkout = input.parse()?;
    let cart = services.cart.lines(caller).await?;
    if cart.is_empty() {
        // A concurrent identical request may have placed the order and emptied the cart.
        return replay(services.store, customer, key, &request_hash).await?.ok_or(OrderError::EmptyCart);
    }
    let ids: Vec<String> = cart.iter().map(|line| line.book_id.clone()).collect();
    let books: HashMap<String, _> =
        services.catalog.lookup(&ids, &caller.correlation_id).await?.into_iter().map(|b| (b.id.clone(), b)).collect();
    let mut lines = Vec::with_capacity(cart.len());
    for line in &cart {
        let book = books.get(&line.book_id).ok_or_else(|| OrderError::BookGone(line.book_id.clone()))?;
        let amount = book.price.amount * i64::from(line.quantity);
        lines.push(Line {
            book_id: book.id.clone(),
            title: book.title.clone(),
            unit_price: book.price.clone(),
            quantity: line.quantity,
            line_total: Money::new(amount, book.price.currency.clone()),
        });
    }
    let currency = lines[0].unit_price.currency.clone();
    if lines.iter().any(|line| line.unit_price.currency != currency) {
        return Err(OrderError::MixedCurrencies);
    }
    let total = Money::new(lines.iter().map(|line| line.line_total.amount).sum(), currency);

    let order_id = uuid::Uuid::now_v7().to_string();
    let authorization = services
        .payments
        .authorize(&checkout.payment_token, &total, &format!("authorize-{customer}-{}", key.as_str()))
        .await?;
    let (status, reason, payment_status, authorization_id) = match authorization {
        Authorization::Approved { authorization_id } => {
            (Status::Pending, None, PaymentStatus::Authorized, Some(authorization_id))
        }
        Authorization::Declined => (Status::Rejected, Some(Reason::PaymentDeclined), PaymentStatus::Declined, None),
    };
    let timestamp = rfc3339(now);
    let stored = StoredOrder {
        order: Order {
            id: order_id.clone(),
            status,
            reason,
            lines,
            total,
            shipping_address: checkout.shipping_address,
            phone: checkout.phone,
            payment_status,
            created_at: timestamp.clone(),
            updated_at: timestamp,
        },
        customer: Customer {
            sub: customer.clone(),
            email: caller.claims.email.clone(),
            username: caller.claims.username.clone(),
        },
        authorization_id,
        correlation_id: caller.correlation_id.clone(),
        version: 1,
    };
    let record = IdempotencyRecord { key: key.as_str().to_owned(), request_hash: request_hash.clone(), order_id };
    match services.store.create(&stored, &record, &outbox_event(&stored, now)).await {
        Ok(()) => {}
        // A concurrent identical request won the race: answer with its order. Authorizing is
        // idempotent on the key, so both requests hold the same authorization, which the
        // winning order owns: nothing to void.
        Err(StoreError::KeyTaken) => {
            return replay(services.store, customer, key, &request_hash).await?.ok_or(OrderError::Contended);
        }
        Err(err) => return Err(err.into()),
    }
    // The order stands even if emptying the cart fails; the shopper can empty it themselves.
    if let Err(err) = services.cart.clear(caller).await {
        tracing::warn!(error = %err, order_id = stored.order.id, "order placed but the cart was not emptied");
    }
    Ok(Placed { order: stored.order, replayed: false })
}

async fn replay(
    store: &dyn OrderStore,
    customer: &str,
    key: &IdempotencyKey,
    request_hash: &str,
) -> Result<Option<Placed>, OrderError> {
    let Some(record) = store.idempotency(customer, key.as_str()).await? else { return Ok(None) };
    if record.request_hash != request_hash {
        return Err(OrderError::KeyReused);
    }
    let stored =
        store.get(customer, &record.order_id).await?.ok_or_else(|| OrderError::NotFound(record.order_id.clone()))?;
    Ok(Some(Placed { order: stored.order, replayed: true }))
}

pub async fn get_order(store: &dyn OrderStore, customer: &str, order_id: &str) -> Result<Order, OrderError> {
    Ok(load(store, customer, order_id).await?.order)
}

/// A page of the customer's orders, newest first, after the order id `before`.
pub async fn list_orders(
    store: &dyn OrderStore,
    customer: &str,
    limit: usize,
    before: Option<&str>,
) -> Result<Vec<Order>, OrderError> {
    Ok(store.list(customer, limit, before).await?.into_iter().map(|stored| stored.order).collect())
}

/// Cancels a pending or confirmed order: the payment is voided or refunded, and
/// `OrderCancelled` tells inventory to release the stock.
pub async fn cancel_order(
    services: &Services<'_>,
    customer: &str,
    order_id: &str,
    now: OffsetDateTime,
) -> Result<Order, OrderError> {
    for _ in 0..ATTEMPTS {
        let current = load(services.store, customer, order_id).await?;
        let status = current.order.status;
        if !status.can_become(Status::Cancelled) {
            return Err(OrderError::CannotCancel(status));
        }
        let payment_status = settle(services.payments, &current, PaymentStatus::Refunded).await?;
        match transition(services.store, &current, Status::Cancelled, None, payment_status, now).await {
            Err(OrderError::Store(StoreError::Changed)) => continue,
            result => return result,
        }
    }
    Err(OrderError::Contended)
}

/// Inventory reserved the stock: capture the payment and confirm the order. A redelivery,
/// or a reservation for an order cancelled meanwhile, changes nothing.
pub async fn on_stock_reserved(
    services: &Services<'_>,
    customer: &str,
    order_id: &str,
    now: OffsetDateTime,
) -> Result<(), OrderError> {
    for _ in 0..ATTEMPTS {
        let current = load(services.store, customer, order_id).await?;
        if current.order.status != Status::Pending {
            return Ok(());
        }
        if let Some(id) = &current.authorization_id {
            services.payments.capture(id, &format!("capture-{order_id}")).await?;
        }
        match transition(services.store, &current, Status::Confirmed, None, PaymentStatus::Captured, now).await {
            Err(OrderError::Store(StoreError::Changed)) => {
                // Cancelled while we captured: give the money back; the cancellation released the stock.
                if let Some(latest) = services.store.get(customer, order_id).await? {
                    if latest.order.status == Status::Cancelled {
                        if let Some(id) = &latest.authorization_id {
                            services.payments.refund(id, &format!("refund-{order_id}")).await?;
                        }
                        return Ok(());
                    }
                }
                continue;
            }
            result => return result.map(drop),
        }
    }
    Err(OrderError::Contended)
}

/// Inventory could not reserve the stock: release the payment hold and reject the order.
pub async fn on_stock_rejected(
    services: &Services<'_>,
    customer: &str,
    order_id: &str,
    now: OffsetDateTime,
) -> Result<(), OrderError> {
    for _ in 0..ATTEMPTS {
        let current = load(services.store, customer, order_id).await?;
        if current.order.status != Status::Pending {
            return Ok(());
        }
        let payment_status = settle(services.payments, &current, PaymentStatus::Voided).await?;
        match transition(services.store, &current, Status::Rejected, Some(Reason::OutOfStock), payment_status, now)
            .await
        {
            Err(OrderError::Store(StoreError::Changed)) => continue,
            result => return result.map(drop),
        }
    }
    Err(OrderError::Contended)
}

/// Undoes the payment of an order that will not be fulfilled: a hold is voided, a capture
/// refunded (`if_captured` says which status that leaves).
async fn settle(
    payments: &dyn PaymentGateway,
    order: &StoredOrder,
    if_captured: PaymentStatus,
) -> Result<PaymentStatus, OrderError> {
    let Some(id) = &order.authorization_id else { return Ok(order.order.payment_status) };
    match order.order.payment_status {
        PaymentStatus::Authorized => {
            payments.void(id, &format!("void-{}", order.order.id)).await?;
            Ok(PaymentStatus::Voided)
        }
        PaymentStatus::Captured => {
            payments.refund(id, &format!("refund-{}", order.order.id)).await?;
            Ok(if_captured)
        }
        settled => Ok(settled),
    }
}

async fn load(store: &dyn OrderStore, customer: &str, order_id: &str) -> Result<StoredOrder, OrderError> {
    store.get(customer, order_id).await?.ok_or_else(|| OrderError::NotFound(order_id.to_owned()))
}

async fn transition(
    store: &dyn OrderStore,
    current: &StoredOrder,
    status: Status,
    reason: Option<Reason>,
    payment_status: PaymentStatus,
    now: OffsetDateTime,
) -> Result<Order, OrderError> {
    let mut next = current.clone();
    next.order.status = status;
    next.order.reason = reason;
    next.order.payment_status = payment_status;
    next.order.updated_at = rfc3339(now);
    next.version += 1;
    store.update(current.version, &next, &outbox_event(&next, now)).await?;
    Ok(next.order)
}

/// The event announcing the order's current status, as the outbox stores it.
fn outbox_event(order: &StoredOrder, now: OffsetDateTime) -> OutboxEvent {
    let data = OrderEventData {
        order: EventOrder { order: order.order.clone(), customer: order.customer.clone() },
        customer_id: order.customer.sub.clone(),
    };
    let envelope = Envelope::new(new_event_id(), order.order.status.event_type(), &order.correlation_id, data, now);
    OutboxEvent { sequence: order.version, envelope: serde_json::to_string(&envelope).expect("events serialize") }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
