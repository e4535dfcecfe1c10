//! An in-memory `BookStore` with the same rules as DynamoDB's, for fast tests.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{BookFilter, BookStore, Scope, StoreError, PREFIX_END};
use crate::book::Book;

/// DynamoDB's limits on key values, which it answers with a ValidationException (a 500
/// to the caller): partition keys of 1 to 2048 bytes, sort keys of 1 to 1024. Kept here
/// too, so that tests over this store meet what the real table would refuse.
const MAX_PARTITION_KEY_BYTES: usize = 2048;
const MAX_SORT_KEY_BYTES: usize = 1024;

fn check_key(pk: &str, sk: Option<&str>) -> Result<(), StoreError> {
    let pk_ok = (1..=MAX_PARTITION_KEY_BYTES).contains(&pk.len());
    if pk_ok && sk.is_none_or(|sk| (1..=MAX_SORT_KEY_BYTES).contains(&sk.len())) {
        return Ok(());
    }
    Err(StoreError::Unavailable(format!(
        "ValidationException: key value out of bounds (partition key {} bytes, sort key {:?} bytes)",
        pk.len(),
        sk.map(str::len)
    )))
}

/// The keys DynamoDB would write for a book (see the layout in `dynamodb.rs`).
fn check_book_keys(book: &Book) -> Result<(), StoreError> {
    let position = book.position();
    check_key(&format!("BOOK#{}", book.id), Some("BOOK"))?;
    check_key("BOOKS", Some(&position))?;
    check_key(&format!("AUTHOR#{}", book.author_key()), Some(&position))?;
    book.author_words().iter().try_for_each(|word| check_key(&format!("AUTHORWORD#{word}"), Some(&position)))?;
    book.genre_keys().iter().try_for_each(|genre| check_key(&format!("GENRE#{genre}"), Some(&position)))
}

/// The key condition DynamoDB would be sent for a listing.
fn check_query(filter: &BookFilter, after: Option<&str>) -> Result<(), StoreError> {
    let pk = match &filter.scope {
        Scope::All => "BOOKS".to_owned(),
        Scope::Author(author) => format!("AUTHOR#{author}"),
        Scope::AuthorWord(word) => format!("AUTHORWORD#{word}"),
        Scope::Genre(genre) => format!("GENRE#{genre}"),
    };
    check_key(&pk, None)?;
    match (filter.title_prefix.as_deref(), after) {
        (None, None) => Ok(()),
        (Some(prefix), None) => check_key(&pk, Some(prefix)),
        (None, Some(after)) => check_key(&pk, Some(after)),
        (Some(prefix), Some(after)) => {
            let end = format!("{prefix}{PREFIX_END}");
            check_key(&pk, Some(after))?;
            check_key(&pk, Some(&end))?;
            // DynamoDB compares strings as UTF-8 bytes, as Rust does.
            if after > end.as_str() {
                return Err(StoreError::Unavailable(
                    "ValidationException: BETWEEN needs its lower bound at most its upper bound".into(),
                ));
            }
            Ok(())
        }
    }
}

#[derive(Default)]
pub struct MemoryBookStore {
    books: Mutex<BTreeMap<String, Book>>,
}

impl MemoryBookStore {
    fn isbn_taken(books: &BTreeMap<String, Book>, book: &Book) -> bool {
        books.values().any(|other| other.isbn == book.isbn && other.id != book.id)
    }
}

#[async_trait]
impl BookStore for MemoryBookStore {
    async fn get(&self, id: &str) -> Result<Option<Book>, StoreError> {
        check_key(&format!("BOOK#{id}"), Some("BOOK"))?;
        Ok(self.books.lock().unwrap().get(id).cloned())
    }

    async fn get_many(&self, ids: &[String]) -> Result<Vec<Book>, StoreError> {
        ids.iter().try_for_each(|id| check_key(&format!("BOOK#{id}"), Some("BOOK")))?;
        let books = self.books.lock().unwrap();
        Ok(ids.iter().filter_map(|id| books.get(id).cloned()).collect())
    }

    async fn insert(&self, book: &Book) -> Result<(), StoreError> {
        check_book_keys(book)?;
        let mut books = self.books.lock().unwrap();
        if Self::isbn_taken(&books, book) {
            return Err(StoreError::DuplicateIsbn(book.isbn.as_str().to_owned()));
        }
        books.insert(book.id.clone(), book.clone());
        Ok(())
    }

    async fn replace(&self, current: &Book, next: &Book) -> Result<(), StoreError> {
        check_book_keys(next)?;
        let mut books = self.books.lock().unwrap();
        if books.get(&current.id) != Some(current) {
            return Err(StoreError::Changed);
        }
        if Self::isbn_taken(&books, next) {
            return Err(StoreError::DuplicateIsbn(next.isbn.as_str().to_owned()));
        }
        books.insert(next.id.clone(), next.clone());
        Ok(())
    }

    async fn delete(&self, current: &Book) -> Result<(), StoreError> {
        let mut books = self.books.lock().unwrap();
        if books.get(&current.id) != Some(current) {
            return Err(StoreError::Changed);
        }
        books.remove(&current.id);
        Ok(())
    }

    async fn list(&self, filter: &BookFilter, limit: usize, after: Option<&str>) -> Result<Vec<Book>, StoreError> {
        check_query(filter, after)?;
        let books = self.books.lock().unwrap();
        let mut matching: Vec<Book> = books
            .values()
            .filter(|book| filter.matches(book) && after.is_none_or(|after| book.position().as_str() > after))
            .cloned()
            .collect();
        matching.sort_by_cached_key(Book::position); // position() folds text: once per book
        matching.truncate(limit);
        Ok(matching)
    }
}
