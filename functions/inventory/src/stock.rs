//! Stock and reservations: what the inventory keeps, what it reads from order events and
//! what it tells the order service back. Parsed at the boundary, so a negative stock, an
//! empty quantity or an order of 500 lines cannot exist past it.

use bookish_shared::Problem;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The most copies an admin may say are in stock.
pub const MAX_AVAILABLE: i64 = 1_000_000;
/// Lines one order may hold (the cart's limit). One reservation transaction touches every
/// line's stock plus the reservation itself, so this keeps it within DynamoDB's 100 items.
pub const MAX_LINES: usize = 50;

/// A book id as a path or an order names it. Ids the catalog could never have issued are
/// simply not found.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BookId(String);

impl BookId {
    pub fn parse(id: &str) -> Option<Self> {
        is_plausible_id(id).then(|| Self(id.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An order id (a UUIDv7 string, issued by the order service).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrderId(String);

impl OrderId {
    pub fn parse(id: &str) -> Option<Self> {
        is_plausible_id(id).then(|| Self(id.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_plausible_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Copies in stock: never negative. Admins set 0 to 1,000,000; releasing reservations may
/// take it past that, so stored values are only held to be non-negative.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Available(u32);

impl Available {
    pub const NONE: Self = Self(0);

    pub fn parse(available: i64) -> Result<Self, Problem> {
        if (0..=MAX_AVAILABLE).contains(&available) {
            Ok(Self(available as u32))
        } else {
            Err(Problem::invalid("available", format!("available must be a whole number from 0 to {MAX_AVAILABLE}.")))
        }
    }

    /// A count read back from the store; `None` if it is not a count at all.
    pub fn from_stored(available: i64) -> Option<Self> {
        u32::try_from(available).ok().map(Self)
    }

    pub fn get(self) -> u32 {
        self.0
    }

    pub fn covers(self, quantity: Quantity) -> bool {
        self.0 >= quantity.0
    }
}

/// How many copies one order line asks for: at least one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity(u32);

impl Quantity {
    pub fn parse(quantity: i64) -> Option<Self> {
        (1..=MAX_AVAILABLE).contains(&quantity).then_some(Self(quantity as u32))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub book_id: BookId,
    pub quantity: Quantity,
}

/// What one order asks the inventory to hold: distinct books, 1 to 50 of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReservationRequest {
    pub order_id: OrderId,
    pub customer_id: String,
    pub lines: Vec<Line>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReservationStatus {
    /// The stock is held for the order.
    Reserved,
    /// There was not enough stock; nothing is held.
    Rejected,
    /// The order was cancelled and its stock given back.
    Released,
    /// The order was cancelled before it was ever reserved: a tombstone, so a late
    /// OrderPlaced reserves nothing.
    Cancelled,
}

impl ReservationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reserved => "RESERVED",
            Self::Rejected => "REJECTED",
            Self::Released => "RELEASED",
            Self::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(status: &str) -> Option<Self> {
        [Self::Reserved, Self::Rejected, Self::Released, Self::Cancelled].into_iter().find(|s| s.as_str() == status)
    }
}

/// A book an order wanted more of than there was.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shortage {
    pub book_id: BookId,
    pub requested: u32,
    pub available: u32,
}

/// What the inventory decided for one order, recorded under the order id so that every
/// later delivery of the same event finds it and changes nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    pub order_id: OrderId,
    pub customer_id: String,
    pub status: ReservationStatus,
    /// What is (or was) held; empty unless the order was reserved.
    pub lines: Vec<Line>,
    /// Why the order was rejected; empty unless it was.
    pub shortages: Vec<Shortage>,
    /// When the decision was made (RFC 3339): re-announced outcomes carry it unchanged.
    pub at: String,
}

impl Reservation {
    pub fn reserved(request: &ReservationRequest, now: OffsetDateTime) -> Self {
        Self::new(request.order_id.clone(), &request.customer_id, ReservationStatus::Reserved, now)
            .with_lines(request.lines.clone())
    }

    pub fn rejected(request: &ReservationRequest, shortages: Vec<Shortage>, now: OffsetDateTime) -> Self {
        Self {
            shortages,
            ..Self::new(request.order_id.clone(), &request.customer_id, ReservationStatus::Rejected, now)
        }
    }

    pub fn cancelled(order_id: OrderId, customer_id: &str, now: OffsetDateTime) -> Self {
        Self::new(order_id, customer_id, ReservationStatus::Cancelled, now)
    }

    fn new(order_id: OrderId, customer_id: &str, status: ReservationStatus, now: OffsetDateTime) -> Self {
        Self {
            order_id,
            customer_id: customer_id.to_owned(),
            status,
            lines: Vec::new(),
            shortages: Vec::new(),
            at: bookish_shared::events::rfc3339(now),
        }
    }

    fn with_lines(self, lines: Vec<Line>) -> Self {
        Self { lines, ..self }
    }

    /// The event that tells the order service this decision, if it is one the order
    /// service waits for.
    pub fn outcome(&self) -> Option<StockOutcome> {
        let order_id = self.order_id.as_str().to_owned();
        let customer_id = self.customer_id.clone();
        match self.status {
            ReservationStatus::Reserved => Some(StockOutcome::Reserved(StockReserved { order_id, customer_id })),
            ReservationStatus::Rejected => Some(StockOutcome::Rejected(StockRejected {
                order_id,
                customer_id,
                reason: RejectionReason::OutOfStock,
                shortages: self.shortages.clone(),
            })),
            ReservationStatus::Released | ReservationStatus::Cancelled => None,
        }
    }
}

// ---- Consumed: the parts of the order service's events the inventory reads ----

/// `data` of OrderPlaced, OrderRejected and OrderCancelled. Everything else the order
/// service sends (titles, prices, addresses) is none of the inventory's business and ignored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderEvent {
    pub order: OrderData,
    pub customer_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderData {
    pub id: String,
    #[serde(default)]
    pub lines: Vec<OrderLine>,
    /// Why a rejected order was rejected.
    #[serde(default)]
    pub reason: Option<String>,
}

impl OrderData {
    /// An order declined at checkout was never placed (no OrderPlaced): nothing to release.
    pub fn was_never_placed(&self) -> bool {
        self.reason.as_deref() == Some("PAYMENT_DECLINED")
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderLine {
    pub book_id: String,
    pub quantity: i64,
}

/// An order event the inventory cannot act on. Retrying will not help; the queue's DLQ
/// (and its alarm) is where it belongs.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed order event: {0}")]
pub struct Malformed(pub String);

impl OrderEvent {
    pub fn order_id(&self) -> Result<OrderId, Malformed> {
        OrderId::parse(&self.order.id)
            .ok_or_else(|| Malformed(format!("order.id '{}' is not an order id", self.order.id)))
    }

    /// What to reserve. Two lines for one book become one (a transaction may touch an
    /// item only once).
    pub fn reservation_request(&self) -> Result<ReservationRequest, Malformed> {
        let order_id = self.order_id()?;
        if self.customer_id.is_empty() {
            return Err(Malformed("customerId is empty".into()));
        }
        let mut lines: Vec<Line> = Vec::new();
        for (index, line) in self.order.lines.iter().enumerate() {
            let book_id = BookId::parse(&line.book_id)
                .ok_or_else(|| Malformed(format!("order.lines.{index}.bookId '{}' is not a book id", line.book_id)))?;
            let quantity = Quantity::parse(line.quantity)
                .ok_or_else(|| Malformed(format!("order.lines.{index}.quantity {} is out of range", line.quantity)))?;
            match lines.iter_mut().find(|l| l.book_id == book_id) {
                Some(same) => {
                    same.quantity = Quantity::parse(i64::from(same.quantity.get()) + i64::from(quantity.get()))
                        .ok_or_else(|| Malformed(format!("order.lines.{index}.quantity adds up out of range")))?;
                }
                None => lines.push(Line { book_id, quantity }),
            }
        }
        if !(1..=MAX_LINES).contains(&lines.len()) {
            return Err(Malformed(format!("an order holds 1 to {MAX_LINES} books, not {}", lines.len())));
        }
        Ok(ReservationRequest { order_id, customer_id: self.customer_id.clone(), lines })
    }
}

// ---- Published: the outcomes the order service waits for, on ORDER_STOCK_QUEUE_URL ----

pub const STOCK_RESERVED: &str = "StockReserved";
pub const STOCK_REJECTED: &str = "StockRejected";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StockReserved {
    pub order_id: String,
    pub customer_id: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RejectionReason {
    OutOfStock,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StockRejected {
    pub order_id: String,
    pub customer_id: String,
    pub reason: RejectionReason,
    pub shortages: Vec<Shortage>,
}

/// The `data` of whichever event announces a decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum StockOutcome {
    Reserved(StockReserved),
    Rejected(StockRejected),
}

impl StockOutcome {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Reserved(_) => STOCK_RESERVED,
            Self::Rejected(_) => STOCK_REJECTED,
        }
    }

    /// The same for every announcement of one order's outcome, so the order service can
    /// drop the copies a redelivery re-announces.
    pub fn event_id(&self) -> String {
        let order_id = match self {
            Self::Reserved(event) => &event.order_id,
            Self::Rejected(event) => &event.order_id,
        };
        format!("{}-{order_id}", self.kind())
    }
}

// ---- Stock and the changes admins make to it ----

/// How often a book's stock has changed: every write bumps it by one (an admin's set or
/// adjustment, a reservation, a release), so a count read at one version is the count
/// until the version moves. A book never stocked, or an item written before versions
/// existed, is at version 0. `"<version>"` is the stock's entity tag.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Version(u64);

impl Version {
    pub const NONE: Self = Self(0);

    pub fn new(version: u64) -> Self {
        Self(version)
    }

    /// A version read back from the store; `None` if it is not one.
    pub fn from_stored(version: i64) -> Option<Self> {
        u64::try_from(version).ok().map(Self)
    }

    pub fn get(self) -> u64 {
        self.0
    }

    /// The version after one more change.
    pub fn next(self) -> Self {
        Self(self.0 + 1)
    }

    /// The strong entity tag of the stock at this version: `"3"`.
    pub fn etag(self) -> String {
        format!("\"{}\"", self.0)
    }
}

/// A book's stock as stored: its count and how often it has changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stock {
    pub available: Available,
    pub version: Version,
}

/// What an admin's write is conditional on: the `If-Match` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// `"<version>"`: the stock is still at the version the admin read.
    Version(Version),
    /// `*`: the book has no stock record yet (the first count of a new book).
    Unstocked,
}

impl Precondition {
    /// Reads an `If-Match` value: `*`, or one entity tag as `GET` gives it (`"3"`). Lists,
    /// weak tags and tags this service never issues are not preconditions it can check.
    pub fn parse(if_match: &str) -> Option<Self> {
        let value = if_match.trim();
        if value == "*" {
            return Some(Self::Unstocked);
        }
        let digits = value.strip_prefix('"')?.strip_suffix('"')?;
        let version: u64 = digits.bytes().all(|b| b.is_ascii_digit()).then(|| digits.parse().ok()).flatten()?;
        // Strong comparison is character by character: "03" is not the tag "3".
        (version.to_string() == digits).then_some(Self::Version(Version(version)))
    }

    /// Whether stock in this state (`None`: the book has no stock record) satisfies it.
    pub fn holds(self, stored: Option<Stock>) -> bool {
        match self {
            Self::Unstocked => stored.is_none(),
            Self::Version(version) => stored.unwrap_or_default().version == version,
        }
    }
}

/// Copies an admin adds (positive) or takes away (negative) whatever the count is: a whole
/// number within ±1,000,000, never 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Adjustment(i32);

impl Adjustment {
    pub fn parse(adjust: i64) -> Result<Self, Problem> {
        if adjust != 0 && (-MAX_AVAILABLE..=MAX_AVAILABLE).contains(&adjust) {
            Ok(Self(adjust as i32))
        } else {
            Err(Problem::invalid(
                "adjust",
                format!("adjust must be a whole number from -{MAX_AVAILABLE} to {MAX_AVAILABLE}, and not 0."),
            ))
        }
    }

    pub fn get(self) -> i32 {
        self.0
    }

    /// The count after this adjustment, if it stays in range: taking copies away may not
    /// go below 0, adding them may not go past MAX_AVAILABLE. (Each bound is checked only
    /// in its own direction: a count that releases took past the maximum can still fall.)
    pub fn apply(self, available: Available) -> Option<Available> {
        let after = i64::from(available.get()) + i64::from(self.0);
        let in_range = if self.0 < 0 { after >= 0 } else { after <= MAX_AVAILABLE };
        in_range.then(|| Available::from_stored(after)).flatten()
    }
}

/// What an admin's `PUT /v1/inventory/{bookId}` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StockChange {
    /// `{"available": n}`: this many copies, if the stock is still what the admin read.
    Set(Available),
    /// `{"adjust": d}`: d copies more (or fewer) than there are now, atomically.
    Adjust(Adjustment),
}

// ---- HTTP ----

/// `GET` and `PUT /v1/inventory/{bookId}` answer with this (and `ETag: "<version>"`).
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct StockView {
    pub book_id: BookId,
    pub available: Available,
    pub version: Version,
}

impl StockView {
    pub fn new(book_id: BookId, stock: Stock) -> Self {
        Self { book_id, available: stock.available, version: stock.version }
    }
}

/// The body of `PUT /v1/inventory/{bookId}`: exactly one of `{"available": <whole number>}`
/// and `{"adjust": <whole number>}`, checked by `change`.
#[derive(Debug, Default)]
pub struct StockInput {
    pub available: Option<i64>,
    pub adjust: Option<i64>,
}

impl StockInput {
    pub fn change(self) -> Result<StockChange, Problem> {
        match (self.available, self.adjust) {
            (Some(available), None) => Ok(StockChange::Set(Available::parse(available)?)),
            (None, Some(adjust)) => Ok(StockChange::Adjust(Adjustment::parse(adjust)?)),
            (Some(_), Some(_)) => Err(Problem::invalid(
                "body",
                "Send either available (the new count, with If-Match) or adjust (copies to add or take away), not both.",
            )),
            (None, None) => Err(Problem::invalid(
                "available",
                "Send available (the new count, with If-Match) or adjust (copies to add or take away).",
            )),
        }
    }
}

/// By hand, because a derived struct also accepts a JSON array (`[3]`) in field order.
impl<'de> Deserialize<'de> for StockInput {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::{Error, MapAccess, Visitor};

        // Unknown keys fail while the key is read, so the error names that key.
        #[derive(Deserialize)]
        #[serde(field_identifier, rename_all = "camelCase")]
        enum Field {
            Available,
            Adjust,
        }

        struct Object;
        impl<'de> Visitor<'de> for Object {
            type Value = StockInput;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object {\"available\": <whole number>} or {\"adjust\": <whole number>}")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StockInput, A::Error> {
                let mut input = StockInput::default();
                while let Some(field) = map.next_key()? {
                    let (slot, name) = match field {
                        Field::Available => (&mut input.available, "available"),
                        Field::Adjust => (&mut input.adjust, "adjust"),
                    };
                    if slot.replace(map.next_value::<i64>()?).is_some() {
                        return Err(A::Error::duplicate_field(name));
                    }
                }
                Ok(input)
            }
        }

        deserializer.deserialize_struct("StockInput", &["available", "adjust"], Object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(lines: serde_json::Value) -> OrderEvent {
        serde_json::from_value(json!({"order": {"id": "0193a5b2-7c4e-7d10-9f3a-2b6c8d9e0f11", "lines": lines, "total": {}}, "customerId": "sub-1"}))
            .unwrap()
    }

    #[test]
    fn available_runs_from_zero_to_a_million() {
        assert_eq!(Available::parse(0).unwrap().get(), 0);
        assert_eq!(Available::parse(MAX_AVAILABLE).unwrap().get(), 1_000_000);
        for bad in [-1, MAX_AVAILABLE + 1, i64::MIN, i64::MAX] {
            assert_eq!(Available::parse(bad).unwrap_err().field.as_deref(), Some("available"));
        }
        assert_eq!(Available::from_stored(-1), None);
        assert_eq!(Available::from_stored(2_000_000).map(Available::get), Some(2_000_000));
    }

    #[test]
    fn ids_are_short_and_plain() {
        assert!(BookId::parse("3f1c0a9e8b7d4c2a9e8b7d4c2a9e8b7d").is_some());
        assert!(OrderId::parse("0193a5b2-7c4e-7d10-9f3a-2b6c8d9e0f11").is_some());
        for bad in ["", "a/b", "a b", "a#b", &"x".repeat(65), "é"] {
            assert!(BookId::parse(bad).is_none(), "{bad}");
            assert!(OrderId::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn reads_only_what_it_needs_and_merges_lines_of_one_book() {
        let request = event(json!([
            {"bookId": "a", "quantity": 2, "title": "A", "unitPrice": {"amount": 1, "currency": "USD"}},
            {"bookId": "b", "quantity": 1},
            {"bookId": "a", "quantity": 3},
        ]))
        .reservation_request()
        .unwrap();
        let lines: Vec<(&str, u32)> = request.lines.iter().map(|l| (l.book_id.as_str(), l.quantity.get())).collect();
        assert_eq!(lines, [("a", 5), ("b", 1)]);
        assert_eq!(request.customer_id, "sub-1");
    }

    #[test]
    fn refuses_orders_it_cannot_reserve() {
        for lines in [
            json!([]),
            json!([{"bookId": "a", "quantity": 0}]),
            json!([{"bookId": "a", "quantity": -2}]),
            json!([{"bookId": "a/b", "quantity": 1}]),
            json!([{"bookId": "a", "quantity": MAX_AVAILABLE}, {"bookId": "a", "quantity": 1}]),
            json!((0..=MAX_LINES).map(|i| json!({"bookId": format!("b{i}"), "quantity": 1})).collect::<Vec<_>>()),
        ] {
            assert!(event(lines.clone()).reservation_request().is_err(), "{lines}");
        }
    }

    #[test]
    fn outcomes_serialize_as_the_contract_says() {
        let request = event(json!([{"bookId": "a", "quantity": 2}])).reservation_request().unwrap();
        let now = OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap();
        let shortage = Shortage { book_id: BookId::parse("a").unwrap(), requested: 2, available: 1 };
        let rejected = Reservation::rejected(&request, vec![shortage], now).outcome().unwrap();
        assert_eq!(rejected.event_id(), "StockRejected-0193a5b2-7c4e-7d10-9f3a-2b6c8d9e0f11");
        let StockOutcome::Rejected(data) = rejected else { panic!("rejected") };
        assert_eq!(
            serde_json::to_value(data).unwrap(),
            json!({"orderId": "0193a5b2-7c4e-7d10-9f3a-2b6c8d9e0f11", "customerId": "sub-1", "reason": "OUT_OF_STOCK",
                   "shortages": [{"bookId": "a", "requested": 2, "available": 1}]})
        );
        let reserved = Reservation::reserved(&request, now);
        assert_eq!(reserved.at, "2026-11-18T11:06:40Z");
        assert_eq!(reserved.outcome().unwrap().kind(), STOCK_RESERVED);
        let cancelled = Reservation::cancelled(request.order_id.clone(), "sub-1", now);
        assert_eq!(cancelled.outcome(), None);
    }

    #[test]
    fn if_match_is_star_or_one_etag_as_get_gives_it() {
        assert_eq!(Precondition::parse("*"), Some(Precondition::Unstocked));
        assert_eq!(Precondition::parse("\"0\""), Some(Precondition::Version(Version::NONE)));
        assert_eq!(Precondition::parse(" \"42\" "), Some(Precondition::Version(Version::new(42))));
        assert_eq!(Precondition::parse(&Version::new(7).etag()), Some(Precondition::Version(Version::new(7))));
        for bad in [
            "",
            "3",
            "\"\"",
            "\"03\"",
            "\"+3\"",
            "\"-1\"",
            "\"3",
            "W/\"3\"",
            "\"1\", \"2\"",
            "\"abc\"",
            "**",
            "\"99999999999999999999\"",
        ] {
            assert_eq!(Precondition::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn preconditions_hold_on_the_version_or_on_no_stock_at_all() {
        let stock = |available, version| Some(Stock { available: Available(available), version: Version(version) });
        assert!(Precondition::Unstocked.holds(None));
        assert!(!Precondition::Unstocked.holds(stock(0, 0)), "an item without a version is still stock");
        assert!(Precondition::Version(Version(0)).holds(None));
        assert!(Precondition::Version(Version(0)).holds(stock(4, 0)));
        assert!(Precondition::Version(Version(3)).holds(stock(4, 3)));
        assert!(!Precondition::Version(Version(2)).holds(stock(4, 3)));
        assert!(!Precondition::Version(Version(1)).holds(None));
    }

    #[test]
    fn adjustments_are_whole_non_zero_and_keep_stock_in_range() {
        for bad in [0, MAX_AVAILABLE + 1, -MAX_AVAILABLE - 1, i64::MIN, i64::MAX] {
            assert_eq!(Adjustment::parse(bad).unwrap_err().field.as_deref(), Some("adjust"), "{bad}");
        }
        let by = |d| Adjustment::parse(d).unwrap();
        let count = |n| Available::parse(n).unwrap();
        assert_eq!(by(-3).apply(count(3)), Some(count(0)));
        assert_eq!(by(-4).apply(count(3)), None);
        assert_eq!(by(MAX_AVAILABLE).apply(count(0)), Some(count(MAX_AVAILABLE)));
        assert_eq!(by(1).apply(count(MAX_AVAILABLE)), None);
        assert_eq!(by(-MAX_AVAILABLE).apply(count(MAX_AVAILABLE)), Some(count(0)));
        // Releases may take a count past the maximum: it can still come down.
        assert_eq!(by(-1).apply(Available(1_000_005)), Some(Available(1_000_004)));
    }

    #[test]
    fn a_stock_body_is_exactly_one_of_available_and_adjust() {
        let change = |body: &str| serde_json::from_str::<StockInput>(body).unwrap().change();
        assert_eq!(change(r#"{"available": 12}"#), Ok(StockChange::Set(Available(12))));
        assert_eq!(change(r#"{"adjust": -2}"#), Ok(StockChange::Adjust(Adjustment(-2))));
        assert_eq!(change(r#"{"available": 1, "adjust": 1}"#).unwrap_err().field.as_deref(), Some("body"));
        assert_eq!(change("{}").unwrap_err().field.as_deref(), Some("available"));
        assert_eq!(change(r#"{"adjust": 0}"#).unwrap_err().field.as_deref(), Some("adjust"));
        assert!(serde_json::from_str::<StockInput>(r#"{"adjust": 1, "adjust": 2}"#).is_err());
        assert!(serde_json::from_str::<StockInput>(r#"{"adjust": 1, "version": 2}"#).is_err());
        assert!(serde_json::from_str::<StockInput>("[3]").is_err());
    }

    #[test]
    fn statuses_round_trip() {
        for status in [
            ReservationStatus::Reserved,
            ReservationStatus::Rejected,
            ReservationStatus::Released,
            ReservationStatus::Cancelled,
        ] {
            assert_eq!(ReservationStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(ReservationStatus::parse("reserved"), None);
    }
}
