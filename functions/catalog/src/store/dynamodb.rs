//! The books table in DynamoDB.
//!
//! Item layout (one table, no scans; every listing is a key query ordered by position):
//! - book:        pk `BOOK#<id>`, sk `BOOK`; also gsi1 (`byTitle`: `BOOKS` / position)
//!   and gsi2 (`byAuthor`: `AUTHOR#<folded author>` / position).
//! - genre entry: pk `GENRE#<folded genre>`, sk position; a copy of the book per genre,
//!   so a genre listing is one query.
//! - author-word entry: pk `AUTHORWORD#<word>`, sk position; a copy of the book per word
//!   of its folded author name (`Book::author_words`), so a search for one word of a
//!   name ("orwell") is one query too.
//! - ISBN guard:  pk `ISBN#<isbn>`, sk `ISBN`, `bookId`; makes ISBNs unique.
//!
//! Every write touches the book and its entries in one transaction, so the listings
//! never disagree with the book.

use std::collections::BTreeSet;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Delete, KeysAndAttributes, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use bookish_shared::dynamo::{failed_conditions, n, s, Item};

use super::{BookFilter, BookStore, Scope, StoreError, PREFIX_END};
use crate::book::{Book, MAX_AUTHOR_WORDS, MAX_GENRES};

const BY_TITLE: &str = "byTitle";
const BY_AUTHOR: &str = "byAuthor";

/// DynamoDB takes at most 100 items per transaction. The largest write is a replace that
/// changes the ISBN (3 items) and moves every entry (old ones deleted, new ones put);
/// every item is at most one book (~45 KB), far inside the 4 MB a transaction may carry.
const _: () = assert!(3 + 2 * (MAX_GENRES + MAX_AUTHOR_WORDS) <= 100);

pub struct DynamoBookStore {
    client: Client,
    table: String,
}

impl DynamoBookStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    fn book_item(book: &Book) -> Result<Item, StoreError> {
        let mut item = Self::entry_item(book)?;
        item.insert("pk".into(), s(format!("BOOK#{}", book.id)));
        item.insert("sk".into(), s("BOOK"));
        item.insert("gsi1pk".into(), s("BOOKS"));
        item.insert("gsi1sk".into(), s(book.position()));
        item.insert("gsi2pk".into(), s(format!("AUTHOR#{}", book.author_key())));
        item.insert("gsi2sk".into(), s(book.position()));
        Ok(item)
    }

    fn entry_item(book: &Book) -> Result<Item, StoreError> {
        serde_dynamo::to_item(book).map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    fn book_key(id: &str) -> Item {
        Item::from([("pk".into(), s(format!("BOOK#{id}"))), ("sk".into(), s("BOOK"))])
    }

    fn isbn_key(book: &Book) -> Item {
        Item::from([("pk".into(), s(format!("ISBN#{}", book.isbn.as_str()))), ("sk".into(), s("ISBN"))])
    }

    /// The keys of the book's listing entries: one per genre, one per author word.
    fn entry_keys(book: &Book) -> BTreeSet<(String, String)> {
        let genres = book.genre_keys().into_iter().map(|genre| format!("GENRE#{genre}"));
        let words = book.author_words().into_iter().map(|word| format!("AUTHORWORD#{word}"));
        genres.chain(words).map(|pk| (pk, book.position())).collect()
    }

    fn put(&self, item: Item, condition: Option<&str>) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_owned));
        Ok(TransactWriteItem::builder().put(put.build().map_err(unavailable)?).build())
    }

    fn put_new(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        self.put(item, Some("attribute_not_exists(pk)"))
    }

    fn put_isbn_guard(&self, book: &Book) -> Result<TransactWriteItem, StoreError> {
        let mut guard = Self::isbn_key(book);
        guard.insert("bookId".into(), s(&book.id));
        self.put_new(guard)
    }

    fn put_entries(
        &self,
        book: &Book,
        keys: &BTreeSet<(String, String)>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        keys.iter()
            .map(|(pk, sk)| {
                let mut item = Self::entry_item(book)?;
                item.insert("pk".into(), s(pk));
                item.insert("sk".into(), s(sk));
                self.put(item, None)
            })
            .collect()
    }

    fn delete(&self, key: Item, expected_version: Option<u64>) -> Result<TransactWriteItem, StoreError> {
        let mut delete = Delete::builder().table_name(&self.table).set_key(Some(key));
        if let Some(version) = expected_version {
            delete =
                delete.condition_expression("version = :version").expression_attribute_values(":version", n(version));
        }
        Ok(TransactWriteItem::builder().delete(delete.build().map_err(unavailable)?).build())
    }

    fn delete_entries(&self, keys: &BTreeSet<(String, String)>) -> Result<Vec<TransactWriteItem>, StoreError> {
        keys.iter()
            .map(|(pk, sk)| self.delete(Item::from([("pk".into(), s(pk)), ("sk".into(), s(sk))]), None))
            .collect()
    }

    /// Runs a transaction; `guards` maps the index of each conditional item to the error
    /// its failure means.
    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
        guards: Vec<(usize, StoreError)>,
    ) -> Result<(), StoreError> {
        let result = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        let Err(err) = result else { return Ok(()) };
        if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = err.as_service_error() {
            let failed = failed_conditions(cancelled.cancellation_reasons());
            if let Some((_, error)) = guards.into_iter().find(|(index, _)| failed.contains(index)) {
                return Err(error);
            }
        }
        Err(StoreError::Unavailable(DisplayErrorContext(&err).to_string()))
    }
}

fn unavailable(err: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(err.to_string())
}

