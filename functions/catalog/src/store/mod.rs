//! The port the catalog rules store books through, and its adapters.

mod dynamodb;
mod memory;

pub use dynamodb::DynamoBookStore;
pub use memory::MemoryBookStore;

use async_trait::async_trait;

use crate::book::{is_plausible_id, Book, MAX_TITLE_KEY_BYTES};

/// Sorts after every character a folded title can hold: the end of a prefix range.
pub(crate) const PREFIX_END: char = '\u{10FFFF}';

/// Which books a listing walks. Every listing is ordered by `Book::position`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookFilter {
    pub scope: Scope,
    /// Folded title prefix.
    pub title_prefix: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    All,
    /// Folded author name, whole.
    Author(String),
    /// One word of the folded author name (see `Book::author_words`).
    AuthorWord(String),
    /// Folded genre name.
    Genre(String),
}

impl BookFilter {
    /// Names the query a cursor belongs to.
    pub fn cursor_scope(&self) -> String {
        let scope = match &self.scope {
            Scope::All => "all".to_owned(),
            Scope::Author(author) => format!("author={author}"),
            Scope::AuthorWord(word) => format!("author-word={word}"),
            Scope::Genre(genre) => format!("genre={genre}"),
        };
        format!("books|{scope}|q={}", self.title_prefix.as_deref().unwrap_or(""))
    }

    pub fn matches(&self, book: &Book) -> bool {
        let in_scope = match &self.scope {
            Scope::All => true,
            Scope::Author(author) => &book.author_key() == author,
            Scope::AuthorWord(word) => book.author_words().contains(word),
            Scope::Genre(genre) => book.genre_keys().contains(genre),
        };
        in_scope && self.title_prefix.as_ref().is_none_or(|prefix| book.position().starts_with(prefix.as_str()))
    }

    /// Whether this listing could have handed out `position` (see `Book::position`): a
    /// folded title of at most `MAX_TITLE_KEY_BYTES`, `#`, a plausible id; and inside the
    /// title prefix, if the listing has one.
    ///
    /// A cursor's digest binds it to its query but is no secret, so a decoded position is
    /// untrusted input, and it becomes the start of the query's sort-key range: outside
    /// the prefix it would list books the query does not match, and a malformed one
    /// (empty, too long, past the range's end) is refused by DynamoDB.
    pub fn admits_position(&self, position: &str) -> bool {
        let Some((title_key, id)) = position.rsplit_once('#') else { return false };
        title_key.len() <= MAX_TITLE_KEY_BYTES
            && !title_key.contains(['#', PREFIX_END])
            && is_plausible_id(id)
            && self.title_prefix.as_deref().is_none_or(|prefix| title_key.starts_with(prefix))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("another book has ISBN {0}")]
    DuplicateIsbn(String),
    /// The book was changed or deleted since it was read.
    #[error("the book changed since it was read")]
    Changed,
    #[error("the book store failed: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait BookStore: Send + Sync {
    async fn get(&self, id: &str) -> Result<Option<Book>, StoreError>;

    /// The books with these ids (at most 100, no duplicates) that exist, in any order.
    async fn get_many(&self, ids: &[String]) -> Result<Vec<Book>, StoreError>;

    /// Adds a new book; fails with `DuplicateIsbn` if its ISBN is taken.
    async fn insert(&self, book: &Book) -> Result<(), StoreError>;

    /// Replaces `current` with `next` (same id) if `current` is still what is stored.
    async fn replace(&self, current: &Book, next: &Book) -> Result<(), StoreError>;

    /// Deletes `current` if it is still what is stored.
    async fn delete(&self, current: &Book) -> Result<(), StoreError>;

    /// Up to `limit` books matching `filter` whose position is after `after`, in order.
    async fn list(&self, filter: &BookFilter, limit: usize, after: Option<&str>) -> Result<Vec<Book>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(scope: Scope, prefix: Option<&str>) -> BookFilter {
        BookFilter { scope, title_prefix: prefix.map(str::to_owned) }
    }

    #[test]
    fn admits_the_positions_of_its_own_books_only() {
        let id = "0123456789abcdef0123456789abcdef";
        let everything = filter(Scope::All, None);
        let prefixed = filter(Scope::Author("ada".into()), Some("the gr"));
        for position in [format!("the great gatsby#{id}"), format!("the gr#{id}"), format!("#{id}")] {
            assert!(everything.admits_position(&position), "{position}");
        }
        assert!(prefixed.admits_position(&format!("the great gatsby#{id}")));
        assert!(prefixed.admits_position(&format!("the gr#{id}")));
        for outside in [format!("animal farm#{id}"), format!("the g#{id}"), format!("zzz#{id}"), format!("#{id}")] {
            assert!(!prefixed.admits_position(&outside), "{outside}");
            assert!(everything.admits_position(&outside), "{outside}");
        }
        let long_title = "x".repeat(MAX_TITLE_KEY_BYTES);
        assert!(everything.admits_position(&format!("{long_title}#{id}")));
        for malformed in [
            String::new(),
            "the great gatsby".into(),
            "the great gatsby#".into(),
            "the great gatsby#a.b".into(),
            format!("the great gatsby#{}", "x".repeat(65)),
            format!("x{long_title}#{id}"),
            format!("the#great#{id}"),
            format!("the gr{PREFIX_END}#{id}"),
        ] {
            assert!(!everything.admits_position(&malformed), "{malformed:?}");
            assert!(!prefixed.admits_position(&malformed), "{malformed:?}");
        }
    }
}
