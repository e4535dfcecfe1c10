//! Books, and the parsing that turns client input into a valid one.

use bookish_shared::money::{Currency, Money};
use bookish_shared::text::{fold, required};
use bookish_shared::Problem;
use serde::{Deserialize, Serialize};

pub const MAX_TITLE_CHARS: usize = 300;
pub const MAX_AUTHOR_CHARS: usize = 200;
/// How many distinct words of an author's name are searchable (`Book::author_words`).
/// Each is an entry written with the book in one transaction; 10 keeps the largest write
/// (a replace moving 10 genres and 10 words: 43 items) within DynamoDB's 100.
pub const MAX_AUTHOR_WORDS: usize = 10;
pub const MAX_GENRES: usize = 10;
pub const MAX_GENRE_CHARS: usize = 50;
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;
/// One million dollars, in cents: anything above is a typo, not a book price.
pub const MAX_PRICE_MINOR_UNITS: i64 = 100_000_000;
/// The longest id a book can have. The catalog issues 32 lowercase hex digits (a v4 UUID);
/// anything longer, or with other characters than `is_plausible_id` allows, names no book.
pub const MAX_ID_CHARS: usize = 64;
/// The most bytes a folded title may take. It heads every listing's sort key
/// (`<folded title>#<id>`, see `Book::position`), and DynamoDB keeps sort keys to 1024
/// bytes: 960 leaves room for the `#` and an id of up to 63 bytes. Folding can grow text
/// (a Hangul syllable decomposes into three 3-byte jamo), so a title within
/// `MAX_TITLE_CHARS` may still not fit.
pub const MAX_TITLE_KEY_BYTES: usize = 960;

/// Whether `id` could be a book's: 1 to 64 ASCII letters, digits, `-` or `_`. Anything
/// else is not found without asking the store (and never becomes an over-long key).
pub fn is_plausible_id(id: &str) -> bool {
    (1..=MAX_ID_CHARS).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A book as the API shows it and the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Book {
    pub id: String,
    pub isbn: Isbn13,
    pub title: String,
    pub author: String,
    pub genres: Vec<String>,
    pub description: String,
    pub published_year: i32,
    pub price: Money,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
}

impl Book {
    /// Where the book sorts in every listing: by folded title, ties broken by id.
    pub fn position(&self) -> String {
        format!("{}#{}", fold(&self.title), self.id)
    }

    pub fn author_key(&self) -> String {
        fold(&self.author)
    }

    /// The words an author search finds the book by: the distinct words of the folded
    /// name, first `MAX_AUTHOR_WORDS` of them. Folding already splits at whitespace and
    /// punctuation, so "J. R. R. Tolkien" has the words j, r and tolkien.
    pub fn author_words(&self) -> Vec<String> {
        let mut words: Vec<String> = Vec::new();
        for word in self.author_key().split_whitespace() {
            if words.len() == MAX_AUTHOR_WORDS {
                break;
            }
            if !words.iter().any(|w| w == word) {
                words.push(word.to_owned());
            }
        }
        words
    }

    pub fn genre_keys(&self) -> Vec<String> {
        self.genres.iter().map(|g| fold(g)).collect()
    }

    pub fn etag(&self) -> String {
        bookish_shared::http::etag(self.version)
    }
}

/// A validated ISBN-13, kept as its 13 digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Isbn13(String);

impl Isbn13 {
    /// Accepts hyphens and spaces between digits (`978-0-451-52493-5`).
    pub fn parse(input: &str) -> Result<Self, String> {
        let digits: String = input.chars().filter(|c| *c != '-' && *c != ' ').collect();
        if digits.len() != 13 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("'{input}' is not an ISBN-13: it needs exactly 13 digits."));
        }
        if !digits.starts_with("978") && !digits.starts_with("979") {
            return Err(format!("'{input}' is not an ISBN-13: it must start with 978 or 979."));
        }
        let sum: u32 =
            digits.bytes().enumerate().map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 }).sum();
        if !sum.is_multiple_of(10) {
            return Err(format!("'{input}' is not a valid ISBN-13: its check digit does not match."));
        }
        Ok(Self(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Isbn13 {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        Self::parse(&value)
    }
}

impl From<Isbn13> for String {
    fn from(isbn: Isbn13) -> String {
        isbn.0
    }
}

/// The body of `POST /v1/books` and `PUT /v1/books/{id}`, as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BookInput {
    pub isbn: String,
    pub title: String,
    pub author: String,
    pub genres: Vec<String>,
    #[serde(default)]
    pub description: String,
    pub published_year: i32,
    pub price: PriceInput,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceInput {
    pub amount: i64,
    pub currency: String,
}

/// Everything about a book that a client decides: valid by construction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookDraft {
    pub isbn: Isbn13,
    pub title: String,
    pub author: String,
    pub genres: Vec<String>,
    pub description: String,
    pub published_year: i32,
    pub price: Money,
}

