//! What the order service's events tell us, parsed into what a notice needs: which order,
//! what happened to it, and where to tell the shopper.
//!
//! Parsing is lenient about what we do not use (unknown fields are ignored, so the order
//! service can add some) and strict about what a key or a message is built from: an order
//! id that could not be a key fails the message, an unusable address only skips its channel.

use bookish_shared::money::Money;
use serde::Deserialize;

/// `data` of OrderConfirmed, OrderRejected and OrderCancelled.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderEventData {
    pub order: Order,
    /// The shopper's Cognito `sub`; only logged here.
    #[serde(default)]
    pub customer_id: Option<String>,
}

/// The order as GET /v1/orders/{id} shows it, plus `customer`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    pub lines: Vec<OrderLine>,
    pub total: Money,
    #[serde(default)]
    pub shipping_address: Option<ShippingAddress>,
    // No `phone`: a number the order's body named (as checkout once took) is never texted.
    // Serde ignores it, with every other field not read here.
    #[serde(default)]
    pub customer: Option<Customer>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderLine {
    pub title: String,
    pub unit_price: Money,
    pub quantity: u32,
    pub line_total: Money,
}

/// Only the name is used (to greet the shopper); the rest of the address is ignored.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ShippingAddress {
    #[serde(default)]
    pub name: Option<String>,
}

/// Who placed the order, as the order service recorded it from their token.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Customer {
    /// The account's address, recorded only when the token said it was verified.
    #[serde(default)]
    pub email: Option<String>,
    /// The Cognito username, to look the account's verified contacts up when the order
    /// carries none.
    #[serde(default)]
    pub username: Option<String>,
    /// The account's phone number, recorded only when the token said it was verified.
    #[serde(default)]
    pub phone: Option<String>,
}

/// The statuses a shopper is told about, one per event type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Confirmed,
    Rejected,
    Cancelled,
}

impl Status {
    /// The status an event announces; `None` for events this service does not act on.
    pub fn from_event_type(kind: &str) -> Option<Self> {
        match kind {
            "OrderConfirmed" => Some(Self::Confirmed),
            "OrderRejected" => Some(Self::Rejected),
            "OrderCancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }

    /// As the order service writes it, and as the sent log keys it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "CONFIRMED",
            Self::Rejected => "REJECTED",
            Self::Cancelled => "CANCELLED",
        }
    }
}

/// Why an order was rejected. Codes we do not know are kept but never shown to the shopper.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    OutOfStock,
    PaymentDeclined,
    PaymentFailed,
    TimedOut,
    Other(String),
}

