"""The storefront in a real browser against the real local stack: sign-up, search,
cart, checkout until CONFIRMED with its email, a declined card, admin writes, reload."""

from __future__ import annotations

import json
import re
import uuid

import requests
from playwright.sync_api import Page, expect

from shop import WAIT_SECONDS

PASSWORD = "Bookish-Browser-1!"
SETTLE_MS = WAIT_SECONDS * 1000


def sign_up(page: Page, storefront: str) -> str:
    email = f"reader-{uuid.uuid4().hex[:10]}@bookish.local"
    page.goto(f"{storefront}/#/signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Confirm your email")).to_be_visible()
    # moto mails no code and takes any (the page says so, from config.json).
    expect(page.get_by_text("any code confirms")).to_be_visible()
    page.get_by_label("Confirmation code").fill("123456")
    page.get_by_role("button", name="Confirm").click()
    sign_in(page, email, PASSWORD)
    return email


def sign_in(page: Page, email: str, password: str) -> None:
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def add_to_cart(page: Page, title: str, quantity: int = 1) -> None:
    page.get_by_role("link", name=title, exact=True).first.click()
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    page.get_by_label("Quantity").fill(str(quantity))
    page.get_by_role("button", name="Add to cart").click()
    expect(page.get_by_text("Added to your cart")).to_be_visible()


def search(page: Page, storefront: str, **fields: str) -> None:
    page.goto(f"{storefront}/#/")
    labels = {"title": "Title starts with", "author": "Author", "genre": "Genre"}
    for name, value in fields.items():
        page.get_by_label(labels[name]).fill(value)
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="Search results")).to_be_visible()


def check_out(page: Page, card: str) -> str:
    page.goto(page.url.split("#")[0] + "#/checkout")
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Address line 1").fill("12 St James's Square")
    page.get_by_label("City").fill("London")
    page.get_by_label("Postal code").fill("SW1Y 4JH")
    page.get_by_label("Country code").fill("GB")
    page.get_by_label("Card").select_option(label=card)
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r"#/orders/[^/]+$"))
    return page.url.rsplit("/", 1)[1]


def api_as_page(page: Page, stack: dict, path: str) -> dict:
    """What the API says to the signed-in shopper of the page (its own token)."""
    session = json.loads(page.evaluate("localStorage.getItem('bookish.session')"))
    r = requests.get(stack["apiUrl"] + path, headers={"Authorization": f"Bearer {session['idToken']}"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_new_shopper_signs_up_finds_orwell_checks_out_and_is_told(page: Page, storefront, stack, mail):
    email = sign_up(page, storefront)

    search(page, storefront, author="orwell")
    page.wait_for_url(re.compile(r"author=orwell"))  # the API finds authors by one word of the name
    expect(page.get_by_role("link", name="1984", exact=True)).to_be_visible()
    add_to_cart(page, "1984", 2)
    search(page, storefront, title="Brave")
    add_to_cart(page, "Brave New World")

    page.get_by_role("link", name=re.compile(r"^Cart")).click()
    expect(page.locator("#subtotal")).to_contain_text("3 items")
    order_id = check_out(page, "Visa ending 4242 (test card: approved)")

    expect(page.locator("#order-status")).to_contain_text("Confirmed", timeout=SETTLE_MS)
    order = api_as_page(page, stack, f"/v1/orders/{order_id}")
    assert order["status"] == "CONFIRMED" and sorted(l["title"] for l in order["lines"]) == ["1984", "Brave New World"]
    mail.wait_sent(order_id, "CONFIRMED")
    mail.expect_email(order, "CONFIRMED", email)

    page.get_by_role("link", name="All your orders").click()
    expect(page.get_by_role("link", name=f"Order {order_id[-8:]}")).to_be_visible()


def test_a_declined_card_shows_why_and_keeps_the_cart(page: Page, storefront):
    sign_up(page, storefront)
    search(page, storefront, title="Dune")
    add_to_cart(page, "Dune")
    check_out(page, "Card ending 0002 (test card: declined)")
    status = page.locator("#order-status")
    expect(status).to_contain_text("Rejected")
    expect(status).to_contain_text("card was declined")
    page.get_by_role("link", name=re.compile(r"^Cart")).click()
    expect(page.get_by_role("link", name="Dune", exact=True)).to_be_visible()


def test_an_admin_adds_a_book_and_a_shopper_finds_it(page: Page, storefront, stack, browser, api, admin_token):
    admin = stack["users"]["admin"]
    title = f"Browser Tales {uuid.uuid4().hex[:6]}"
    page.goto(f"{storefront}/#/signin?next=/admin/books/new")
    sign_in(page, admin["email"], admin["password"])
    expect(page.get_by_role("heading", name="Add a book")).to_be_visible()
    page.get_by_label("ISBN-13").fill(isbn13())
    page.get_by_label("Title").fill(title)
    page.get_by_label("Author").fill("Ada Browser")
    page.get_by_label("Genres").fill("Testing")
    page.get_by_label("Published year").fill("2026")
    page.get_by_label("Price").fill("abc")
    page.get_by_role("button", name="Add book").click()
    # An error is shown in words next to the field it is about.
    price = page.get_by_label("Price")
    expect(price).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".field-error")).to_contain_text("price")
    price.fill("12.50")
    page.get_by_role("button", name="Add book").click()
    expect(page.get_by_role("heading", name=f"Edit “{title}”")).to_be_visible()
    book_id = page.url.rsplit("/", 1)[1]
    page.get_by_label("Copies available").fill("7")
    page.get_by_role("button", name="Set stock").click()
    expect(page.locator("#announcer")).to_contain_text("Stock set to 7")

    shopper = browser.new_page()
    try:
        search(shopper, storefront, title=title)
        shopper.get_by_role("link", name=title).click()
        expect(shopper.get_by_role("heading", name=title)).to_be_visible()
        expect(shopper.locator("main .price")).to_have_text("$12.50")
        expect(shopper.locator("#stock")).to_have_text("In stock (7)")
    finally:
        shopper.close()
        assert api.delete(f"/v1/books/{book_id}", token=admin_token).status_code == 204


def test_the_cart_survives_a_reload(page: Page, storefront):
    sign_up(page, storefront)
    search(page, storefront, author="Frank Herbert")
    add_to_cart(page, "Dune", 3)
    page.get_by_role("link", name=re.compile(r"^Cart")).click()
    expect(page.get_by_label("Quantity of Dune")).to_have_value("3")
    page.reload()
    expect(page.get_by_label("Quantity of Dune")).to_have_value("3")
    expect(page.get_by_role("link", name="Cart (3)")).to_be_visible()

    # An expired ID token is renewed with the refresh token (REFRESH_TOKEN_AUTH), unseen.
    page.evaluate("""() => { const s = JSON.parse(localStorage.getItem('bookish.session'));
                             s.expiresAt = 0; localStorage.setItem('bookish.session', JSON.stringify(s)); }""")
    page.reload()
    expect(page.get_by_label("Quantity of Dune")).to_have_value("3")
    renewed = json.loads(page.evaluate("localStorage.getItem('bookish.session')"))
    assert renewed["expiresAt"] > 0 and renewed["refreshToken"]


def isbn13() -> str:
    digits = [9, 7, 9] + [int(c) for c in f"{uuid.uuid4().int % 10**9:09d}"]
    check = (10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10) % 10
    return "".join(map(str, digits + [check]))
