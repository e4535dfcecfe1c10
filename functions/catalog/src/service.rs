//! The catalog's rules, written against the `BookStore` port: nothing here knows HTTP,
//! Lambda or DynamoDB.

use bookish_shared::events::rfc3339;
use bookish_shared::text::fold;
use bookish_shared::{cursor, Problem};
use serde::Serialize;
use time::OffsetDateTime;

use crate::book::{
    is_plausible_id, Book, BookDraft, MAX_AUTHOR_CHARS, MAX_GENRE_CHARS, MAX_ID_CHARS, MAX_TITLE_CHARS,
    MAX_TITLE_KEY_BYTES,
};
use crate::store::{BookFilter, BookStore, Scope};
use crate::CatalogError;

pub const DEFAULT_PAGE_SIZE: usize = 20;
pub const MAX_PAGE_SIZE: usize = 100;
/// How many books one `ids=` lookup may name.
pub const MAX_LOOKUP_IDS: usize = 100;
/// The longest `ids=` value: `MAX_LOOKUP_IDS` ids of `MAX_ID_CHARS`, comma-separated.
pub const MAX_LOOKUP_CHARS: usize = MAX_LOOKUP_IDS * (MAX_ID_CHARS + 1) - 1;
/// The longest `cursor=`: a cursor made from the longest position is about 1,340.
pub const MAX_CURSOR_CHARS: usize = 2048;
/// The most bytes an author or genre key may take in a partition key (`AUTHORWORD#<key>`
/// has the longest prefix; 2048 bytes at most in DynamoDB). Within their character limits
/// they always fit; this only guards the query against a folding that grows more than
/// expected.
const MAX_PARTITION_KEY_BYTES: usize = 2048 - "AUTHORWORD#".len();

#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BookPage {
    pub items: Vec<Book>,
    pub next_cursor: Option<String>,
}

/// A parsed `GET /v1/books` query: a page of a listing, or a lookup of books by id.
#[derive(Debug, PartialEq, Eq)]
pub enum BooksQuery {
    List(ListQuery),
    Lookup(Vec<String>),
}

#[derive(Debug, PartialEq, Eq)]
pub struct ListQuery {
    pub filter: BookFilter,
    pub limit: usize,
    pub cursor: Option<String>,
}

impl BooksQuery {
    /// Parses the query string parameters (`param` looks one up by name).
    pub fn parse(param: impl Fn(&str) -> Option<String>) -> Result<Self, Problem> {
        let Some(ids) = param("ids") else { return ListQuery::parse(param).map(Self::List) };
        if ["author", "genre", "q", "cursor", "limit"].iter().any(|name| param(name).is_some()) {
            return Err(Problem::invalid(
                "ids",
                "ids looks books up by id; it cannot be combined with other parameters.",
            ));
        }
        at_most("ids", &ids, MAX_LOOKUP_CHARS)?;
        let mut unique: Vec<String> = Vec::new();
        for id in ids.split(',').map(str::trim) {
            if id.is_empty() {
                return Err(Problem::invalid(
                    "ids",
                    "ids is a comma-separated list of book ids with no empty entries.",
                ));
            }
            if id.chars().count() > MAX_ID_CHARS {
                return Err(Problem::invalid(
                    "ids",
                    format!("A book id has at most {MAX_ID_CHARS} characters; one in ids is longer."),
                ));
            }
            if !unique.iter().any(|u| u == id) {
                unique.push(id.to_owned());
            }
        }
        if unique.len() > MAX_LOOKUP_IDS {
            return Err(Problem::invalid("ids", format!("Look up at most {MAX_LOOKUP_IDS} books at a time.")));
        }
        Ok(Self::Lookup(unique))
    }
}

impl ListQuery {
    fn parse(param: impl Fn(&str) -> Option<String>) -> Result<Self, Problem> {
        let limit = match param("limit") {
            None => DEFAULT_PAGE_SIZE,
            Some(raw) => raw.parse::<usize>().ok().filter(|n| (1..=MAX_PAGE_SIZE).contains(n)).ok_or_else(|| {
                Problem::invalid(
                    "limit",
                    format!("limit must be a whole number from 1 to {MAX_PAGE_SIZE}; got '{raw}'."),
                )
            })?,
        };
        let folded = |name: &str, max_chars: usize| -> Result<Option<String>, Problem> {
            match param(name) {
                None => Ok(None),
                Some(raw) => match fold(at_most(name, &raw, max_chars)?) {
                    key if key.is_empty() => {
                        Err(Problem::invalid(name, format!("{name} needs at least one letter or digit.")))
                    }
                    key => Ok(Some(key)),
                },
            }
        };
        let scope = match (folded("author", MAX_AUTHOR_CHARS)?, folded("genre", MAX_GENRE_CHARS)?) {
            (Some(_), Some(_)) => {
                return Err(Problem::invalid("genre", "Filter by author or by genre, not both at once."));
            }
            // One word finds every author whose name has it ("orwell"); more words name
            // the whole author, as a word list cannot be intersected in one key query.
            (Some(author), None) if author.contains(' ') => Scope::Author(author),
            (Some(word), None) => Scope::AuthorWord(word),
            (None, Some(genre)) => Scope::Genre(genre),
            (None, None) => Scope::All,
        };
        let cursor =
            param("cursor").map(|raw| at_most("cursor", &raw, MAX_CURSOR_CHARS).map(str::to_owned)).transpose()?;
        Ok(Self { filter: BookFilter { scope, title_prefix: folded("q", MAX_TITLE_CHARS)? }, limit, cursor })
    }
}

