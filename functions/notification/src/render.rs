//! What the shopper reads: the email (subject, HTML and text bodies) and the SMS.
//!
//! Subjects are configuration (env `SUBJECT_CONFIRMED`, `SUBJECT_REJECTED`,
//! `SUBJECT_CANCELLED`, set in its template.yaml, with an `{orderId}` placeholder); bodies
//! are rendered here from the order. Every value that reaches the HTML body is escaped:
//! titles and names come from people.

use bookish_shared::config;
use bookish_shared::money::Money;

use crate::order::{Notice, Reason, Status};

/// The subject line per status, with `{orderId}` replaced by the order's id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subjects {
    pub confirmed: String,
    pub rejected: String,
    pub cancelled: String,
}

pub const ORDER_ID_PLACEHOLDER: &str = "{orderId}";

impl Default for Subjects {
    fn default() -> Self {
        Self {
            confirmed: "Your Bookish order {orderId} is confirmed".into(),
            rejected: "Your Bookish order {orderId} could not be accepted".into(),
            cancelled: "Your Bookish order {orderId} has been cancelled".into(),
        }
    }
}

impl Subjects {
    /// Reads the templates from the environment; an unset one keeps its default.
    pub fn from_env() -> Self {
        let defaults = Self::default();
        Self {
            confirmed: config::optional("SUBJECT_CONFIRMED").unwrap_or(defaults.confirmed),
            rejected: config::optional("SUBJECT_REJECTED").unwrap_or(defaults.rejected),
            cancelled: config::optional("SUBJECT_CANCELLED").unwrap_or(defaults.cancelled),
        }
    }

    pub fn for_notice(&self, notice: &Notice) -> String {
        let template = match notice.status {
            Status::Confirmed => &self.confirmed,
            Status::Rejected => &self.rejected,
            Status::Cancelled => &self.cancelled,
        };
        // A subject is one line whatever the configuration says.
        template.replace(ORDER_ID_PLACEHOLDER, notice.order_id.as_str()).replace(['\r', '\n'], " ").trim().to_owned()
    }
}

/// A rendered email, before it has an addressee.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailContent {
    pub subject: String,
    pub html: String,
    pub text: String,
}

pub fn email(notice: &Notice, subjects: &Subjects) -> EmailContent {
    EmailContent { subject: subjects.for_notice(notice), html: html_body(notice), text: text_body(notice) }
}

/// One line, well under the 160 characters of a single SMS for a UUID order id.
pub fn sms(notice: &Notice) -> String {
    let id = &notice.order_id;
    match notice.status {
        Status::Confirmed => format!("Bookish: order {id} is confirmed. Total {}.", money(&notice.total)),
        Status::Rejected => match notice.reason.as_ref().and_then(reason_in_words) {
            Some(reason) => format!("Bookish: order {id} could not be accepted: {reason}."),
            None => format!("Bookish: order {id} could not be accepted."),
        },
        Status::Cancelled => format!("Bookish: order {id} has been cancelled."),
    }
}

pub fn status_in_words(status: Status) -> &'static str {
    match status {
        Status::Confirmed => "Confirmed",
        Status::Rejected => "Rejected",
        Status::Cancelled => "Cancelled",
    }
}

/// `None` for codes we do not know: better to say nothing than to show a code.
pub fn reason_in_words(reason: &Reason) -> Option<&'static str> {
    match reason {
        Reason::OutOfStock => Some("some books were out of stock"),
        Reason::PaymentDeclined => Some("your card was declined"),
        Reason::PaymentFailed => Some("the payment could not be taken from your card"),
        Reason::TimedOut => Some("we could not confirm it in time"),
        Reason::Other(_) => None,
    }
}

/// Minor units to what a shopper reads: `$12.50` for US dollars, `12.50 EUR` for the
/// rest, with as many decimals as the currency has. Integer arithmetic only.
pub fn money(money: &Money) -> String {
    let code = money.currency.as_str();
    let sign = if money.amount < 0 { "-" } else { "" };
    let units = money.amount.unsigned_abs();
    let number = match minor_unit_digits(code) {
        0 => units.to_string(),
        digits => {
            let scale = 10u64.pow(digits);
            format!("{}.{:0width$}", units / scale, units % scale, width = digits as usize)
        }
    };
    match code {
        "USD" => format!("{sign}${number}"),
        _ => format!("{sign}{number} {code}"),
    }
}

