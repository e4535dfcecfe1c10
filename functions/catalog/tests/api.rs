//! The catalog's HTTP routes end to end over the in-memory store, fed the sample API
//! Gateway events in `events/catalog/`, with claims from the JWT authorizer as in AWS.

mod support;

use bookish_shared::auth::Authenticator;
use bookish_shared::cursor;
use bookish_shared::http::serve;
use catalog::book::Book;
use catalog::routes::{admin, read};
use catalog::store::{BookFilter, BookStore, MemoryBookStore, Scope};
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{json, Value};

const SAMPLE_ID: &str = "0123456789abcdef";

fn event(name: &str) -> Request {
    let path = format!("{}/../../events/catalog/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    lambda_http::request::from_str(&text).unwrap()
}

fn with_body(mut req: Request, body: Value) -> Request {
    *req.body_mut() = Body::Text(body.to_string());
    req
}

fn with_header(mut req: Request, name: header::HeaderName, value: &str) -> Request {
    req.headers_mut().insert(name, HeaderValue::from_str(value).unwrap());
    req
}

async fn read(store: &MemoryBookStore, req: Request) -> Response<Body> {
    serve(req, |req| read::handle(store, req)).await.unwrap()
}

async fn admin(store: &MemoryBookStore, req: Request) -> Response<Body> {
    serve(req, |req| admin::handle(store, &Authenticator::ApiGateway, req)).await.unwrap()
}

fn json_of(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).unwrap()
}

fn sample_input() -> Value {
    serde_json::from_str::<Value>(match event("create-book-as-admin.json").body() {
        Body::Text(text) => text,
        _ => panic!("sample body is text"),
    })
    .unwrap()
}

async fn store_with_sample_book() -> MemoryBookStore {
    let store = MemoryBookStore::default();
    let book = Book { id: SAMPLE_ID.into(), ..support::book("1984", "George Orwell", &["Dystopian"]) };
    store.insert(&book).await.unwrap();
    store
}

#[tokio::test]
async fn gets_a_book_with_caching_headers_and_honours_if_none_match() {
    let store = store_with_sample_book().await;
    let response = read(&store, event("get-book.json")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_of(&response)["title"], "1984");
    assert_eq!(response.headers()[header::ETAG], "\"1\"");
    assert_eq!(response.headers()[header::CACHE_CONTROL], "public, max-age=60");
    assert_eq!(response.headers()["x-correlation-id"], "sample-correlation-id");
    assert!(response.headers().contains_key("x-request-id"));

    let again = read(&store, with_header(event("get-book.json"), header::IF_NONE_MATCH, "\"1\"")).await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(again.body().is_empty());
}

