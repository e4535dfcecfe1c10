//! One behaviour suite for every `BookStore` adapter: the in-memory one, and the DynamoDB
//! one against the moto server that `make test` starts (tables provisioned from
//! template.yaml, named by BOOKS_TABLE).

mod support;

use catalog::book::Book;
use catalog::store::{BookFilter, BookStore, DynamoBookStore, Scope, StoreError};
use support::{book, isbn, unique};

async fn dynamo_store() -> DynamoBookStore {
    let table = std::env::var("BOOKS_TABLE")
        .expect("BOOKS_TABLE and AWS_ENDPOINT_URL must point at moto: run `make test`, which starts it");
    assert!(std::env::var("AWS_ENDPOINT_URL").is_ok(), "AWS_ENDPOINT_URL must point at moto: run `make test`");
    DynamoBookStore::new(bookish_shared::dynamo::client(&bookish_shared::aws::config()), table)
}

fn ids(books: &[Book]) -> Vec<&str> {
    books.iter().map(|b| b.id.as_str()).collect()
}

fn filter(scope: Scope, prefix: Option<&str>) -> BookFilter {
    BookFilter { scope, title_prefix: prefix.map(str::to_owned) }
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test] async fn $name() { super::$name(&catalog::store::MemoryBookStore::default()).await })*
        }
        mod dynamodb {
            $(#[tokio::test] async fn $name() { super::$name(&super::dynamo_store().await).await })*
        }
    };
}

contract!(
    inserts_and_gets,
    gets_many_by_id,
    refuses_a_duplicate_isbn,
    lists_by_author_genre_and_title_prefix_in_order,
    lists_by_one_word_of_the_author,
    pages_after_a_position,
    replace_moves_the_book_between_listings,
    replace_refuses_stale_versions_and_taken_isbns,
    delete_removes_everything_once,
);

async fn inserts_and_gets(store: &dyn BookStore) {
    let book = book(&format!("Get {}", unique()), "Ada", &["Tests"]);
    store.insert(&book).await.unwrap();
    assert_eq!(store.get(&book.id).await.unwrap(), Some(book));
    assert_eq!(store.get("no-such-book").await.unwrap(), None);
}

async fn gets_many_by_id(store: &dyn BookStore) {
    let (a, b) = (
        book(&format!("Many {}", unique()), "Ada", &["Tests"]),
        book(&format!("Many {}", unique()), "Ada", &["Tests"]),
    );
    store.insert(&a).await.unwrap();
    store.insert(&b).await.unwrap();
    let mut found = store.get_many(&[b.id.clone(), "missing".into(), a.id.clone()]).await.unwrap();
    found.sort_by(|x, y| x.id.cmp(&y.id));
    let mut expected = vec![a, b];
    expected.sort_by(|x, y| x.id.cmp(&y.id));
    assert_eq!(found, expected);
    assert_eq!(store.get_many(&[]).await.unwrap(), []);
}

async fn refuses_a_duplicate_isbn(store: &dyn BookStore) {
    let first = book(&format!("First {}", unique()), "Ada", &["Tests"]);
    store.insert(&first).await.unwrap();
    let second = Book { isbn: first.isbn.clone(), ..book("Second", "Ada", &["Tests"]) };
    assert!(matches!(store.insert(&second).await, Err(StoreError::DuplicateIsbn(isbn)) if isbn == first.isbn.as_str()));
    assert_eq!(store.get(&second.id).await.unwrap(), None);
}

async fn lists_by_author_genre_and_title_prefix_in_order(store: &dyn BookStore) {
    let tag = unique();
    let (author, genre) = (format!("Gabriel{tag} García{tag}"), format!("Realismo Mágico {tag}"));
    let b = book(&format!("{tag} Cien años"), &author, &[&genre, "Classics"]);
    let a = book(&format!("{tag} Amor"), &author, &[&genre]);
    let c = book(&format!("{tag} Crónica"), "Someone Else", &[&genre]);
    for book in [&a, &b, &c] {
        store.insert(book).await.unwrap();
    }
    let author_key = bookish_shared::text::fold(&author);
    let genre_key = bookish_shared::text::fold(&genre);
    let by_author = store.list(&filter(Scope::Author(author_key.clone()), None), 10, None).await.unwrap();
    assert_eq!(ids(&by_author), [&a.id, &b.id]);
    let by_genre = store.list(&filter(Scope::Genre(genre_key.clone()), None), 10, None).await.unwrap();
    assert_eq!(ids(&by_genre), [&a.id, &b.id, &c.id]);
    let prefix = format!("{tag} c");
    let by_prefix = store.list(&filter(Scope::All, Some(&prefix)), 10, None).await.unwrap();
    assert_eq!(ids(&by_prefix), [&b.id, &c.id]);
    let in_genre = store.list(&filter(Scope::Genre(genre_key), Some(&format!("{tag} cr"))), 10, None).await.unwrap();
    assert_eq!(ids(&in_genre), [&c.id]);
    assert_eq!(store.list(&filter(Scope::Author(author_key), Some("zzz")), 10, None).await.unwrap(), []);
}

