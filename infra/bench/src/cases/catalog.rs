//! `catalog-read` and `catalog-admin` over a `MemoryBookStore` holding a shelf of 20 books,
//! and `catalog-read` over its `DynamoBookStore` and the SDK, against a stub books table
//! holding the same shelf.

use bookish_shared::auth::Authenticator;
use bookish_shared::http;
use bookish_shared::money::{Currency, Money};
use catalog::book::{Book, Isbn13};
use catalog::routes::{admin, read};
use catalog::store::{BookStore, DynamoBookStore, MemoryBookStore};
use serde_json::Value;

use super::SAMPLE_BOOK;
use crate::fixtures::{fixture, Fixture};
use crate::invocation::Runtime;
use crate::runner::{Case, Meta, Over, Success};
use crate::stub_dynamodb::{self, StubDynamo};

/// Title, author and genres of the shelf. The first is `SAMPLE_BOOK`, which the get and
/// replace events name; the search event finds Animal Farm.
const SHELF: [(&str, &str, &[&str]); 20] = [
    ("1984", "George Orwell", &["Dystopian", "Classics"]),
    ("Animal Farm", "George Orwell", &["Satire", "Classics"]),
    ("Homage to Catalonia", "George Orwell", &["Memoir"]),
    ("The Great Gatsby", "F. Scott Fitzgerald", &["Classics"]),
    ("Anna Karenina", "Leo Tolstoy", &["Classics", "Romance"]),
    ("War and Peace", "Leo Tolstoy", &["Classics", "Historical"]),
    ("Brave New World", "Aldous Huxley", &["Dystopian"]),
    ("Fahrenheit 451", "Ray Bradbury", &["Dystopian"]),
    ("Pride and Prejudice", "Jane Austen", &["Classics", "Romance"]),
    ("Emma", "Jane Austen", &["Classics", "Romance"]),
    ("Middlemarch", "George Eliot", &["Classics"]),
    ("Moby-Dick", "Herman Melville", &["Classics", "Adventure"]),
    ("Jane Eyre", "Charlotte Brontë", &["Classics", "Romance"]),
    ("Wuthering Heights", "Emily Brontë", &["Classics"]),
    ("Frankenstein", "Mary Shelley", &["Horror", "Classics"]),
    ("Dracula", "Bram Stoker", &["Horror"]),
    ("The Trial", "Franz Kafka", &["Classics"]),
    ("Ulysses", "James Joyce", &["Modernist"]),
    ("Don Quixote", "Miguel de Cervantes", &["Classics", "Adventure"]),
    ("Crime and Punishment", "Fyodor Dostoevsky", &["Classics"]),
];

/// The shelf's books.
fn shelf_books() -> impl Iterator<Item = Book> {
    SHELF.iter().enumerate().map(|(n, (title, author, genres))| {
        let id = if n == 0 { SAMPLE_BOOK.to_owned() } else { format!("{:016x}", 0xb00c_0000 + n) };
        Book {
            id,
            isbn: isbn(n),
            title: (*title).to_owned(),
            author: (*author).to_owned(),
            genres: genres.iter().map(|g| (*g).to_owned()).collect(),
            description: format!("{title}, by {author}: a sample description about as long as a back-cover blurb, to give the JSON a realistic size."),
            published_year: 1850 + n as i32,
            price: Money::new(899 + 100 * n as i64, Currency::parse("USD").expect("USD is a currency")),
            created_at: "2026-11-27T12:00:00Z".to_owned(),
            updated_at: "2026-11-27T12:00:00Z".to_owned(),
            version: 1,
        }
    })
}

/// A store holding the shelf, as the books table would.
async fn shelf() -> MemoryBookStore {
    let store = MemoryBookStore::default();
    for book in shelf_books() {
        store.insert(&book).await.expect("the shelf's ISBNs are distinct");
    }
    store
}

