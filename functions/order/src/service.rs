//! The order rules, written against ports: the store (with its outbox), the cart, the
//! catalog and the payment gateway.
//!
//! Checkout and the stock outcomes form a saga. Money moves only once the order that owns
//! it is recorded, and every step leaves a state the saga can finish or undo:
//!
//! 1. checkout records the order (`PENDING`, payment `PENDING`), then asks for the hold,
//!    then records the answer with `OrderPlaced` (or `OrderRejected`, declined);
//! 2. `StockReserved` captures and confirms (or, if the capture fails, rejects with
//!    `PAYMENT_FAILED`); `StockRejected` rejects with `OUT_OF_STOCK`;
//! 3. a rejection or cancellation is written first, with its event, and the hold is then
//!    voided or the capture refunded, and that recorded too.
//!
//! A step cut short (a crash, a provider outage) leaves the order in the settler's index
//! (`StoredOrder::needs_settling`); `settle` takes the step it owes, with the same
//! idempotency keys, so nothing is charged or refunded twice.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use bookish_shared::catalog_client::Catalog;
use bookish_shared::events::{new_event_id, rfc3339, Envelope};
use bookish_shared::metrics;
use bookish_shared::money::Money;
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::cart_client::{Caller, Cart, CartLine};
use crate::order::{
    CheckoutInput, Customer, EventOrder, IdempotencyKey, Line, Order, OrderEventData, PaymentStatus, Reason, Status,
    StoredOrder,
};
use crate::payments::{step_key, Authorization, Capture, PaymentGateway, Void};
use crate::store::{IdempotencyRecord, OrderStore, OutboxEvent, StoreError};
use crate::OrderError;

/// How often a change that lost a race with another change is re-evaluated.
const ATTEMPTS: usize = 3;

/// What the saga needs: the orders and the money. The stock consumer and the settler
/// need nothing else.
pub struct Saga<'a> {
    pub store: &'a dyn OrderStore,
    pub payments: &'a dyn PaymentGateway,
}

/// Checkout also reads the cart and the catalog, within the shopper's rate limit.
pub struct Services<'a> {
    pub saga: Saga<'a>,
    pub cart: &'a dyn Cart,
    pub catalog: &'a dyn Catalog,
    pub limit: CheckoutLimit,
}

/// How many checkouts one shopper may start in a calendar minute. A retry of a checkout
/// (the same Idempotency-Key) is not counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckoutLimit {
    pub per_minute: u32,
}

impl Default for CheckoutLimit {
    fn default() -> Self {
        Self { per_minute: 10 }
    }
}

impl CheckoutLimit {
    /// `CHECKOUTS_PER_MINUTE`, or 10.
    pub fn from_env() -> Result<Self, std::num::ParseIntError> {
        bookish_shared::config::optional("CHECKOUTS_PER_MINUTE")
            .map_or(Ok(Self::default()), |n| Ok(Self { per_minute: n.parse()? }))
    }
}

/// The outcome of a checkout: the order, and whether an earlier identical request placed it.
pub struct Placed {
    pub order: Order,
    pub replayed: bool,
}