impl BookInput {
    pub fn parse(self, current_year: i32) -> Result<BookDraft, Problem> {
        let isbn = Isbn13::parse(&self.isbn).map_err(|e| Problem::invalid("isbn", e))?;
        let title = required("title", &self.title, MAX_TITLE_CHARS)?;
        if fold(&title).len() > MAX_TITLE_KEY_BYTES {
            return Err(Problem::invalid(
                "title",
                format!(
                    "The title is too long to sort by: its search form takes more than {MAX_TITLE_KEY_BYTES} bytes. Shorten it."
                ),
            ));
        }
        let author = required("author", &self.author, MAX_AUTHOR_CHARS)?;
        if self.genres.is_empty() || self.genres.len() > MAX_GENRES {
            return Err(Problem::invalid("genres", format!("Give between 1 and {MAX_GENRES} genres.")));
        }
        let mut genres: Vec<String> = Vec::with_capacity(self.genres.len());
        for (i, genre) in self.genres.iter().enumerate() {
            let genre = required(&format!("genres.{i}"), genre, MAX_GENRE_CHARS)?;
            if fold(&genre).is_empty() {
                return Err(Problem::invalid(format!("genres.{i}"), "A genre needs at least one letter or digit."));
            }
            if !genres.iter().any(|g| fold(g) == fold(&genre)) {
                genres.push(genre);
            }
        }
        let description = self.description.trim().to_owned();
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(Problem::invalid(
                "description",
                format!("The description is longer than {MAX_DESCRIPTION_CHARS} characters."),
            ));
        }
        if !(1..=current_year + 1).contains(&self.published_year) {
            return Err(Problem::invalid(
                "publishedYear",
                format!("The publication year must be between 1 and {}.", current_year + 1),
            ));
        }
        if self.price.amount < 0 {
            return Err(Problem::invalid("price.amount", "The price cannot be negative."));
        }
        if self.price.amount > MAX_PRICE_MINOR_UNITS {
            return Err(Problem::invalid(
                "price.amount",
                format!("The price cannot exceed {MAX_PRICE_MINOR_UNITS} minor units."),
            ));
        }
        let currency = Currency::parse(&self.price.currency).map_err(|e| Problem::invalid("price.currency", e))?;
        Ok(BookDraft {
            isbn,
            title,
            author,
            genres,
            description,
            published_year: self.published_year,
            price: Money::new(self.price.amount, currency),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> BookInput {
        serde_json::from_value(serde_json::json!({
            "isbn": "978-0-451-52493-5", "title": " 1984 ", "author": "George Orwell",
            "genres": ["Dystopian", "dystopian", "Classics"], "publishedYear": 1949,
            "price": {"amount": 999, "currency": "USD"}
        }))
        .unwrap()
    }

    #[test]
    fn parses_a_valid_book() {
        let draft = input().parse(2026).unwrap();
        assert_eq!(draft.isbn.as_str(), "9780451524935");
        assert_eq!(draft.title, "1984");
        assert_eq!(draft.genres, ["Dystopian", "Classics"]);
        assert_eq!(draft.description, "");
    }

    #[test]
    fn isbn_checksum_and_prefix_are_checked() {
        assert!(Isbn13::parse("9780743273565").is_ok());
        assert!(Isbn13::parse("9791032305690").is_ok());
        for bad in ["9780743273566", "978074327356", "97807432735650", "1234567890128", "978074327356X", ""] {
            assert!(Isbn13::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_single_digit_error_is_caught() {
        let valid = "9780451524935";
        for i in 0..13 {
            for d in b'0'..=b'9' {
                let mut bytes = valid.as_bytes().to_vec();
                if bytes[i] == d {
                    continue;
                }
                bytes[i] = d;
                let changed = String::from_utf8(bytes).unwrap();
                assert!(Isbn13::parse(&changed).is_err(), "{changed}");
            }
        }
    }

    fn field_of(mutate: impl FnOnce(&mut BookInput)) -> Option<String> {
        let mut input = input();
        mutate(&mut input);
        input.parse(2026).unwrap_err().field
    }

    #[test]
    fn names_the_invalid_field() {
        assert_eq!(field_of(|b| b.isbn = "123".into()).as_deref(), Some("isbn"));
        assert_eq!(field_of(|b| b.title = "   ".into()).as_deref(), Some("title"));
        // 300 characters, but each folds into three 3-byte jamo: 2700 bytes of sort key.
        assert_eq!(field_of(|b| b.title = "각".repeat(300)).as_deref(), Some("title"));
        assert_eq!(field_of(|b| b.author = "a".repeat(201)).as_deref(), Some("author"));
        assert_eq!(field_of(|b| b.genres.clear()).as_deref(), Some("genres"));
        assert_eq!(field_of(|b| b.genres = vec!["x".into(); 11]).as_deref(), Some("genres"));
        assert_eq!(field_of(|b| b.genres[1] = "".into()).as_deref(), Some("genres.1"));
        assert_eq!(field_of(|b| b.genres[0] = "!!".into()).as_deref(), Some("genres.0"));
        assert_eq!(field_of(|b| b.description = "d".repeat(10_001)).as_deref(), Some("description"));
        assert_eq!(field_of(|b| b.published_year = 2028).as_deref(), Some("publishedYear"));
        assert_eq!(field_of(|b| b.published_year = 0).as_deref(), Some("publishedYear"));
        assert_eq!(field_of(|b| b.price.amount = -1).as_deref(), Some("price.amount"));
        assert_eq!(field_of(|b| b.price.amount = MAX_PRICE_MINOR_UNITS + 1).as_deref(), Some("price.amount"));
        assert_eq!(field_of(|b| b.price.currency = "usd".into()).as_deref(), Some("price.currency"));
    }

    #[test]
    fn the_longest_titles_that_fit_are_accepted() {
        for title in ["x".repeat(MAX_TITLE_CHARS), "百".repeat(MAX_TITLE_CHARS), "각".repeat(106)] {
            let mut input = input();
            input.title = title.clone();
            assert!(input.parse(2026).is_ok(), "{title}");
        }
    }

    #[test]
    fn plausible_ids_are_short_and_plain() {
        for id in ["0123456789abcdef0123456789abcdef", "b-1", "A_z", &"x".repeat(64)] {
            assert!(is_plausible_id(id), "{id}");
        }
        for id in ["", "a.b", "a/b", "a b", "a#b", "é", &"x".repeat(65)] {
            assert!(!is_plausible_id(id), "{id}");
        }
    }

    fn book_by(author: &str) -> Book {
        let draft = input().parse(2026).unwrap();
        Book {
            id: "b1".into(),
            isbn: draft.isbn,
            title: "Cien Años de Soledad".into(),
            author: author.into(),
            genres: draft.genres,
            description: draft.description,
            published_year: 1967,
            price: draft.price,
            created_at: String::new(),
            updated_at: String::new(),
            version: 1,
        }
    }

    #[test]
    fn author_words_are_the_distinct_folded_words_of_the_name() {
        assert_eq!(book_by("George Orwell").author_words(), ["george", "orwell"]);
        assert_eq!(book_by("J. R. R. Tolkien").author_words(), ["j", "r", "tolkien"]);
        assert_eq!(book_by("Gabriel García-Márquez").author_words(), ["gabriel", "garcia", "marquez"]);
        assert_eq!(book_by("Flann O'Brien, Jr.").author_words(), ["flann", "o", "brien", "jr"]);
        assert_eq!(book_by("Plato").author_words(), ["plato"]);
        assert_eq!(book_by("?!").author_words(), Vec::<String>::new());
        let many: Vec<String> = (0..15).map(|i| format!("w{i}")).collect();
        assert_eq!(book_by(&many.join(" ")).author_words(), many[..MAX_AUTHOR_WORDS]);
        assert_eq!(book_by("a a b a c").author_words(), ["a", "b", "c"]);
    }

    #[test]
    fn positions_sort_by_folded_title_then_id() {
        let book = book_by("Gabriel García Márquez");
        assert_eq!(book.position(), "cien anos de soledad#b1");
        assert_eq!(book.etag(), "\"1\"");
    }
}