/// A `DynamoBookStore` over a stub books table holding the shelf, as the store's own
/// inserts wrote it. The stub answers GetItem by key, and the query of the catalog's first
/// page (the `byTitle` index in title order).
async fn shelf_over_sdk() -> DynamoBookStore {
    let stub = StubDynamo::start();
    let written = stub.record_puts();
    let store = DynamoBookStore::new(stub.client().await, "bookish-BooksTable");
    for book in shelf_books() {
        store.insert(&book).await.expect("the stub takes the shelf");
    }
    let items = std::mem::take(&mut *written.lock().expect("recorded lock"));
    let mut by_title: Vec<Value> = items.iter().filter(|item| item["gsi1pk"]["S"] == "BOOKS").cloned().collect();
    by_title.sort_by(|a, b| a["gsi1sk"]["S"].as_str().cmp(&b["gsi1sk"]["S"].as_str()));
    stub.answer("GetItem", move |request| stub_dynamodb::get_item(&items, request));
    stub.answer("Query", move |request| {
        let first_page = request["IndexName"] == "byTitle"
            && request["KeyConditionExpression"] == "#pk = :pk"
            && request["ExpressionAttributeValues"][":pk"]["S"] == "BOOKS";
        if !first_page {
            return Err(format!("the stub answers only the catalog's first page, not {request}"));
        }
        Ok(stub_dynamodb::query_page(&by_title, request, &["pk", "sk", "gsi1pk", "gsi1sk"]))
    });
    store
}

/// The `n`th of a run of valid ISBN-13s that no sample event uses.
fn isbn(n: usize) -> Isbn13 {
    let digits = format!("978100000{n:03}");
    let sum: u32 = digits.bytes().enumerate().map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 }).sum();
    Isbn13::parse(&format!("{digits}{}", (10 - sum % 10) % 10)).expect("the check digit is right")
}

/// `catalog-read`: the public reads.
pub struct CatalogRead {
    meta: Meta,
    event: Vec<u8>,
    store: Box<dyn BookStore>,
    over: Over,
    runtime: Runtime,
}

impl CatalogRead {
    const FUNCTION: &'static str = "catalog-read";

    async fn new(route: &'static str, event: Fixture, over: Over) -> Self {
        let store: Box<dyn BookStore> = match over {
            Over::MemoryPorts => Box::new(shelf().await),
            Over::SdkStub => Box::new(shelf_over_sdk().await),
        };
        Self {
            meta: Meta { function: Self::FUNCTION, route, success: Success::Status(200) },
            event: event.bytes(),
            store,
            over,
            runtime: Runtime::new(Self::FUNCTION),
        }
    }

    pub async fn get_book(over: Over) -> Self {
        Self::new("GET /v1/books/{id}", fixture!("catalog/get-book.json"), over).await
    }

    /// The first page of five.
    pub async fn list_books(over: Over) -> Self {
        Self::new("GET /v1/books?limit=5", fixture!("catalog/list-books.json"), over).await
    }

    /// An author's books by title prefix.
    pub async fn search_books() -> Self {
        let event = fixture!("catalog/search-books.json");
        Self::new("GET /v1/books?author=george%20orwell&q=ani", event, Over::MemoryPorts).await
    }
}

impl Case for CatalogRead {
    fn meta(&self) -> &Meta {
        &self.meta
    }

    async fn next_event(&mut self) -> Vec<u8> {
        self.event.clone()
    }

    async fn invoke(&self, event: &[u8]) -> Vec<u8> {
        let store = &*self.store;
        self.runtime.http(event, move |req| http::serve(req, move |req| read::handle(store, req))).await
    }

    fn over(&self) -> Over {
        self.over
    }
}

/// `catalog-admin`: the admin-only writes. Every iteration starts from the shelf, so a
/// create never meets its own ISBN and a replace's `If-Match: "1"` always holds.
pub struct CatalogAdmin {
    meta: Meta,
    event: Vec<u8>,
    store: MemoryBookStore,
    auth: Authenticator,
    runtime: Runtime,
}

impl CatalogAdmin {
    const FUNCTION: &'static str = "catalog-admin";

    async fn new(route: &'static str, success: Success, event: Fixture) -> Self {
        Self {
            meta: Meta { function: Self::FUNCTION, route, success },
            event: event.bytes(),
            store: shelf().await,
            auth: Authenticator::ApiGateway,
            runtime: Runtime::new(Self::FUNCTION),
        }
    }

    pub async fn create_book() -> Self {
        Self::new("POST /v1/books", Success::Status(201), fixture!("catalog/create-book-as-admin.json")).await
    }

    pub async fn replace_book() -> Self {
        Self::new("PUT /v1/books/{id}", Success::Status(200), fixture!("catalog/replace-book-as-admin.json")).await
    }
}

impl Case for CatalogAdmin {
    fn meta(&self) -> &Meta {
        &self.meta
    }

    async fn next_event(&mut self) -> Vec<u8> {
        self.store = shelf().await;
        self.event.clone()
    }

    async fn invoke(&self, event: &[u8]) -> Vec<u8> {
        let (store, auth) = (&self.store, &self.auth);
        self.runtime.http(event, move |req| http::serve(req, move |req| admin::handle(store, auth, req))).await
    }
}
