//! Orders, their lifecycle, and the checkout request that starts one.

use bookish_shared::money::Money;
use bookish_shared::text::required;
use bookish_shared::Problem;
use serde::{Deserialize, Serialize};

/// PENDING → CONFIRMED (stock reserved, payment captured) or REJECTED; PENDING or
/// CONFIRMED → CANCELLED. Nothing else.
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
    PaymentDeclined,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub payment_status: PaymentStatus,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    /// Cognito `sub`.
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Cognito username: the notification service looks the address up by it when the
    /// token had no `email` claim (an access token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentStatus {
    Authorized,
    Captured,
    Voided,
    Refunded,
    Declined,
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
    pub correlation_id: String,
    /// Bumped by every change; writes are conditional on it.
    pub version: u64,
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
    #[serde(default)]
    pub phone: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentInput {
    pub token: String,
}

/// A checkout request that passed validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkout {
    pub shipping_address: ShippingAddress,
    pub payment_token: String,
    pub phone: Option<String>,
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
        let phone = match self.phone.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(phone) => {
                let digits = phone.strip_prefix('+').unwrap_or("");
                if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(Problem::invalid(
                        "phone",
                        "phone is an E.164 number: + then 8 to 15 digits, such as +15555550100.",
                    ));
                }
                Some(phone.to_owned())
            }
        };
        let payment_token = required("payment.token", &self.payment.token, 255)?;
        Ok(Checkout { shipping_address: address, payment_token, phone })
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
                           "payment": {"token": "tok_visa"}, "phone": "+15555550100"})
    }

    #[test]
    fn parses_a_checkout() {
        let checkout = input(valid()).unwrap();
        assert_eq!(checkout.payment_token, "tok_visa");
        assert_eq!(checkout.phone.as_deref(), Some("+15555550100"));
    }

    #[test]
    fn names_the_invalid_field() {
        for (path, value, field) in [
            ("/shippingAddress/country", serde_json::json!("usa"), "shippingAddress.country"),
            ("/shippingAddress/name", serde_json::json!(" "), "shippingAddress.name"),
            ("/phone", serde_json::json!("555-0100"), "phone"),
            ("/payment/token", serde_json::json!(""), "payment.token"),
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