/// ISO 4217 minor units for the currencies that do not have two.
fn minor_unit_digits(code: &str) -> u32 {
    match code {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX" | "UYI" | "VND"
        | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// The opening sentence, in plain text (the HTML body escapes it).
fn headline(notice: &Notice) -> String {
    let id = &notice.order_id;
    match notice.status {
        Status::Confirmed => format!("Your Bookish order {id} is confirmed. Thank you for shopping with us!"),
        Status::Rejected => match notice.reason.as_ref().and_then(reason_in_words) {
            Some(reason) => format!("We are sorry: your Bookish order {id} could not be accepted because {reason}."),
            None => format!("We are sorry: your Bookish order {id} could not be accepted."),
        },
        Status::Cancelled => format!("Your Bookish order {id} has been cancelled."),
    }
}

fn greeting(notice: &Notice) -> String {
    match &notice.greeting_name {
        Some(name) => format!("Hello {name},"),
        None => "Hello,".to_owned(),
    }
}

fn text_body(notice: &Notice) -> String {
    let mut text = format!("{}\n\n{}\n\n", greeting(notice), headline(notice));
    text += &format!("Order: {}\nStatus: {}\n", notice.order_id, status_in_words(notice.status));
    if let Some(reason) = notice.reason.as_ref().and_then(reason_in_words) {
        text += &format!("Reason: {}\n", capitalized(reason));
    }
    text.push('\n');
    for line in &notice.lines {
        text += &format!(
            "  {} x {} at {} each: {}\n",
            line.quantity,
            line.title,
            money(&line.unit_price),
            money(&line.line_total)
        );
    }
    text += &format!("\nTotal: {}\n\nBookish\n", money(&notice.total));
    text
}

fn html_body(notice: &Notice) -> String {
    let mut rows = String::new();
    for line in &notice.lines {
        rows += &format!(
            "<tr><td>{}</td><td align=\"right\">{}</td><td align=\"right\">{}</td><td align=\"right\">{}</td></tr>\n",
            escape(&line.title),
            line.quantity,
            escape(&money(&line.unit_price)),
            escape(&money(&line.line_total)),
        );
    }
    let reason = match notice.reason.as_ref().and_then(reason_in_words) {
        Some(reason) => format!("<br>Reason: {}", escape(&capitalized(reason))),
        None => String::new(),
    };
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{subject}</title></head>\n\
         <body style=\"font-family: sans-serif\">\n\
         <p>{greeting}</p>\n<p>{headline}</p>\n\
         <p>Order: {id}<br>Status: {status}{reason}</p>\n\
         <table cellpadding=\"4\">\n\
         <thead><tr><th align=\"left\">Book</th><th align=\"right\">Quantity</th>\
         <th align=\"right\">Unit price</th><th align=\"right\">Line total</th></tr></thead>\n\
         <tbody>\n{rows}</tbody>\n\
         <tfoot><tr><th align=\"left\" colspan=\"3\">Total</th><th align=\"right\">{total}</th></tr></tfoot>\n\
         </table>\n<p>Bookish</p>\n</body></html>\n",
        subject = escape(&format!("Bookish order {}", notice.order_id)),
        greeting = escape(&greeting(notice)),
        headline = escape(&headline(notice)),
        id = escape(notice.order_id.as_str()),
        status = escape(status_in_words(notice.status)),
        total = escape(&money(&notice.total)),
    )
}

fn capitalized(words: &str) -> String {
    let mut chars = words.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::{OrderId, OrderLine};
    use bookish_shared::money::Currency;

    fn usd(amount: i64) -> Money {
        Money::new(amount, Currency::parse("USD").unwrap())
    }

    fn notice(status: Status, reason: Option<Reason>) -> Notice {
        Notice {
            order_id: OrderId::parse("o-1").unwrap(),
            status,
            reason,
            greeting_name: Some("Ada <Admin> & \"Co\"".into()),
            lines: vec![
                OrderLine { title: "1984".into(), unit_price: usd(999), quantity: 2, line_total: usd(1998) },
                OrderLine {
                    title: "<script>alert('x')</script>".into(),
                    unit_price: usd(1250),
                    quantity: 1,
                    line_total: usd(1250),
                },
            ],
            total: usd(3248),
            email: None,
            username: None,
            phone: None,
        }
    }

    #[test]
    fn formats_minor_units_without_floats() {
        let money_in = |amount, code| money(&Money::new(amount, Currency::parse(code).unwrap()));
        assert_eq!(money_in(1250, "USD"), "$12.50");
        assert_eq!(money_in(5, "USD"), "$0.05");
        assert_eq!(money_in(0, "USD"), "$0.00");
        assert_eq!(money_in(1250, "EUR"), "12.50 EUR");
        assert_eq!(money_in(1250, "JPY"), "1250 JPY");
        assert_eq!(money_in(12505, "KWD"), "12.505 KWD");
        assert_eq!(money_in(-1250, "USD"), "-$12.50");
        assert_eq!(money_in(100_000_000, "USD"), "$1000000.00");
        // Large values stay exact, where an f64 would round.
        assert_eq!(money_in(i64::MAX, "USD"), "$92233720368547758.07");
        assert_eq!(money_in(i64::MIN, "EUR"), "-92233720368547758.08 EUR");
    }

    #[test]
    fn escapes_every_value_in_the_html_body() {
        let html = email(&notice(Status::Confirmed, None), &Subjects::default()).html;
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"), "{html}");
        assert!(html.contains("Hello Ada &lt;Admin&gt; &amp; &quot;Co&quot;,"), "{html}");
        assert!(!html.contains("<script>") && !html.contains("<Admin>"));
        assert!(html.contains(
            "<td>1984</td><td align=\"right\">2</td><td align=\"right\">$9.99</td><td align=\"right\">$19.98</td>"
        ));
        assert!(html.contains("$32.48"));
    }

    #[test]
    fn the_text_body_lists_lines_total_and_status() {
        let text = email(&notice(Status::Confirmed, None), &Subjects::default()).text;
        assert!(text.starts_with("Hello Ada <Admin> & \"Co\",\n\nYour Bookish order o-1 is confirmed."), "{text}");
        assert!(text.contains("Order: o-1\nStatus: Confirmed\n"), "{text}");
        assert!(text.contains("  2 x 1984 at $9.99 each: $19.98\n"), "{text}");
        assert!(text.contains("\nTotal: $32.48\n"), "{text}");
        assert!(!text.contains("Reason"));
    }

    #[test]
    fn rejections_say_why_in_words() {
        let out = email(&notice(Status::Rejected, Some(Reason::OutOfStock)), &Subjects::default());
        assert!(out.text.contains("could not be accepted because some books were out of stock."), "{}", out.text);
        assert!(out.text.contains("Status: Rejected\nReason: Some books were out of stock\n"), "{}", out.text);
        assert!(out.html.contains("Reason: Some books were out of stock"));
        let declined = notice(Status::Rejected, Some(Reason::PaymentDeclined));
        assert!(email(&declined, &Subjects::default()).text.contains("because your card was declined."));
        assert_eq!(sms(&declined), "Bookish: order o-1 could not be accepted: your card was declined.");
        // An unknown code is not shown to the shopper.
        let unknown = notice(Status::Rejected, Some(Reason::Other("FRAUD_SUSPECTED".into())));
        let out = email(&unknown, &Subjects::default());
        assert!(!out.text.contains("FRAUD") && !out.html.contains("FRAUD"));
        assert!(out.text.contains("could not be accepted.\n"));
    }

    #[test]
    fn subjects_come_from_templates() {
        let subjects = Subjects { cancelled: "Cancelled: {orderId} ({orderId})\r\n".into(), ..Subjects::default() };
        assert_eq!(subjects.for_notice(&notice(Status::Cancelled, None)), "Cancelled: o-1 (o-1)");
        assert_eq!(
            Subjects::default().for_notice(&notice(Status::Confirmed, None)),
            "Your Bookish order o-1 is confirmed"
        );
    }

    #[test]
    fn sms_is_short() {
        assert_eq!(sms(&notice(Status::Confirmed, None)), "Bookish: order o-1 is confirmed. Total $32.48.");
        assert_eq!(sms(&notice(Status::Cancelled, None)), "Bookish: order o-1 has been cancelled.");
        let mut long = notice(Status::Rejected, Some(Reason::OutOfStock));
        long.order_id = OrderId::parse("0191e5f2-7c3a-7d4e-8f00-123456789abc").unwrap();
        assert!(sms(&long).len() <= 160);
    }
}
