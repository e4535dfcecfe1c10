// Bookish storefront: hash routes, one view function each. Everything goes through the
// public API (api.js) and Cognito (auth.js).
import { api, ApiError, query } from "./api.js";
import * as auth from "./auth.js";
import { config } from "./config.js";
import { announce, field, h, money, show as paint, showError, submitting, toMinor, values } from "./ui.js";

const PAGE_SIZE = 12;
const POLL_MS = 1500;
const TEST_CARDS = [
  ["pm_card_visa", "Visa ending 4242 (test card: approved)"],
  ["pm_card_chargeDeclined", "Card ending 0002 (test card: declined)"],
];
const REASONS = {
  OUT_OF_STOCK: "Some of the books were out of stock. Nothing was charged.",
  PAYMENT_DECLINED: "Your card was declined. Nothing was charged; your cart is kept.",
  PAYMENT_FAILED: "The payment could not be taken. Nothing was charged.",
  TIMED_OUT: "The order could not be completed in time. Nothing was charged.",
};
const STATUS_TEXT = {
  PENDING: "Pending: checking stock and payment…",
  CONFIRMED: "Confirmed",
  REJECTED: "Rejected",
  CANCELLED: "Cancelled",
};

let stopPolling = () => {};
let rendering = ""; // the route being shown: a slow view must not paint over a newer one

function show(...args) {
  if (location.hash === rendering) paint(...args);
}

// ------------------------------------------------------------------ routing

const routes = [
  [/^\/$/, catalog],
  [/^\/books\/([^/]+)$/, bookPage],
  [/^\/cart$/, cartPage],
  [/^\/checkout$/, checkoutPage],
  [/^\/orders$/, ordersPage],
  [/^\/orders\/([^/]+)$/, orderPage],
  [/^\/signin$/, signInPage],
  [/^\/signup$/, signUpPage],
  [/^\/confirm$/, confirmPage],
  [/^\/admin$/, adminPage],
  [/^\/admin\/books\/new$/, () => bookForm(null)],
  [/^\/admin\/books\/([^/]+)$/, bookForm],
];

function parseHash() {
  const [path, search = ""] = (location.hash.slice(1) || "/").split("?");
  return { path, params: new URLSearchParams(search) };
}

export function go(path) {
  location.hash = path;
}

async function render() {
  rendering = location.hash;
  stopPolling();
  updateNav();
  const { path, params } = parseHash();
  const route = routes.find(([pattern]) => pattern.test(path));
  if (!route) return show("Page not found", h("p", {}, h("a", { href: "#/" }, "Back to the books")));
  try {
    await route[1](...path.match(route[0]).slice(1).map(decodeURIComponent), params);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      go(`/signin?next=${encodeURIComponent(path)}`);
    } else {
      show("Something went wrong", h("p", { role: "alert" }, err.message));
    }
  }
}

function updateNav() {
  const signedIn = Boolean(auth.session());
  const admin = signedIn && auth.isAdmin();
  document.querySelectorAll("[data-when]").forEach((el) => {
    const when = el.dataset.when;
    el.hidden = !(when === "signed-in" ? signedIn : when === "signed-out" ? !signedIn : admin);
  });
}

function requireSignIn() {
  if (auth.session()) return true;
  go(`/signin?next=${encodeURIComponent(parseHash().path)}`);
  return false;
}

// ------------------------------------------------------------------ catalog

