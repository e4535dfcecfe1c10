//! The port the catalog rules store books through, and its adapters.

mod dynamodb;
mod memory;

pub use dynamodb::DynamoBookStore;
pub use memory::MemoryBookStore;

use async_trait::async_trait;

use crate::book::Book;

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
    /// Folded author name.
    Author(String),
    /// Folded genre name.
    Genre(String),
}

impl BookFilter {
    /// Names the query a cursor belongs to.
    pub fn cursor_scope(&self) -> String {
        let scope = match &self.scope {
            Scope::All => "all".to_owned(),
            Scope::Author(author) => format!("author={author}"),
            Scope::Genre(genre) => format!("genre={genre}"),
        };
        format!("books|{scope}|q={}", self.title_prefix.as_deref().unwrap_or(""))
    }

    pub fn matches(&self, book: &Book) -> bool {
        let in_scope = match &self.scope {
            Scope::All => true,
            Scope::Author(author) => &book.author_key() == author,
            Scope::Genre(genre) => book.genre_keys().contains(genre),
        };
        in_scope && self.title_prefix.as_ref().is_none_or(|prefix| book.position().starts_with(prefix.as_str()))
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