async fn pages_after_a_position(store: &dyn BookStore) {
    let tag = unique();
    let books: Vec<Book> =
        (0..5).map(|i| book(&format!("{tag} Part {i}"), &format!("Pager {tag}"), &["Paging"])).collect();
    for book in &books {
        store.insert(book).await.unwrap();
    }
    let prefix = format!("{tag} part");
    for scope in [
        Scope::All,
        Scope::Author(bookish_shared::text::fold(&format!("Pager {tag}"))),
        Scope::AuthorWord(tag.clone()),
        Scope::AuthorWord("pager".into()),
    ] {
        let filter = filter(scope, Some(&prefix));
        let first = store.list(&filter, 2, None).await.unwrap();
        assert_eq!(ids(&first), [&books[0].id, &books[1].id]);
        let rest = store.list(&filter, 10, Some(&first[1].position())).await.unwrap();
        assert_eq!(ids(&rest), [&books[2].id, &books[3].id, &books[4].id]);
    }
    // Without a prefix, "after" is an open range.
    let author = Scope::Author(bookish_shared::text::fold(&format!("Pager {tag}")));
    let after_third = store.list(&filter(author, None), 10, Some(&books[2].position())).await.unwrap();
    assert_eq!(ids(&after_third), [&books[3].id, &books[4].id]);
    let word = Scope::AuthorWord(tag.clone());
    let after_first = store.list(&filter(word, None), 2, Some(&books[0].position())).await.unwrap();
    assert_eq!(ids(&after_first), [&books[1].id, &books[2].id]);
}

async fn lists_by_one_word_of_the_author(store: &dyn BookStore) {
    let tag = unique();
    // Every word is one no seed author has (or has the tag): the black-box tests that run
    // after this suite share the table and list the seed authors' words.
    let hobbit = book(&format!("{tag} Hobbit"), &format!("Q. X. X. Tolkien{tag}"), &["Fantasy"]);
    let silmarillion = book(&format!("{tag} Silmarillion"), &format!("Christoph{tag} Tolkien{tag}"), &["Fantasy"]);
    let farm = book(&format!("{tag} Farm"), &format!("Zed{tag} O'Well-{tag}"), &["Classics"]);
    for book in [&hobbit, &silmarillion, &farm] {
        store.insert(book).await.unwrap();
    }
    let by_word = |word: &str, prefix: &str| {
        let filter = filter(Scope::AuthorWord(word.to_owned()), Some(prefix));
        async move { store.list(&filter, 10, None).await.unwrap() }
    };
    let surname = format!("tolkien{tag}");
    assert_eq!(ids(&by_word(&surname, &tag).await), [&hobbit.id, &silmarillion.id]);
    assert_eq!(ids(&by_word(&surname, &format!("{tag} s")).await), [&silmarillion.id]);
    // Initials are words; a word is listed once however often the name repeats it.
    assert_eq!(ids(&by_word("q", &tag).await), [&hobbit.id]);
    assert_eq!(ids(&by_word("x", &tag).await), [&hobbit.id]);
    assert_eq!(ids(&by_word(&format!("christoph{tag}"), &tag).await), [&silmarillion.id]);
    // Punctuation splits words.
    for word in [format!("zed{tag}"), "o".into(), "well".into(), tag.clone()] {
        assert_eq!(ids(&by_word(&word, &tag).await), [&farm.id], "{word}");
    }
    // Words match whole, not as prefixes or pieces.
    for word in ["tolk", "tolkien", "xx", "owell"] {
        assert_eq!(by_word(word, &tag).await, [], "{word}");
    }
    // The whole name is still its own scope.
    let whole = Scope::Author(bookish_shared::text::fold(&format!("Q. X. X. Tolkien{tag}")));
    assert_eq!(ids(&store.list(&filter(whole, None), 10, None).await.unwrap()), [&hobbit.id]);
}

