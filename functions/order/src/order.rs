//! Orders, their lifecycle, and the checkout request that starts one.

use bookish_shared::money::Money;
use bookish_shared::text::required;
use bookish_shared::Problem;
use serde::{Deserialize, Serialize};

/// PENDING → CONFIRMED (stock reserved, payment captured) or REJECTED (declined, out of
/// stock, capture failed, or not settled in time); PENDING or CONFIRMED → CANCELLED.
/// Nothing else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Pending,
    Confirmed,
    Rejected,
    Cancelled,
}

impl Status {
    pub fn can_become(self, next: Status) -> bool {
        matches!(
            (self, next),
            (Status::Pending, Status::Confirmed | Status::Rejected | Status::Cancelled)
                | (Status::Confirmed, Status::Cancelled)
        )
    }

    /// The integration event announcing that an order reached this status.
    pub fn event_type(self) -> &'static str {
        match self {
            Status::Pending => "OrderPlaced",
            Status::Confirmed => "OrderConfirmed",
            Status::Rejected => "OrderRejected",
            Status::Cancelled => "OrderCancelled",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Reason {
    OutOfStock,
    /// The card was declined when checkout asked for the hold.
    PaymentDeclined,
    /// The hold could not be captured once the stock was reserved.
    PaymentFailed,
    /// Nothing settled the order before its deadline (see `service::settle`).
    TimedOut,
}

impl Reason {
    /// As the API and the events spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::OutOfStock => "OUT_OF_STOCK",
            Reason::PaymentDeclined => "PAYMENT_DECLINED",
            Reason::PaymentFailed => "PAYMENT_FAILED",
            Reason::TimedOut => "TIMED_OUT",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Line {
    pub book_id: String,
    pub title: String,
    pub unit_price: Money,
    pub quantity: u32,
    pub line_total: Money,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShippingAddress {
    pub name: String,
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

/// An order as its shopper sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub id: String,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    pub lines: Vec<Line>,
    pub total: Money,
    pub shipping_address: ShippingAddress,
    pub payment_status: PaymentStatus,
    pub created_at: String,
    pub updated_at: String,
    /// When the captured amount was given back (a cancelled confirmed order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    /// Cognito `sub`.
    pub sub: String,
    /// The account's address, only when the token said it is verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Cognito username: the notification service looks the account's verified contacts
    /// up by it when the token carried none (an access token, or unverified ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The account's phone number, only when the token said it is verified: the only
    /// number an order is ever texted at. Never taken from a request body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentStatus {
    /// The order is recorded and its hold not asked for yet (or the answer not recorded).
    Pending,
    Authorized,
    Captured,
    Voided,
    Refunded,
    Declined,
    /// The capture failed: no money was taken.
    Failed,
}

/// An order with what only the service sees: whose it is, its payment authorization, the
/// correlation id its events carry, and its version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredOrder {
    pub order: Order,
    pub customer: Customer,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_id: Option<String>,
    /// The payment method the shopper checked out with: a hold asked for again (a retried
    /// checkout, the settler) uses the same one under the same idempotency key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<String>,
    pub correlation_id: String,
    /// Bumped by every change; writes are conditional on it.
    pub version: u64,
}

impl StoredOrder {
    /// Whether the saga still owes this order a step: a pending order must end confirmed or
    /// rejected, and an order that will not be fulfilled must have its money returned.
    /// The settler finds exactly these orders.
    ///
    /// An order cancelled before its hold was recorded counts too: the provider may have
    /// made the hold (its answer lost), and only asking again under the same key can tell.
    pub fn needs_settling(&self) -> bool {
        let holds_money = matches!(self.order.payment_status, PaymentStatus::Authorized | PaymentStatus::Captured);
        match self.order.status {
            Status::Pending => true,
            Status::Rejected | Status::Cancelled => holds_money || self.order.payment_status == PaymentStatus::Pending,
            Status::Confirmed => false,
        }
    }
}

/// What order events carry: the order, and who to tell about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderEventData {
    pub order: EventOrder,
    pub customer_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventOrder {
    #[serde(flatten)]
    pub order: Order,
    pub customer: Customer,
}

/// The body of `POST /v1/orders`, as sent.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckoutInput {
    pub shipping_address: ShippingAddress,
    pub payment: PaymentInput,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaymentInput {
    /// A Stripe PaymentMethod id (`pm_…`), as Stripe.js creates from the card form.
    pub payment_method: String,
}

/// A checkout request that passed validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkout {
    pub shipping_address: ShippingAddress,
    pub payment_method: String,
}

impl CheckoutInput {
    pub fn parse(self) -> Result<Checkout, Problem> {
        let a = self.shipping_address;
        let address = ShippingAddress {
            name: required("shippingAddress.name", &a.name, 200)?,
            line1: required("shippingAddress.line1", &a.line1, 200)?,
            line2: match a.line2.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(line2) => Some(required("shippingAddress.line2", line2, 200)?),
            },
            city: required("shippingAddress.city", &a.city, 100)?,
            postal_code: required("shippingAddress.postalCode", &a.postal_code, 20)?,
            country: {
                let country = a.country.trim();
                if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
                    return Err(Problem::invalid(
                        "shippingAddress.country",
                        "country is a two-letter ISO 3166 code such as US or GB.",
                    ));
                }
                country.to_owned()
            },
        };
        let payment_method = self.payment.payment_method.trim();
        let id = payment_method.strip_prefix("pm_").unwrap_or("");
        if id.is_empty() || id.len() > 250 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(Problem::invalid(
                "payment.paymentMethod",
                "paymentMethod is a Stripe PaymentMethod id such as pm_card_visa (Stripe.js creates one from the card form).",
            ));
        }
        Ok(Checkout { shipping_address: address, payment_method: payment_method.to_owned() })
    }
}