/// Checks out the caller's cart: prices it from the catalog, records the order, asks for
/// the payment hold and records the answer with `OrderPlaced` (or `OrderRejected`).
pub async fn place_order(
    services: &Services<'_>,
    caller: &Caller,
    key: &IdempotencyKey,
    input: CheckoutInput,
    now: OffsetDateTime,
) -> Result<Placed, OrderError> {
    let saga = &services.saga;
    let customer = &caller.claims.subject;
    let request_hash = hex(&Sha256::digest(serde_json::to_vec(&input).expect("inputs serialize")));
    if let Some((placed, resumed)) = replay(saga, customer, key, &request_hash, now).await? {
        // An earlier request recorded the order but not its payment: this one paid for the cart.
        if resumed {
            empty_cart(services, caller, &placed.order).await;
        }
        return Ok(placed);
    }
    let checkout = input.parse()?;
    let window = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute()
    );
    if !saga.store.take_checkout_slot(customer, &window, services.limit.per_minute).await? {
        return Err(OrderError::TooManyCheckouts {
            per_minute: services.limit.per_minute,
            retry_after: 60 - u64::from(now.second()),
        });
    }
    let cart = services.cart.lines(caller).await?;
    if cart.is_empty() {
        // A concurrent identical request may have placed the order and emptied the cart.
        let placed = replay(saga, customer, key, &request_hash, now).await?;
        return placed.map(|(placed, _)| placed).ok_or(OrderError::EmptyCart);
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
    let timestamp = rfc3339(now);
    let stored = StoredOrder {
        order: Order {
            id: order_id.clone(),
            status: Status::Pending,
            reason: None,
            lines,
            total,
            shipping_address: checkout.shipping_address,
            payment_status: PaymentStatus::Pending,
            created_at: timestamp.clone(),
            updated_at: timestamp,
            refunded_at: None,
        },
        customer: Customer {
            sub: customer.clone(),
            email: caller.claims.email.clone(),
            username: caller.claims.username.clone(),
            phone: caller.claims.phone.clone(),
        },
        authorization_id: None,
        payment_method: Some(checkout.payment_method),
        correlation_id: caller.correlation_id.clone(),
        version: 1,
    };
    let record = IdempotencyRecord { key: key.as_str().to_owned(), request_hash: request_hash.clone(), order_id };
    match saga.store.create(&stored, &record).await {
        Ok(()) => {}
        // A concurrent identical request won the race: answer with its order.
        Err(StoreError::KeyTaken) => {
            let placed = replay(saga, customer, key, &request_hash, now).await?;
            return placed.map(|(placed, _)| placed).ok_or(OrderError::Contended);
        }
        Err(err) => return Err(err.into()),
    }
    let order = authorize(saga, stored, now).await?;
    empty_cart(services, caller, &order).await;
    Ok(Placed { order, replayed: false })
}

/// Takes the ordered lines out of the cart, each only if the shopper has not changed it
/// since checkout read it: a book added in another tab meanwhile stays. A declined card
/// keeps the cart, so the shopper can pay with another. The order stands even if this
/// fails; the shopper can empty the cart themselves.
async fn empty_cart(services: &Services<'_>, caller: &Caller, order: &Order) {
    if order.status == Status::Pending {
        let ordered: Vec<CartLine> =
            order.lines.iter().map(|l| CartLine { book_id: l.book_id.clone(), quantity: l.quantity }).collect();
        if let Err(err) = services.cart.remove_ordered(caller, &ordered).await {
            tracing::warn!(error = %err, order_id = order.id, "order placed but the cart was not emptied");
        }
    }
}