#[async_trait]
impl BookStore for DynamoBookStore {
    async fn get(&self, id: &str) -> Result<Option<Book>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::book_key(id)))
            .send()
            .await
            .map_err(|e| unavailable(DisplayErrorContext(&e)))?;
        output.item.map(|item| serde_dynamo::from_item(item).map_err(unavailable)).transpose()
    }

    async fn get_many(&self, ids: &[String]) -> Result<Vec<Book>, StoreError> {
        let mut books = Vec::with_capacity(ids.len());
        let keys: Vec<Item> = ids.iter().map(|id| Self::book_key(id)).collect();
        // BatchGetItem takes 100 keys at most and may hand some back unprocessed under load.
        for chunk in keys.chunks(100) {
            let mut pending =
                Some(KeysAndAttributes::builder().set_keys(Some(chunk.to_vec())).build().map_err(unavailable)?);
            while let Some(request) = pending.take() {
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| unavailable(DisplayErrorContext(&e)))?;
                for item in output.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default() {
                    books.push(serde_dynamo::from_item(item).map_err(unavailable)?);
                }
                pending =
                    output.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).filter(|k| !k.keys.is_empty());
            }
        }
        Ok(books)
    }

    async fn insert(&self, book: &Book) -> Result<(), StoreError> {
        let mut items = vec![self.put_isbn_guard(book)?, self.put_new(Self::book_item(book)?)?];
        items.extend(self.put_entries(book, &Self::entry_keys(book))?);
        let duplicate = StoreError::DuplicateIsbn(book.isbn.as_str().to_owned());
        self.transact(items, vec![(0, duplicate), (1, StoreError::Changed)]).await
    }

    async fn replace(&self, current: &Book, next: &Book) -> Result<(), StoreError> {
        let put_book = Put::builder()
            .table_name(&self.table)
            .set_item(Some(Self::book_item(next)?))
            .condition_expression("version = :version")
            .expression_attribute_values(":version", n(current.version))
            .build()
            .map_err(unavailable)?;
        let mut items = vec![TransactWriteItem::builder().put(put_book).build()];
        let mut guards = vec![(0, StoreError::Changed)];
        if current.isbn != next.isbn {
            guards.push((items.len(), StoreError::DuplicateIsbn(next.isbn.as_str().to_owned())));
            items.push(self.put_isbn_guard(next)?);
            items.push(self.delete(Self::isbn_key(current), None)?);
        }
        let (old, new) = (Self::entry_keys(current), Self::entry_keys(next));
        // A transaction may touch an item once: entries kept under the same key are just overwritten.
        items.extend(self.delete_entries(&old.difference(&new).cloned().collect())?);
        items.extend(self.put_entries(next, &new)?);
        self.transact(items, guards).await
    }

    async fn delete(&self, current: &Book) -> Result<(), StoreError> {
        let mut items = vec![
            self.delete(Self::book_key(&current.id), Some(current.version))?,
            self.delete(Self::isbn_key(current), None)?,
        ];
        items.extend(self.delete_entries(&Self::entry_keys(current))?);
        self.transact(items, vec![(0, StoreError::Changed)]).await
    }

    async fn list(&self, filter: &BookFilter, limit: usize, after: Option<&str>) -> Result<Vec<Book>, StoreError> {
        let (index, pk_attr, sk_attr, pk) = match &filter.scope {
            Scope::All => (Some(BY_TITLE), "gsi1pk", "gsi1sk", "BOOKS".to_owned()),
            Scope::Author(author) => (Some(BY_AUTHOR), "gsi2pk", "gsi2sk", format!("AUTHOR#{author}")),
            Scope::AuthorWord(word) => (None, "pk", "sk", format!("AUTHORWORD#{word}")),
            Scope::Genre(genre) => (None, "pk", "sk", format!("GENRE#{genre}")),
        };
        // Positions are unique, so "after the cursor" is a plain sort-key range, no
        // ExclusiveStartKey needed; a prefix range ends just past the prefix.
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(index.map(str::to_owned))
            .expression_attribute_names("#pk", pk_attr)
            .expression_attribute_values(":pk", s(pk));
        query = match (&filter.title_prefix, after) {
            (None, None) => query.key_condition_expression("#pk = :pk"),
            (Some(prefix), None) => query
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#sk", sk_attr)
                .expression_attribute_values(":prefix", s(prefix)),
            (None, Some(after)) => query
                .key_condition_expression("#pk = :pk AND #sk > :after")
                .expression_attribute_names("#sk", sk_attr)
                .expression_attribute_values(":after", s(after)),
            (Some(prefix), Some(after)) => query
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :after AND :end")
                .expression_attribute_names("#sk", sk_attr)
                .expression_attribute_values(":after", s(after))
                .expression_attribute_values(":end", s(format!("{prefix}{PREFIX_END}"))),
        };
        let mut books = Vec::with_capacity(limit);
        let mut start_key = None;
        if limit == 0 {
            return Ok(books);
        }
        loop {
            let page_limit = i32::try_from(limit - books.len()).unwrap_or(i32::MAX);
            let output = query
                .clone()
                .limit(page_limit)
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(|e| unavailable(DisplayErrorContext(&e)))?;
            for item in output.items.unwrap_or_default() {
                let book: Book = serde_dynamo::from_item(item).map_err(unavailable)?;
                // BETWEEN is inclusive: skip the book the cursor points at.
                if after != Some(book.position().as_str()) {
                    books.push(book);
                }
            }
            start_key = output.last_evaluated_key;
            if books.len() >= limit || start_key.is_none() {
                books.truncate(limit);
                return Ok(books);
            }
        }
    }
}
