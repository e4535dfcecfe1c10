"""Static checks of infra/openapi.yaml and infra/seed/books.json (no stack needed)."""

from __future__ import annotations

import copy
import re
from collections import Counter

import pytest
import yaml
from jsonschema import Draft202012Validator

from support import (
    SPEC_PATH,
    bad_checksum,
    fold,
    hyphenate,
    isbn13,
    isbn13_check_digit,
    isbn13_valid,
    load_seed,
)


@pytest.fixture(scope="module")
def spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


def test_openapi_document_is_valid(spec):
    from openapi_spec_validator import validate

    assert spec["openapi"].startswith("3.1")
    validate(spec)


def test_openapi_describes_every_route(spec):
    ops = {(p, m) for p, item in spec["paths"].items() for m in item if m != "parameters"}
    assert ops == {
        ("/v1/books", "get"), ("/v1/books", "post"),
        ("/v1/books/{id}", "get"), ("/v1/books/{id}", "put"), ("/v1/books/{id}", "delete"),
        ("/v1/cart", "get"), ("/v1/cart", "delete"),
        ("/v1/cart/items/{bookId}", "put"), ("/v1/cart/items/{bookId}", "delete"),
        ("/v1/orders", "post"), ("/v1/orders", "get"), ("/v1/orders/{id}", "get"),
        ("/v1/orders/{id}/cancel", "post"),
        ("/v1/inventory/{bookId}", "get"), ("/v1/inventory/{bookId}", "put"),
    }
    for path, method in ops:
        op = spec["paths"][path][method]
        if path.startswith(("/v1/cart", "/v1/orders")):
            assert op["security"] == [{"cognitoJwt": []}]
            assert "401" in op["responses"] and "403" not in op["responses"]
        elif path.startswith("/v1/inventory") and method == "get":
            assert op["security"] == [] and "401" not in op["responses"]
        elif method == "get":
            assert op["security"] == [] and "304" in op["responses"]
        else:
            assert op["security"] == [{"cognitoJwt": []}]
            assert {"401", "403"} <= set(op["responses"])
    ids = [p for p in spec["paths"]["/v1/books"]["get"]["parameters"] if p.get("name") == "ids"]
    assert len(ids) == 1 and ids[0]["in"] == "query"


def _resolve(spec: dict, node: dict) -> dict:
    while "$ref" in node:
        kind, name = node["$ref"].split("/")[-2:]
        node = spec["components"][kind][name]
    return node


def test_cart_schemas_are_closed_and_errors_are_problems(spec):
    schemas = spec["components"]["schemas"]
    for name in ("Cart", "CartLine", "QuantityInput"):
        assert schemas[name]["additionalProperties"] is False, name
    assert set(schemas["Cart"]["required"]) == {"items", "subtotal", "itemCount", "updatedAt"}
    assert set(schemas["CartLine"]["required"]) == {"bookId", "title", "unitPrice", "quantity", "lineTotal"}
    assert schemas["QuantityInput"]["properties"]["quantity"] == {"type": "integer", "minimum": 1, "maximum": 99}
    assert "null" in schemas["Cart"]["properties"]["updatedAt"]["type"]
    for path in ("/v1/cart", "/v1/cart/items/{bookId}"):
        for method, op in spec["paths"][path].items():
            if method == "parameters":
                continue
            for status, resp in op["responses"].items():
                resp = _resolve(spec, resp)
                assert {"x-request-id", "x-correlation-id"} <= set(resp["headers"]), (path, method, status)
                if status.startswith(("4", "5")):
                    assert list(resp["content"]) == ["application/problem+json"], (path, method, status)
    put = spec["paths"]["/v1/cart/items/{bookId}"]["put"]
    assert {"200", "400", "401", "404", "409", "413", "415"} <= set(put["responses"])


def _bookinput_schema(spec: dict) -> dict:
    schemas = copy.deepcopy(spec["components"]["schemas"])
    s = schemas["BookInput"]
    s["properties"]["price"] = schemas["Money"]
    return s


def test_seed_has_enough_real_looking_books():
    books = load_seed()
    assert len(books) >= 55
    authors = Counter(b["author"] for b in books)
    assert len(authors) >= 12
    assert sum(1 for n in authors.values() if n >= 3) >= 5
    assert len({g for b in books for g in b["genres"]}) >= 6
    for name in ("George Orwell", "F. Scott Fitzgerald", "Jane Austen", "Gabriel García Márquez"):
        assert name in authors
    titles = {b["title"]: b for b in books}
    assert titles["1984"]["isbn"] == "9780451524935"
    assert titles["The Great Gatsby"]["isbn"] == "9780743273565"
    assert any(fold(t) != t.casefold() for t in titles), "need an accented title"


def test_seed_isbns_valid_and_distinct():
    books = load_seed()
    isbns = [b["isbn"] for b in books]
    assert len(set(isbns)) == len(isbns)
    bad = [b["title"] for b in books if not isbn13_valid(b["isbn"])]
    assert not bad, f"invalid ISBN-13: {bad}"


def test_seed_books_conform_to_bookinput_schema(spec):
    validator = Draft202012Validator(_bookinput_schema(spec))
    for b in load_seed():
        errors = [e.message for e in validator.iter_errors(b)]
        assert not errors, (b["title"], errors)
        assert b["price"]["currency"] == "USD"
        assert b["description"] and len(b["description"]) < 400


def test_seed_titles_and_folded_titles_unique():
    titles = [b["title"] for b in load_seed()]
    assert len({fold(t) for t in titles}) == len(titles)


def test_isbn_helpers():
    assert isbn13_check_digit("978045152493") == "5"
    assert isbn13_valid("9780451524935")
    assert not isbn13_valid(bad_checksum("9780451524935"))
    assert not isbn13_valid("9770451524935")
    for _ in range(50):
        i = isbn13()
        assert isbn13_valid(i) and i.startswith("979")
    assert re.fullmatch(r"\d{3}-\d-\d{3}-\d{5}-\d", hyphenate("9780451524935"))