async function catalog(params) {
  const filters = { q: params.get("q") || "", author: params.get("author") || "", genre: params.get("genre") || "" };
  const cursor = params.get("cursor") || "";
  const back = params.getAll("back"); // the cursors of the pages before this one
  const form = h("form", { class: "search", role: "search", onsubmit: (e) => {
    e.preventDefault();
    go(`/?${query(values(e.target))}`);
  } },
    field("Title starts with", "q", { type: "search", value: filters.q }),
    field("Author", "author", { type: "search", value: filters.author }),
    field("Genre", "genre", { type: "search", value: filters.genre }),
    h("div", { class: "field" }, h("button", { type: "submit" }, "Search")));
  let page;
  try {
    ({ data: page } = await api("GET", `/v1/books?${query({ ...filters, cursor, limit: PAGE_SIZE })}`));
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 400) throw err;
    show("Books", form);
    return showError(form, err.message, err.field);
  }
  const link = (extra) => `#/?${query(filters)}&${extra}`;
  const pager = h("nav", { class: "pager", "aria-label": "Pages" },
    back.length ? h("a", { href: link(back.slice(0, -1).map((c) => `back=${encodeURIComponent(c)}`).join("&")
      + (back.at(-1) ? `&cursor=${encodeURIComponent(back.at(-1))}` : "")) }, "← Previous page") : null,
    page.nextCursor ? h("a", { href: link([...back, cursor].map((c) => `back=${encodeURIComponent(c)}`).join("&")
      + `&cursor=${encodeURIComponent(page.nextCursor)}`) }, "Next page →") : null);
  const searching = filters.q || filters.author || filters.genre;
  show(searching ? "Search results" : "Books", form,
    page.items.length
      ? h("ul", { class: "books" }, page.items.map(bookCard))
      : h("p", {}, "No books match. Try a shorter title or another author or genre."),
    pager);
  announce(`${page.items.length} books shown`);
}

function bookCard(book) {
  return h("li", {},
    h("h2", {}, h("a", { href: `#/books/${encodeURIComponent(book.id)}` }, book.title)),
    h("p", { class: "meta" }, book.author),
    h("p", { class: "meta" }, book.genres.join(", ")),
    h("p", { class: "price" }, money(book.price)));
}

async function bookPage(id) {
  const [{ data: book }, stock] = await Promise.all([
    api("GET", `/v1/books/${encodeURIComponent(id)}`),
    api("GET", `/v1/inventory/${encodeURIComponent(id)}`, { fresh: true }).then((r) => r.data.available).catch(() => null),
  ]);
  const inStock = stock === null ? "Stock unknown" : stock > 0 ? `In stock (${stock})` : "Out of stock";
  const form = h("form", { onsubmit: (e) => addToCart(e, book) },
    field("Quantity", "quantity", { type: "number", min: "1", max: "99", value: "1", required: true }),
    h("button", { type: "submit", disabled: stock === 0 }, "Add to cart"));
  show(book.title,
    h("p", { class: "meta" }, `by ${book.author} · ${book.publishedYear} · ISBN ${book.isbn}`),
    h("p", { class: "meta" }, book.genres.join(", ")),
    book.description ? h("p", {}, book.description) : null,
    h("p", { class: "price" }, money(book.price)),
    h("p", { id: "stock" }, inStock),
    form);
}

async function addToCart(event, book) {
  event.preventDefault();
  if (!requireSignIn()) return;
  const form = event.target;
  const quantity = Number(values(form).quantity);
  await submitting(form, async () => {
    // Adds to what the cart holds already (the API sets a line's quantity).
    const { data: cart } = await api("GET", "/v1/cart", { auth: true });
    const held = cart.items.find((line) => line.bookId === book.id)?.quantity || 0;
    await api("PUT", `/v1/cart/items/${encodeURIComponent(book.id)}`, { auth: true, body: { quantity: held + quantity } });
    showCartCount(cart.itemCount + quantity);
    announce(`Added ${quantity} × ${book.title} to your cart`);
    form.replaceChildren(h("p", { role: "status" }, `Added to your cart. `, h("a", { href: "#/cart" }, "View cart"), " or ",
      h("a", { href: "#/" }, "keep shopping"), "."));
  }, (err) => [err.message, err.field === "quantity" || !err.field ? "quantity" : err.field]);
}

function showCartCount(count) {
  document.getElementById("nav-cart").textContent = count ? `Cart (${count})` : "Cart";
}

// ------------------------------------------------------------------ cart and checkout