async fn replace_moves_the_book_between_listings(store: &dyn BookStore) {
    let tag = unique();
    let current = book(
        &format!("{tag} Old title"),
        &format!("Old{tag} Kept{tag}"),
        &[&format!("Kept {tag}"), &format!("Dropped {tag}")],
    );
    store.insert(&current).await.unwrap();
    let next = Book {
        title: format!("{tag} New title"),
        author: format!("Kept{tag} New{tag}"),
        genres: vec![format!("Kept {tag}"), format!("Added {tag}")],
        isbn: isbn(),
        version: 2,
        ..current.clone()
    };
    store.replace(&current, &next).await.unwrap();
    assert_eq!(store.get(&current.id).await.unwrap(), Some(next.clone()));
    let count = |scope: Scope| async move { store.list(&filter(scope, None), 10, None).await.unwrap() };
    let fold = bookish_shared::text::fold;
    assert_eq!(count(Scope::Author(fold(&format!("Old{tag} Kept{tag}")))).await, []);
    assert_eq!(count(Scope::Author(fold(&format!("Kept{tag} New{tag}")))).await, std::slice::from_ref(&next));
    // The author's words move with the name; a word in both names now lists the new book.
    assert_eq!(count(Scope::AuthorWord(format!("old{tag}"))).await, []);
    assert_eq!(count(Scope::AuthorWord(format!("kept{tag}"))).await, std::slice::from_ref(&next));
    assert_eq!(count(Scope::AuthorWord(format!("new{tag}"))).await, std::slice::from_ref(&next));
    assert_eq!(count(Scope::Genre(fold(&format!("Dropped {tag}")))).await, []);
    assert_eq!(count(Scope::Genre(fold(&format!("Kept {tag}")))).await, std::slice::from_ref(&next));
    assert_eq!(count(Scope::Genre(fold(&format!("Added {tag}")))).await, std::slice::from_ref(&next));
    assert_eq!(store.list(&filter(Scope::All, Some(&format!("{tag} old"))), 10, None).await.unwrap(), []);
    // The old ISBN is free again.
    store
        .insert(&Book { isbn: current.isbn.clone(), ..book(&format!("{tag} Reuse"), "Ada", &["Tests"]) })
        .await
        .unwrap();
}

async fn replace_refuses_stale_versions_and_taken_isbns(store: &dyn BookStore) {
    let tag = unique();
    let current = book(&format!("{tag} Contested"), "Ada", &["Tests"]);
    let other = book(&format!("{tag} Other"), "Ada", &["Tests"]);
    store.insert(&current).await.unwrap();
    store.insert(&other).await.unwrap();
    let next = Book { version: 2, description: "changed".into(), ..current.clone() };
    store.replace(&current, &next).await.unwrap();
    let stale = Book { version: 2, description: "lost update".into(), ..current.clone() };
    assert!(matches!(store.replace(&current, &stale).await, Err(StoreError::Changed)));
    let taken = Book { version: 3, isbn: other.isbn.clone(), ..next.clone() };
    assert!(matches!(store.replace(&next, &taken).await, Err(StoreError::DuplicateIsbn(_))));
    assert_eq!(store.get(&current.id).await.unwrap(), Some(next));
}

async fn delete_removes_everything_once(store: &dyn BookStore) {
    let tag = unique();
    let doomed = book(&format!("{tag} Doomed"), &format!("Gone {tag}"), &[&format!("Gone {tag}")]);
    store.insert(&doomed).await.unwrap();
    let by_word = filter(Scope::AuthorWord(tag.clone()), None);
    assert_eq!(ids(&store.list(&by_word, 10, None).await.unwrap()), [&doomed.id]);
    let stale = Book { version: 7, ..doomed.clone() };
    assert!(matches!(store.delete(&stale).await, Err(StoreError::Changed)));
    store.delete(&doomed).await.unwrap();
    assert_eq!(store.get(&doomed.id).await.unwrap(), None);
    let fold = bookish_shared::text::fold;
    assert_eq!(store.list(&filter(Scope::Genre(fold(&format!("Gone {tag}"))), None), 10, None).await.unwrap(), []);
    assert_eq!(store.list(&filter(Scope::Author(fold(&format!("Gone {tag}"))), None), 10, None).await.unwrap(), []);
    assert_eq!(store.list(&by_word, 10, None).await.unwrap(), []);
    assert!(matches!(store.delete(&doomed).await, Err(StoreError::Changed)));
    store.insert(&Book { isbn: doomed.isbn.clone(), ..book("Reborn", "Ada", &["Tests"]) }).await.unwrap();
}
