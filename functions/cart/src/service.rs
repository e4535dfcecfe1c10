//! The cart's rules, written against the `CartStore` and `Catalog` ports.

use std::collections::HashMap;

use bookish_shared::catalog_client::{Catalog, CatalogBook};
use bookish_shared::money::{Currency, Money};
use time::OffsetDateTime;

use crate::cart::{is_plausible_book_id, CartLineView, CartView, ExpectedLine, Quantity, StoredCart};
use crate::store::CartStore;
use crate::CartError;

/// The currency an empty cart's subtotal is shown in.
const DEFAULT_CURRENCY: &str = "USD";

/// Who is asking, for the calls this makes on their behalf.
pub struct Caller<'a> {
    /// The shopper's Cognito `sub`: the only key a cart is stored under.
    pub owner: &'a str,
    pub correlation_id: &'a str,
}

pub async fn view(store: &dyn CartStore, catalog: &dyn Catalog, caller: &Caller<'_>) -> Result<CartView, CartError> {
    let cart = store.get(caller.owner).await?;
    let books = prices(catalog, cart.as_ref(), &[], caller).await?;
    Ok(priced(cart, &books))
}

pub async fn set_quantity(
    store: &dyn CartStore,
    catalog: &dyn Catalog,
    caller: &Caller<'_>,
    book_id: &str,
    quantity: Quantity,
    now: OffsetDateTime,
) -> Result<CartView, CartError> {
    if !is_plausible_book_id(book_id) {
        return Err(CartError::UnknownBook(book_id.to_owned()));
    }
    // One catalog call prices the new book and the lines already in the cart.
    let current = store.get(caller.owner).await?;
    let mut books = prices(catalog, current.as_ref(), &[book_id], caller).await?;
    let book = books.get(book_id).ok_or_else(|| CartError::UnknownBook(book_id.to_owned()))?;
    let held = current.iter().flat_map(StoredCart::book_ids).filter(|id| *id != book_id).find_map(|id| books.get(id));
    if let Some(held) = held.filter(|held| held.price.currency != book.price.currency) {
        return Err(CartError::MixedCurrencies(
            held.price.currency.as_str().into(),
            book.price.currency.as_str().into(),
        ));
    }
    // Lines whose book has left the catalog are invisible and unbuyable: drop them so they
    // do not hold places the shopper can no longer free.
    let gone: Vec<&str> = current.iter().flat_map(StoredCart::book_ids).filter(|id| !books.contains_key(*id)).collect();
    for id in gone {
        store.remove_line(caller.owner, id, now).await?;
    }
    let updated = store.set_line(caller.owner, book_id, quantity, now).await?;
    // Another tab may have added books meanwhile: price those too.
    let unpriced: Vec<&str> = updated.book_ids().filter(|id| !books.contains_key(*id)).collect();
    if !unpriced.is_empty() {
        books.extend(prices(catalog, None, &unpriced, caller).await?);
    }
    Ok(priced(Some(updated), &books))
}

pub async fn remove(
    store: &dyn CartStore,
    catalog: &dyn Catalog,
    caller: &Caller<'_>,
    book_id: &str,
    now: OffsetDateTime,
) -> Result<CartView, CartError> {
    if !is_plausible_book_id(book_id) {
        // Not an id the catalog could ever issue: no such book, as PUT says too.
        return Err(CartError::UnknownBook(book_id.chars().take(64).collect()));
    }
    let cart = store.remove_line(caller.owner, book_id, now).await?;
    let books = prices(catalog, cart.as_ref(), &[], caller).await?;
    Ok(priced(cart, &books))
}

pub async fn clear(store: &dyn CartStore, caller: &Caller<'_>) -> Result<(), CartError> {
    Ok(store.clear(caller.owner).await?)
}

/// Removes the lines an order took, each only if it still holds the quantity ordered:
/// a line added or changed (in another tab) while the order was placed stays.
pub async fn remove_ordered(
    store: &dyn CartStore,
    caller: &Caller<'_>,
    lines: &[ExpectedLine],
    now: OffsetDateTime,
) -> Result<(), CartError> {
    Ok(store.remove_lines(caller.owner, lines, now).await?)
}

async fn prices(
    catalog: &dyn Catalog,
    cart: Option<&StoredCart>,
    extra: &[&str],
    caller: &Caller<'_>,
) -> Result<HashMap<String, CatalogBook>, CartError> {
    let ids: Vec<String> =
        cart.iter().flat_map(|c| c.book_ids()).chain(extra.iter().copied()).map(str::to_owned).collect();
    let books = catalog.lookup(&ids, caller.correlation_id).await?;
    Ok(books.into_iter().map(|book| (book.id.clone(), book)).collect())
}

/// Prices a cart from the catalog's current books. Lines whose book has left the catalog
/// are not shown (and cannot be bought).
fn priced(cart: Option<StoredCart>, books: &HashMap<String, CatalogBook>) -> CartView {
    let Some(cart) = cart else {
        let currency = Currency::parse(DEFAULT_CURRENCY).expect("the default currency is valid");
        return CartView { items: Vec::new(), subtotal: Money::new(0, currency), item_count: 0, updated_at: None };
    };
    let items: Vec<CartLineView> = cart
        .lines
        .iter()
        .filter_map(|line| {
            let book = books.get(&line.book_id)?;
            let quantity = line.quantity.get();
            Some(CartLineView {
                book_id: line.book_id.clone(),
                title: book.title.clone(),
                unit_price: book.price.clone(),
                quantity,
                line_total: Money::new(book.price.amount * i64::from(quantity), book.price.currency.clone()),
            })
        })
        .collect();
    let currency = items.first().map_or_else(
        || Currency::parse(DEFAULT_CURRENCY).expect("the default currency is valid"),
        |line| line.unit_price.currency.clone(),
    );
    // Only the catalog re-pricing a carted book in another currency gets here (adding one
    // is refused). One cart shows one currency: such a line is left out like a book that
    // left the catalog, and the shopper can still delete it.
    let (items, other): (Vec<_>, Vec<_>) = items.into_iter().partition(|line| line.unit_price.currency == currency);
    if !other.is_empty() {
        tracing::warn!(
            currency = currency.as_str(),
            hidden = other.len(),
            "cart lines priced in another currency are not shown"
        );
    }
    CartView {
        subtotal: Money::new(items.iter().map(|line| line.line_total.amount).sum(), currency),
        item_count: items.iter().map(|line| line.quantity).sum(),
        items,
        updated_at: Some(cart.updated_at),
    }
}
