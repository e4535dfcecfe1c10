//! Builders shared by the catalog's integration tests.
#![allow(dead_code)]

use bookish_shared::money::{Currency, Money};
use catalog::book::{Book, Isbn13};

/// A unique tag, so tests sharing one table never see each other's books.
pub fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

/// A fresh, valid ISBN-13.
pub fn isbn() -> Isbn13 {
    let digits: String = format!("978{:09}", uuid::Uuid::new_v4().as_u128() % 1_000_000_000);
    let sum: u32 = digits.bytes().enumerate().map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 }).sum();
    Isbn13::parse(&format!("{digits}{}", (10 - sum % 10) % 10)).unwrap()
}

pub fn book(title: &str, author: &str, genres: &[&str]) -> Book {
    Book {
        id: uuid::Uuid::new_v4().simple().to_string(),
        isbn: isbn(),
        title: title.into(),
        author: author.into(),
        genres: genres.iter().map(|g| g.to_string()).collect(),
        description: "A test book.".into(),
        published_year: 2001,
        price: Money::new(1250, Currency::parse("USD").unwrap()),
        created_at: "2026-11-27T12:00:00Z".into(),
        updated_at: "2026-11-27T12:00:00Z".into(),
        version: 1,
    }
}