async function cartPage() {
  if (!requireSignIn()) return;
  const { data: cart } = await api("GET", "/v1/cart", { auth: true });
  showCartCount(cart.itemCount);
  if (!cart.items.length) {
    return show("Your cart", h("p", {}, "Your cart is empty. ", h("a", { href: "#/" }, "Find a book"), "."));
  }
  const rows = cart.items.map((line) => {
    const form = h("form", { class: "qty", onsubmit: (e) => e.preventDefault() },
      field(`Quantity of ${line.title}`, "quantity", {
        type: "number", min: "1", max: "99", value: String(line.quantity),
        onchange: (e) => changeLine(form, line, Number(e.target.value)),
      }));
    form.querySelector("label").classList.add("visually-hidden");
    return h("tr", {},
      h("td", {}, h("a", { href: `#/books/${encodeURIComponent(line.bookId)}` }, line.title)),
      h("td", { class: "num" }, money(line.unitPrice)),
      h("td", {}, form),
      h("td", { class: "num" }, money(line.lineTotal)),
      h("td", {}, h("button", { type: "button", class: "secondary", "aria-label": `Remove ${line.title}`,
        onclick: () => removeLine(line) }, "Remove")));
  });
  show("Your cart",
    h("table", { class: "cart" },
      h("thead", {}, h("tr", {}, h("th", {}, "Book"), h("th", { class: "num" }, "Price"), h("th", {}, "Quantity"),
        h("th", { class: "num" }, "Total"), h("th", {}, h("span", { class: "visually-hidden" }, "Actions")))),
      h("tbody", {}, rows)),
    h("p", { class: "price", id: "subtotal" }, `Subtotal (${cart.itemCount} items): ${money(cart.subtotal)}`),
    h("div", { class: "actions" }, h("a", { class: "button", href: "#/checkout" }, "Check out")));
}

async function changeLine(form, line, quantity) {
  await submitting(form, async () => {
    await api("PUT", `/v1/cart/items/${encodeURIComponent(line.bookId)}`, { auth: true, body: { quantity } });
    await cartPage();
    announce(`${line.title}: quantity ${quantity}`);
  }, (err) => [err.message, "quantity"]);
}

async function removeLine(line) {
  await api("DELETE", `/v1/cart/items/${encodeURIComponent(line.bookId)}`, { auth: true });
  await cartPage();
  announce(`Removed ${line.title}`);
}

async function checkoutPage() {
  if (!requireSignIn()) return;
  const { data: cart } = await api("GET", "/v1/cart", { auth: true });
  if (!cart.items.length) return go("/cart");
  // One key per checkout attempt: a retried submit (a lost answer) cannot order twice.
  let idempotencyKey = crypto.randomUUID();
  const a = "shippingAddress";
  const form = h("form", { novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    const v = values(form);
    const address = Object.fromEntries(["name", "line1", "line2", "city", "postalCode", "country"]
      .map((k) => [k, v[`${a}.${k}`].trim()]).filter(([k, value]) => value || k !== "line2"));
    address.country = address.country.toUpperCase();
    const body = { shippingAddress: address, payment: { paymentMethod: v["payment.paymentMethod"] } };
    const order = await submitting(form, async () =>
      (await api("POST", "/v1/orders", { auth: true, body, headers: { "Idempotency-Key": idempotencyKey } })).data);
    if (order) {
      idempotencyKey = crypto.randomUUID();
      showCartCount(0);
      go(`/orders/${encodeURIComponent(order.id)}`);
    }
  } },
    h("fieldset", {}, h("legend", {}, "Shipping address"),
      field("Full name", `${a}.name`, { autocomplete: "name", required: true }),
      field("Address line 1", `${a}.line1`, { autocomplete: "address-line1", required: true }),
      field("Address line 2 (optional)", `${a}.line2`, { autocomplete: "address-line2" }),
      h("div", { class: "grid2" },
        field("City", `${a}.city`, { autocomplete: "address-level2", required: true }),
        field("Postal code", `${a}.postalCode`, { autocomplete: "postal-code", required: true })),
      field("Country code", `${a}.country`, { autocomplete: "country", required: true, maxlength: "2", value: "US" },
        "Two letters, e.g. US, GB, FR.")),
    h("fieldset", {}, h("legend", {}, "Payment"),
      field("Card", "payment.paymentMethod", { tag: "select", options: TEST_CARDS },
        "Test cards of the payment provider: no real card is charged.")),
    h("p", { class: "price" }, `Total: ${money(cart.subtotal)}`),
    h("button", { type: "submit" }, "Place order"));
  show("Check out", form);
}