/// The order an earlier request with this key placed. If that request stopped before its
/// payment was recorded, this one finishes it, under the same payment idempotency key,
/// and says so (`true`).
async fn replay(
    saga: &Saga<'_>,
    customer: &str,
    key: &IdempotencyKey,
    request_hash: &str,
    now: OffsetDateTime,
) -> Result<Option<(Placed, bool)>, OrderError> {
    let Some(record) = saga.store.idempotency(customer, key.as_str()).await? else { return Ok(None) };
    if record.request_hash != request_hash {
        return Err(OrderError::KeyReused);
    }
    let stored = load(saga.store, customer, &record.order_id).await?;
    let resumed = stored.order.payment_status == PaymentStatus::Pending;
    let order = if resumed { authorize(saga, stored, now).await? } else { stored.order };
    Ok(Some((Placed { order, replayed: true }, resumed)))
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

/// Asks for the hold of a recorded order and records the answer: the order is placed
/// (`OrderPlaced`) or rejected as declined (`OrderRejected`). The idempotency key is the
/// order's, so asking again (a retried checkout, the settler) never makes a second hold.
async fn authorize(saga: &Saga<'_>, order: StoredOrder, now: OffsetDateTime) -> Result<Order, OrderError> {
    let Some(method) = order.payment_method.clone() else {
        return Err(OrderError::Invalid(bookish_shared::Problem::internal(&"order has no payment method")));
    };
    let order_id = order.order.id.clone();
    let answer =
        saga.payments.authorize(&method, &order.order.total, &order_id, &step_key("authorize", &order_id)).await?;
    if let Authorization::Declined { reason } = &answer {
        tracing::info!(order_id, reason, "payment declined");
    }
    let mut current = order;
    for _ in 0..ATTEMPTS {
        if current.order.payment_status != PaymentStatus::Pending {
            return Ok(current.order); // another request recorded the answer first
        }
        let pending = current.order.status == Status::Pending;
        let mut next = current.clone();
        match &answer {
            Authorization::Approved { authorization_id } => {
                next.authorization_id = Some(authorization_id.clone());
                next.order.payment_status = PaymentStatus::Authorized;
            }
            Authorization::Declined { .. } => {
                next.order.payment_status = PaymentStatus::Declined;
                if pending {
                    next.order.status = Status::Rejected;
                    next.order.reason = Some(Reason::PaymentDeclined);
                }
            }
        }
        // Only a pending order announces anything: OrderPlaced (approved) or OrderRejected.
        match save(saga.store, &current, next, now, pending).await {
            // Cancelled before the hold was recorded: the hold must go back.
            Ok(saved) if saved.needs_settling() && saved.order.status != Status::Pending => {
                return return_money(saga, saved, now).await;
            }
            Ok(saved) => return Ok(saved.order),
            Err(StoreError::Changed) => current = load(saga.store, &current.customer.sub, &order_id).await?,
            Err(err) => return Err(err.into()),
        }
    }
    Err(OrderError::Contended)
}

/// Cancels a pending or confirmed order: `OrderCancelled` tells inventory to release the
/// stock, then the hold is voided or the capture refunded (exactly once: the refund is
/// keyed by the order). If the provider is down the order is cancelled all the same, and
/// the settler returns the money later.
pub async fn cancel_order(
    saga: &Saga<'_>,
    customer: &str,
    order_id: &str,
    now: OffsetDateTime,
) -> Result<Order, OrderError> {
    for _ in 0..ATTEMPTS {
        let current = load(saga.store, customer, order_id).await?;
        let status = current.order.status;
        if !status.can_become(Status::Cancelled) {
            return Err(OrderError::CannotCancel(status));
        }
        let mut next = current.clone();
        next.order.status = Status::Cancelled;
        next.order.reason = None;
        match save(saga.store, &current, next, now, true).await {
            Ok(cancelled) => {
                return match return_money(saga, cancelled.clone(), now).await {
                    Err(OrderError::Payment(err)) => {
                        tracing::warn!(error = %err, order_id, "cancelled; the settler will return the money");
                        Ok(cancelled.order)
                    }
                    result => result,
                };
            }
            Err(StoreError::Changed) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(OrderError::Contended)
}

/// Inventory reserved the stock: capture the payment and confirm the order, or reject it
/// (`PAYMENT_FAILED`) if the capture fails. A redelivery changes nothing; a reservation
/// for an order cancelled meanwhile gives the money back.
pub async fn on_stock_reserved(
    saga: &Saga<'_>,
    customer: &str,
    order_id: &str,
    now: OffsetDateTime,
) -> Result<(), OrderError> {
    for _ in 0..ATTEMPTS {
        let current = load(saga.store, customer, order_id).await?;
        let (Status::Pending, PaymentStatus::Authorized, Some(id)) =
            (current.order.status, current.order.payment_status, current.authorization_id.clone())
        else {
            return finish(saga, current, now, false).await.map(drop);
        };
        let mut next = current.clone();
        match saga.payments.capture(&id, &step_key("capture", order_id)).await? {
            Capture::Captured => {
                next.order.status = Status::Confirmed;
                next.order.payment_status = PaymentStatus::Captured;
            }
            Capture::Failed { reason } => {
                tracing::warn!(order_id, reason, "capture failed: rejecting the order");
                next.order.status = Status::Rejected;
                next.order.reason = Some(Reason::PaymentFailed);
                next.order.payment_status = PaymentStatus::Failed;
            }
        }
        match save(saga.store, &current, next, now, true).await {
            Ok(_) => return Ok(()),
            // Cancelled or settled while we captured: the next round returns the money.
            Err(StoreError::Changed) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(OrderError::Contended)
}

/// Inventory could not reserve the stock: reject the order and release the hold.
pub async fn on_stock_rejected(
    saga: &Saga<'_>,
    customer: &str,
    order_id: &str,
    now: OffsetDateTime,
) -> Result<(), OrderError> {
    let current = load(saga.store, customer, order_id).await?;
    if current.order.status == Status::Pending {
        reject(saga, current, Reason::OutOfStock, now).await.map(drop)
    } else {
        finish(saga, current, now, false).await.map(drop)
    }
}

/// What one run of the settler did.
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Settled {
    pub examined: usize,
    pub settled: usize,
    pub failed: usize,
    /// True when the run stopped for its deadline with orders left for the next run.
    pub stopped_early: bool,
}

/// How long before the Lambda deadline the settler stops taking new orders.
const DEADLINE_MARGIN: Duration = Duration::from_secs(2);
const SETTLE_PAGE: usize = 25;

/// The scheduled settler: every order that has owed the saga a step for longer than
/// `older_than` gets it. A pending order whose hold was never recorded is authorized
/// (finishing its checkout); one still pending with a hold is rejected (`TIMED_OUT`),
/// which releases its stock and its hold; a rejected or cancelled order still holding
/// money gets it back. One order failing does not stop the others.
pub async fn settle(
    saga: &Saga<'_>,
    now: OffsetDateTime,
    older_than: Duration,
    deadline: Option<SystemTime>,
) -> Result<Settled, OrderError> {
    let before = rfc3339(now - older_than);
    let mut report = Settled::default();
    let mut after: Option<String> = None;
    loop {
        let page = saga.store.unsettled(&before, after.as_deref(), SETTLE_PAGE).await?;
        for order in &page {
            let left = deadline.map(|d| d.duration_since(SystemTime::now()).unwrap_or_default());
            if left.is_some_and(|left| left < DEADLINE_MARGIN) {
                report.stopped_early = true;
                return Ok(report);
            }
            report.examined += 1;
            let order_id = order.order.id.clone();
            match finish(saga, order.clone(), now, true).await {
                Ok(settled) => {
                    report.settled += 1;
                    tracing::info!(order_id, status = ?settled.status, payment = ?settled.payment_status, "settled");
                }
                Err(err) => {
                    report.failed += 1;
                    tracing::warn!(order_id, error = %err, "could not settle; the next run tries again");
                }
            }
        }
        match page.last() {
            Some(last) if page.len() == SETTLE_PAGE => after = Some(crate::store::settle_position(last)),
            _ => return Ok(report),
        }
    }
}

/// Takes the step the saga owes this order, if any. `timed_out`: a pending order with a
/// hold has waited too long for its stock and is rejected.
async fn finish(
    saga: &Saga<'_>,
    order: StoredOrder,
    now: OffsetDateTime,
    timed_out: bool,
) -> Result<Order, OrderError> {
    match (order.order.status, order.order.payment_status) {
        (_, PaymentStatus::Pending) => authorize(saga, order, now).await,
        (Status::Pending, _) if timed_out => reject(saga, order, Reason::TimedOut, now).await,
        (Status::Rejected | Status::Cancelled, PaymentStatus::Authorized | PaymentStatus::Captured) => {
            return_money(saga, order, now).await
        }
        _ => Ok(order.order),
    }
}

/// Rejects a pending order (`OrderRejected` releases its stock), then releases its hold.
async fn reject(saga: &Saga<'_>, order: StoredOrder, reason: Reason, now: OffsetDateTime) -> Result<Order, OrderError> {
    let mut current = order;
    for _ in 0..ATTEMPTS {
        if current.order.status != Status::Pending {
            return return_money(saga, current, now).await; // settled meanwhile
        }
        let mut next = current.clone();
        next.order.status = Status::Rejected;
        next.order.reason = Some(reason);
        match save(saga.store, &current, next, now, true).await {
            Ok(rejected) => return return_money(saga, rejected, now).await,
            Err(StoreError::Changed) => {
                current = load(saga.store, &current.customer.sub, &current.order.id).await?;
            }
            Err(err) => return Err(err.into()),
        }
    }
    Err(OrderError::Contended)
}

/// Voids the hold, or refunds the capture, of an order that will not be fulfilled, and
/// records it (`refundedAt` for a refund). Keyed by the order: done at most once.
async fn return_money(saga: &Saga<'_>, order: StoredOrder, now: OffsetDateTime) -> Result<Order, OrderError> {
    let order_id = order.order.id.clone();
    let unfulfilled = matches!(order.order.status, Status::Rejected | Status::Cancelled);
    let Some(authorization_id) = order.authorization_id.clone().filter(|_| unfulfilled) else {
        return Ok(order.order);
    };
    let refund_key = step_key("refund", &order_id);
    let refund = || saga.payments.refund(&authorization_id, &refund_key);
    let returned = match order.order.payment_status {
        PaymentStatus::Authorized => match saga.payments.void(&authorization_id, &step_key("void", &order_id)).await? {
            Void::Voided => PaymentStatus::Voided,
            Void::AlreadyCaptured => {
                refund().await?;
                PaymentStatus::Refunded
            }
        },
        PaymentStatus::Captured => {
            refund().await?;
            PaymentStatus::Refunded
        }
        _ => return Ok(order.order),
    };
    let mut current = order;
    for _ in 0..ATTEMPTS {
        if !current.needs_settling() {
            return Ok(current.order);
        }
        let mut next = current.clone();
        next.order.payment_status = returned;
        if returned == PaymentStatus::Refunded {
            next.order.refunded_at = Some(rfc3339(now));
        }
        match save(saga.store, &current, next, now, false).await {
            Ok(saved) => return Ok(saved.order),
            Err(StoreError::Changed) => current = load(saga.store, &current.customer.sub, &order_id).await?,
            Err(err) => return Err(err.into()),
        }
    }
    Err(OrderError::Contended)
}

async fn load(store: &dyn OrderStore, customer: &str, order_id: &str) -> Result<StoredOrder, OrderError> {
    store.get(customer, order_id).await?.ok_or_else(|| OrderError::NotFound(order_id.to_owned()))
}

/// Writes `next` over `current` if nobody changed it meanwhile; with `announce`, the event
/// of its (new) status goes into the outbox in the same write.
async fn save(
    store: &dyn OrderStore,
    current: &StoredOrder,
    mut next: StoredOrder,
    now: OffsetDateTime,
    announce: bool,
) -> Result<StoredOrder, StoreError> {
    next.order.updated_at = rfc3339(now);
    next.version = current.version + 1;
    let event = announce.then(|| outbox_event(&next, now));
    store.update(current.version, &next, event.as_ref()).await?;
    if announce {
        count(&next.order);
    }
    Ok(next)
}

/// Counts what an announced event says happened. Each transition is written (and
/// announced) once, so a redelivery or a retry that changes nothing counts nothing.
fn count(order: &Order) {
    match order.status {
        Status::Pending => metrics::order_placed(),
        Status::Confirmed => metrics::order_confirmed(&order.total),
        Status::Rejected => metrics::order_rejected(order.reason.map_or("UNKNOWN", Reason::as_str)),
        Status::Cancelled => metrics::order_cancelled(),
    }
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