/// A query parameter of at most `max_chars` characters (as the OpenAPI `maxLength` counts).
fn at_most<'a>(name: &str, raw: &'a str, max_chars: usize) -> Result<&'a str, Problem> {
    if raw.chars().count() > max_chars {
        return Err(Problem::invalid(name, format!("{name} is longer than {max_chars} characters.")));
    }
    Ok(raw)
}

pub async fn list_books(store: &dyn BookStore, query: &ListQuery) -> Result<BookPage, CatalogError> {
    let filter = &query.filter;
    let scope = filter.cursor_scope();
    // The cursor's position starts the query's key range: it must be one this query made.
    let after = query
        .cursor
        .as_deref()
        .map(|c| cursor::decode_admitted(&scope, c, |position| filter.admits_position(position)))
        .transpose()?;
    if !fits_a_key(filter) {
        // No book's keys are this long (titles are kept to MAX_TITLE_KEY_BYTES when written).
        return Ok(BookPage { items: Vec::new(), next_cursor: None });
    }
    // One extra book tells whether another page exists, so the last page has no cursor.
    let mut items = store.list(&query.filter, query.limit + 1, after.as_deref()).await?;
    let next_cursor = if items.len() > query.limit {
        items.truncate(query.limit);
        items.last().map(|last| cursor::encode(&scope, &last.position()))
    } else {
        None
    };
    Ok(BookPage { items, next_cursor })
}

/// Whether the filter's keys fit DynamoDB's: a folded title prefix longer than any title's
/// sort key, or an author or genre longer than a partition key, matches no book.
fn fits_a_key(filter: &BookFilter) -> bool {
    let partition = match &filter.scope {
        Scope::All => "",
        Scope::Author(key) | Scope::AuthorWord(key) | Scope::Genre(key) => key,
    };
    partition.len() <= MAX_PARTITION_KEY_BYTES
        && filter.title_prefix.as_ref().is_none_or(|prefix| prefix.len() <= MAX_TITLE_KEY_BYTES)
}

/// The books with the given ids, in the order asked for; unknown ids are left out, as
/// are ids no book could have (never sent to the store).
pub async fn lookup_books(store: &dyn BookStore, ids: &[String]) -> Result<BookPage, CatalogError> {
    let ids: Vec<String> = ids.iter().filter(|id| is_plausible_id(id)).cloned().collect();
    if ids.is_empty() {
        return Ok(BookPage { items: Vec::new(), next_cursor: None });
    }
    let mut found = store.get_many(&ids).await?;
    found.sort_by_key(|book| ids.iter().position(|id| id == &book.id));
    Ok(BookPage { items: found, next_cursor: None })
}

/// The book with this id. An id no book could have (`is_plausible_id`) is not found
/// without asking the store, so an over-long one never becomes an invalid key.
pub async fn get_book(store: &dyn BookStore, id: &str) -> Result<Book, CatalogError> {
    if !is_plausible_id(id) {
        let shown: String = id.chars().take(MAX_ID_CHARS).collect();
        let ellipsis = if shown.len() < id.len() { "…" } else { "" };
        return Err(CatalogError::NotFound(format!("{shown}{ellipsis}")));
    }
    store.get(id).await?.ok_or_else(|| CatalogError::NotFound(id.to_owned()))
}

pub async fn create_book(store: &dyn BookStore, draft: BookDraft, now: OffsetDateTime) -> Result<Book, CatalogError> {
    let now = rfc3339(now);
    let book = Book {
        id: uuid::Uuid::new_v4().simple().to_string(),
        isbn: draft.isbn,
        title: draft.title,
        author: draft.author,
        genres: draft.genres,
        description: draft.description,
        published_year: draft.published_year,
        price: draft.price,
        created_at: now.clone(),
        updated_at: now,
        version: 1,
    };
    store.insert(&book).await?;
    Ok(book)
}

/// Replaces every client-owned field of a book. `permits` is the caller's precondition
/// on the current ETag (HTTP `If-Match`).
pub async fn replace_book(
    store: &dyn BookStore,
    id: &str,
    draft: BookDraft,
    permits: impl Fn(&str) -> bool,
    now: OffsetDateTime,
) -> Result<Book, CatalogError> {
    let current = checked_current(store, id, permits).await?;
    let next = Book {
        isbn: draft.isbn,
        title: draft.title,
        author: draft.author,
        genres: draft.genres,
        description: draft.description,
        published_year: draft.published_year,
        price: draft.price,
        updated_at: rfc3339(now),
        version: current.version + 1,
        ..current.clone()
    };
    store.replace(&current, &next).await?;
    Ok(next)
}

pub async fn delete_book(store: &dyn BookStore, id: &str, permits: impl Fn(&str) -> bool) -> Result<(), CatalogError> {
    let current = checked_current(store, id, permits).await?;
    Ok(store.delete(&current).await?)
}

async fn checked_current(
    store: &dyn BookStore,
    id: &str,
    permits: impl Fn(&str) -> bool,
) -> Result<Book, CatalogError> {
    let current = get_book(store, id).await?;
    if !permits(&current.etag()) {
        return Err(CatalogError::PreconditionFailed(current.etag()));
    }
    Ok(current)
}