// ------------------------------------------------------------------ orders

async function ordersPage(params) {
  if (!requireSignIn()) return;
  const cursor = params.get("cursor") || "";
  const { data: page } = await api("GET", `/v1/orders?${query({ limit: 20, cursor })}`, { auth: true });
  if (!page.items.length && !cursor) return show("Your orders", h("p", {}, "You have no orders yet."));
  show("Your orders",
    h("table", {},
      h("thead", {}, h("tr", {}, h("th", {}, "Order"), h("th", {}, "Placed"), h("th", {}, "Status"),
        h("th", { class: "num" }, "Total"))),
      h("tbody", {}, page.items.map((o) => h("tr", {},
        h("td", {}, h("a", { href: `#/orders/${encodeURIComponent(o.id)}` }, `Order ${o.id.slice(-8)}`)),
        h("td", {}, new Date(o.createdAt).toLocaleString()),
        h("td", { class: `status status-${o.status}` }, STATUS_TEXT[o.status] || o.status),
        h("td", { class: "num" }, money(o.total)))))),
    page.nextCursor ? h("p", {}, h("a", { href: `#/orders?cursor=${encodeURIComponent(page.nextCursor)}` }, "Older orders →")) : null);
}

async function orderPage(id) {
  if (!requireSignIn()) return;
  const path = `/v1/orders/${encodeURIComponent(id)}`;
  let { data: order } = await api("GET", path, { auth: true });
  const status = h("p", { id: "order-status", role: "status", "aria-live": "polite" });
  const actions = h("div", { class: "actions" });
  const paint = () => {
    status.className = `status status-${order.status}`;
    status.textContent = `Status: ${STATUS_TEXT[order.status] || order.status}`
      + (order.reason ? ` — ${REASONS[order.reason] || order.reason}` : "")
      + (order.refundedAt ? " Your payment was refunded." : "");
    actions.replaceChildren(["PENDING", "CONFIRMED"].includes(order.status)
      ? h("button", { type: "button", class: "danger", onclick: cancel }, "Cancel order") : "");
  };
  const cancel = async (e) => {
    if (!confirm("Cancel this order?")) return;
    e.target.disabled = true;
    try {
      ({ data: order } = await api("POST", `${path}/cancel`, { auth: true }));
      paint();
      announce("Order cancelled");
    } catch (err) {
      actions.append(h("p", { class: "form-error", role: "alert" }, err.message));
      e.target.disabled = false;
    }
  };
  paint();
  const addr = order.shippingAddress;
  show(`Order ${order.id.slice(-8)}`, status,
    h("table", {}, h("tbody", {}, order.lines.map((l) => h("tr", {},
      h("td", {}, l.title), h("td", { class: "num" }, `${l.quantity} × ${money(l.unitPrice)}`),
      h("td", { class: "num" }, money(l.lineTotal)))))),
    h("p", { class: "price" }, `Total: ${money(order.total)}`),
    h("p", {}, `Ships to ${[addr.name, addr.line1, addr.line2, addr.city, addr.postalCode, addr.country].filter(Boolean).join(", ")}`),
    actions,
    h("p", {}, h("a", { href: "#/orders" }, "All your orders")));
  // Follow the order until the saga settles it.
  let timer;
  const poll = async () => {
    try {
      ({ data: order } = await api("GET", path, { auth: true }));
      paint();
    } catch { /* a failed poll is retried */ }
    if (order.status === "PENDING") timer = setTimeout(poll, POLL_MS);
    else announce(status.textContent);
  };
  if (order.status === "PENDING") timer = setTimeout(poll, POLL_MS);
  stopPolling = () => clearTimeout(timer);
}

// ------------------------------------------------------------------ accounts

const COGNITO_FIELDS = {
  UsernameExistsException: "email", InvalidPasswordException: "password", CodeMismatchException: "code",
  ExpiredCodeException: "code", InvalidParameterException: "email", UserNotFoundException: "email",
};

const describeCognito = (err) => [err.message, COGNITO_FIELDS[err.type]];

