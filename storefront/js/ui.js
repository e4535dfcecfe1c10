// Small DOM helpers: element building, money, forms and their errors, announcements.

/** h("p", {class: "x"}, "text", child...) — attributes starting with "on" become listeners. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null && child !== false) el.append(child);
  }
  return el;
}

const fractionDigits = (currency) =>
  new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;

/** {amount: 999, currency: "USD"} -> "$9.99" (amounts are minor units). */
export function money({ amount, currency }) {
  return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(amount / 10 ** fractionDigits(currency));
}

/** "9.99" in the currency's major units -> 999 minor units (NaN when not a number). */
export function toMinor(text, currency) {
  const value = Number(String(text).trim());
  return text === "" || !Number.isFinite(value) ? NaN : Math.round(value * 10 ** fractionDigits(currency));
}

export function announce(text) {
  const live = document.getElementById("announcer");
  live.textContent = "";
  setTimeout(() => (live.textContent = text), 50);
}

/** Replace the page: the new view's heading gets focus, so a screen reader starts there. */
export function show(title, ...content) {
  const main = document.getElementById("main");
  const heading = h("h1", { tabindex: "-1" }, title);
  main.replaceChildren(heading, ...content);
  document.title = `${title} · Bookish`;
  heading.focus();
}

/** A labelled input; `name` is the API's field path (e.g. "shippingAddress.city"). */
export function field(label, name, attrs = {}, hint) {
  const id = `f-${name.replace(/[^a-z0-9]+/gi, "-")}`;
  const control = attrs.tag === "textarea"
    ? h("textarea", { id, name, ...attrs, tag: undefined })
    : attrs.tag === "select"
      ? h("select", { id, name, ...attrs, tag: undefined, options: undefined },
          attrs.options.map(([value, text]) => h("option", { value }, text)))
      : h("input", { id, name, ...attrs });
  if (attrs.tag === "textarea" && attrs.value) control.value = attrs.value;
  const hintEl = hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hintEl);
}

export function clearErrors(form) {
  form.querySelectorAll(".field-error, .form-error").forEach((el) => el.remove());
  form.querySelectorAll("[aria-invalid]").forEach((el) => {
    el.removeAttribute("aria-invalid");
    const hint = el.getAttribute("aria-describedby")?.split(" ").filter((id) => !id.endsWith("-error")).join(" ");
    if (hint) el.setAttribute("aria-describedby", hint);
    else el.removeAttribute("aria-describedby");
  });
}

/** Show an error in words next to the field it names (or above the form), and focus it. */
export function showError(form, message, fieldName) {
  const control = fieldName && findControl(form, fieldName);
  if (control) {
    const id = `${control.id}-error`;
    control.closest(".field").append(h("p", { class: "field-error", id }, message));
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", [control.getAttribute("aria-describedby"), id].filter(Boolean).join(" "));
    control.focus();
  } else {
    const box = h("p", { class: "form-error", role: "alert", tabindex: "-1" }, message);
    form.prepend(box);
    box.focus();
  }
}

// "price.amount" -> the control named price.amount, or failing that price; "genres[1]" -> genres.
function findControl(form, name) {
  const parts = name.replace(/\[\d+\]/g, "").split(".");
  while (parts.length) {
    const control = form.elements.namedItem(parts.join("."));
    if (control instanceof Element) return control;
    parts.pop();
  }
  return null;
}

export const values = (form) => Object.fromEntries(new FormData(form).entries());

/** Run `action` with the form's submit button disabled; errors shown on the form. */
export async function submitting(form, action, describe) {
  const button = form.querySelector("button[type=submit]");
  clearErrors(form);
  if (button) button.disabled = true;
  try {
    return await action();
  } catch (err) {
    const [message, fieldName] = describe ? describe(err) : [err.message, err.field];
    showError(form, message, fieldName);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}