/// The client's `Idempotency-Key`: the same key with the same body places one order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(header: Option<&str>) -> Result<Self, Problem> {
        match header {
            Some(key) if (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) => {
                Ok(Self(key.to_owned()))
            }
            Some(_) => {
                Err(Problem::invalid("Idempotency-Key", "Idempotency-Key must be 1 to 255 visible ASCII characters."))
            }
            None => Err(Problem::invalid(
                "Idempotency-Key",
                "Send an Idempotency-Key header (for example a UUID) so a retried checkout places one order.",
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_named_as_serialized() {
        for reason in [Reason::OutOfStock, Reason::PaymentDeclined, Reason::PaymentFailed, Reason::TimedOut] {
            assert_eq!(serde_json::to_value(reason).unwrap(), reason.as_str());
        }
    }

    #[test]
    fn only_the_documented_transitions_are_allowed() {
        use Status::*;
        let all = [Pending, Confirmed, Rejected, Cancelled];
        let allowed: Vec<(Status, Status)> =
            all.iter().flat_map(|a| all.iter().map(move |b| (*a, *b))).filter(|(a, b)| a.can_become(*b)).collect();
        assert_eq!(allowed, [(Pending, Confirmed), (Pending, Rejected), (Pending, Cancelled), (Confirmed, Cancelled)]);
    }

    fn input(json: serde_json::Value) -> Result<Checkout, Problem> {
        serde_json::from_value::<CheckoutInput>(json).unwrap().parse()
    }

    fn valid() -> serde_json::Value {
        serde_json::json!({"shippingAddress": {"name": "Ada", "line1": "1 Main St", "city": "Springfield", "postalCode": "12345", "country": "US"},
                           "payment": {"paymentMethod": "pm_card_visa"}})
    }

    #[test]
    fn parses_a_checkout() {
        let checkout = input(valid()).unwrap();
        assert_eq!(checkout.payment_method, "pm_card_visa");
    }

    #[test]
    fn a_phone_number_is_not_part_of_a_checkout() {
        // Texts go to the account's verified number only, never to one a body names.
        let mut body = valid();
        body["phone"] = serde_json::json!("+15555550100");
        let err = serde_json::from_value::<CheckoutInput>(body).unwrap_err();
        assert!(err.to_string().contains("unknown field `phone`"), "{err}");
    }

    #[test]
    fn names_the_invalid_field() {
        for (path, value, field) in [
            ("/shippingAddress/country", serde_json::json!("usa"), "shippingAddress.country"),
            ("/shippingAddress/name", serde_json::json!(" "), "shippingAddress.name"),
            ("/payment/paymentMethod", serde_json::json!(""), "payment.paymentMethod"),
            ("/payment/paymentMethod", serde_json::json!("tok_visa"), "payment.paymentMethod"),
            ("/payment/paymentMethod", serde_json::json!("pm_"), "payment.paymentMethod"),
            ("/payment/paymentMethod", serde_json::json!("pm_a b"), "payment.paymentMethod"),
        ] {
            let mut body = valid();
            *body.pointer_mut(path).unwrap() = value;
            assert_eq!(input(body).unwrap_err().field.as_deref(), Some(field));
        }
    }

    #[test]
    fn idempotency_keys_are_short_visible_ascii() {
        assert!(IdempotencyKey::parse(Some("3f1c-key")).is_ok());
        for bad in [None, Some(""), Some("has space"), Some(&*"k".repeat(256))] {
            assert!(IdempotencyKey::parse(bad).is_err());
        }
    }
}