function signInPage(params) {
  const next = params.get("next") || "/";
  const form = h("form", { onsubmit: async (e) => {
    e.preventDefault();
    const v = values(form);
    const signedIn = await submitting(form, () => auth.signIn(v.email.trim(), v.password), (err) =>
      err.type === "UserNotConfirmedException"
        ? ["Please confirm your email address first.", "email"]
        : [err.type === "NotAuthorizedException" ? "Wrong email or password." : err.message, null]);
    if (signedIn) {
      announce("Signed in");
      go(next);
    }
  } },
    field("Email", "email", { type: "email", autocomplete: "username", required: true }),
    field("Password", "password", { type: "password", autocomplete: "current-password", required: true }),
    h("button", { type: "submit" }, "Sign in"));
  show("Sign in", form, h("p", {}, "New here? ", h("a", { href: "#/signup" }, "Create an account"), "."));
}

function signUpPage() {
  const form = h("form", { onsubmit: async (e) => {
    e.preventDefault();
    const v = values(form);
    const done = await submitting(form, () => auth.signUp(v.email.trim(), v.password), describeCognito);
    if (done) go(`/confirm?email=${encodeURIComponent(v.email.trim())}`);
  } },
    field("Email", "email", { type: "email", autocomplete: "email", required: true }),
    field("Password", "password", { type: "password", autocomplete: "new-password", required: true, minlength: "8" },
      "At least 8 characters, with upper and lower case letters, a number and a symbol."),
    h("button", { type: "submit" }, "Create account"));
  show("Create an account", form);
}

function confirmPage(params) {
  const email = params.get("email") || "";
  const form = h("form", { onsubmit: async (e) => {
    e.preventDefault();
    const v = values(form);
    const done = await submitting(form, () => auth.confirmSignUp(v.email.trim(), v.code.trim()), describeCognito);
    if (done) {
      announce("Email confirmed");
      go(`/signin`);
    }
  } },
    field("Email", "email", { type: "email", value: email, required: true }),
    field("Confirmation code", "code", { inputmode: "numeric", autocomplete: "one-time-code", required: true },
      config.signUpCodeHint || "We emailed you a code."),
    h("button", { type: "submit" }, "Confirm"),
    " ",
    h("button", { type: "button", class: "secondary", onclick: async () => {
      await auth.resendCode(form.elements.email.value.trim()).then(() => announce("A new code is on its way"),
        (err) => showError(form, err.message, "email"));
    } }, "Send a new code"));
  show("Confirm your email", form);
}

// ------------------------------------------------------------------ admin

function requireAdmin() {
  if (!requireSignIn()) return false;
  if (auth.isAdmin()) return true;
  show("Admins only", h("p", {}, "This page is for catalog administrators."));
  return false;
}

async function adminPage(params) {
  if (!requireAdmin()) return;
  const cursor = params.get("cursor") || "";
  const { data: page } = await api("GET", `/v1/books?${query({ limit: 50, cursor })}`, { fresh: true });
  show("Catalog admin",
    h("p", {}, h("a", { class: "button", href: "#/admin/books/new" }, "Add a book")),
    h("table", {},
      h("thead", {}, h("tr", {}, h("th", {}, "Title"), h("th", {}, "Author"), h("th", { class: "num" }, "Price"))),
      h("tbody", {}, page.items.map((b) => h("tr", {},
        h("td", {}, h("a", { href: `#/admin/books/${encodeURIComponent(b.id)}` }, b.title)),
        h("td", {}, b.author), h("td", { class: "num" }, money(b.price)))))),
    page.nextCursor ? h("p", {}, h("a", { href: `#/admin?cursor=${encodeURIComponent(page.nextCursor)}` }, "More →")) : null);
}