#[tokio::test]
async fn an_unknown_book_is_a_problem_404() {
    let response = read(&MemoryBookStore::default(), event("get-book.json")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json");
    assert_eq!(json_of(&response)["type"], "urn:bookish:problem:not-found");
}

#[tokio::test]
async fn pages_through_every_book_exactly_once() {
    let store = MemoryBookStore::default();
    for i in 0..12 {
        store.insert(&support::book(&format!("Title {i:02}"), "Ada", &["Tests"])).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = std::collections::HashMap::from([("limit".to_owned(), "5".to_owned())]);
        if let Some(cursor) = &cursor {
            query.insert("cursor".into(), cursor.clone());
        }
        let response = read(&store, event("list-books.json").with_query_string_parameters(query)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let page = json_of(&response);
        seen.extend(page["items"].as_array().unwrap().iter().map(|b| b["title"].as_str().unwrap().to_owned()));
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..12).map(|i| format!("Title {i:02}")).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn refuses_bad_list_parameters() {
    let store = MemoryBookStore::default();
    for (name, value, field) in [
        ("limit", "0", "limit"),
        ("limit", "101", "limit"),
        ("limit", "ten", "limit"),
        ("cursor", "bm90LWEtY3Vyc29y.AAAA", "cursor"),
        ("q", "  ", "q"),
    ] {
        let query = std::collections::HashMap::from([(name.to_owned(), value.to_owned())]);
        let response = read(&store, event("list-books.json").with_query_string_parameters(query)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name}={value}");
        assert_eq!(json_of(&response)["field"], field);
    }
    let both =
        std::collections::HashMap::from([("author".to_owned(), "a".to_owned()), ("genre".to_owned(), "b".to_owned())]);
    let response = read(&store, event("list-books.json").with_query_string_parameters(both)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn searches_by_author_and_title_prefix() {
    let store = MemoryBookStore::default();
    for (title, author) in
        [("Animal Farm", "George Orwell"), ("1984", "George Orwell"), ("Anna Karenina", "Leo Tolstoy")]
    {
        store.insert(&support::book(title, author, &["Classics"])).await.unwrap();
    }
    let response = read(&store, event("search-books.json")).await;
    let titles: Vec<Value> =
        json_of(&response)["items"].as_array().unwrap().iter().map(|b| b["title"].clone()).collect();
    assert_eq!(titles, [json!("Animal Farm")]);
}

#[tokio::test]
async fn looks_books_up_by_id_in_the_order_asked() {
    let store = MemoryBookStore::default();
    let (a, b) = (support::book("A", "Ada", &["Tests"]), support::book("B", "Ada", &["Tests"]));
    store.insert(&a).await.unwrap();
    store.insert(&b).await.unwrap();
    let ids = format!("{},missing,{},{}", b.id, a.id, b.id);
    let query = std::collections::HashMap::from([("ids".to_owned(), ids)]);
    let response = read(&store, event("list-books.json").with_query_string_parameters(query)).await;
    let page = json_of(&response);
    assert_eq!(
        page["items"].as_array().unwrap().iter().map(|b| b["title"].clone()).collect::<Vec<_>>(),
        [json!("B"), json!("A")]
    );
    assert_eq!(page["nextCursor"], Value::Null);

    let mixed = std::collections::HashMap::from([("ids".to_owned(), a.id.clone()), ("q".to_owned(), "a".to_owned())]);
    let response = read(&store, event("list-books.json").with_query_string_parameters(mixed)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let too_many = std::collections::HashMap::from([(
        "ids".to_owned(),
        (0..101).map(|i| format!("id{i}")).collect::<Vec<_>>().join(","),
    )]);
    let response = read(&store, event("list-books.json").with_query_string_parameters(too_many)).await;
    assert_eq!(json_of(&response)["field"], "ids");
}

/// The one request other services make of the catalog, exactly as
/// `bookish_shared::catalog_client` builds it (its tests check it still sends this record),
/// answered in the shape that client reads: `items` of id, title and price.
#[tokio::test]
async fn answers_the_lookup_the_cart_and_checkout_send() {
    let store = MemoryBookStore::default();
    for (id, title) in [("fedcba9876543210", "The Great Gatsby"), ("0123456789abcdef", "1984")] {
        store.insert(&Book { id: id.into(), ..support::book(title, "Ada", &["Tests"]) }).await.unwrap();
    }
    let response = read(&store, event("lookup-books-by-ids.json")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = json_of(&response);
    let books: Vec<Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| json!([b["id"], b["title"], b["price"]["amount"], b["price"]["currency"]]))
        .collect();
    assert_eq!(
        books,
        [
            json!(["0123456789abcdef", "1984", 1250, "USD"]),
            json!(["fedcba9876543210", "The Great Gatsby", 1250, "USD"])
        ]
    );
}

#[tokio::test]
async fn reads_refuse_other_methods() {
    let mut req = event("get-book.json");
    *req.method_mut() = lambda_http::http::Method::POST;
    assert_eq!(read(&MemoryBookStore::default(), req).await.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn an_admin_creates_a_book_once_per_isbn() {
    let store = MemoryBookStore::default();
    let response = admin(&store, event("create-book-as-admin.json")).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let book = json_of(&response);
    assert_eq!(response.headers()[header::LOCATION], format!("/v1/books/{}", book["id"].as_str().unwrap()));
    assert_eq!(response.headers()[header::ETAG], "\"1\"");
    assert_eq!(book["isbn"], "9780451524935");
    assert_eq!(book["price"], json!({"amount": 999, "currency": "USD"}));
    assert_eq!(book["version"], 1);

    let duplicate = admin(&store, event("create-book-as-admin.json")).await;
    assert_eq!(duplicate.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn only_admins_may_write() {
    let store = MemoryBookStore::default();
    let shopper = admin(&store, event("create-book-as-shopper.json")).await;
    assert_eq!(shopper.status(), StatusCode::FORBIDDEN);
    // A bearer token with no authorizer claims behind it is never trusted in AWS mode.
    let anonymous = admin(&store, event("create-book-unauthenticated.json")).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.headers()[header::WWW_AUTHENTICATE], "Bearer");
    let listed = read(&store, event("list-books.json")).await;
    assert_eq!(json_of(&listed)["items"], json!([]));
}

#[tokio::test]
async fn invalid_input_is_refused_and_nothing_is_stored() {
    let store = MemoryBookStore::default();
    let mut negative = sample_input();
    negative["price"]["amount"] = json!(-1);
    let mut float = sample_input();
    float["price"]["amount"] = json!(9.99);
    let mut unknown = sample_input();
    unknown["rating"] = json!(5);
    let mut blank = sample_input();
    blank["title"] = json!("  ");
    for (body, field) in [(negative, "price.amount"), (float, "price.amount"), (unknown, "rating"), (blank, "title")] {
        let response = admin(&store, with_body(event("create-book-as-admin.json"), body)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(json_of(&response)["field"], field);
    }
    let listed = read(&store, event("list-books.json")).await;
    assert_eq!(json_of(&listed)["items"], json!([]));
}

#[tokio::test]
async fn replace_honours_if_match_and_delete_removes() {
    let store = store_with_sample_book().await;
    let replaced = admin(&store, event("replace-book-as-admin.json")).await;
    assert_eq!(replaced.status(), StatusCode::OK);
    let book = json_of(&replaced);
    assert_eq!(book["version"], 2);
    assert_eq!(book["price"]["amount"], 1099);
    assert_eq!(book["createdAt"], "2026-11-27T12:00:00Z");
    assert_eq!(replaced.headers()[header::ETAG], "\"2\"");

    let stale = admin(&store, event("replace-book-as-admin.json")).await;
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);

    let deleted = admin(&store, event("delete-book-as-admin.json")).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(admin(&store, event("delete-book-as-admin.json")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(read(&store, event("get-book.json")).await.status(), StatusCode::NOT_FOUND);
}

fn query(pairs: &[(&str, &str)]) -> Request {
    let params: std::collections::HashMap<String, String> =
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    event("list-books.json").with_query_string_parameters(params)
}

fn with_id(name: &str, id: &str) -> Request {
    let params = std::collections::HashMap::from([("id".to_owned(), id.to_owned())]);
    event(name).with_path_parameters(params)
}

fn titles(response: &Response<Body>) -> Vec<String> {
    json_of(response)["items"].as_array().unwrap().iter().map(|b| b["title"].as_str().unwrap().to_owned()).collect()
}

fn assert_invalid(response: &Response<Body>, field: &str, what: &str) {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{what}: {:?}", response.body());
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json", "{what}");
    assert_eq!(json_of(response)["field"], field, "{what}");
}

/// Books around the title prefix "forge": two before it, three in it, one after.
async fn store_with_forge_books() -> (MemoryBookStore, Vec<Book>) {
    let store = MemoryBookStore::default();
    let mut inside = Vec::new();
    for title in ["Aardvark", "Forest", "Forge One", "Forge Three", "Forge Two", "Zebra"] {
        let book = support::book(title, "Ada Smith", &["Tests"]);
        store.insert(&book).await.unwrap();
        if title.starts_with("Forge") {
            inside.push(book);
        }
    }
    (store, inside)
}

#[tokio::test]
async fn a_forged_cursor_with_a_valid_digest_cannot_leave_the_title_prefix() {
    let (store, inside) = store_with_forge_books().await;
    let scope_of = |scope: Scope| BookFilter { scope, title_prefix: Some("forge".into()) }.cursor_scope();
    for (filter, scope) in [
        (vec![], scope_of(Scope::All)),
        (vec![("author", "ada smith")], scope_of(Scope::Author("ada smith".into()))),
        (vec![("author", "Smith")], scope_of(Scope::AuthorWord("smith".into()))),
        (vec![("genre", "Tests")], scope_of(Scope::Genre("tests".into()))),
    ] {
        let params = |extra: &[(&'static str, &str)]| -> Vec<(&str, String)> {
            let mut all: Vec<(&str, String)> = filter.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
            all.push(("q", "Forge".into()));
            all.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
            all
        };
        let send = |pairs: Vec<(&str, String)>| {
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            query(&pairs)
        };
        let first = read(&store, send(params(&[("limit", "1")]))).await;
        let real = json_of(&first)["nextCursor"].as_str().unwrap().to_owned();
        // The digest is no secret: re-minting the real position gives the real cursor...
        let position = cursor::decode(&scope, &real).unwrap();
        assert_eq!(position, inside[0].position());
        assert_eq!(cursor::encode(&scope, &position), real);
        let page = read(&store, send(params(&[("cursor", &real)]))).await;
        assert_eq!(titles(&page), ["Forge Three", "Forge Two"]);

        // ...and any other position must be one this query could have made.
        let id = &inside[0].id;
        for forged in [
            format!("a#{id}"),
            format!("aardvark#{id}"),
            format!("fore#{id}"),
            format!("forest#{id}"),
            format!("zzz#{id}"),
            format!("#{id}"),
            String::new(),
            "forge one".into(),
            "forge one#".into(),
            "forge one#a.b".into(),
            format!("forge one#{}", "x".repeat(65)),
            format!("forge {}#{id}", "x".repeat(2000)),
            format!("forge\u{10FFFF}#{id}"),
            format!("forge#one#{id}"),
        ] {
            let response = read(&store, send(params(&[("cursor", &cursor::encode(&scope, &forged))]))).await;
            assert_invalid(&response, "cursor", &format!("{filter:?} {forged:?}"));
        }
    }
}

#[tokio::test]
async fn a_forged_cursor_without_a_title_prefix_must_still_be_a_position() {
    let (store, _) = store_with_forge_books().await;
    let scope = BookFilter { scope: Scope::All, title_prefix: None }.cursor_scope();
    let ok = cursor::encode(&scope, "forge two#ffffffff");
    assert_eq!(titles(&read(&store, query(&[("cursor", &ok)])).await), ["Zebra"]);
    for forged in [String::new(), "no id".into(), format!("{}#abc", "x".repeat(2000)), "forge#a b".into()] {
        let response = read(&store, query(&[("cursor", &cursor::encode(&scope, &forged))])).await;
        assert_invalid(&response, "cursor", &forged);
    }
}

#[tokio::test]
async fn a_cursor_from_another_query_is_refused() {
    let (store, _) = store_with_forge_books().await;
    let first = read(&store, query(&[("q", "forge"), ("limit", "1")])).await;
    let real = json_of(&first)["nextCursor"].as_str().unwrap().to_owned();
    assert_eq!(read(&store, query(&[("q", "FORGE"), ("cursor", &real)])).await.status(), StatusCode::OK);
    for other in [
        vec![("q", "fore"), ("cursor", real.as_str())],
        vec![("cursor", real.as_str())],
        vec![("q", "forge"), ("author", "ada smith"), ("cursor", real.as_str())],
        vec![("q", "forge"), ("genre", "tests"), ("cursor", real.as_str())],
        vec![("q", "forge"), ("cursor", &real[..real.len() - 1])],
        vec![("q", "forge"), ("cursor", "garbage")],
    ] {
        assert_invalid(&read(&store, query(&other)).await, "cursor", &format!("{other:?}"));
    }
}

#[tokio::test]
async fn a_cursor_from_an_author_word_is_refused_for_the_whole_name_and_back() {
    let (store, _) = store_with_forge_books().await;
    let word = read(&store, query(&[("q", "forge"), ("author", "SMITH"), ("limit", "1")])).await;
    let word_cursor = json_of(&word)["nextCursor"].as_str().unwrap().to_owned();
    let name = read(&store, query(&[("q", "forge"), ("author", "ada smith"), ("limit", "1")])).await;
    let name_cursor = json_of(&name)["nextCursor"].as_str().unwrap().to_owned();
    let next = read(&store, query(&[("q", "forge"), ("author", "smith"), ("cursor", &word_cursor)])).await;
    assert_eq!(titles(&next), ["Forge Three", "Forge Two"]);
    for other in [
        vec![("q", "forge"), ("author", "ada smith"), ("cursor", word_cursor.as_str())],
        vec![("q", "forge"), ("author", "ada"), ("cursor", word_cursor.as_str())],
        vec![("q", "forge"), ("cursor", word_cursor.as_str())],
        vec![("q", "forge"), ("author", "smith"), ("cursor", name_cursor.as_str())],
    ] {
        assert_invalid(&read(&store, query(&other)).await, "cursor", &format!("{other:?}"));
    }
}

#[tokio::test]
async fn one_author_word_finds_every_author_with_it() {
    let store = MemoryBookStore::default();
    for (title, author) in [
        ("1984", "George Orwell"),
        ("Middlemarch", "George Eliot"),
        ("The Hobbit", "J. R. R. Tolkien"),
        ("Anna Karenina", "Leo Tolstoy"),
    ] {
        store.insert(&support::book(title, author, &["Classics"])).await.unwrap();
    }
    for (author, expected) in [
        ("orwell", vec!["1984"]),
        ("ORWELL", vec!["1984"]),
        ("george", vec!["1984", "Middlemarch"]),
        ("Tolkien", vec!["The Hobbit"]),
        ("R.", vec!["The Hobbit"]),
        ("j. r. r. tolkien", vec!["The Hobbit"]),
        ("orwel", vec![]),
        ("george tolstoy", vec![]),
        ("orwell george", vec![]),
    ] {
        assert_eq!(titles(&read(&store, query(&[("author", author)])).await), expected, "{author}");
    }
    assert_eq!(titles(&read(&store, query(&[("author", "george"), ("q", "mid")])).await), ["Middlemarch"]);
}

#[tokio::test]
async fn filters_are_bounded_as_the_spec_says() {
    let store = MemoryBookStore::default();
    for (name, max) in [("q", 300), ("author", 200), ("genre", 50)] {
        for c in ["x", "é", "각", "\u{1D400}"] {
            let at_limit = c.repeat(max);
            let response = read(&store, query(&[(name, &at_limit)])).await;
            assert_eq!(response.status(), StatusCode::OK, "{name} of {max} {c:?}");
            assert_eq!(json_of(&response)["items"], json!([]));
            assert_invalid(&read(&store, query(&[(name, &c.repeat(max + 1))])).await, name, name);
        }
        assert_invalid(&read(&store, query(&[(name, &"x".repeat(100_000))])).await, name, name);
    }
    assert_invalid(&read(&store, query(&[("cursor", &"A".repeat(2049))])).await, "cursor", "cursor");
}

#[tokio::test]
async fn lookups_refuse_over_long_ids_and_leave_out_impossible_ones() {
    let store = store_with_sample_book().await;
    for ids in [
        "y".repeat(65),
        format!("{SAMPLE_ID},{}", "y".repeat(65)),
        "y".repeat(5000),
        vec!["z".repeat(64); 101].join(","),
    ] {
        assert_invalid(&read(&store, query(&[("ids", &ids)])).await, "ids", &ids[..20]);
    }
    let mixed = format!("a.b,{SAMPLE_ID},{},é,a/b", "z".repeat(64));
    let response = read(&store, query(&[("ids", &mixed)])).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(titles(&response), ["1984"]);
    let none = read(&store, query(&[("ids", "a.b,é")])).await;
    assert_eq!(json_of(&none), json!({"items": [], "nextCursor": null}));
}

#[tokio::test]
async fn ids_the_catalog_never_issues_are_not_found() {
    let store = store_with_sample_book().await;
    for id in ["x".repeat(65), "x".repeat(5000), "a.b".into(), "é".into(), "a b".into(), "a#b".into()] {
        let get = read(&store, with_id("get-book.json", &id)).await;
        assert_eq!(get.status(), StatusCode::NOT_FOUND, "GET {id}");
        assert_eq!(json_of(&get)["type"], "urn:bookish:problem:not-found");
        assert!(json_of(&get)["detail"].as_str().unwrap().len() < 200);
        let put = admin(&store, with_id("replace-book-as-admin.json", &id)).await;
        assert_eq!(put.status(), StatusCode::NOT_FOUND, "PUT {id}");
        let delete = admin(&store, with_id("delete-book-as-admin.json", &id)).await;
        assert_eq!(delete.status(), StatusCode::NOT_FOUND, "DELETE {id}");
    }
    assert_eq!(read(&store, event("get-book.json")).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_title_too_long_to_sort_by_is_refused() {
    let store = MemoryBookStore::default();
    let mut body = sample_input();
    body["title"] = json!("각".repeat(300));
    let response = admin(&store, with_body(event("create-book-as-admin.json"), body)).await;
    assert_invalid(&response, "title", "hangul title");
    assert_eq!(json_of(&read(&store, event("list-books.json")).await)["items"], json!([]));
}
