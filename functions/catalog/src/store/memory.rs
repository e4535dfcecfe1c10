//! An in-memory `BookStore` with the same rules as DynamoDB's, for fast tests.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{BookFilter, BookStore, StoreError};
use crate::book::Book;

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
        Ok(self.books.lock().unwrap().get(id).cloned())
    }

    async fn get_many(&self, ids: &[String]) -> Result<Vec<Book>, StoreError> {
        let books = self.books.lock().unwrap();
        Ok(ids.iter().filter_map(|id| books.get(id).cloned()).collect())
    }

    async fn insert(&self, book: &Book) -> Result<(), StoreError> {
        let mut books = self.books.lock().unwrap();
        if Self::isbn_taken(&books, book) {
            return Err(StoreError::DuplicateIsbn(book.isbn.as_str().to_owned()));
        }
        books.insert(book.id.clone(), book.clone());
        Ok(())
    }

    async fn replace(&self, current: &Book, next: &Book) -> Result<(), StoreError> {
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