impl Reason {
    pub fn parse(code: &str) -> Self {
        match code {
            "OUT_OF_STOCK" => Self::OutOfStock,
            "PAYMENT_DECLINED" => Self::PaymentDeclined,
            "PAYMENT_FAILED" => Self::PaymentFailed,
            "TIMED_OUT" => Self::TimedOut,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// An order id safe to put in a sent-log key (`#` separates its parts) and in a message.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OrderId(String);

impl OrderId {
    pub const MAX_LEN: usize = 128;

    /// Order ids are UUIDs; anything made of letters, digits, `-` and `_` is accepted.
    pub fn parse(id: &str) -> Result<Self, String> {
        let ok = !id.is_empty()
            && id.len() <= Self::MAX_LEN
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(id.to_owned()))
        } else {
            Err(format!(
                "order id {id:?} is not an id (letters, digits, '-' and '_', at most {} of them)",
                Self::MAX_LEN
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for OrderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An address SES can be asked to deliver to. Deliberately loose: SES is the judge of what
/// is deliverable; this only keeps out what is plainly not an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, String> {
        let address = input.trim();
        let ok = address.len() <= 254
            && address.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.contains('@')
            })
            && !address.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'));
        if ok {
            Ok(Self(address.to_owned()))
        } else {
            Err(format!("{input:?} is not an email address"))
        }
    }

    /// The address, or `None` (logged) when it is not one.
    pub fn usable(input: &str, order_id: &OrderId) -> Option<Self> {
        Self::parse(input)
            .map_err(|err| tracing::warn!(order_id = %order_id, error = %err, "ignoring the email address"))
            .ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A phone number in E.164 (`+15555550100`), as SNS wants it. Spaces, dots, hyphens and
/// parentheses a shopper may have typed are dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(input: &str) -> Result<Self, String> {
        let compact: String = input.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).collect();
        let digits = compact.strip_prefix('+').unwrap_or("");
        let ok =
            (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
        if ok {
            Ok(Self(compact))
        } else {
            Err(format!("{input:?} is not an international phone number such as +15555550100"))
        }
    }

    /// The number, or `None` (logged) when it is not one.
    pub fn usable(input: &str, order_id: &OrderId) -> Option<Self> {
        Some(input).filter(|p| !p.trim().is_empty()).and_then(|raw| {
            Self::parse(raw)
                .map_err(|err| tracing::warn!(order_id = %order_id, error = %err, "ignoring the phone number"))
                .ok()
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Everything needed to tell a shopper what happened to their order.
#[derive(Clone, Debug)]
pub struct Notice {
    pub order_id: OrderId,
    pub status: Status,
    pub reason: Option<Reason>,
    pub greeting_name: Option<String>,
    pub lines: Vec<OrderLine>,
    pub total: Money,
    /// The shopper's verified address, as the order recorded it.
    pub email: Option<EmailAddress>,
    /// Whose account to take the verified contacts from when the order carries none.
    pub username: Option<String>,
    /// The shopper's verified phone number, as the order recorded it (`customer.phone`).
    pub phone: Option<PhoneNumber>,
}

impl Notice {
    /// Builds the notice for `status`. Only an unusable order id is an error: without it
    /// there is nothing to key the sent log by. A missing or invalid address or phone
    /// number leaves that channel out (logged), since retrying would not make one appear.
    pub fn new(status: Status, order: Order) -> Result<Self, String> {
        let order_id = OrderId::parse(&order.id)?;
        if let Some(stated) = order.status.as_deref().filter(|s| *s != status.as_str()) {
            // The event type is what happened; the snapshot should agree. Worth a look, not a failure.
            tracing::warn!(order_id = %order_id, event_status = status.as_str(), order_status = stated,
                "the order's status differs from its event's");
        }
        let customer = order.customer.unwrap_or_default();
        let email = customer.email.as_deref().and_then(|raw| EmailAddress::usable(raw, &order_id));
        // Only the customer's verified number; never a number the order's body named.
        let phone = customer.phone.as_deref().and_then(|raw| PhoneNumber::usable(raw, &order_id));
        Ok(Self {
            order_id,
            status,
            reason: order.reason.as_deref().map(Reason::parse),
            greeting_name: order
                .shipping_address
                .and_then(|a| a.name)
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty()),
            lines: order.lines,
            total: order.total,
            email,
            username: customer.username.filter(|u| !u.is_empty()),
            phone,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids_are_safe_key_parts() {
        assert!(OrderId::parse("0191e5f2-7c3a-7d4e-8f00-123456789abc").is_ok());
        for bad in ["", "a#b", "a b", "<script>", &"x".repeat(129), "ünïcode"] {
            assert!(OrderId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn email_addresses_are_checked_loosely() {
        assert_eq!(EmailAddress::parse(" shopper@bookish.local ").unwrap().as_str(), "shopper@bookish.local");
        for bad in ["", "shopper", "@bookish.local", "shopper@localhost", "a b@c.d", "a@b.c, x@y.z", "a@b@c.d"] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phone_numbers_are_e164() {
        assert_eq!(PhoneNumber::parse("+1 (555) 555-0100").unwrap().as_str(), "+15555550100");
        for bad in ["", "5555550100", "+0555550100", "+1555", "+1555555010012345", "+1555abc0100"] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reads_the_order_from_an_event_ignoring_what_it_does_not_use() {
        let data: OrderEventData = serde_json::from_value(serde_json::json!({
            "order": {
                "id": "o-1", "status": "CONFIRMED", "lines": [{"bookId": "b", "title": "1984",
                "unitPrice": {"amount": 999, "currency": "USD"}, "quantity": 2,
                "lineTotal": {"amount": 1998, "currency": "USD"}}],
                "total": {"amount": 1998, "currency": "USD"},
                "shippingAddress": {"name": " Ada ", "line1": "1 Main St", "city": "X", "postalCode": "1", "country": "US"},
                "createdAt": "t", "updatedAt": "t", "somethingNew": true,
                "customer": {"sub": "s", "email": "ada@example.com", "phone": "+15555550100"}
            },
            "customerId": "s"
        }))
        .unwrap();
        let notice = Notice::new(Status::Confirmed, data.order).unwrap();
        assert_eq!(notice.greeting_name.as_deref(), Some("Ada"));
        assert_eq!(notice.email.unwrap().as_str(), "ada@example.com");
        assert_eq!(notice.phone.unwrap().as_str(), "+15555550100");
        assert_eq!(notice.lines[0].quantity, 2);
    }

    #[test]
    fn a_phone_number_on_the_order_itself_is_ignored() {
        // Checkout once took a number in its body: it could be anyone's, so it is never read.
        let order = |customer: serde_json::Value| -> Order {
            serde_json::from_value(serde_json::json!({
                "id": "o-1", "lines": [], "total": {"amount": 0, "currency": "USD"},
                "phone": "+15555550199", "customer": customer
            }))
            .unwrap()
        };
        let notice = Notice::new(Status::Confirmed, order(serde_json::json!({"sub": "s"}))).unwrap();
        assert_eq!(notice.phone, None);
        let notice =
            Notice::new(Status::Confirmed, order(serde_json::json!({"sub": "s", "phone": "+15555550100"}))).unwrap();
        assert_eq!(notice.phone.unwrap().as_str(), "+15555550100");
    }
}