async function bookForm(id) {
  if (!requireAdmin()) return;
  const existing = id ? await api("GET", `/v1/books/${encodeURIComponent(id)}`, { fresh: true }) : null;
  const book = existing?.data;
  let etag = existing?.etag;
  const v = (name, fallback = "") => (book ? name(book) : fallback);
  const form = h("form", { novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    const f = values(form);
    const currency = f["price.currency"].trim().toUpperCase();
    const body = {
      isbn: f.isbn.trim(), title: f.title.trim(), author: f.author.trim(),
      genres: f.genres.split(",").map((g) => g.trim()).filter(Boolean),
      publishedYear: f.publishedYear === "" ? null : Number(f.publishedYear),
      price: { amount: toMinor(f["price.amount"], currency || "USD"), currency },
      ...(f.description.trim() ? { description: f.description.trim() } : {}),
    };
    if (Number.isNaN(body.price.amount)) return showError(form, "Enter the price as a number, e.g. 12.99.", "price.amount");
    const saved = await submitting(form, () => book
      ? api("PUT", `/v1/books/${encodeURIComponent(book.id)}`, { auth: true, body, headers: { "If-Match": etag } })
      : api("POST", "/v1/books", { auth: true, body }), (err) => [err.status === 412
      ? "Someone else changed this book meanwhile. Reload the page to see their version." : err.message, err.field]);
    if (saved) {
      announce(book ? "Book saved" : "Book added");
      go(`/admin/books/${encodeURIComponent(saved.data.id)}`);
      if (book) await bookForm(book.id);
    }
  } },
    field("ISBN-13", "isbn", { required: true, value: v((b) => b.isbn) }),
    field("Title", "title", { required: true, value: v((b) => b.title) }),
    field("Author", "author", { required: true, value: v((b) => b.author) }),
    field("Genres", "genres", { required: true, value: v((b) => b.genres.join(", ")) }, "Comma-separated, e.g. Classics, Dystopian."),
    field("Published year", "publishedYear", { type: "number", required: true, value: v((b) => String(b.publishedYear)) }),
    h("div", { class: "grid2" },
      field("Price", "price.amount", { inputmode: "decimal", required: true,
        value: v((b) => (b.price.amount / 100).toFixed(2)) }),
      field("Currency", "price.currency", { required: true, maxlength: "3", value: v((b) => b.price.currency, "USD") })),
    field("Description (optional)", "description", { tag: "textarea", rows: "4", value: v((b) => b.description || "") }),
    h("button", { type: "submit" }, book ? "Save changes" : "Add book"));
  const parts = [form];
  if (book) parts.push(await stockForm(book), deleteButton(book));
  show(book ? `Edit “${book.title}”` : "Add a book", ...parts);
}

async function stockForm(book) {
  const url = `/v1/inventory/${encodeURIComponent(book.id)}`;
  let { data: stock, etag } = await api("GET", url, { fresh: true });
  const form = h("form", { onsubmit: async (e) => {
    e.preventDefault();
    const available = Number(values(form).available);
    const saved = await submitting(form, () =>
      api("PUT", url, { auth: true, body: { available }, headers: { "If-Match": etag } }),
    (err) => [err.status === 412 ? "The stock changed meanwhile (an order, perhaps). It now shows the latest; try again."
      : err.message, "available"]);
    if (saved) {
      ({ data: stock, etag } = saved);
      announce(`Stock set to ${stock.available}`);
    } else {
      ({ data: stock, etag } = await api("GET", url, { fresh: true }));
    }
    form.elements.available.value = String(stock.available);
  } },
    h("h2", {}, "Stock"),
    field("Copies available", "available", { type: "number", min: "0", value: String(stock.available), required: true }),
    h("button", { type: "submit" }, "Set stock"));
  return form;
}

function deleteButton(book) {
  return h("div", { class: "actions" }, h("button", { type: "button", class: "danger", onclick: async (e) => {
    if (!confirm(`Delete “${book.title}” from the catalog?`)) return;
    e.target.disabled = true;
    await api("DELETE", `/v1/books/${encodeURIComponent(book.id)}`, { auth: true });
    announce("Book deleted");
    go("/admin");
  } }, "Delete book"));
}

// ------------------------------------------------------------------ start

document.getElementById("sign-out").addEventListener("click", async () => {
  await auth.signOut();
  showCartCount(0);
  announce("Signed out");
  go("/");
  render();
});
window.addEventListener("hashchange", render);
render();
if (auth.session()) api("GET", "/v1/cart", { auth: true }).then((r) => showCartCount(r.data.itemCount), () => {});
